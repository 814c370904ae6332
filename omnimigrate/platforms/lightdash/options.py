"""The options a Lightdash restore and a Lightdash verify take, beyond every platform's
(`RestoreOptions`, `VerifyOptions`). Omni's own (a restore's --models, --model-map,
--include-deleted, --trashed, --pause-schedules, --create-missing-users; a verify's --models,
--document, --pause-schedules) are not among them, so they are refused before anything is
read."""

from __future__ import annotations

from typing import ClassVar

from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.verify import VerifyOptions


class LightdashRestoreOptions(RestoreOptions):
    WHY_NOT: ClassVar[dict[str, str]] = {
        "include_deleted": "Lightdash downloads have no trash",
        "models": "Lightdash's models come from dbt",
        "pause_schedules": "not supported for Lightdash yet",
        "create_missing_users": "Lightdash's API cannot create users: invite them in Lightdash",
        "model_map": "Lightdash has no Omni models to map",
        "trashed": "a deleted Lightdash space comes back by --include",
    }

    # accepted as Omni's is, and changes nothing: a Lightdash restore always creates the
    # groups a grant names and the target lacks (the README's Lightdash section says so)
    create_missing_groups: bool = False


class LightdashVerifyOptions(VerifyOptions):
    """None of its own: a Lightdash verify compares the whole of each project it maps."""

    WHY_NOT: ClassVar[dict[str, str]] = {
        "models": "Lightdash's models come from dbt",
        "documents": "a Lightdash verify compares whole projects: choose one with --project",
        "pause_schedules": "not supported for Lightdash yet",
    }
