"""The restore options a Lightdash restore takes, beyond every platform's (`RestoreOptions`).
Omni's own (--models, --model-map, --include-deleted, --trashed, --pause-schedules,
--create-missing-users) are not among them, so they are refused before anything is read."""

from __future__ import annotations

from omnimigrate.engine.plan import RestoreOptions


class LightdashRestoreOptions(RestoreOptions):
    # accepted as Omni's is, and changes nothing: a Lightdash restore always creates the
    # groups a grant names and the target lacks (the README's Lightdash section says so)
    create_missing_groups: bool = False
