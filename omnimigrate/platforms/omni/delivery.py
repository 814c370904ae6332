"""A schedule's delivery, read from every shape the documents give it, and written back.

The official spec leaves a schedule's delivery settings untyped (`metadata` on the schedule
and on each destination, DIGEST G12); the older spec documents them on create (`url`,
`subject`, `textBody`, SFTP and print fields) and in its per-destination recipients shapes
(`url` for webhooks, `[{recipientType, slackId}]` for Slack). The official create body
renames some (`webhookUrl`) and adds others (Slack, S3). So a reading looks in every place
either document puts a field, under every name either gives it, and maps each to one name
here; a field a destination cannot do without and that is found nowhere is an error naming
the places looked at, never a silent default.

Backup's snapshot, restore's create body and verify's comparison all go through this one
reading, so what restore writes is what verify compares.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

# One name per setting (the official create name where there is one); the other names the
# documents use for it. A setting not listed has one name in both.
ALIASES: dict[str, tuple[str, ...]] = {"webhookUrl": ("webhookUrl", "url")}
# The delivery settings of each destination.
SETTINGS_OF = {
    "webhook": ("webhookUrl",),
    "email": ("subject", "textBody"),
    "slack": (),  # slackRecipientType and the targets are read apart
    "sftp": ("address", "port", "username", "path"),
    "s3": ("bucketName", "keyPrefix", "region", "roleArn"),
}
# Format and delivery options the create bodies take under one name in both documents.
OPTIONS = (
    "hideTitle",
    "paperFormat",
    "paperOrientation",
    "singleColumnLayout",
    "expandTablesToShowAllRows",
    "queryIdentifierMapKey",
    "overrideRowLimit",
    "maxRowLimit",
    "enableFormatting",
    "hideHiddenFields",
    "showContentLink",
    "showFilters",
    "fanOut",
    "killJobsOnFailure",
)
REQUIRED = {
    "webhook": ("webhookUrl",),
    "slack": ("slackRecipientType", "slackRecipients"),
    "sftp": ("address",),
    "s3": ("bucketName",),
}
WHERE = (
    "recipients response (older spec), destination metadata, schedule metadata, "
    "schedule list record"
)


class DeliveryShapeError(ValueError):
    """A schedule lacks a field its destination needs in every documented place."""


class Delivery(BaseModel):
    """What a schedule delivers, where, and when; the same whichever shape it was read from."""

    destination: str
    format: str | None = None
    cron: str
    timezone: str
    settings: dict[str, Any] = Field(default_factory=dict)  # SETTINGS_OF and OPTIONS names
    slack_recipients: list[str] = Field(default_factory=list)
    condition_type: str | None = None
    condition_query_map_key: str | None = None
    filter_config: Any = None

    def query_keys(self) -> dict[str, str]:
        """The query keys this delivery watches, by field (queries.QUERY_KEY_FIELDS)."""
        keys = {
            "conditionQueryMapKey": self.condition_query_map_key,
            "queryIdentifierMapKey": self.settings.get("queryIdentifierMapKey"),
        }
        return {f: str(k) for f, k in keys.items() if k not in (None, "")}

    def with_query_keys(self, keys: dict[str, str]) -> Delivery:
        """The same delivery watching other keys (the target's, after an import)."""
        settings = dict(self.settings)
        if "queryIdentifierMapKey" in keys:
            settings["queryIdentifierMapKey"] = keys["queryIdentifierMapKey"]
        condition = keys.get("conditionQueryMapKey", self.condition_query_map_key)
        return self.model_copy(update={"settings": settings, "condition_query_map_key": condition})

    def create_body(self, identifier: str, name: str) -> dict[str, Any]:
        """A create body both documents accept: every setting under each of its names (the
        official schema allows extra properties), recipients in the official shape."""
        body: dict[str, Any] = {
            "identifier": identifier,
            "name": name,
            "schedule": self.cron,
            "timezone": self.timezone,
            "destinationType": self.destination,
            "format": self.format,
        }
        for canonical, value in self.settings.items():
            for alias in ALIASES.get(canonical, (canonical,)):
                body[alias] = value
        if self.destination == "slack":
            channel = self.settings.get("slackRecipientType") == "channel"
            ids = self.slack_recipients
            body["recipients"] = ids[0] if channel and len(ids) == 1 else ids
        for key, value in (
            ("conditionType", self.condition_type),
            ("conditionQueryMapKey", self.condition_query_map_key),
            ("filterConfig", self.filter_config),
        ):
            if value not in (None, {}, []):
                body[key] = value
        return body


def _delivery_places(
    summary: dict[str, Any], detail: dict[str, Any], recipients: dict[str, Any]
) -> list[dict[str, Any]]:
    """Where delivery settings may stand, first found wins: the older spec's recipients
    shape, each destination's metadata, the schedule's metadata (flat, or under the
    destination type)."""
    out: list[dict[str, Any]] = [recipients]
    for dest in detail.get("destinations") or []:
        if isinstance(dest.get("metadata"), dict):
            out.append(dest["metadata"])
    meta = detail.get("metadata")
    if isinstance(meta, dict):
        out.append(meta)
        nested = meta.get(summary.get("destinationType") or "")
        if isinstance(nested, dict):
            out.append(nested)
    return out


def _first(places: list[dict[str, Any]], names: tuple[str, ...]) -> Any:
    for place in places:
        for name in names:
            if place.get(name) not in (None, ""):
                return place[name]
    return None


def _slack_ids(places: list[dict[str, Any]]) -> list[str]:
    """Slack targets: `[{recipientType, slackId}]` (older spec's recipients), or a string
    or list of strings under `recipients` (the official create body's description)."""
    for place in places:
        value = place.get("recipients")
        if isinstance(value, str) and value:
            return [value]
        if isinstance(value, list) and value:
            if all(isinstance(v, str) for v in value):
                return list(value)
            ids = [v["slackId"] for v in value if isinstance(v, dict) and v.get("slackId")]
            if ids:
                return ids
    return []


def _slack_type(places: list[dict[str, Any]]) -> Any:
    typed = _first(places, ("slackRecipientType",))
    if typed:
        return typed
    for place in places:
        for item in place.get("recipients") or []:
            if isinstance(item, dict) and item.get("recipientType"):
                return item["recipientType"]
    return None


def read_delivery(
    summary: dict[str, Any], detail: dict[str, Any], recipients: dict[str, Any]
) -> Delivery:
    """The delivery of one schedule, from its list record, `GET /schedules/{id}` and
    `GET /schedules/{id}/recipients`, as the API returned them."""
    destination = summary.get("destinationType") or recipients.get("type")
    if not destination:
        raise DeliveryShapeError("no destinationType in the schedule list record or recipients")
    delivery = _delivery_places(summary, detail, recipients)
    # options (fanOut, showFilters, …) and the Slack type may also be the schedule's own
    # fields or its list record's; a delivery setting (a `path`, a `url`) never is
    anywhere = [*delivery, detail, summary]
    settings: dict[str, Any] = {}
    for canonical in SETTINGS_OF.get(destination, ()):
        value = _first(delivery, ALIASES.get(canonical, (canonical,)))
        if value is not None:
            settings[canonical] = value
    for option in OPTIONS:
        value = _first(anywhere, (option,))
        if value is not None:
            settings[option] = value
    slack_ids: list[str] = []
    if destination == "slack":
        settings["slackRecipientType"] = _slack_type(anywhere)
        slack_ids = _slack_ids(delivery)
    missing = [
        f
        for f in REQUIRED.get(destination, ())
        if not (slack_ids if f == "slackRecipients" else settings.get(f))
    ]
    if missing:
        raise DeliveryShapeError(
            f"{destination} schedule {summary.get('name')!r}: no {', '.join(missing)} in any "
            f"documented place ({WHERE})"
        )
    return Delivery(
        destination=destination,
        format=(summary.get("format") or _first(anywhere, ("format",)) or "").lower() or None,
        cron=summary["schedule"],
        timezone=summary["timezone"],
        settings={k: v for k, v in settings.items() if v is not None},
        slack_recipients=slack_ids,
        condition_type=detail.get("conditionType"),
        condition_query_map_key=detail.get("conditionQueryMapKey"),
        filter_config=detail.get("filterConfig") or None,
    )
