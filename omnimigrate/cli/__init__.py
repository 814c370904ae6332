"""The `omnimigrate` command. Commands are thin: parse, wire up, call, print.

Exit codes (one place): 0 complete, 1 failed, 2 usage or configuration error, 3 completed
with per-object failures.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import click

from omnimigrate import __version__
from omnimigrate.config import ConfigError, Settings, load_settings
from omnimigrate.http.errors import OmniError
from omnimigrate.logging import Redactor, configure_logging
from omnimigrate.snapshot.blobs import BlobError
from omnimigrate.snapshot.catalog import SnapshotNotFound
from omnimigrate.snapshot.crypto import EncryptionError
from omnimigrate.snapshot.lock import Locked
from omnimigrate.snapshot.manifest import KeyStats, SnapshotFormatError
from omnimigrate.snapshot.store import StoreError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


def describe_keys(keys: dict[str, KeyStats]) -> str:
    """Requests and 429s per key fingerprint (never the key), as every run reports them."""
    return ", ".join(
        f"key {k}: {v.requests} requests ({v.throttled} answered 429)" for k, v in keys.items()
    )


@dataclass
class AppContext:
    settings: Settings
    redactor: Redactor
    config_file: Path | None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="omnimigrate")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    envvar="OMNIMIGRATE_CONFIG",
    help="YAML config file (env OMNIMIGRATE_CONFIG).",
)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default=None)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "console"]),
    default=None,
    help="auto: JSON lines unless stderr is a terminal.",
)
@click.pass_context
def cli(
    ctx: click.Context, config_file: Path | None, log_level: str | None, log_format: str | None
) -> None:
    """Back up, restore and migrate Omni Analytics instances."""
    settings = load_settings(config_file, log_level=log_level, log_format=log_format)
    redactor = configure_logging(level=settings.log_level, fmt=settings.log_format)
    ctx.obj = AppContext(settings, redactor, config_file)


def main() -> None:
    """Entry point: turns every expected failure into a one-line message and an exit code."""
    from omnimigrate.cli import (  # noqa: F401  (registers the commands)
        backup,
        demo,
        doctor,
        fake,
        migrate,
        plan,
        restore,
        serve,
        snapshots,
        verify,
    )

    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_FAILED)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except (
        OmniError,
        StoreError,
        SnapshotNotFound,
        SnapshotFormatError,
        BlobError,
        Locked,
        EncryptionError,
    ) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
