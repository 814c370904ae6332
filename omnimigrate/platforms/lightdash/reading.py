"""What the handlers read both sides of a restore through, into the composed models
(`natural_keys.py`, `registry.py`): the snapshot (`SnapshotReader`: its manifest and blobs,
every source uuid turned into a natural key) and the target (`TargetReader`: over the API,
for the projects the snapshot maps to, `project_map`). The platform (`platform.py`) has each
handler read its own type, in registry order (a chart's space and a scheduler's chart are
read before it), so what one type resolves (`resolved`) the next finds."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from omnimigrate.errors import ConfigError
from omnimigrate.platforms.lightdash.client import LightdashClient, select_project
from omnimigrate.platforms.lightdash.natural_keys import ProjectBase, StateBase, ViewBase
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import Manifest, ObjectEntry


class SnapshotReader:
    """A snapshot's entries and blobs, and the source ids each type resolves for the next
    (`resolved`)."""

    def __init__(self, manifest: Manifest, blobs: BlobStore) -> None:
        self.manifest = manifest
        self.blobs = blobs
        self._resolved: dict[tuple[str, str], dict[str, Any]] = {}

    def entries(self, type_: str) -> Iterable[ObjectEntry]:
        return self.manifest.of_type(type_)

    def blob(self, entry: ObjectEntry) -> Any:
        return self.blobs.get(entry.blob) if entry.blob else None

    def resolved(self, kind: str, project: str = "") -> dict[str, Any]:
        """A source id -> the natural key one type read it as, for the types after it (a
        group's uuid -> its name; in `project`, a space's slug -> its path, a chart's uuid
        -> its slug), by the kind the type names them with."""
        return self._resolved.setdefault((kind, project), {})


class TargetReader:
    """What the target's handlers share while reading one project (or, with `project` None,
    the organization): the clients, the snapshot (what is worth a read), the state filled so
    far, and what the types read before resolved of the project's ids (`resolved`)."""

    def __init__(
        self,
        clients: Sequence[LightdashClient],
        view: ViewBase,
        state: StateBase,
        project: str | None = None,
    ) -> None:
        self.clients = clients
        self.view = view
        self.state = state
        self.project = project or ""  # the snapshot's name for it
        self.uuid = state.ids.projects.get(self.project, "")
        self._resolved: dict[str, dict[str, Any]] = {}
        self._turn = 0

    @property
    def client(self) -> LightdashClient:
        return self.clients[0]

    def next_client(self) -> LightdashClient:
        """Reads of one object each go to the next key."""
        self._turn += 1
        return self.clients[self._turn % len(self.clients)]

    @property
    def target(self) -> ProjectBase:
        """The project being read, on the target (each handler reads its part of it)."""
        return self.state.projects[self.project]

    @property
    def source(self) -> ProjectBase:
        """The snapshot's project of the same name."""
        return self.view.projects[self.project]

    def key(self, natural: str) -> str:
        return f"{self.project}:{natural}"

    def resolved(self, kind: str) -> dict[str, Any]:
        """A target id -> the natural key one type read it as, in this project (a space's
        slug -> its path)."""
        return self._resolved.setdefault(kind, {})


async def project_map(client: LightdashClient, view: ViewBase) -> dict[str, str]:
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
