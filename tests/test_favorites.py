"""Document favorites, the type added through the handler seam: backed up per user, restored
into a standby whose users have other ids, verified, and a tampered target is noticed."""

from __future__ import annotations

import pytest

from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore
from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeSettings
from omnimigrate.platforms.omni.handlers import favorites
from omnimigrate.platforms.omni.handlers.documents import SourceDocument, TargetDocument
from omnimigrate.platforms.omni.phases import verify
from omnimigrate.platforms.omni.registry import SnapshotView, TargetInventory
from omnimigrate.snapshot.store import LocalStore
from tests.backup_helpers import backup, blob_of
from tests.conftest import client_for

STRICT = FakeSettings(rate_limit=None, shape="official")  # only what openapi.json declares


def favorites_of(state: st.OrgState) -> set[tuple[str, str]]:
    """(user email, document identifier) of every favorite of a live document."""
    email = {u.id: u.email.lower() for u in state.users.values()}
    return {
        (email[uid], d.identifier)
        for d in state.documents.values()
        if not d.deleted
        for uid in d.favorited_by
    }


@pytest.mark.slow
async def test_favorites_are_backed_up_restored_verified_and_tampering_is_noticed(
    start_fake, tmp_path
):
    scenario = generate(ScenarioSpec(documents=40, seed=5))
    wanted = favorites_of(scenario.state)
    assert len(wanted) >= 10 and len({e for e, _ in wanted}) >= 5
    source = await start_fake(scenario.state, STRICT)
    store = LocalStore(tmp_path / "store")
    outcome = await backup(source, store, tmp_path / "cache", [scenario.org_token])
    some_user, some_doc = sorted(wanted)[0]
    assert some_doc in blob_of(store, outcome.manifest, "favorites", some_user)

    spare = standby(scenario.state)
    target = await start_fake(spare.state, STRICT)
    snap = open_snapshot(store, "latest")
    async with client_for(target, spare.org_token) as client:
        plan = await plan_restore(snap, [client], RestoreOptions())
        favs = [a for a in plan.actions if a.kind == "favorite.add"]
        assert len(favs) == len(wanted) and all(a.op == "create" for a in favs)
        for a in favs:  # after the document's owner and permissions, when those are written
            ident = a.params["identifier"]
            assert f"document:{ident}:import" in a.depends_on
        result = await apply_plan(snap, plan, [client])
        assert [k for k in result.by_status("failed") if k.startswith("favorite:")] == []
        assert favorites_of(target.state) == wanted  # other user ids, the same favorites

        report = await verify(snap.source, [client])
        row = report.types["favorites"]
        assert row.checked == len({e for e, _ in wanted}) and row.matching == row.checked

        again = await plan_restore(snap, [client], RestoreOptions())
        assert [a.id for a in again.actions if a.kind == "favorite.add" and a.writes] == []
        puts = len(target.log.paths("PUT", "/api/v1/documents/{identifier}/favorite"))
        await apply_plan(snap, again, [client])
        assert len(target.log.paths("PUT", "/api/v1/documents/{identifier}/favorite")) == puts

        # tamper: one user loses a favorite on the target
        doc = next(d for d in target.state.documents.values() if d.identifier == some_doc)
        victim = next(u for u in target.state.users.values() if u.email.lower() == some_user)
        doc.favorited_by.remove(victim.id)
        tampered = await verify(snap.source, [client])
    row = tampered.types["favorites"]
    assert row.matching == row.checked - 1 and not tampered.ok
    assert any(d.startswith(f"{some_user}: favorites is") for d in row.differences)


async def test_only_favorites_of_documents_the_target_holds_live_are_read() -> None:
    """A document the target lacks is new there (the restore imports it), so no one has
    favorited it yet: a first restore reads no favorites. A user with a favorite the target
    holds live is read; a live document the snapshot does not name may be one of its own
    under another identifier, and then every user with favorites is read."""
    view = SnapshotView(snapshot_id="s1", instance="src", export_flavour="official")
    view.documents = {i: SourceDocument(identifier=i, name=i) for i in ("d1", "d2", "d3")}
    view.favorites = {"a@x.io": ["d1"], "b@x.io": ["d2", "d3"], "gone@x.io": ["d1"]}
    inv = TargetInventory(url="https://omni.test")
    inv.users = {"a@x.io": "u-a", "b@x.io": "u-b"}  # gone@x.io is not on the target

    class Client:  # whose favorites are read
        read: list[str] = []

        async def list_favorites(self, user_id: str):
            self.read.append(user_id)
            for _ in ():
                yield

    async def read() -> list[str]:
        Client.read = []
        for reader in favorites.read_target_for(inv, view):
            await reader(Client())  # type: ignore[arg-type]
        return Client.read

    assert await read() == []  # an empty target: nothing to read
    inv.documents = {"d3": TargetDocument(identifier="d3")}  # b's second favorite is live
    assert await read() == ["u-b"]
    inv.documents["d1-restored"] = TargetDocument(identifier="d1-restored")  # d1, elsewhere
    assert await read() == ["u-a", "u-b"]  # gone@x.io has no user on the target
