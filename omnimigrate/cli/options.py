"""Options several commands share: one name and one help text per concept. An older name of
an option still works as a hidden alias, so scripts written against it keep running."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


class AliasedOption(click.Option):
    """An option whose `hidden` names are accepted and left out of --help."""

    def __init__(self, *args: Any, hidden_names: tuple[str, ...] = (), **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.hidden_names = hidden_names

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        shown, self.opts = self.opts, [o for o in self.opts if o not in self.hidden_names]
        try:
            return super().get_help_record(ctx)
        finally:
            self.opts = shown


def store_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--store",
        default=None,
        help="A folder or s3://bucket/prefix (default: the config's `store`, else "
        "./omnimigrate-store).",
    )(func)


OLD_INSTANCE_NAMES = ("--instance-name", "--source-instance")


def instance_option(dest: str, help: str) -> Decorator:
    """The store's name for an instance (its host unless given), under one name; the older
    names work wherever it does."""
    return click.option(
        "--instance",
        *OLD_INSTANCE_NAMES,
        dest,
        cls=AliasedOption,
        hidden_names=OLD_INSTANCE_NAMES,
        default=None,
        help=f"{help} (default: its host, for example acme.omniapp.co).",
    )


def rate_limit_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--rate-limit",
        type=click.IntRange(min=1),
        default=None,
        help="Requests per minute per key (default: the instance's `rate_limit`, else the "
        "config's, 60).",
    )(func)


def concurrency_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--concurrency",
        type=click.IntRange(1, 64),
        default=None,
        help="Requests in flight per key (default: the config's `concurrency`, 4).",
    )(func)


def report_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--report",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Also write a JSON summary to this file (default: none).",
    )(func)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print JSON instead of a table (for scripts; default: a table).",
    )(func)


def platform_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--platform",
        type=click.Choice(["omni", "lightdash"]),
        default=None,
        help="The instance's platform (default: the config's `platform`, else omni).",
    )(func)


def project_option(dest: str, name: str, help: str) -> Decorator:
    """A Lightdash project, by uuid or name."""
    return click.option(
        name,
        dest,
        default=None,
        help=f"Lightdash only: {help} (default: the config's `project`, else every project).",
    )
