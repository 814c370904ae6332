"""Content checks: does restored content still *run* on the target?

Both vendors ship a validator that names each document or chart whose queries refer to a
field, view or explore the model lacks. Backup records the source's answer per model or
project (an optional capture); after a restore the target's validator is asked for the
models or projects written. Comparing the two, by the content's natural key (a document
identifier, a chart or dashboard slug), tells the issues a restore introduced (*new*) from
those the source already had (*carried*) and those the restore cured (*fixed*).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, Field

from omnimigrate.errors import ApiError

# what backup stores per model or project: natural key -> the validator's messages
CONTENT_TYPE = "content_check"


class ContentShapeError(ApiError):
    """A validator's answer lacks a field the comparison needs; the message names it."""


class ContentCapture(BaseModel):
    """One validator answer, reduced to what the comparison needs."""

    scope: str  # the model key or project name it was asked for
    issues: dict[str, list[str]] = Field(default_factory=dict)  # content key -> messages
    names: dict[str, str] = Field(default_factory=dict)  # content key -> display name


class ContentIssue(BaseModel):
    key: str
    name: str = ""
    issues: list[str] = Field(default_factory=list)


class ContentReport(BaseModel):
    scopes: list[str] = Field(default_factory=list)  # the target's models or projects asked
    checked: int = 0  # content items of the snapshot compared
    new: list[ContentIssue] = Field(default_factory=list)
    carried: list[ContentIssue] = Field(default_factory=list)
    fixed: list[ContentIssue] = Field(default_factory=list)
    # the source's validator refused at backup (403, 501): its issues are unknown, so every
    # issue on the target counts as new, and this says why
    warnings: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.new


def merge(captures: list[ContentCapture]) -> ContentCapture:
    """Several scopes' answers as one (a document is on one model, a chart in one project)."""
    out = ContentCapture(scope=",".join(c.scope for c in captures))
    for c in captures:
        for key, messages in c.issues.items():
            out.issues.setdefault(key, []).extend(messages)
        out.names |= c.names
    return out


def compare(
    source: ContentCapture,
    target: ContentCapture,
    restored: dict[str, str],
    *,
    scopes: list[str],
    warnings: Sequence[str] = (),
) -> ContentReport:
    """`restored`: the snapshot's content the restore wrote, key -> name; only those count
    (content of the target's own is not the restore's doing)."""
    report = ContentReport(scopes=sorted(scopes), checked=len(restored), warnings=list(warnings))
    for key in sorted(restored):
        was, now = source.issues.get(key), target.issues.get(key)
        name = restored[key] or target.names.get(key) or source.names.get(key, "")
        if now and was:
            report.carried.append(ContentIssue(key=key, name=name, issues=sorted(now)))
        elif now:
            report.new.append(ContentIssue(key=key, name=name, issues=sorted(now)))
        elif was:
            report.fixed.append(ContentIssue(key=key, name=name, issues=sorted(was)))
    return report
