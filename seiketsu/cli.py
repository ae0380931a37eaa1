"""The ``seiketsu`` command line."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from seiketsu.settings import ConfigError, Settings, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc


class _LazyGroup(click.Group):
    """A group some of whose commands live in modules imported only when used, so that the others start fast."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)
        """Command name -> ``module:attribute`` of its click command."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            module, _, attribute = self.lazy[cmd_name].partition(":")
            command: click.Command = getattr(importlib.import_module(module), attribute)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=_LazyGroup, lazy={"org": "seiketsu.org_cli:org"}, invoke_without_command=True)
@click.version_option(package_name="seiketsu", prog_name="seiketsu")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Seiketsu: the voice agent for real-estate brokerages."""
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, type=int, show_default=True)
@click.option("--workers", default=1, type=int, show_default=True, help="uvicorn worker processes")
def serve(host: str, port: int, workers: int) -> None:
    """Run the web service (HTTP API, Twilio webhooks and media streams)."""
    import uvicorn

    _settings()  # fail before uvicorn starts when the configuration is bad
    uvicorn.run(
        "seiketsu.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,  # the app believes X-Forwarded-For from TRUSTED_PROXIES only
        log_config=None,
        ws_max_size=1 << 20,
    )


@main.command()
@click.option("--burst", is_flag=True, help="run the jobs that are due, then exit")
def worker(burst: bool) -> None:
    """Run background jobs (RQ worker with REDIS_URL; otherwise the in-process runner)."""
    from seiketsu.worker import run_worker

    run_worker(_settings(), burst=burst)


@main.command()
def migrate() -> None:
    """Upgrade the database schema to the latest migration."""
    from seiketsu.migrate import upgrade

    upgrade(_settings())
    click.echo("database is at the latest migration")


@main.command()
@click.option("--url", default="http://127.0.0.1:8000", show_default=True, help="where the server listens")
@click.option("--to", "to_number", default=None, help="the brokerage number to call (default: the first inbound one)")
@click.option("--from", "from_number", default="+15125550199", show_default=True, help="the caller's number")
@click.option("--say", "lines", multiple=True, help="a line the caller says (repeatable)")
@click.option(
    "--lines",
    "lines_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a text file, one caller line per line",
)
@click.option(
    "--wav",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a WAV file of the caller's speech instead of text",
)
@click.option("--voice", type=click.Choice(["piper", "espeak"]), default="piper", show_default=True)
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("agent-audio.wav"),
    show_default=True,
    help="where to save the agent's audio",
)
def call(
    url: str,
    to_number: str | None,
    from_number: str,
    lines: tuple[str, ...],
    lines_file: Path | None,
    wav: Path | None,
    voice: str,
    record: Path,
) -> None:
    """Place a simulated call (playing Twilio's part) and print the transcript and per-turn latencies."""
    from telephony.call_command import default_inbound_number, run_call

    settings = _settings()
    spoken = list(lines) + (lines_file.read_text().splitlines() if lines_file else [])
    if not spoken and wav is None:
        raise click.UsageError("say something: --say TEXT, --lines FILE or --wav FILE")
    number = to_number or default_inbound_number(settings)
    if number is None:
        raise click.UsageError("no inbound number: pass --to, or create one with `seiketsu org create ... --number`")
    run_call(
        settings,
        url=url,
        to_number=number,
        from_number=from_number,
        lines=spoken,
        wav=wav,
        voice=voice,
        record=record,
    )


@main.group()
def dnc() -> None:
    """Do-Not-Call registry copies."""


@dnc.command("import")
@click.option("--org", "org_slug", required=True, help="the organization's slug")
@click.option("--list", "list_name", required=True, help="national, or state:XX for a state's list")
@click.option("--as-of", "as_of", required=True, type=click.DateTime(formats=["%Y-%m-%d"]), help="the copy's date")
@click.option("--kind", type=click.Choice(["full", "changes"]), default="full", show_default=True)
@click.option("--area-codes", default=None, help="comma-separated area codes the files cover beyond those they list")
@click.option("--progress/--no-progress", default=True, show_default=True)
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
def dnc_import(
    org_slug: str,
    list_name: str,
    as_of: datetime,
    kind: str,
    area_codes: str | None,
    progress: bool,
    files: tuple[Path, ...],
) -> None:
    """Import registry files (flat, zipped or not): each file is atomic, and reports its counts and rejected lines."""
    from compliance.cli import run_dnc_import

    run_dnc_import(
        _settings(),
        org_slug=org_slug,
        list_name=list_name,
        as_of=as_of.date(),
        kind=kind,
        area_codes=area_codes,
        files=files,
        progress=progress,
    )


BENCHMARKS = {
    "calls": "telephony.bench",
    "campaign": "telephony.campaigns.bench",
    "compliance": "compliance.bench",
    "conversation": "telephony.conversation_bench",
    "crm": "crm_adapters.bench",
    "resilience": "telephony.bench_resilience",
    "uploads": "telephony.campaigns.bench_uploads",
    "webhooks": "webhooks.bench",
}
"""Each benchmark module exposes a click command named ``command``; its options are its own."""


@main.group(cls=_LazyGroup, lazy={name: f"{module}:command" for name, module in BENCHMARKS.items()})
def bench() -> None:
    """Benchmarks; results and the commands that reproduce them are recorded in docs/PERFORMANCE.md."""


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
