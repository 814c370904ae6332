"""What the handlers read both sides of a restore through, into one shape (`natural_keys.py`): the
snapshot (`SnapshotReader`: its manifest and blobs, every source uuid turned into a natural
key) and the target (`TargetReader`: over the API, for the projects the snapshot maps to,
`project_map`). The platform (`platform.py`) has each handler read its own type, in
registry order (a chart's space and a scheduler's chart are read before it)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from omnimigrate.errors import ConfigError
from omnimigrate.platforms.lightdash.client import LightdashClient, select_project
from omnimigrate.platforms.lightdash.natural_keys import Project, SnapshotView, TargetState
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest, ObjectEntry


class SnapshotReader:
    """A snapshot's entries and blobs, and the source uuids each type resolves for the next:
    group names, space slugs, chart and dashboard slugs."""

    def __init__(self, manifest: Manifest, blobs: BlobStore) -> None:
        self.manifest = manifest
        self.blobs = blobs
        self.group_names: dict[str, str] = {}  # uuid -> name
        self.space_paths: dict[str, dict[str, list[str]]] = {}  # project -> slug -> path
        self.slugs: dict[tuple[str, str], dict[str, str]] = {}  # (project, type) -> uuid -> slug

    def entries(self, type_: str) -> Iterable[ObjectEntry]:
        return self.manifest.of_type(type_)

    def blob(self, entry: ObjectEntry) -> Any:
        return self.blobs.get(entry.blob) if entry.blob else None

    def named_groups(self, roles: dict[str, str]) -> dict[str, str]:
        """Roles by group uuid -> by group name; a group the snapshot's list lacks keeps its
        uuid (`uuid:…`), and the plan blocks what names it."""
        return {self.group_names.get(g, f"uuid:{g}"): r for g, r in roles.items()}


class TargetReader:
    """What the target's handlers share while reading one project (or, with `project` None,
    the organization): the clients, the snapshot (what is worth a read), the state filled so
    far, and the project's space slugs."""

    def __init__(
        self,
        clients: Sequence[LightdashClient],
        view: SnapshotView,
        state: TargetState,
        project: str | None = None,
    ) -> None:
        self.clients = clients
        self.view = view
        self.state = state
        self.project = project or ""  # the snapshot's name for it
        self.uuid = state.ids.projects.get(self.project, "")
        self.space_paths: dict[str, list[str]] = {}  # slug -> path
        self._turn = 0

    @property
    def client(self) -> LightdashClient:
        return self.clients[0]

    def next_client(self) -> LightdashClient:
        """Reads of one object each go to the next key."""
        self._turn += 1
        return self.clients[self._turn % len(self.clients)]

    @property
    def target(self) -> Project:
        return self.state.projects[self.project]

    def key(self, natural: str) -> str:
        return f"{self.project}:{natural}"


async def project_map(client: LightdashClient, view: SnapshotView) -> dict[str, str]:
    """Which target project each snapshot project restores into: the client's `project`
    (then the snapshot must hold one project), else the project of the same name."""
    found = await client.projects()
    if client.project:
        chosen = select_project(found, client.project, client.base_url)
        if len(view.projects) != 1:
            raise ConfigError(
                f"the snapshot holds {len(view.projects)} projects ({', '.join(view.projects)}) "
                "and --project names one target: back up one project with --project, or leave "
                "--project out to restore each into the target project of the same name"
            )
        return {next(iter(view.projects)): chosen.uuid}
    by_name = {p.name: p.uuid for p in found}
    return {name: by_name[name] for name in view.projects if name in by_name}
