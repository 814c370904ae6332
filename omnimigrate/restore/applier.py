"""The applier: runs a Plan's writes in dependency order, records each in the ledger, and
contains failures (an action whose dependency failed is reported as blocked by it; every
other action proceeds).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from omnimigrate.omni.client import OmniClient
from omnimigrate.omni.delivery import Delivery
from omnimigrate.omni.errors import OmniAPIError, OmniError, OmniNotFound
from omnimigrate.omni.pool import key_stats
from omnimigrate.restore.inventory import TargetInventory
from omnimigrate.restore.ledger import LedgerRecord, RestoreLedger
from omnimigrate.restore.plan import Action, Plan
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.manifest import KeyStats

ACTING_USER = "meta:acting-user"  # ledger key: the user the restoring key imports as
IMPORT_FIELDS = (
    "document",
    "exportVersion",
    "queryModels",
    "dashboard",
    "workbookModel",
    "fileUploads",
)


class RestoreError(Exception):
    """An action cannot be done as planned; the message says why."""


@dataclass
class Outcome:
    status: str  # done, skipped, failed, blocked
    detail: str = ""


@dataclass
class ApplyResult:
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    keys: dict[str, KeyStats] = field(default_factory=dict)  # per key fingerprint

    def by_status(self, status: str) -> list[str]:
        return [k for k, v in self.outcomes.items() if v.status == status]

    @property
    def complete(self) -> bool:
        return not self.by_status("failed") and not self.by_status("blocked")


def yaml_file_name(key: str) -> str:
    """GET keys (`model.yaml`, `views/x.yaml`, `x.view.yaml`) to POST names (DIGEST §5)."""
    stem = key.removesuffix(".yaml")
    for folder, suffix in (("views/", ".view"), ("topics/", ".topic")):
        if stem.startswith(folder):
            return stem[len(folder) :] + suffix
    return stem


class _Ids:
    """Target ids by natural key: the inventory's, plus whatever this run creates."""

    def __init__(self, inv: TargetInventory) -> None:
        self.users = {**inv.email_only, **inv.users}
        self.groups = dict(inv.groups)
        self.folders = {p: f.id for p, f in inv.folders.items()}
        self.connections = dict(inv.connections)
        self.schedules = {k: s.id for k, s in inv.schedules.items()}
        self.documents: dict[str, str] = {}  # source identifier -> target (after rename)

    def user(self, email: str) -> str:
        if email not in self.users:
            raise RestoreError(f"user {email} is not on the target")
        return self.users[email]

    def principal(self, p: dict[str, Any]) -> tuple[str, str]:
        if p["kind"] == "user":
            return "user", self.user(p["key"])
        if p["key"] not in self.groups:
            raise RestoreError(f"group {p['key']} is not on the target")
        return "group", self.groups[p["key"]]

    def document(self, identifier: str) -> str:
        return self.documents.get(identifier, identifier)


def _check_order(actions: list[Action]) -> None:
    """Each action after every action of the plan it depends on, as the planner emits them."""
    position = {a.id: i for i, a in enumerate(actions)}
    for i, action in enumerate(actions):
        late = [d for d in action.depends_on if position.get(d, -1) > i]
        if late:
            raise RestoreError(
                f"the plan lists {action.id} before {late[0]}, which it depends on: "
                "make the plan again with `omnimigrate plan`"
            )


class Applier:
    def __init__(
        self,
        plan: Plan,
        clients: list[OmniClient],
        blobs: BlobStore,
        ledger: RestoreLedger,
        *,
        concurrency: int = 4,
        on_progress: Callable[[int, int], None] = lambda done, total: None,
    ) -> None:
        self.plan = plan
        self.clients = clients
        self.blobs = blobs
        self.ledger = ledger
        self.ids = _Ids(plan.inventory)
        for action_id, rec in ledger.records.items():
            if action_id.endswith(":import") and rec.target:
                self.ids.documents[action_id.split(":")[1]] = rec.target
        self._workers = concurrency * len(clients)
        self._turn = 0
        acting = ledger.records.get(ACTING_USER)
        self._acting: str | None = acting.target if acting else None
        self._acting_lock = asyncio.Lock()
        self._renames = asyncio.Lock()  # one folder path change at a time (swaps, G7)
        self._progress = on_progress
        self._log = structlog.get_logger("omnimigrate.restore")
        self.result = ApplyResult()

    async def run(self) -> ApplyResult:
        """A fixed pool of workers takes the actions in plan order. Every action comes after
        the ones it depends on (checked first), so a worker waiting for a dependency waits
        for one that another worker holds, and memory stays flat however long the plan."""
        actions = {a.id: a for a in self.plan.actions}
        _check_order(self.plan.actions)
        waiters: dict[str, asyncio.Event] = {}
        queue = iter(self.plan.actions)  # shared: each action goes to exactly one worker

        async def settled(dep: str) -> None:
            if dep in actions and dep not in self.result.outcomes:
                await waiters.setdefault(dep, asyncio.Event()).wait()

        async def worker() -> None:
            for action in queue:
                for dep in action.depends_on:
                    await settled(dep)
                self.result.outcomes[action.id] = await self._settle(action, actions)
                if event := waiters.pop(action.id, None):
                    event.set()
                self._progress(len(self.result.outcomes), len(actions))

        await asyncio.gather(*(worker() for _ in range(self._workers)))
        await asyncio.to_thread(self.ledger.compact)
        self.result.keys = key_stats(self.clients)
        return self.result

    async def _settle(self, action: Action, actions: dict[str, Action]) -> Outcome:
        for dep in action.depends_on:
            outcome = self.result.outcomes.get(dep)
            if outcome and outcome.status in ("failed", "blocked"):
                return Outcome("blocked", f"blocked by {dep} ({outcome.status})")
        if action.op == "blocked":
            return Outcome("blocked", action.reason)
        if action.adopt:
            if action.kind == "document.import":
                await self._record_import(action, action.params["identifier"])
            else:
                await self._record(action, "done", self.ids.schedules.get(action.params["key"]))
            return Outcome("done", "adopted: " + action.reason)
        if not action.writes:
            return Outcome("skipped", action.reason)
        client = self.clients[self._turn % len(self.clients)]
        self._turn += 1
        try:
            handler = getattr(self, "_" + action.kind.replace(".", "_"))
            await handler(client, action)
        except (OmniError, RestoreError) as exc:
            self._log.warning("restore.action_failed", action=action.id, error=str(exc))
            return Outcome("failed", str(exc))
        return Outcome("done", action.op)

    async def _record(self, action: Action, status: str, target: str | None = None) -> None:
        record = LedgerRecord(status=status, digest=action.digest, target=target)  # type: ignore[arg-type]
        await asyncio.to_thread(self.ledger.write, action.id, record)

    # ------------------------------------------------------------------ identities, labels

    async def _user_create(self, c: OmniClient, a: Action) -> None:
        await self._record(a, "started")
        user = await c.create_user(a.params["email"], a.params["display_name"])
        self.ids.users[a.params["email"]] = user.id
        await self._record(a, "done", user.id)

    async def _group_create(self, c: OmniClient, a: Action) -> None:
        await self._record(a, "started")
        members = [self.ids.user(m) for m in a.params["members"]]
        group = await c.create_group(a.params["name"], members)
        self.ids.groups[a.params["name"]] = group.id
        await self._record(a, "done", group.id)

    async def _email_only_upsert(self, c: OmniClient, a: Action) -> None:
        (created,) = await c.upsert_email_only_users([a.params["email"]])
        self.ids.users.setdefault(a.params["email"], created.user_id)
        await self._record(a, "done", created.user_id)

    async def _label_create(self, c: OmniClient, a: Action) -> None:
        p = a.params
        await c.create_label(
            p["name"],
            verified=p["verified"],
            homepage=p["homepage"],
            color=p["color"],
            description=p["description"],
        )
        await self._record(a, "done", p["name"])

    async def _label_update(self, c: OmniClient, a: Action) -> None:
        p = a.params
        await c.update_label(
            p["name"],
            verified=p["verified"],
            homepage=p["homepage"],
            color=p["color"],
            description=p["description"],
        )
        await self._record(a, "done", a.params["name"])

    async def _role_assign(self, c: OmniClient, a: Action) -> None:
        kind, pid = self.ids.principal(a.params["principal"])
        assign = c.assign_user_model_role if kind == "user" else c.assign_group_model_role
        connection_id = (
            None if a.params["model_id"] else self.ids.connections.get(a.params["connection"] or "")
        )
        await assign(
            pid, a.params["role"], model_id=a.params["model_id"], connection_id=connection_id
        )
        await self._record(a, "done")

    async def _model_yaml(self, c: OmniClient, a: Action) -> None:
        """Make the target model's own layer (`extension` mode) equal the snapshot's, file
        for file: changed files written, files the snapshot lacks deleted (an empty file
        deletes in extension mode). The schema model's views are never copied in."""
        model_id = next(
            m.id for m in self.plan.inventory.models.values() if m.key == a.params["model"]
        )
        have = (await c.get_model_yaml(model_id, mode="extension")).files
        want = a.params["files"]
        for key in sorted(set(want) | set(have)):
            if want.get(key) != have.get(key):
                text = want.get(key, "")
                await c.put_model_yaml(model_id, yaml_file_name(key), text, mode="extension")
        await self._record(a, "done", model_id)

    # ------------------------------------------------------------------ folders

    async def _folder_create(self, c: OmniClient, a: Action) -> None:
        p = a.params
        parent_id = self.ids.folders.get(p["parent"]) if p["parent"] else None
        if p["parent"] and parent_id is None:
            raise RestoreError(f"parent folder {p['parent']} is not on the target")
        owner = self.ids.user(p["owner"]) if p["owner"] else None
        await self._record(a, "started")
        created = await c.create_folder(
            p["name"],
            parent_id=parent_id,
            parent_path=p["parent"],
            scope=p["scope"],
            owner_id=owner,
        )
        self.ids.folders[p["path"]] = created.id
        if created.path.strip("/") != p["path"]:  # Omni derives the path from the name (G7)
            await self._force_path(c, created.id, p["path"])
        await self._record(a, "done", created.id)

    async def _force_path(self, c: OmniClient, folder_id: str, path: str) -> None:
        """Give a folder its source path. Siblings whose names slug alike ("Q4 Reviews",
        "Q4-Reviews") can each be created at the other's path: on 409 the holder, when it
        is a folder of this restore still waiting for its own path, steps aside to a
        temporary one first, and takes its right path when its own turn comes."""
        segment = path.rsplit("/", 1)[-1]
        async with self._renames:
            try:
                await c.update_folder(folder_id, path=segment)
                return
            except OmniAPIError as err:
                if err.status != 409:
                    raise
            holder = await self._folder_at(c, path)
            ours = {fid: src for src, fid in self.ids.folders.items()}
            if holder is None or holder == folder_id or ours.get(holder, path) == path:
                raise RestoreError(
                    f"folder path {path} is taken on the target by a folder this snapshot "
                    "does not hold there: rename or move it, then run again"
                )
            await c.update_folder(holder, path=f"{segment}-omnimigrate-{holder[:8]}")
            await c.update_folder(folder_id, path=segment)

    @staticmethod
    async def _folder_at(c: OmniClient, path: str) -> str | None:
        async for folder in c.list_folders(path=path):
            if folder.path.strip("/") == path:
                return folder.id
        return None

    async def _folder_permissions(self, c: OmniClient, a: Action) -> None:
        folder_id = self.ids.folders[a.params["path"]]
        for (role, boost), users, groups in self._by_role(a.params["grants"]):
            await c.add_folder_permits(
                folder_id, role, user_ids=users, group_ids=groups, access_boost=boost
            )
        await self._record(a, "done")

    def _by_role(
        self, grants: list[dict[str, Any]]
    ) -> list[tuple[tuple[str, bool], list[str], list[str]]]:
        """One permit call per (role, access boost): the API grants one role per call."""
        buckets: dict[tuple[str, bool], tuple[list[str], list[str]]] = {}
        for g in grants:
            kind, pid = self.ids.principal(g["principal"])
            users, groups = buckets.setdefault((g["role"], g["access_boost"]), ([], []))
            (users if kind == "user" else groups).append(pid)
        return [(k, u, g) for k, (u, g) in sorted(buckets.items())]

    # ------------------------------------------------------------------ documents

    async def _document_import(self, c: OmniClient, a: Action) -> None:
        p = a.params
        export = await asyncio.to_thread(self.blobs.get, p["export_blob"])
        if "queryModels" not in export:
            raise RestoreError(
                "the snapshot's export has no queryModels (older export format); Omni's import "
                "requires them: take a new backup and restore from it"
            )
        body = {k: export[k] for k in IMPORT_FIELDS if k in export}
        body |= {
            "baseModelId": p["base_model_id"],
            "document": {**export["document"], "name": p["name"]},
        }
        if p["folder_path"]:
            body["folderPath"] = p["folder_path"]
        if not p.get("rename"):
            body["identifier"] = p["identifier"]
        if a.op == "update" and not p.get("rename"):
            with contextlib.suppress(OmniNotFound):  # replaced: the trash gives the id up
                await c.delete_document(p["identifier"])
        await self._record(a, "started", p["identifier"])
        result = await c.import_document(body)
        target = result.identifier or p["identifier"]
        self.ids.documents[p["identifier"]] = target
        await self._record_import(a, target)

    async def _record_import(self, a: Action, target: str) -> None:
        a = a.model_copy(update={"kind": "document.import"})  # what the next plan compares
        detail = {"core": a.core_digest, "model": a.params["base_model_id"]}
        record = LedgerRecord(status="done", digest=a.digest, target=target, detail=detail)
        await asyncio.to_thread(self.ledger.write, a.id, record)

    async def _document_update_model(self, c: OmniClient, a: Action) -> None:
        """Point a restored document at another model (the older spec's update-model); an
        instance without that route gets the document re-imported on the new model."""
        ident = self.ids.document(a.params["identifier"])
        try:
            await c.update_document_model(ident, a.params["base_model_id"])
        except OmniNotFound:
            self._log.info("restore.update_model_unavailable", document=ident)
            await self._document_import(c, a.model_copy(update={"op": "update"}))
            return
        await self._record_import(a, ident)

    async def _document_description(self, c: OmniClient, a: Action) -> None:
        ident = self.ids.document(a.params["identifier"])
        await c.update_document(ident, description=a.params["description"])
        await self._record(a, "done")

    async def _document_scope(self, c: OmniClient, a: Action) -> None:
        """Outside any folder: Omni's move takes the scope with `folderPath: null`."""
        ident = self.ids.document(a.params["identifier"])
        await c.move_document(ident, None, scope=a.params["scope"])
        await self._record(a, "done")

    async def _document_labels(self, c: OmniClient, a: Action) -> None:
        await c.update_document_labels(
            self.ids.document(a.params["identifier"]), add=a.params["labels"]
        )
        await self._record(a, "done")

    async def _document_permissions(self, c: OmniClient, a: Action) -> None:
        ident = self.ids.document(a.params["identifier"])
        for (role, boost), users, groups in self._by_role(a.params["grants"]):
            await c.add_document_permits(
                ident, role, user_ids=users, group_ids=groups, access_boost=boost
            )
        await self._record(a, "done")

    async def _document_owner(self, c: OmniClient, a: Action) -> None:
        """Transfer needs an explicit permit for the new owner first; Omni then grants the
        previous owner (the restoring key's user) MANAGER: revoked here, unless that user is
        a grantee in the snapshot, whose role the permissions action then sets (DIGEST G10).
        A first attempt knows the current owner (the importing user); a resumed one asks."""
        ident = self.ids.document(a.params["identifier"])
        owner = self.ids.user(a.params["owner"])
        if a.op == "create":
            acting = current = await self._acting_user(c, ident)
        else:
            acting, current = self._acting, await self._owner_of(c, ident)
        await self._record(a, "started")
        if current != owner:
            await c.add_document_permits(ident, "MANAGER", user_ids=[owner])
            await c.transfer_document_ownership(ident, owner)
        grantees = {self.ids.users.get(k) for k in a.params["grantees"]}
        if acting and acting != owner and acting not in grantees:
            await c.revoke_document_permits(ident, user_ids=[acting])
        await self._record(a, "done", owner)

    async def _acting_user(self, c: OmniClient, ident: str) -> str | None:
        """Imports are owned by the key's user: learn who that is once, from the access list
        of a document nobody has transferred yet, and keep it in the ledger for re-runs."""
        async with self._acting_lock:
            if self._acting is None:
                self._acting = await self._owner_of(c, ident)
                record = LedgerRecord(status="done", digest="-", target=self._acting)
                await asyncio.to_thread(self.ledger.write, ACTING_USER, record)
        return self._acting

    @staticmethod
    async def _owner_of(c: OmniClient, ident: str) -> str | None:
        async for p in c.access_list(ident, access_source="direct"):
            if p.is_owner:
                return p.id
        return None

    # ------------------------------------------------------------------ schedules

    async def _schedule_create(self, c: OmniClient, a: Action) -> None:
        p = a.params
        delivery = Delivery.model_validate(p["delivery"])
        body = delivery.create_body(self.ids.document(p["identifier"]), p["name"])
        if delivery.destination == "email":
            body["recipients"] = [{"email": e} for e in p["emails"]]
        owner = self.ids.user(p["owner"]) if p["owner"] else None
        if a.op == "update" and p["key"] in self.ids.schedules:
            with contextlib.suppress(OmniNotFound):
                await c.delete_schedule(self.ids.schedules[p["key"]])
        await self._record(a, "started")
        created = await c.create_schedule(body, owner_id=owner)
        if not created.id:
            raise RestoreError(f"Omni created schedule {p['key']} but returned no id")
        if p["groups"]:
            await c.add_schedule_recipients(
                created.id, group_ids=[self.ids.groups[g] for g in p["groups"]]
            )
        if p["paused"]:
            await c.pause_schedule(created.id)
        self.ids.schedules[p["key"]] = created.id
        await self._record(a, "done", created.id)
