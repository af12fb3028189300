"""`tunewise`: a lazy command group, so `--help` never imports a command's heavy dependencies."""
from __future__ import annotations

import importlib
import logging
import os
import sys

import click

from tunewise.core.errors import TunewiseError, os_error_line

# name -> "module:attribute"; a command's module is imported only when that command runs or is listed.
COMMANDS: dict[str, str] = {
    "doctor": "tunewise.cli.doctor:doctor",
    "advise": "tunewise.cli.advise:advise",
    "assess": "tunewise.cli.advise:assess",
    "compare": "tunewise.cli.compare:compare",
    "report": "tunewise.cli.report:report",
    "index": "tunewise.cli.index:index",
    "ask": "tunewise.cli.ask:ask",
    "serve": "tunewise.cli.serve:serve",
    "route": "tunewise.cli.route:route",
    "tune": "tunewise.cli.tune:tune",
    "export": "tunewise.cli.tune:export",
    "history": "tunewise.cli.history:history",
    "export-data": "tunewise.cli.export_data:export_data",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TunewiseError as exc:
            raise click.ClickException(str(exc)) from None
        except Exception as exc:  # a full disk or an unwritable folder, from whichever layer hit it
            line = os_error_line(exc)
            if line is None:
                raise
            raise click.ClickException(line) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)


class _WarningLine(logging.Handler):
    """The library's warnings (e.g. skipped corpus files), one `warning:` line each on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"warning: {record.getMessage()}", err=True)


def show_library_warnings() -> None:
    log = logging.getLogger("tunewise")
    if not any(isinstance(h, _WarningLine) for h in log.handlers):
        log.addHandler(_WarningLine(logging.WARNING))
        log.propagate = False


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tunewise")
    except PackageNotFoundError:
        return "0+unknown"


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(version=_version(), prog_name="tunewise")
@click.option("--trust-remote-code", is_flag=True,
              help="Let models run their own Python code from their folder. Off by default: only for sources you trust.")
@click.option("--allow-pickle", is_flag=True,
              help="Load pickle (.bin/.pt) weights. Off by default: unpickling can run code; safetensors are always preferred.")
@click.option("--follow-links", is_flag=True,
              help="Read corpus symlinks that point outside the corpus folder. Off by default: they are skipped and counted.")
@click.pass_context
def cli(ctx: click.Context, trust_remote_code: bool, allow_pickle: bool, follow_links: bool) -> None:
    """Should you fine-tune, or is prompting or retrieval enough? Tunewise advises, builds and
    compares the approaches on your own data."""
    from tunewise.core.models import LoadPolicy, set_load_policy, set_offline_mode
    from tunewise.core.reading import ReadPolicy

    set_offline_mode()
    # Passed on explicitly: a tuning run copies it into its config, which launched workers read.
    set_load_policy(LoadPolicy(trust_remote_code=trust_remote_code, allow_pickle=allow_pickle))
    # Handed to each command that reads a corpus (`cli.options.reading_policy`), which passes it on.
    ctx.obj = ReadPolicy(follow_links=follow_links)
    show_library_warnings()


def main() -> None:
    """Console entry point: user errors are one line; unexpected ones too, unless TUNEWISE_DEBUG=1."""
    try:
        cli.main(prog_name="tunewise")
    except SystemExit:
        raise
    except Exception as exc:  # last line of defence: never show a traceback to a user
        if os.environ.get("TUNEWISE_DEBUG") == "1":
            raise
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(f"Error: unexpected {type(exc).__name__}: {message} (set TUNEWISE_DEBUG=1 for details)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
