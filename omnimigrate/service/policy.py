"""Which events a worker acts on. Whoever sent an event (over HTTP, SQS or SNS), the
configuration decides what it may do: back up only configured instances, restore only into
the targets the config lists, with only the options the config allows there. A refused event
never touches an instance; it is reported as `run.failed` with the reason and not retried.
"""

from __future__ import annotations

from pydantic import ValidationError

from omnimigrate.config import Settings
from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.platforms import platform_named
from omnimigrate.service.events import (
    BackupRequested,
    DrillRequested,
    Event,
    RestoreRequested,
    StoreBucket,
    parse_event,
)
from omnimigrate.snapshot.store import S3Store, Store

# Options an event may set. Creating users or groups and remapping models change the target's
# people and semantics: they belong in a replication rule of the config, never in a message.
EVENT_OPTIONS = frozenset(
    {"on_conflict", "include_deleted", "include", "exclude", "models", "pause_schedules", "trashed"}
)


class Refused(Exception):
    """An event the configuration does not allow, with the reason and the setting to change."""


class EventGate:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store_bucket = (
            StoreBucket(store.bucket, store.prefix) if isinstance(store, S3Store) else None
        )

    def parse(self, body: str) -> list[Event]:
        return parse_event(body, self.store_bucket)

    def check(self, event: Event) -> None:
        """Raise Refused unless the configuration allows this event."""
        if isinstance(event, BackupRequested):
            self._backup(event)
        elif isinstance(event, RestoreRequested | DrillRequested):
            self._restore(event)

    def _backup(self, event: BackupRequested) -> None:
        if event.instance not in self.settings.instances:
            known = ", ".join(sorted(self.settings.instances)) or "none"
            raise Refused(
                f"backup.requested for {event.instance!r}: not an instance in the config "
                f"(known: {known})"
            )

    def _restore(self, event: RestoreRequested | DrillRequested) -> None:
        """A drill restores too: the same targets, the same options."""
        target = event.target
        allowed = self.settings.service.restore_target(target)
        if allowed is None:
            raise Refused(
                f"{event.type} into {target!r}: not a restore target of this config; "
                f"list it under service.restore_targets"
            )
        extra = sorted(set(event.options) - EVENT_OPTIONS)
        if extra:
            raise Refused(
                f"{event.type} option {', '.join(extra)} cannot come from an event "
                f"(allowed: {', '.join(sorted(EVENT_OPTIONS))}); put it in a replication rule"
            )
        options = _options(event, self.settings.instances[target].platform)
        setting = f"service.restore_targets.{target}"
        if options.on_conflict == "overwrite" and not allowed.allow_overwrite:
            raise Refused(
                f"on_conflict: overwrite into {target!r} is not allowed; set "
                f"{setting}.allow_overwrite: true to permit it"
            )
        if options.model_dump().get("include_deleted") and not allowed.allow_include_deleted:
            raise Refused(
                f"include_deleted into {target!r} is not allowed; set "
                f"{setting}.allow_include_deleted: true to permit it"
            )


def _options(event: RestoreRequested | DrillRequested, platform: str) -> RestoreOptions:
    """The event's options as the target's platform takes them (another's is refused)."""
    try:
        return platform_named(platform).options_type.model_validate(event.options)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(map(str, first["loc"]))
        raise Refused(f"{event.type} option {where}: {first['msg']}") from None
