"""The `omnimigrate` command group and what every command shares: the app context, the
pre-flight, and how a failure becomes one line and an exit code. Each command module adds
its command to `cli`; `omnimigrate.cli` registers them all.

Exit codes (one place): 0 complete, 1 failed, 2 usage or configuration error (an unknown
snapshot too), 3 completed with per-object failures, 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import click
import structlog
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
)
from pydantic import SecretStr

from omnimigrate import __version__
from omnimigrate.config import InstanceConfig, Settings, load_settings
from omnimigrate.engine.backup import NothingSelected, OtherFilters
from omnimigrate.engine.jobs import UnknownJob
from omnimigrate.engine.platform import InstanceUnusable
from omnimigrate.errors import ApiError, ConfigError
from omnimigrate.hints import RUN_CONFIG
from omnimigrate.http.sessions import SessionFactory, open_session
from omnimigrate.logging import FOLDED, Redactor, configure_logging
from omnimigrate.snapshot.blobs import BlobError
from omnimigrate.snapshot.catalog import SnapshotNotFound
from omnimigrate.snapshot.crypto import EncryptionError
from omnimigrate.snapshot.lock import Locked
from omnimigrate.snapshot.manifest import KeyStats, SnapshotFormatError
from omnimigrate.snapshot.store import StoreError, StoreMissing

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report a process ended by SIGINT
# failures with a message of their own, each naming what is wrong and what to do
EXPECTED = (
    ApiError,
    StoreError,
    SnapshotNotFound,
    SnapshotFormatError,
    BlobError,
    Locked,
    EncryptionError,
    UnknownJob,
)


def describe_keys(keys: dict[str, KeyStats]) -> str:
    """Requests and 429s per key fingerprint (never the key), as every run reports them."""
    return ", ".join(
        f"key {k}: {v.requests} requests ({v.throttled} answered 429)" for k, v in keys.items()
    )


def preflight(app: AppContext, inst: InstanceConfig, tokens: list[SecretStr]) -> None:
    """One request per key before anything is opened; a failed request's warning is folded
    into the one `error:` line the failure ends as."""
    with structlog.contextvars.bound_contextvars(**{FOLDED: True}):
        inst.preflight(tokens, app.sessions, timeout=min(app.settings.timeout, 10.0))


@dataclass
class AppContext:
    settings: Settings
    redactor: Redactor
    config_file: Path | None
    sessions: SessionFactory  # every request of the run goes through these


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="omnimigrate")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path),
    default=None,
    envvar="OMNIMIGRATE_CONFIG",
    help="YAML config file (env OMNIMIGRATE_CONFIG; default: none, settings from the "
    "environment and flags).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="How much to log to stderr; debug also shows tracebacks (default: the config's, info).",
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "console"]),
    default=None,
    help="auto: JSON lines unless stderr is a terminal (default: the config's, auto).",
)
@click.pass_context
def cli(
    ctx: click.Context, config_file: Path | None, log_level: str | None, log_format: str | None
) -> None:
    """Back up, restore and migrate Omni Analytics instances."""
    settings = load_settings(config_file, log_level=log_level, log_format=log_format)
    redactor = configure_logging(level=settings.log_level, fmt=settings.log_format)
    # `obj`, when whoever runs the group passes one, is the session factory (a test's)
    ctx.obj = AppContext(settings, redactor, config_file, ctx.obj or open_session)
    # every hint this run prints names its config (hints.py); unset when the run ends
    ctx.call_on_close(functools.partial(RUN_CONFIG.reset, RUN_CONFIG.set(config_file)))


def failure_of(exc: Exception) -> tuple[str, int | None]:
    """The one-line message and exit code of a failure; code None: one nobody expected."""
    if isinstance(
        exc, ConfigError | NothingSelected | OtherFilters | StoreMissing | SnapshotNotFound
    ):
        return str(exc), EXIT_USAGE
    if isinstance(exc, InstanceUnusable):
        return str(exc), EXIT_USAGE if exc.configuration else EXIT_FAILED
    if isinstance(exc, EXPECTED):
        return str(exc), EXIT_FAILED
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials for the S3 store: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or give the pod an IAM role",
            EXIT_USAGE,
        )
    if isinstance(exc, ProfileNotFound):
        return f"{exc}: set AWS_PROFILE to a profile of ~/.aws/config, or unset it", EXIT_USAGE
    if isinstance(exc, EndpointConnectionError):
        return (
            f"cannot reach the S3 endpoint {exc.kwargs.get('endpoint_url', '')}: check "
            "AWS_ENDPOINT_URL, AWS_REGION and the network",
            EXIT_FAILED,
        )
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"S3 refused: {error.get('Code')}: {error.get('Message')}", EXIT_FAILED
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror}{where}", EXIT_FAILED
    return (
        f"unexpected {type(exc).__name__}: {exc} (run with --log-level debug for the traceback)",
        None,
    )


def usage_line(exc: click.ClickException) -> str:
    """Click's message as the one line every other error is, pointing at the command's help."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    return f"{message} (see `{ctx.command_path} --help`)" if ctx is not None else message
