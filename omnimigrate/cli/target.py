"""What every command that restores into an instance shares: its options, the target (config,
tokens, limits), opening the snapshot, applying a plan, and the result's report."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import click
import yaml
from rich.console import Console

from omnimigrate.cli.app import EXIT_OK, EXIT_PARTIAL, AppContext, describe_keys, preflight
from omnimigrate.cli.options import (
    concurrency_option,
    instance_option,
    platform_option,
    project_option,
    rate_limit_option,
    store_option,
)
from omnimigrate.cli.progress import job_progress, reading, requests_of
from omnimigrate.cli.stores import cipher_for, store_for
from omnimigrate.config import (
    LIGHTDASH_URL_ENV,
    InstanceConfig,
    instance_arg,
    instance_for,
    resolve_tokens,
)
from omnimigrate.engine.apply import ApplyResult
from omnimigrate.engine.drill import DrillReport, is_acknowledged
from omnimigrate.engine.plan import Plan, RestoreOptions
from omnimigrate.engine.platform import Platform
from omnimigrate.engine.restore import (
    OpenSnapshot,
    apply_plan,
    open_snapshot,
    plan_restore,
    resume_saved,
)
from omnimigrate.engine.verify import VerifyOptions
from omnimigrate.errors import ConfigError
from omnimigrate.platforms import PLATFORMS, platform_named
from omnimigrate.service.metrics import Metrics
from omnimigrate.snapshot.catalog import SnapshotNotFound
from omnimigrate.snapshot.manifest import instance_slug

SYMBOLS = {"create": "+", "update": "~", "skip": "=", "conflict": "!", "blocked": "x", "extra": "*"}


def load_model_map(path: Path | None) -> dict[str, str]:
    if path is None:
        return {}
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read --model-map {path}: {exc}") from None
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in data.items()
    ):
        raise ConfigError(
            f"--model-map {path} must be a YAML mapping of source model id to target model id, "
            "for example `3f1c…: 9a2b…`"
        )
    return data


def restore_option_list(*, snapshot: bool = True) -> list[Callable[..., Any]]:
    """The options every command that plans a restore shares (`migrate` backs up its own
    snapshot, so it takes no --snapshot or --instance)."""
    chosen = (
        [
            click.option("--snapshot", default="latest", help="Snapshot id, or latest."),
            instance_option("source_instance", "With latest: whose latest snapshot"),
        ]
        if snapshot
        else []
    )
    return [
        store_option,
        *chosen,
        click.option("--target", default=None, help="Target instance URL or config name (Lightdash: default $LIGHTDASH_URL)."),
        platform_option,
        project_option("project", "--project", "The target project, by uuid or name"),
        click.option("--target-token-env", multiple=True, help="Env var with a target API key (repeatable: each key gets its own rate limit; default OMNI_TARGET_TOKEN, Lightdash: LIGHTDASH_API_KEY, or the config's `token_env`)."),
        click.option("--on-conflict", type=click.Choice(["skip", "overwrite", "rename"]), default="skip",
                     help="A document on the target that omnimigrate did not restore: leave it, replace it, or (Omni only) import a copy under a new identifier."),
        click.option("--include", multiple=True, help="Omni: folder-path glob, label:NAME or document:IDENTIFIER; Lightdash: space-path glob (Finance/**: the space and all in it), chart:SLUG, dashboard:SLUG or scheduler:KEY (repeatable; default: everything)."),
        click.option("--exclude", multiple=True, help="The same forms as --include (repeatable; default: nothing)."),
        click.option("--trashed", type=click.Choice(["same", "new", "fail"]), default=None,
                     help="Omni only: a document in the target's trash (deleted there): import it under its own identifier, under a new one the plan names, or block it (default: its own where Omni accepts it, else a new one)."),
        click.option("--include-deleted", is_flag=True, help="Omni only: also restore documents that were in the source's trash."),
        click.option("--models", is_flag=True, help="Omni only: push model YAML to the mapped shared models."),
        click.option("--pause-schedules", is_flag=True, help="Omni only: create every schedule paused (DR drill)."),
        click.option("--create-missing-users", is_flag=True, help="Omni only: create (SCIM) the users the snapshot names and the target lacks, instead of blocking what needs them."),
        click.option("--create-missing-groups", is_flag=True, help="Omni only: create (SCIM) the groups the snapshot names and the target lacks, instead of blocking what needs them."),
        click.option("--model-map", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
                     help="Omni only: YAML of source-model-id: target-model-id (default: models map by connection, kind and name)."),
        rate_limit_option,
        concurrency_option,
    ]  # fmt: skip


@dataclass(frozen=True)
class TargetFlags:
    """Where a command restores into (or verifies) and from, as the command line gave it: the
    store, the snapshot, the target instance and its keys, the limits."""

    store: str | None = None
    snapshot: str = "latest"
    source_instance: str | None = None  # with latest: whose latest snapshot
    target: str | None = None
    target_token_env: tuple[str, ...] = ()
    platform: str | None = None
    project: str | None = None
    rate_limit: int | None = None
    concurrency: int | None = None


@dataclass(frozen=True)
class RestoreFlags:
    """The restore options as the command line gave them, before the platform is known;
    `options_for` makes them the platform's typed options, or refuses one it does not take."""

    on_conflict: Literal["skip", "overwrite", "rename"] = "skip"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    trashed: Literal["same", "new", "fail"] | None = None
    include_deleted: bool = False
    models: bool = False
    pause_schedules: bool = False
    create_missing_users: bool = False
    create_missing_groups: bool = False
    model_map: Path | None = None

    def given(self) -> dict[str, Any]:
        """The options set (a default is not given: every platform has it)."""
        given = given_fields(self)
        if given.get("on_conflict") == "skip":
            del given["on_conflict"]
        return given

    def options_for(self, platform: Platform) -> RestoreOptions:
        """Refused before the --model-map file is read; then in the typed options' values."""
        given = self.given()
        refuse_foreign(platform, platform.options_type, given, "restore")
        if self.model_map is not None:
            given["model_map"] = load_model_map(self.model_map)
        return platform.options_type.model_validate(given)


@dataclass(frozen=True)
class VerifyFlags:
    """The verify options as the command line gave them; `options_for` makes them the
    platform's typed verify options, or refuses one it does not take."""

    models: bool = False
    documents: tuple[str, ...] = ()
    pause_schedules: bool = False

    def options_for(self, platform: Platform) -> VerifyOptions:
        given = given_fields(self)
        refuse_foreign(platform, platform.verify_options_type, given, "verify")
        return platform.verify_options_type.model_validate(given)


def given_fields(flags: Any) -> dict[str, Any]:
    """A flags dataclass's options that were set (None, empty and off are not), a tuple as
    a list."""
    return {
        f.name: list(value) if isinstance(value, tuple) else value
        for f in fields(flags)
        if (value := getattr(flags, f.name)) not in (None, (), False)
    }


# an option whose flag is not its name with dashes
FLAGS = {"documents": "--document"}
Command = Literal["restore", "verify"]  # whose options: a restore's or a verify's


def refuse_foreign(
    platform: Platform,
    model: type[RestoreOptions] | type[VerifyOptions],
    given: dict[str, Any],
    what: Command,
) -> None:
    """An option of `given` that `model` (the platform's options of a `what`: its restore's,
    its verify's) does not take is a usage error naming the option and the platform, raised
    before any request."""
    for name in given:
        if name not in model.model_fields:
            flag = FLAGS.get(name, "--" + name.replace("_", "-"))
            why = f": {model.WHY_NOT[name]}" if name in model.WHY_NOT else ""
            owners = ", ".join(owners_of(name, what))
            raise click.UsageError(
                f"{flag} is not an option of a {platform.name.capitalize()} {what} "
                f"({owners} only{why}): remove it",
                ctx=click.get_current_context(silent=True),
            )


def owners_of(option: str, what: Command) -> list[str]:
    """The platforms whose restores (or verifies) take an option, by display name."""
    return [
        name.capitalize()
        for name in PLATFORMS
        if option in _options_type(platform_named(name), what).model_fields
    ]


def _options_type(platform: Platform, what: Command) -> type[RestoreOptions] | type[VerifyOptions]:
    return platform.verify_options_type if what == "verify" else platform.options_type


def typed_flags(**kinds: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Hands the command, for each `name=Flags` dataclass, one typed parameter `name` made
    of the options named as its fields (click passes every option as its own keyword)."""

    def wrap(func: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(func)
        def command(*args: Any, **options: Any) -> Any:
            made = {
                name: kind(**{f.name: options.pop(f.name) for f in fields(kind) if f.name in options})
                for name, kind in kinds.items()
            }  # fmt: skip
            return func(*args, **made, **options)

        return command

    return wrap


def restore_options(func: Callable[..., Any], *, snapshot: bool = True) -> Callable[..., Any]:
    """The restore options, handed to the command as `where: TargetFlags` and
    `flags: RestoreFlags` (`snapshot`: with --snapshot and --instance)."""
    command = typed_flags(where=TargetFlags, flags=RestoreFlags)(func)
    chosen = restore_option_list(snapshot=snapshot)
    return functools.reduce(lambda f, opt: opt(f), reversed(chosen), command)


class Target:
    """The target instance: its config, tokens (registered for redaction) and limits.
    `early`: the snapshot, when it was read first for its platform (`platform_from`)."""

    def __init__(
        self, app: AppContext, where: TargetFlags, early: OpenSnapshot | None = None
    ) -> None:
        name = where.target
        self.inst: InstanceConfig = instance_for(
            app.settings, name, list(where.target_token_env), "OMNI_TARGET_TOKEN",
            platform=where.platform or (early.platform.name if early else None),
            project=where.project, flag="--target",
        )  # fmt: skip
        self.tokens = resolve_tokens(
            self.inst.token_env, flag="--target-token-env", platform=self.inst.platform
        )
        for t in self.tokens:
            app.redactor.add(t.get_secret_value())
        self.rate = app.settings.rate_limit_for(self.inst, where.rate_limit)
        self.concurrency = where.concurrency or app.settings.concurrency
        self.app = app
        self.name = name if name in app.settings.instances else instance_slug(self.inst.url)
        self.metrics = Metrics()

    def pool(self, snap: OpenSnapshot) -> AbstractAsyncContextManager[list[Any]]:
        """Clients of the target, which must run the platform the snapshot is of."""
        if snap.platform.name != self.inst.platform:
            raise ConfigError(
                f"the snapshot is of a {snap.platform.name} instance and the target "
                f"{self.inst.url} is {self.inst.platform}: restore into a {snap.platform.name} instance"
            )
        s = self.app.settings
        return self.inst.client_pool(
            self.tokens,
            rate_limit=self.rate,
            period=s.rate_period,
            burst=s.rate_burst,
            retry=s.retry_policy(),
            timeout=s.timeout,
            observer=self.metrics.observer(self.name),
            sessions=self.app.sessions,
        )

    @property
    def platform(self) -> Platform:
        return platform_named(self.inst.platform)

    def options(self, flags: RestoreFlags) -> RestoreOptions:
        """The restore options as this target's platform takes them (a usage error names
        one it does not take); asked before the pre-flight, so before any request."""
        return flags.options_for(self.platform)

    def verify_options(self, flags: VerifyFlags) -> VerifyOptions:
        """The verify options as this target's platform takes them, refused as `options`."""
        return flags.options_for(self.platform)

    def preflight(self) -> None:
        """One request per key before a snapshot or lock is opened: fail in seconds."""
        preflight(self.app, self.inst, self.tokens)

    def push_metrics(self, result: ApplyResult) -> None:
        """A one-shot restore's metrics go to the Pushgateway, when one is configured."""
        gateway = self.app.settings.service.pushgateway
        if gateway:
            self.metrics.restore(self.name, result)
            self.metrics.push(gateway, job="omnimigrate-restore")

    def push_drill(self, report: DrillReport) -> None:
        """A one-shot drill's figures (the CronJob's) go to the Pushgateway, as serve's go
        to its /metrics."""
        gateway = self.app.settings.service.pushgateway
        if gateway:
            self.metrics.drill(self.name, report)
            self.metrics.push(gateway, job="omnimigrate-drill")


def open_for(app: AppContext, where: TargetFlags) -> OpenSnapshot:
    store = store_for(app, where.store)
    cipher = cipher_for(app, store)
    return open_snapshot(store, where.snapshot, where.source_instance, cipher)


def platform_from(app: AppContext, where: TargetFlags) -> OpenSnapshot | None:
    """A target given by URL without --platform runs the platform the snapshot's manifest
    names (a Lightdash snapshot is never planned with Omni's API, nor its token variable).
    The snapshot, when it could be read (`Target` takes its platform: not `where`'s, so
    hints repeat what was asked); else None, and the pre-flight comes first."""
    if not where.target and not os.environ.get(LIGHTDASH_URL_ENV):
        instance_arg(None, where.platform, "--target")  # nothing names one: say so first
    if where.platform or where.target in app.settings.instances:
        return None
    try:
        return open_for(app, where)
    except SnapshotNotFound:
        return None


class Acknowledged:
    """Blocked actions the operator has accepted (`--accept-blocked FILE`: one action id or
    glob a line, `#` comments): they are still reported, and no longer make the exit code 3,
    so a nightly restore whose blocked items nobody can fix is not failing forever."""

    def __init__(self, path: Path | None, patterns: list[str] | None = None) -> None:
        """`patterns`: acknowledged already, by the config (a restore target's accept_blocked)."""
        self.path = path
        self.patterns: list[str] = list(patterns or [])
        if path is not None:
            try:
                lines = path.read_text().splitlines()
            except OSError as exc:
                raise ConfigError(f"cannot read --accept-blocked {path}: {exc.strerror}") from None
            self.patterns += [x.strip() for x in lines if x.strip() and not x.startswith("#")]

    def __contains__(self, action_id: str) -> bool:
        return is_acknowledged(action_id, self.patterns)

    def unaccepted(self, result: ApplyResult) -> list[str]:
        return [k for k in result.by_status("blocked") if k not in self]


def exit_code(result: ApplyResult, accepted: Acknowledged) -> int:
    return (
        EXIT_OK
        if not result.by_status("failed") and not accepted.unaccepted(result)
        else EXIT_PARTIAL
    )


def unchanged(plan: Plan) -> int:
    """What a plan leaves as it is because the target already matches: `plan`'s "unchanged"."""
    return plan.counts().get("skip", 0)


def outcome_counts(plan: Plan, result: ApplyResult) -> dict[str, int]:
    """A restore's outcomes, in the plan's words: what it skipped is "unchanged" where the plan
    said so (the same count as `unchanged`), and "left" where it was a conflict or an extra."""
    ops = {a.id: a.op for a in plan.actions}
    counts = dict.fromkeys(("done", "unchanged", "left", "failed", "blocked"), 0)
    for key, outcome in result.outcomes.items():
        status = outcome.status
        if status == "skipped":
            status = "unchanged" if ops.get(key) == "skip" else "left"
        counts[status] += 1
    return counts


def print_result(plan: Plan, result: ApplyResult, console: Console, accepted: Acknowledged) -> None:
    counts = outcome_counts(plan, result)
    words = {"left": "left as they are (conflict or extra)"}
    line = "restore: " + ", ".join(f"{n} {words.get(s, s)}" for s, n in counts.items())
    known = counts["blocked"] - len(accepted.unaccepted(result))
    if known:
        line += f" ({known} blocked acknowledged in {accepted.path})"
    console.print(line)
    console.print(describe_keys(result.keys))
    for status in ("failed", "blocked"):
        for key in result.by_status(status):
            seen = " (acknowledged)" if status == "blocked" and key in accepted else ""
            console.print(f"  {status.upper()} {key}{seen}: {result.outcomes[key].detail}")
    for key, warning in result.warnings().items():
        console.print(f"  WARNING {key}: {warning}")


def accept_blocked_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--accept-blocked",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="A file of blocked action ids (or globs, one a line) you accept: they no longer "
        "make the exit code 3 (default: none).",
    )(func)


def write_report(path: Path | None, plan: Plan, result: ApplyResult) -> None:
    if path:
        path.write_text(json.dumps({
            "snapshot": plan.snapshot_id, "target": plan.target_url, "complete": result.complete,
            "counts": outcome_counts(plan, result),
            "keys": {k: v.model_dump() for k, v in result.keys.items()},
            "actions": {k: {"status": v.status, "detail": v.detail, **({"warning": v.warning} if v.warning else {})}
                        for k, v in result.outcomes.items()},
        }, indent=1))  # fmt: skip


async def restore_into(
    tgt: Target, snap: OpenSnapshot, options: RestoreOptions, saved: Plan | None
) -> tuple[Plan, ApplyResult]:
    async with tgt.pool(snap) as clients:
        async with reading("restore: reading the target", requests_of(clients)):
            if saved is not None:
                plan = await resume_saved(snap, saved, clients)
            else:
                plan = await plan_restore(snap, clients, options)
        per_second = tgt.rate * len(tgt.tokens) / tgt.app.settings.rate_period
        with job_progress("restore", per_second, unit="requests") as progress:
            result = await apply_plan(
                snap, plan, clients, concurrency=tgt.concurrency, on_progress=progress
            )
    return plan, result
