"""The `omnimigrate` command. Commands are thin: parse, wire up, call, print; the group and
what they share is `app.py`, each command its own module."""

from __future__ import annotations

import sys

import click
import structlog

from omnimigrate.cli.app import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    cli,
    failure_of,
    usage_line,
)


def with_commands() -> click.Group:
    """The command group with every command registered (each module adds its own)."""
    from omnimigrate.cli import (  # noqa: F401  (registers the commands)
        backup,
        demo,
        doctor,
        drill,
        fake,
        migrate,
        plan,
        restore,
        serve,
        snapshots,
        verify,
    )

    return cli


def main() -> None:
    """Entry point: turns every expected failure into a one-line message and an exit code."""
    with_commands()
    try:
        code = cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo(
            "interrupted: nothing finished is lost; run the same command again to resume "
            "(a backup resumes its open snapshot, a restore skips what its ledger has done)",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as exc:
        click.echo(f"error: {usage_line(exc)}", err=True)
        sys.exit(EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code)
    except Exception as exc:  # every failure ends as one line and an exit code
        message, code = failure_of(exc)
        click.echo(f"error: {message}", err=True)
        if code is None:
            structlog.get_logger("omnimigrate").debug("unexpected", exc_info=exc)
            code = EXIT_FAILED
        sys.exit(code)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
