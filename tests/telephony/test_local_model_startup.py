"""A local speech model that cannot load stops start-up, naming the setting to fix."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent.providers.whisper_model import default_model_dir
from seiketsu.app import create_app
from seiketsu.container import build_container
from seiketsu.settings import ConfigError, Settings, load_settings
from tests.conftest import fast_passwords

os.environ["HF_HUB_OFFLINE"] = "1"  # a model fetched from a hub instead of the directory would fail


def broken_model(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        (model / name).write_bytes((default_model_dir() / name).read_bytes())
    (model / "model.bin").write_bytes(b"\x00" * 64)
    return model


def test_a_broken_model_stops_start_up(sqlite_settings: Settings, tmp_path: Path) -> None:
    settings = replace(sqlite_settings, local_stt_model=broken_model(tmp_path), warm_up_voice=True)
    container = build_container(settings, passwords=fast_passwords())
    try:
        with pytest.raises(ConfigError) as raised, TestClient(create_app(settings, container=container)):
            pass
    finally:
        container.close()
    assert raised.value.variable == "LOCAL_STT_MODEL"
    assert "cannot load the Whisper model" in str(raised.value)


def test_a_missing_model_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="LOCAL_STT_MODEL: .*nowhere is not a directory"):
        load_settings({"LOCAL_STT_MODEL": str(tmp_path / "nowhere")}, workdir=tmp_path)
    (tmp_path / "partial").mkdir()
    (tmp_path / "partial" / "model.bin").write_bytes(b"")
    with pytest.raises(ConfigError, match="LOCAL_STT_MODEL: .*missing config.json, tokenizer.json"):
        load_settings({"LOCAL_STT_MODEL": str(tmp_path / "partial")}, workdir=tmp_path)


def test_the_installed_model_is_the_default_and_workers_are_configurable(tmp_path: Path) -> None:
    assert load_settings({}, workdir=tmp_path).local_stt_model is None  # the recognizer uses default_model_dir()
    model = load_settings({"LOCAL_STT_MODEL": str(default_model_dir())}, workdir=tmp_path).local_stt_model
    assert model == default_model_dir()
    assert load_settings({"LOCAL_STT_WORKERS": "4"}, workdir=tmp_path).local_stt_workers == 4
    with pytest.raises(ConfigError, match="LOCAL_STT_WORKERS"):
        load_settings({"LOCAL_STT_WORKERS": "0"}, workdir=tmp_path)
