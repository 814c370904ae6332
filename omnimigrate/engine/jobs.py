"""A Job is a small, serializable unit of work; its key is stable across runs, so a ledger
can say whether it is already done."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from omnimigrate.snapshot.manifest import ObjectEntry

LISTING, READ, EXPORT = 0, 1, 2  # priorities: lower runs first


class UnknownJob(Exception):
    """A checkpoint names a job kind this omnimigrate does not have."""

    def __init__(self, job: Job) -> None:
        super().__init__(
            f"job {job.key} is not one this omnimigrate knows (a run started by another "
            "version?): finish it with that version, or run the same command with --restart to "
            "start a new snapshot"
        )


class Job(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: str
    args: dict[str, str] = Field(default_factory=dict)
    priority: int = READ

    @property
    def key(self) -> str:
        return self.kind + "".join(f"|{k}={v}" for k, v in sorted(self.args.items()))

    @property
    def is_listing(self) -> bool:
        return self.priority == LISTING


class JobResult(BaseModel):
    """What a finished job produced: objects for the manifest, follow-up jobs, facts about
    the source (such as the export flavour), and what it could not capture."""

    entries: list[ObjectEntry] = Field(default_factory=list)
    children: list[Job] = Field(default_factory=list)
    facts: dict[str, str] = Field(default_factory=dict)
    # optional parts Omni refused for good (email-only users, a model's git settings): the
    # snapshot is committed partial, with each named among its failures
    lost: list[str] = Field(default_factory=list)
