"""The options an Omni restore and an Omni verify take, beyond every platform's
(`RestoreOptions`, `VerifyOptions`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.verify import VerifyOptions


class OmniRestoreOptions(RestoreOptions):
    include_deleted: bool = False  # also documents that were in the source's trash
    models: bool = False  # push model YAML to the mapped shared models
    pause_schedules: bool = False  # create every schedule paused (a DR drill)
    create_missing_users: bool = False  # by SCIM, instead of blocking what needs them
    create_missing_groups: bool = False
    model_map: dict[str, str] = Field(default_factory=dict)  # source model id -> target id
    # a document in the target's trash: import under its identifier where the server
    # accepts it, else under a new one ("same-else-new"), or only one of them, or block it
    trashed: Literal["same-else-new", "same", "new", "fail"] = "same-else-new"


class OmniVerifyOptions(VerifyOptions):
    """What an Omni verify is asked beyond every platform's (`VerifyOptions`)."""

    models: bool = False  # compare model YAML too (the restore pushed it)
    documents: list[str] | None = None  # only these documents and their schedules; None: all
    pause_schedules: bool = False  # the restore paused every schedule (a DR drill)
