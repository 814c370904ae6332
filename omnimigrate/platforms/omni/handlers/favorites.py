"""Document favorites, per user: (user email, document identifier).

Omni lists a user's favorites with `GET /documents?userId=…&include=onlyFavorites` (a walk per
user) and favorites a document for a user with `PUT /documents/{identifier}/favorite?userId=…`
(204, idempotent). Folders have favorites too, but the API has no route to read one user's or
to write them (DIGEST §7.5), so they are not carried.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, Field

from omnimigrate.engine.action_ids import action_id
from omnimigrate.engine.handler import JobTemplate
from omnimigrate.engine.jobs import JobResult
from omnimigrate.engine.parts import part
from omnimigrate.engine.plan import Action
from omnimigrate.platforms.omni.handler import ActionKind, Handler
from omnimigrate.platforms.omni.handlers import documents
from omnimigrate.platforms.omni.handlers.documents import after, document_step
from omnimigrate.platforms.omni.handlers.identities import Target as People
from omnimigrate.platforms.omni.handlers.identities import missing_reason, user_ok
from omnimigrate.platforms.omni.principals import Principal

if TYPE_CHECKING:
    from omnimigrate.platforms.omni.applying import ApplyContext
    from omnimigrate.platforms.omni.backup import BackupContext
    from omnimigrate.platforms.omni.client import OmniClient
    from omnimigrate.platforms.omni.planning import PlanContext
    from omnimigrate.platforms.omni.snapshot_view import SnapshotReader
    from omnimigrate.platforms.omni.verifying import VerifyContext


async def list_user_favorites(
    ctx: BackupContext, client: OmniClient, args: Mapping[str, str]
) -> JobResult:
    """One user's favorite documents (within the backup's folder scope), as identifiers."""

    async def identifiers() -> list[str]:
        found = [doc async for doc in client.list_favorites(args["id"])]
        return sorted(d.identifier for d in found if ctx.scope(d.folder.path if d.folder else ""))

    return await ctx.refusable("favorites", args, identifiers)


def load(r: SnapshotReader, view: View) -> None:
    for o in r.entries("favorites"):
        view.favorites[o.key] = sorted(r.blob(o) or [])


def read_target_for(inv: Target, view: View) -> list[Callable[[OmniClient], Awaitable[None]]]:
    """The target's favorites of the users the snapshot has favorites of: one walk each, not
    one per user of the target."""

    def reader(email: str, user_id: str) -> Callable[[OmniClient], Awaitable[None]]:
        async def read(client: OmniClient) -> None:
            found = sorted([doc.identifier async for doc in client.list_favorites(user_id)])
            if found:
                inv.favorites[email] = found

        return read

    users = part(inv, People).users
    # Favorites only of documents the target holds live: one it lacks is new there, so no one
    # has favorited it yet (a first restore reads none). A live document the snapshot does
    # not name may be one of its own under another identifier (trash.py): then read them all.
    live = set(part(inv, documents.Target).documents)
    others = not live <= set(part(view, documents.View).documents)
    return [
        reader(e, users[e])
        for e in sorted(view.favorites)
        if e in users and (others or not live.isdisjoint(view.favorites[e]))
    ]


def plan(ctx: PlanContext[View, Target]) -> None:
    """A favorite after its document's import, owner and permissions: Omni favorites only a
    document the user can see."""
    chosen = {d.identifier for d in ctx.once(documents.selected)}
    restored = ctx.once(documents.aliases)
    for email, identifiers in sorted(ctx.view.favorites.items()):
        have = set(ctx.inv.favorites.get(email, []))
        for ident in identifiers:
            if ident not in chosen:
                continue
            action = Action(id=action_id("favorite", email, ident), kind="favorite.add",
                            object=f"{email} -> {ident}", op="create",
                            params={"user": email, "identifier": ident})  # fmt: skip
            imported = document_step(ident, "import")
            parents = [*after(ident, "owner"), document_step(ident, "owner")]
            if not user_ok(ctx, email):
                ctx.mark(action, "blocked", missing_reason(Principal(kind="user", key=email)))
            elif restored.get(ident, ident) in have and not ctx.reimported([imported]):
                ctx.mark(action, "skip", "exists on the target")
            else:
                absent = restored.get(ident, ident) not in have
                ctx.decide(action, [*parents, action_id("user", email)], absent=absent)


async def add(ctx: ApplyContext, c: OmniClient, a: Action) -> None:
    ident = ctx.ids.document(a.params["identifier"])
    await c.add_favorite(ident, ctx.ids.user(a.params["user"]))
    await ctx.record(a, "done")


async def verify(ctx: VerifyContext[View, Target]) -> None:
    """Each user's favorites among the documents verified: extra favorites of other documents
    on the target are theirs, not a difference."""
    t = ctx.report("favorites")
    chosen = set(ctx.documents)
    for email, identifiers in sorted(ctx.view.favorites.items()):
        want = sorted(set(identifiers) & chosen)
        if not want:
            continue
        t.checked += 1
        if email not in part(ctx.inv, People).users:
            t.missing(f"user {email}")
            continue
        theirs = set(ctx.inv.favorites.get(email, []))
        have = sorted(i for i in chosen if ctx.identifier(i) in theirs)
        if t.check(email, want, have, "favorites"):
            t.matching += 1


class View(BaseModel):
    """This type's part of the snapshot view (`registry.SnapshotView`)."""

    favorites: dict[str, list[str]] = Field(default_factory=dict)  # email -> identifiers


class Target(BaseModel):
    """This type's part of the target inventory (`registry.TargetInventory`); `WRITTEN_BY`:
    the action-id kinds a restore writes each field's keys with."""

    WRITTEN_BY: ClassVar[dict[str, str | tuple[str, ...]]] = {"favorites": "favorite"}

    favorites: dict[str, list[str]] = Field(default_factory=dict)  # email -> identifiers


HANDLER = Handler(
    name="favorites",
    view=View,
    target=Target,
    ids=("favorite",),  # its action ids' kinds
    jobs={"user_favorites": list_user_favorites},
    per_user=(JobTemplate("user_favorites"),),
    load=load,
    read_target_for=read_target_for,
    plan=plan,
    actions={"favorite.add": ActionKind(add, reset_by_import=True)},
    verify=verify,
)
