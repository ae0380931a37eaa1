"""The README's path on the embedded default: migrate, create an organization, sign in, work with leads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from seiketsu.app import create_app
from seiketsu.cli import main
from seiketsu.settings import load_settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}


def test_org_create_then_login_and_a_thousand_leads(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    migrated = runner.invoke(main, ["migrate"], env=env)
    assert migrated.exit_code == 0, migrated.output
    created = runner.invoke(
        main,
        ["org", "create", "Lone Star Realty", "--admin-email", "owner@lonestar.example", "--number", "+1 512 555 0100"],
        env=env,
    )
    assert created.exit_code == 0, created.output
    password = re.search(r"one-time password: (\S+)", created.output)
    api_key = re.search(r"API key \(shown once\): (\S+)", created.output)
    assert password and api_key
    assert "slug: lone-star-realty" in created.output
    # A thousand leads in a minute is beyond the default plan: the operator raises it (no tenant can).
    limits = runner.invoke(main, ["org", "limits", "lone-star-realty", "--api-requests-per-minute", "5000"], env=env)
    assert limits.exit_code == 0, limits.output
    assert "API requests per minute: 5000" in limits.output and "max concurrent calls: 10" in limits.output

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with TestClient(create_app(load_settings())) as client:
        account = {"email": "owner@lonestar.example", "organizationSlug": "lone-star-realty"}
        login = client.post("/api/v1/auth/login", json={**account, "password": password.group(1)})
        assert login.status_code == 200 and login.json()["passwordChangeRequired"] is True, login.text
        first = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        change = {"currentPassword": password.group(1), "newPassword": "a passphrase of my own"}
        assert client.put("/api/v1/auth/profile", json=change, headers=first).status_code == 200
        login = client.post("/api/v1/auth/login", json={**account, "password": "a passphrase of my own"})
        assert login.status_code == 200 and login.json()["passwordChangeRequired"] is False
        headers = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        me = client.get("/api/v1/auth/me", headers=headers).json()
        organization = client.get(f"/api/v1/organizations/{me['organizationId']}", headers=headers).json()
        assert organization["apiRequestsPerMinute"] == 5000
        sources = ("zillow", "web", "referral", "open-house")
        for i in range(1000):
            body = {"phone": f"+1512{5550000 + i:07d}", "firstName": f"Lead{i}", "source": sources[i % 4]}
            assert client.post("/api/v1/leads", json=body, headers=headers).status_code == 201

        seen: list[str] = []
        cursor = ""
        while True:
            page = client.get(f"/api/v1/leads?source=web&limit=100&sort=firstName{cursor}", headers=headers).json()
            seen.extend(item["firstName"] for item in page["items"])
            if not page["nextCursor"]:
                break
            cursor = f"&cursor={page['nextCursor']}"
        assert len(seen) == 250 == len(set(seen))
        assert seen == sorted(seen)
        assert client.get("/api/v1/leads", headers={"X-API-Key": api_key.group(1)}).status_code == 200
        numbers = client.get("/api/v1/phone-numbers", headers=headers).json()["items"]
        assert [n["e164"] for n in numbers] == ["+15125550100"]


def test_org_create_reports_bad_input_clearly(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    result = runner.invoke(main, ["org", "create", "X", "--admin-email", "a@x.example", "--number", "555"], env=env)
    assert result.exit_code == 1 and "not a valid phone number" in result.output
    bad = runner.invoke(main, ["migrate"], env={**env, "LOG_LEVEL": "LOUD"})
    assert bad.exit_code == 1 and "LOG_LEVEL" in bad.output


def test_org_create_validates_as_the_api_does(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    mars = runner.invoke(
        main, ["org", "create", "X", "--admin-email", "a@x.example", "--timezone", "Mars/Base"], env=env
    )
    assert mars.exit_code == 1 and "--timezone: not an IANA time zone" in mars.output
    slug = runner.invoke(main, ["org", "create", "X", "--admin-email", "a@x.example", "--slug", "-x-"], env=env)
    assert slug.exit_code == 1 and "--slug:" in slug.output
    assert "no organizations yet" in runner.invoke(main, ["org", "list"], env=env).output


def test_org_list_shows_each_organization(env: dict[str, str]) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    for name, zone in (("Lone Star Realty", "America/Chicago"), ("Bay Homes", "America/Los_Angeles")):
        created = runner.invoke(
            main, ["org", "create", name, "--admin-email", "a@x.example", "--timezone", zone], env=env
        )
        assert created.exit_code == 0, created.output
    listed = runner.invoke(main, ["org", "list"], env=env)
    assert listed.exit_code == 0
    rows = [line.split("\t") for line in listed.output.splitlines()]
    assert [row[:4] for row in rows] == [
        ["bay-homes", "Bay Homes", "America/Los_Angeles", "active"],
        ["lone-star-realty", "Lone Star Realty", "America/Chicago", "active"],
    ]


def test_bare_command_prints_help_and_version_is_shown() -> None:
    runner = CliRunner()
    bare = runner.invoke(main, [])
    assert bare.exit_code == 0 and "Commands:" in bare.output and "org" in bare.output
    version = runner.invoke(main, ["--version"])
    assert version.exit_code == 0 and version.output.strip() == "seiketsu, version 0.1.0"


def test_bench_compliance_defaults_to_a_short_run() -> None:
    shown = CliRunner().invoke(main, ["bench", "compliance", "--help"])
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    assert "--full" in text and "[default: 1,000,000; full: 10 M]" in text


def test_org_limits_shows_sets_and_refuses_what_it_cannot(env: dict[str, str]) -> None:
    runner = CliRunner()
    helped = runner.invoke(main, ["org", "limits", "--help"], env=env)
    assert helped.exit_code == 0
    assert "--max-concurrent-calls" in helped.output and "--api-requests-per-minute" in helped.output
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    assert runner.invoke(main, ["org", "create", "Acme", "--admin-email", "a@acme.example"], env=env).exit_code == 0
    shown = runner.invoke(main, ["org", "limits", "acme"], env=env)
    assert shown.exit_code == 0
    assert "max concurrent calls: 10" in shown.output and "API requests per minute: 600" in shown.output
    changed = runner.invoke(main, ["org", "limits", "acme", "--max-concurrent-calls", "25"], env=env)
    assert "max concurrent calls: 25" in changed.output and "API requests per minute: 600" in changed.output
    assert "max concurrent calls: 25" in runner.invoke(main, ["org", "limits", "acme"], env=env).output
    unknown = runner.invoke(main, ["org", "limits", "nobody", "--max-concurrent-calls", "5"], env=env)
    assert unknown.exit_code == 1 and "no organization with slug 'nobody'" in unknown.output
    zero = runner.invoke(main, ["org", "limits", "acme", "--max-concurrent-calls", "0"], env=env)
    assert zero.exit_code == 2 and "--max-concurrent-calls" in zero.output


def test_org_password_reset_and_api_keys_from_the_cli(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["migrate"], env=env).exit_code == 0
    created = runner.invoke(main, ["org", "create", "Acme", "--admin-email", "owner@acme.example"], env=env)
    assert created.exit_code == 0, created.output
    reset = runner.invoke(main, ["org", "password-reset", "acme", "Owner@Acme.example"], env=env)
    assert reset.exit_code == 0, reset.output
    password = re.search(r"one-time password for owner@acme.example: (\S+)", reset.output)
    made = runner.invoke(main, ["org", "api-key", "create", "acme", "--name", "CRM sync", "--role", "agent"], env=env)
    assert made.exit_code == 0, made.output
    key = re.search(r"API key \(shown once\): (\S+)", made.output)
    key_id = re.search(r"API key id: (\S+)", made.output)
    assert password and key and key_id
    assert (
        "no organization with slug 'nope'"
        in runner.invoke(main, ["org", "api-key", "create", "nope", "--name", "x"], env=env).output
    )
    assert "has no user" in runner.invoke(main, ["org", "password-reset", "acme", "who@acme.example"], env=env).output

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with TestClient(create_app(load_settings())) as client:
        account = {"email": "owner@acme.example", "organizationSlug": "acme", "password": password.group(1)}
        signed_in = client.post("/api/v1/auth/login", json=account)
        assert signed_in.status_code == 200 and signed_in.json()["passwordChangeRequired"] is True
        assert client.get("/api/v1/leads", headers={"X-API-Key": key.group(1)}).status_code == 200
        revoked = runner.invoke(main, ["org", "api-key", "revoke", "acme", key_id.group(1)], env=env)
        assert revoked.exit_code == 0, revoked.output
        assert client.get("/api/v1/leads", headers={"X-API-Key": key.group(1)}).status_code == 401
