"""Registry copies imported the two ways a person can: an upload to POST /api/v1/dnc/imports (stored, then imported
by a real RQ worker) and `seiketsu dnc import` (click's CliRunner)."""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from seiketsu.cli import main
from seiketsu.container import Container
from seiketsu.jobs.rq_backend import RQDispatcher, RQWorker
from seiketsu.jobs.runner import JobRunner
from tests.compliance.support import blocking, check, install_gate
from tests.conftest import TEST_SECRET
from tests.factories import OrgFixture, login, make_org

FULL = b"2125550134\n212,5550135\nnot a number\n"


@pytest.fixture
def org(container: Container) -> OrgFixture:
    return make_org(container, "acme")


@pytest.fixture
def headers(client: TestClient, org: OrgFixture) -> dict[str, str]:
    return login(client, org)


def _burst(container: Container) -> None:
    assert isinstance(container.jobs.dispatcher, RQDispatcher)
    RQWorker(JobRunner(container, container.runner_config), container.jobs.dispatcher).work(burst=True)


def _upload(client: TestClient, headers: dict[str, str], content: bytes, name: str, **form: str) -> dict[str, object]:
    data = {"list": "national", "asOf": "2025-06-05", **form}
    response = client.post("/api/v1/dnc/imports", headers=headers, data=data, files={"file": (name, content)})
    assert response.status_code == 202, response.text
    body: dict[str, object] = response.json()
    return body


def test_an_uploaded_zip_is_imported_by_the_worker(
    client: TestClient, container: Container, headers: dict[str, str]
) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("212.txt", FULL)
    queued = _upload(client, headers, archive.getvalue(), "national-212.zip")
    assert queued["status"] == "queued" and queued["list"] == "national" and queued["fileName"] == "national-212.zip"
    _burst(container)
    done = client.get(f"/api/v1/dnc/imports/{queued['id']}", headers=headers).json()
    assert done["status"] == "succeeded", done
    assert (done["accepted"], done["rejected"], done["numbersAdded"], done["areaCodes"]) == (2, 1, 2, ["212"])
    rejected = {"source": "national-212.zip:212.txt", "line": 3, "reason": "number field holds letters"}
    assert done["rejectedLines"] == [{**rejected, "text": "not a number"}]
    copies = client.get("/api/v1/dnc/registries", headers=headers).json()["items"]
    assert copies == [{"list": "national", "areaCodes": 1, "oldestAsOf": "2025-06-05", "newestAsOf": "2025-06-05"}]
    install_gate(container)
    # A live marketing call without written consent: only the listing can block it.
    assert blocking(check(client, headers, phone="+12125550134", voice="live")) == {"federal.national_dnc"}


def test_a_failing_upload_is_recorded_and_changes_nothing(
    client: TestClient, container: Container, headers: dict[str, str]
) -> None:
    _upload(client, headers, FULL, "first.txt")
    _burst(container)
    failed = _upload(client, headers, b"<?xml version='1.0'?><numbers/>", "second.xml", asOf="2025-06-06")
    changes = _upload(client, headers, b"6465550100,A\n", "changes.txt", asOf="2025-06-07", kind="changes")
    _burst(container)
    imports = client.get("/api/v1/dnc/imports", headers=headers).json()["items"]
    by_id = {item["id"]: item for item in imports}
    assert by_id[failed["id"]]["status"] == "failed" and "XML" in by_id[failed["id"]]["error"]
    assert by_id[changes["id"]]["status"] == "failed" and "full list" in by_id[changes["id"]]["error"]
    copies = client.get("/api/v1/dnc/registries", headers=headers).json()["items"]
    assert copies[0]["newestAsOf"] == "2025-06-05"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"list": "state:Texas"}, "body.list"),
        ({"areaCodes": "12"}, "body.areaCodes"),
        ({"asOf": "2999-01-01"}, "body.asOf"),
    ],
)
def test_bad_upload_fields_are_refused(
    client: TestClient, headers: dict[str, str], form: dict[str, str], field: str
) -> None:
    data = {"list": "national", "asOf": "2025-06-05", **form}
    response = client.post("/api/v1/dnc/imports", headers=headers, data=data, files={"file": ("x.txt", FULL)})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_a_file_over_the_upload_limit_is_refused_with_413_naming_it(
    client: TestClient, container: Container, headers: dict[str, str]
) -> None:
    container.settings = replace(container.settings, registry_upload_max_bytes=1_000)
    data = {"list": "national", "asOf": "2025-06-05"}
    big = b"2125550134\n" * 200
    response = client.post("/api/v1/dnc/imports", headers=headers, data=data, files={"file": ("big.txt", big)})
    assert response.status_code == 413
    assert response.json()["limitBytes"] == 1_000 and "REGISTRY_UPLOAD_MAX_BYTES" in response.json()["detail"]
    assert client.get("/api/v1/dnc/imports", headers=headers).json()["items"] == []
    _upload(client, headers, FULL, "small.txt")


def test_the_cli_imports_files_and_reports_counts_and_rejected_lines(
    container: Container, org: OrgFixture, tmp_path: Path
) -> None:
    good = tmp_path / "national-212.txt"
    good.write_bytes(FULL)
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 definitely not a zip archive")
    env = {"DATABASE_URL": container.settings.database_url, "SECRET_KEY": TEST_SECRET, "REDIS_URL": ""}
    args = ["dnc", "import", "--org", "acme", "--list", "national", "--as-of", "2025-06-05", "--no-progress"]
    result = CliRunner().invoke(main, [*args, str(good), str(bad)], env=env)
    assert result.exit_code == 1, result.output
    assert re.search(r"national-212.txt: 2 accepted \(2 additions, 0 deletions\), 1 rejected", result.output)
    assert "rejected national-212.txt:3: number field holds letters: 'not a number'" in result.output
    assert "broken.zip: FAILED, nothing changed" in result.output
    assert "1 of 2 file(s) failed" in result.output
    changes = tmp_path / "changes.txt"
    changes.write_bytes(b"2125550134,D\n2125550136,A\n")
    result = CliRunner().invoke(
        main, ["dnc", "import", "--org", "acme", "--list", "national", "--as-of", "2025-06-12", "--kind", "changes",
               "--no-progress", str(changes)], env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 additions, 1 deletions" in result.output and "1 numbers added, 1 removed" in result.output


def test_the_cli_names_an_unknown_organization(container: Container, tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_bytes(FULL)
    env = {"DATABASE_URL": container.settings.database_url, "SECRET_KEY": TEST_SECRET, "REDIS_URL": ""}
    result = CliRunner().invoke(
        main, ["dnc", "import", "--org", "nobody", "--list", "national", "--as-of", "2025-06-05", str(path)], env=env
    )
    assert result.exit_code == 1 and "no organization with slug 'nobody'" in result.output
