"""The planner: (snapshot, target inventory, ledger, options) -> Plan. Pure: no I/O.

Object types are planned in RESTORE_ORDER (the end of this module), each with the reason for
its place, and a document's own writes follow DOCUMENT_STEPS. Every action names the actions
it waits for in `depends_on`, so the applier writes in that order too. `omnimigrate plan
--explain-order` prints both. Params hold natural keys (emails, group names, paths), never
target ids: the applier resolves them when it runs, so a plan stays readable and valid
across id changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from omnimigrate.backup.scope import PathFilter, ancestors
from omnimigrate.restore.inventory import TargetInventory
from omnimigrate.restore.ledger import LedgerRecord
from omnimigrate.restore.plan import Action, Op, Plan, RestoreOptions
from omnimigrate.restore.source import (
    Grant,
    Principal,
    SourceDocument,
    SourceOrg,
    label_settings,
)

LEFT_ALONE: Op = "skip"
# DIGEST §7.8: what a schedule's destination loses on the way
UNCREATABLE = {"google_sheets": "Google Sheets schedules cannot be created through Omni's API"}
SECRETS = {
    "sftp": "the SFTP password is never exported: re-enter it on the target",
    "s3": "the S3 destination's trust settings are not exported: re-check them on the target",
}


class _Planner:
    def __init__(
        self,
        source: SourceOrg,
        inv: TargetInventory,
        ledger: dict[str, LedgerRecord],
        options: RestoreOptions,
    ) -> None:
        self.src = source
        self.inv = inv
        self.ledger = ledger
        self.opt = options
        self.actions: dict[str, Action] = {}
        self.docs = self._selected_documents()
        self.filtered = bool(options.include or options.exclude)

    # ------------------------------------------------------------------ helpers

    def add(self, action: Action) -> Action:
        self.actions[action.id] = action
        return action

    def mark(self, action: Action, op: Op, reason: str) -> Action:
        return self.add(action.model_copy(update={"op": op, "reason": reason}))

    def op_of(self, action_id: str | None) -> Op | None:
        return self.actions[action_id].op if action_id in self.actions else None

    def decide(
        self,
        action: Action,
        parents: Iterable[str] = (),
        op: Op | None = None,
        *,
        absent: bool = False,
    ) -> Action:
        """A write that follows its parents: left alone with them, blocked with them,
        skipped when the ledger shows the same write done and no parent was re-created
        (unless the object is `absent` from the target: then it is written again).
        Every parent in the plan becomes a dependency the applier waits for."""
        parents = [p for p in dict.fromkeys([*action.depends_on, *parents]) if p in self.actions]
        action = action.model_copy(update={"depends_on": parents})
        for p in parents:
            parent = self.actions[p]
            if parent.op == "blocked":
                return self.mark(action, "blocked", f"blocked by {p}")
            if parent.op == "conflict":
                return self.mark(action, LEFT_ALONE, f"{p} is left alone (--on-conflict skip)")
        rec = self.ledger.get(action.id)
        if (
            rec
            and rec.status == "done"
            and rec.digest == action.digest
            and not (self.reimported(parents) or absent)
        ):
            return self.mark(action, "skip", "unchanged since the last restore")
        return self.add(
            action.model_copy(update={"op": op or ("update" if rec and not absent else "create")})
        )

    def reimported(self, parents: Iterable[str]) -> bool:
        """Whether a parent document is (re)imported in this plan: its children start over."""
        return any(
            self.actions[p].writes and self.actions[p].kind == "document.import"
            for p in parents
            if p in self.actions
        )

    def user_ok(self, email: str) -> bool:
        return email in self.inv.users or f"user:{email}" in self.actions

    def group_ok(self, name: str) -> bool:
        return name in self.inv.groups or f"group:{name}" in self.actions

    def principal_ok(self, p: Principal) -> bool:
        return self.user_ok(p.key) if p.kind == "user" else self.group_ok(p.key)

    def missing_reason(self, p: Principal) -> str:
        flag = "--create-missing-users" if p.kind == "user" else "--create-missing-groups"
        return f"{p.kind} {p.key} is not on the target (create it there, or use {flag})"

    def split_grants(
        self, parent_id: str, grants: list[Grant]
    ) -> tuple[list[dict[str, Any]], list[Action]]:
        """Grants whose principal the target has, and a blocked action for each other."""
        ok, blocked = [], []
        for g in grants:
            if self.principal_ok(g.principal):
                ok.append(g.model_dump())
            else:
                blocked.append(
                    Action(
                        id=f"{parent_id}:{g.principal.kind}:{g.principal.key}",
                        kind="grant",
                        object=f"{parent_id.split(':')[1]} -> {g.principal.key}",
                        op="blocked",
                        reason=self.missing_reason(g.principal),
                    )
                )
        return ok, blocked

    def permissions(
        self, kind: str, key: str, params: dict[str, Any], grants: list[Grant], parents: list[str]
    ) -> None:
        """Direct grants on a folder or document: one action for the principals the target
        has, and a blocked action for each one it lacks."""
        action_id = f"{kind}:{key}:permissions"
        ok, blocked = self.split_grants(action_id, grants)
        for b in blocked:
            self.add(b)
        if ok:
            action = Action(id=action_id, kind=f"{kind}.permissions", object=key, op="create",
                            params={**params, "grants": ok})  # fmt: skip
            self.decide(action, [*parents, *self.identity_deps(g.principal for g in grants)])

    def identity_deps(self, principals: Iterable[Principal]) -> list[str]:
        return [f"{p.kind}:{p.key}" for p in principals if f"{p.kind}:{p.key}" in self.actions]

    # ------------------------------------------------------------------ scope

    def _in(self, doc: SourceDocument, patterns: list[str]) -> bool:
        folder_globs = tuple(p for p in patterns if ":" not in p)
        for p in patterns:
            kind, _, value = p.partition(":")
            if kind == "label" and value.lower() in {x.lower() for x in doc.labels}:
                return True
            if kind in ("document", "doc") and value == doc.identifier:
                return True
        return bool(folder_globs) and PathFilter(include=folder_globs)(doc.folder_path)

    def _selected_documents(self) -> list[SourceDocument]:
        chosen = []
        for doc in sorted(self.src.documents.values(), key=lambda d: d.identifier):
            if doc.deleted and not self.opt.include_deleted:
                continue
            if self.opt.include and not self._in(doc, self.opt.include):
                continue
            if self.opt.exclude and self._in(doc, self.opt.exclude):
                continue
            chosen.append(doc)
        return chosen

    def _selected_folders(self) -> list[str]:
        if not self.filtered:
            return sorted(self.src.folders)
        paths = {a for d in self.docs if d.folder_path for a in ancestors(d.folder_path)}
        globs = tuple(p for p in self.opt.include if ":" not in p)
        if globs:
            paths |= {
                a for f in self.src.folders if PathFilter(include=globs)(f) for a in ancestors(f)
            }
        return sorted(p for p in paths if p in self.src.folders)

    # ------------------------------------------------------------------ object types

    def identities(self) -> None:
        referenced = self._referenced_principals()
        for email, user in sorted(self.src.users.items()):
            if email in self.inv.users or user.email_only:
                continue  # email-only users are upserted when a schedule needs them
            if self.opt.create_missing_users and (
                not self.filtered or Principal(kind="user", key=email) in referenced
            ):
                self.decide(
                    Action(
                        id=f"user:{email}",
                        kind="user.create",
                        object=email,
                        op="create",
                        params={"email": email, "display_name": user.display_name or email},
                    ),
                    absent=True,
                )
        for name, group in sorted(self.src.groups.items()):
            if name in self.inv.groups:
                continue
            if self.opt.create_missing_groups and (
                not self.filtered or Principal(kind="group", key=name) in referenced
            ):
                members = [m for m in group.members if self.user_ok(m)]
                self.decide(
                    Action(
                        id=f"group:{name}",
                        kind="group.create",
                        object=name,
                        op="create",
                        params={"name": name, "members": members},
                    ),
                    [f"user:{m}" for m in members],
                    absent=True,
                )

    def _referenced_principals(self) -> set[Principal]:
        refs: set[Principal] = set()
        for d in self.docs:
            refs |= {g.principal for g in d.grants}
            if d.owner:
                refs.add(Principal(kind="user", key=d.owner))
        for path in self._selected_folders():
            refs |= {g.principal for g in self.src.folders[path].grants}
        return refs

    def labels(self) -> None:
        wanted = (
            {x.lower() for d in self.docs for x in d.labels}
            if self.filtered
            else {n.lower() for n in self.src.labels}
        )
        for name, label in sorted(self.src.labels.items()):
            if name.lower() not in wanted:
                continue
            params = label.model_dump()
            action = Action(
                id=f"label:{name.lower()}",
                kind="label.create",
                object=name,
                op="create",
                params=params,
            )
            have = self.inv.labels.get(name.lower())
            if have is None:
                self.decide(action, absent=True)
            elif have == label_settings(label):
                self.mark(action, "skip", "exists on the target")
            elif self.opt.on_conflict == "overwrite":
                self.add(
                    action.model_copy(
                        update={"op": "update", "kind": "label.update", "reason": "settings differ"}
                    )
                )
            else:
                self.mark(action, "conflict", "exists with other flags, color or description")

    def folders(self) -> None:
        """Each folder with its scope and owner, which Omni takes only at create (G7)."""
        for path in self._selected_folders():
            folder = self.src.folders[path]
            parent = path.rpartition("/")[0] or None
            owner_ok = bool(folder.owner) and self.user_ok(folder.owner or "")
            action = Action(
                id=f"folder:{path}", kind="folder.create", object=path, op="create",
                depends_on=[f"folder:{parent}"] if parent else [],
                params={"path": path, "name": folder.name, "parent": parent, "scope": folder.scope,
                        "owner": folder.owner if owner_ok else None},
            )  # fmt: skip
            if path in self.inv.folders:
                self.mark(action, "skip", "exists on the target")
            elif folder.scope is None:
                self.mark(action, "blocked", "the snapshot does not say this folder's scope")
            elif folder.scope == "restricted" and not owner_ok:
                self.mark(action, "blocked", f"its owner {folder.owner} is not on the target")
            else:
                owner = [Principal(kind="user", key=folder.owner)] if owner_ok else []
                created = self.decide(action, self.identity_deps(owner), absent=True)
                if not owner_ok and created.writes:  # made, but owned by the restoring key
                    self.add(Action(id=f"folder:{path}:owner", kind="folder.owner", object=path,
                                    op="blocked", depends_on=[created.id],
                                    reason=f"its owner {folder.owner} is not on the target: "
                                    "the restoring key's user owns it"))  # fmt: skip
            self.permissions("folder", path, {"path": path}, folder.grants, [f"folder:{path}"])

    def models(self) -> None:
        if not self.opt.models or self.filtered:
            return
        for key, model in sorted(self.src.models.items()):
            if model.files is None:
                continue
            action = Action(id=f"model:{key}:yaml", kind="model.yaml", object=key, op="create",
                            params={"model": key, "files": model.files})  # fmt: skip
            target = self.target_model(key)
            if model.combined_only:
                self.mark(action, "blocked", "this snapshot holds the model's combined YAML "
                          "(schema views included), not its own layer: back up again")  # fmt: skip
            elif target is None:
                self.mark(action, "blocked", f"model {key} is not on the target (--model-map)")
            elif model.git_follower:
                self.mark(
                    action, "blocked", "git-follower model: YAML comes from git, push it there"
                )
            elif target[1] == "SCHEMA":
                self.mark(action, "blocked", "schema models take no YAML")
            else:
                self.decide(action)

    def target_model(self, key: str | None) -> tuple[str, str | None] | None:
        """(target id, kind) of the model `key` maps to: the override file first."""
        if key is None:
            return None
        src = self.src.models.get(key)
        if src and src.source_id and src.source_id in self.opt.model_map:
            target_id = self.opt.model_map[src.source_id]
            kind = next((m.kind for m in self.inv.models.values() if m.id == target_id), None)
            return target_id, kind
        have = self.inv.models.get(key)
        return (have.id, have.kind) if have else None

    def documents(self) -> None:
        """Each document's import, then its own writes in DOCUMENT_STEPS order."""
        for doc in self.docs:
            self.document_import(doc)
            ident = doc.identifier
            if doc.description:  # import carries no description (DIGEST §5)
                self.decide(
                    Action(id=document_step(ident, "description"), kind="document.description",
                           object=ident, op="create",
                           params={"identifier": ident, "description": doc.description}),
                    after(ident, "description"),
                )  # fmt: skip
            if doc.labels:
                labels = sorted(doc.labels)
                self.decide(
                    Action(id=document_step(ident, "labels"), kind="document.labels", object=ident,
                           op="create", params={"identifier": ident, "labels": labels}),
                    [*after(ident, "labels"), *(f"label:{x.lower()}" for x in labels)],
                )  # fmt: skip
            if doc.owner:
                self.document_owner(doc)
            grants_params = {"identifier": ident}
            self.permissions(
                "document", ident, grants_params, doc.grants, after(ident, "permissions")
            )
            if not doc.folder_path:  # in a folder it takes the folder's scope
                self.document_scope(doc)

    def document_owner(self, doc: SourceDocument) -> None:
        ident, owner = doc.identifier, doc.owner or ""
        grantees = sorted(g.principal.key for g in doc.grants if g.principal.kind == "user")
        action = Action(id=document_step(ident, "owner"), kind="document.owner", object=ident,
                        op="create", params={"identifier": ident, "owner": owner, "grantees": grantees})  # fmt: skip
        if not self.user_ok(owner):
            self.mark(action, "blocked", self.missing_reason(Principal(kind="user", key=owner)))
        else:
            self.decide(action, [*after(ident, "owner"), f"user:{owner}"])

    def document_scope(self, doc: SourceDocument) -> None:
        """A document outside any folder gets whatever scope Omni gives an import: set it."""
        ident = doc.identifier
        action = Action(id=document_step(ident, "scope"), kind="document.scope", object=ident,
                        op="create", params={"identifier": ident, "scope": doc.scope},
                        depends_on=after(ident, "scope"))  # fmt: skip
        if doc.scope is None:
            self.mark(action, "blocked", "the snapshot does not say this document's scope")
        else:
            self.decide(action)

    def document_import(self, doc: SourceDocument) -> Action:
        ident = doc.identifier
        target_model = self.target_model(doc.model)
        folder_id = f"folder:{doc.folder_path}" if doc.folder_path else None
        yaml_id = f"model:{doc.model}:yaml"  # waited for only when this restore writes it
        parents = [folder_id] if folder_id else []
        parents += [yaml_id] if yaml_id in self.actions and self.actions[yaml_id].writes else []
        action = Action(
            id=document_step(ident, "import"), kind="document.import", object=ident, op="create",
            depends_on=parents,
            params={"identifier": ident, "name": doc.name,
                    "folder_path": doc.folder_path, "export_blob": doc.export_blob,
                    "model": doc.model, "base_model_id": target_model[0] if target_model else None},
        )  # fmt: skip
        if doc.export_blob is None:
            return self.mark(action, "blocked", f"no export in the snapshot ({doc.export_warning})")
        if target_model is None:
            return self.mark(
                action, "blocked", f"model {doc.model} is not on the target (--model-map)"
            )
        if self.op_of(folder_id) == "blocked":
            return self.mark(action, "blocked", f"blocked by {folder_id}")
        rec = self.ledger.get(action.id)
        if ident not in self.inv.documents:
            gone = action.model_copy(update={"reason": "gone from the target" if rec else ""})
            return self.decide(gone, absent=True)
        if rec and rec.digest == action.digest:
            if rec.status == "done":
                return self.mark(action, "skip", "unchanged since the last restore")
            return self.add(
                action.model_copy(
                    update={"op": "skip", "adopt": True, "reason": "created by an interrupted run"}
                )
            )
        if rec and rec.detail.get("core") == action.core_digest:
            repoint = action.model_copy(
                update={"kind": "document.update_model", "op": "update",
                        "reason": f"now on model {doc.model} (update-model)"}
            )  # fmt: skip
            return self.add(repoint)
        if rec:
            return self.mark(action, "update", "the snapshot changed since the last restore")
        if self.opt.on_conflict == "overwrite":
            return self.mark(action, "update", "exists on the target (--on-conflict overwrite)")
        if self.opt.on_conflict == "rename":
            renamed = {**action.params, "rename": True}
            return self.decide(
                action.model_copy(
                    update={
                        "params": renamed,
                        "reason": "exists on the target: imported under a new identifier",
                    }
                )
            )
        return self.mark(
            action, "conflict", "exists on the target and was not restored by omnimigrate"
        )

    def schedules(self) -> None:
        chosen = {d.identifier for d in self.docs}
        for key, s in sorted(self.src.schedules.items()):
            if s.identifier not in chosen:
                continue
            imp = f"document:{s.identifier}:import"
            groups = [g for g in s.groups if self.group_ok(g)]
            for g in sorted(set(s.groups) - set(groups)):
                principal = Principal(kind="group", key=g)
                self.add(Action(id=f"schedule:{key}:group:{g}", kind="grant", object=f"{key} -> {g}",
                                op="blocked", reason=self.missing_reason(principal)))  # fmt: skip
            externals = [
                e for e in s.emails if e not in self.inv.users and e not in self.inv.email_only
            ]
            for email in externals:
                if f"email_only:{email}" not in self.actions:
                    upsert = Action(id=f"email_only:{email}", kind="email_only.upsert", object=email,
                                    op="create", params={"email": email})  # fmt: skip
                    self.decide(upsert, absent=True)
            action = Action(
                id=f"schedule:{key}", kind="schedule.create", object=key, op="create", depends_on=[imp],
                params={"key": key, "delivery": s.delivery.model_dump() if s.delivery else None,
                        "identifier": s.identifier, "name": s.name, "owner": s.owner,
                        "emails": s.emails, "groups": groups,
                        "paused": s.paused or self.opt.pause_schedules},
            )  # fmt: skip
            # the owner must see the dashboard before Omni lets them own a schedule of it
            access = [f"document:{s.identifier}:owner", f"document:{s.identifier}:permissions"]
            parents = [
                imp,
                *access,
                *(f"email_only:{e}" for e in externals),
                *(f"group:{g}" for g in groups),
            ]
            if s.delivery is None:
                self.mark(action, "blocked", f"unreadable in the snapshot: {s.problem}")
                continue
            destination = s.delivery.destination
            if destination in UNCREATABLE:
                self.mark(action, "blocked", UNCREATABLE[destination])
                continue
            action.warning = SECRETS.get(destination, "")
            if s.owner and not self.user_ok(s.owner):
                self.mark(
                    action, "blocked", self.missing_reason(Principal(kind="user", key=s.owner))
                )
                continue
            rec = self.ledger.get(action.id)
            if key not in self.inv.schedules or self.reimported([imp]):
                self.decide(action, parents, absent=True)
            elif rec and rec.digest == action.digest:
                done = rec.status == "done"
                reason = (
                    "unchanged since the last restore" if done else "created by an interrupted run"
                )
                self.add(
                    action.model_copy(update={"op": "skip", "adopt": not done, "reason": reason})
                )
            elif rec or self.opt.on_conflict == "overwrite":
                replace = action.model_copy(update={"reason": "replaces the target's schedule"})
                self.decide(replace, parents, op="update")
            else:
                self.mark(action, "conflict", "a schedule of that dashboard and name exists")

    def roles(self) -> None:
        if self.filtered:
            return
        for r in sorted(
            self.src.roles, key=lambda r: (r.principal.kind, r.principal.key, r.model or "", r.role)
        ):
            scope = r.model or f"connection {r.connection}"
            action = Action(
                id=f"role:{r.principal.kind}:{r.principal.key}:{scope}:{r.role}", kind="role.assign",
                object=f"{r.principal.key} {r.role} on {scope}", op="create",
                params={"principal": r.principal.model_dump(), "role": r.role, "model": r.model,
                        "model_id": (self.target_model(r.model) or (None,))[0] if r.model else None,
                        "connection": r.connection},
            )  # fmt: skip
            if not self.principal_ok(r.principal):
                self.mark(action, "blocked", self.missing_reason(r.principal))
            elif r.model and action.params["model_id"] is None:
                self.mark(action, "blocked", f"model {r.model} is not on the target")
            elif not r.model and (r.connection or "") not in self.inv.connections:
                self.mark(action, "blocked", f"connection {r.connection} is not on the target")
            else:
                self.decide(action, self.identity_deps([r.principal]))


def make_plan(
    source: SourceOrg,
    inventory: TargetInventory,
    ledger: dict[str, LedgerRecord],
    options: RestoreOptions,
    now: datetime,
) -> Plan:
    p = _Planner(source, inventory, ledger, options)
    for stage in RESTORE_ORDER:
        stage.plan(p)
    return Plan(
        snapshot_id=source.snapshot_id,
        source_instance=source.instance,
        target_url=inventory.url,
        created_at=now,
        options=options,
        inventory=inventory,
        actions=list(p.actions.values()),
    )


@dataclass(frozen=True)
class Stage:
    name: str
    plan: Callable[[_Planner], None]
    reason: str


# The restore order: each object type after what it names or lives in.
RESTORE_ORDER: tuple[Stage, ...] = (
    Stage("identities", _Planner.identities, "users and groups (with --create-missing-*): owners, grants and recipients name them"),
    Stage("labels", _Planner.labels, "documents are labelled with them"),
    Stage("folders", _Planner.folders, "parents first, each with its scope, owner and permissions: documents go into them"),
    Stage("models", _Planner.models, "a shared model's own YAML (--models) before the documents whose queries use it"),
    Stage("documents", _Planner.documents, "into their folder, on their model; then their own writes (below)"),
    Stage("schedules", _Planner.schedules, "after their dashboard's owner and permissions: only someone who sees it may own one"),
    Stage("roles", _Planner.roles, "last: a model role names a model and a user or group, which exist by now"),
)  # fmt: skip

# A document's own writes: (step, the steps it waits for, why).
DOCUMENT_STEPS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("import", (), "its folder and model's YAML first; identifier, name, model and folder path"),
    ("description", ("import",), "an import carries no description"),
    ("labels", ("import",), "and each label itself"),
    ("owner", ("import",), "and the owner's user; a transfer resets the previous owner's role"),
    ("permissions", ("import", "owner"), "after the owner, whose transfer would reset them"),
    ("scope", ("import",), "only outside any folder: Omni gives an import its own scope"),
)  # fmt: skip
_AFTER = {step: waits for step, waits, _ in DOCUMENT_STEPS}


def document_step(identifier: str, step: str) -> str:
    """The action id of one of a document's writes."""
    if step not in _AFTER:
        raise ValueError(f"{step!r} is not one of DOCUMENT_STEPS")
    return f"document:{identifier}:{step}"


def after(identifier: str, step: str) -> list[str]:
    """The action ids a document's `step` waits for."""
    return [document_step(identifier, s) for s in _AFTER[step]]


def explain_order() -> list[str]:
    """RESTORE_ORDER and DOCUMENT_STEPS as `plan --explain-order` prints them."""
    lines = [f"{n}. {s.name}: {s.reason}" for n, s in enumerate(RESTORE_ORDER, 1)]
    lines.append("Each document's own writes:")
    for step, waits, reason in DOCUMENT_STEPS:
        when = f"after {' and '.join(waits)}" if waits else "first"
        lines.append(f"   - {step} ({when}): {reason}")
    return lines
