"""Fidelity against Omni as documented, not as our fake used to answer.

The fakes here are strict (fake/strict.py): every response carries only the fields its
operation declares, and where the spec is open they answer in the older spec's shape
(`seed`) or the official one (`official`). A migrate must come back right in both, checked
twice: by `verify` and, independently of it, by comparing the two fakes' states field by
field, so a blind verify cannot pass a wrong target.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from omnimigrate.engine.apply import ApplyResult
from omnimigrate.engine.restore import OpenSnapshot, apply_plan, open_snapshot, plan_restore
from omnimigrate.engine.restore_ledger import RestoreLedger
from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.scenario import Scenario, ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.platforms.omni.handlers.folders import force_path
from omnimigrate.platforms.omni.options import OmniRestoreOptions, OmniVerifyOptions
from omnimigrate.platforms.omni.phases import PLAN_TYPE, make_runner, read_inventory, verify
from omnimigrate.snapshot.blobs import BlobStore
from omnimigrate.snapshot.store import LocalStore
from tests.backup_helpers import backup
from tests.conftest import SCALE_DOCUMENTS, client_for
from tests.test_cli import run

SHAPES = ["seed", "official"]


def strict(shape: str) -> FakeSettings:
    return FakeSettings(rate_limit=None, shape=shape)  # type: ignore[arg-type]


@dataclass
class Migrated:
    scenario: Scenario
    snap: OpenSnapshot
    spare: Scenario
    target: FakeOmni
    result: ApplyResult


async def migrate(start_fake, tmp_path, shape: str, spec: ScenarioSpec) -> Migrated:
    scenario = generate(spec)
    source = await start_fake(scenario.state, strict(shape))
    store = LocalStore(tmp_path / "store")
    await backup(source, store, tmp_path / "cache", [scenario.org_token])
    snap = open_snapshot(store, "latest")
    spare = standby(scenario.state)
    target = await start_fake(spare.state, strict(shape))
    async with client_for(target, spare.org_token) as client:
        plan = await plan_restore(snap, [client], OmniRestoreOptions(models=True))
        result = await apply_plan(snap, plan, [client])
    return Migrated(scenario, snap, spare, target, result)


async def verify_target(snap, target, token):
    async with client_for(target, token) as client:
        return await verify(snap.source, [client], OmniVerifyOptions(models=True))


def email(state: st.OrgState, user_id: str | None) -> str | None:
    user = state.users.get(user_id or "")
    return user.email.lower() if user else None


def folder_facts(state: st.OrgState) -> dict[str, tuple]:
    return {f.path: (f.name, f.scope, email(state, f.owner_id)) for f in state.folders.values()}


def document_facts(state: st.OrgState) -> dict[str, tuple]:
    out = {}
    for d in state.documents.values():
        if d.deleted or d.settings.get("exportRefusal"):
            continue
        folder = state.folders.get(d.folder_id or "")
        out[d.identifier] = (d.scope, folder.path if folder else None, email(state, d.owner_id))
    return out


QUERY_KEY_FIELDS = {"conditionQueryMapKey", "queryIdentifierMapKey"}


def query_name(state: st.OrgState, identifier: str, key: str) -> str:
    doc = state.document(identifier)
    queries = (doc.export.get("dashboard") or {}).get("queries", []) if doc else []
    names = [q["name"] for q in queries if q["queryIdentifierMapKey"] == key]
    assert len(names) == 1, f"{identifier}: no one query has key {key}"
    return names[0]


def schedule_facts(state: st.OrgState) -> dict[tuple, tuple]:
    out = {}
    for s in state.schedules.values():
        options = {k: v for k, v in s.options.items() if v not in (None, False)}
        for field in QUERY_KEY_FIELDS & set(options):  # an import renews keys: compare names
            options[field] = query_name(state, s.identifier, options[field])
        recipients = sorted({*s.emails, *(email(state, u) for u in s.user_ids)})
        groups = sorted(state.groups[g].name for g in s.group_ids)
        out[(s.identifier, s.name)] = (
            s.destination_type, s.format, s.schedule, s.timezone, options,
            recipients, groups, bool(s.disabled_at), email(state, s.owner_id),
        )  # fmt: skip
    return out


def own_layers(state: st.OrgState) -> dict[tuple, dict[str, str]]:
    return {
        (m.name, m.kind): m.files
        for m in state.models.values()
        if m.kind in ("SHARED", "SHARED_EXTENSION") and not m.git_follower
    }


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.slow
async def test_a_migrate_at_scale_is_faithful_in_both_response_shapes(start_fake, tmp_path, shape):
    run = await migrate(
        start_fake, tmp_path, shape, ScenarioSpec(documents=SCALE_DOCUMENTS, schedules=40, seed=13)
    )
    assert run.result.by_status("failed") == []

    # field by field, fake against fake: no verify in between
    assert folder_facts(run.target.state) == folder_facts(run.scenario.state)
    assert document_facts(run.target.state) == document_facts(run.scenario.state)
    assert schedule_facts(run.target.state) == schedule_facts(run.scenario.state)
    assert own_layers(run.target.state) == own_layers(run.scenario.state)

    report = await verify_target(run.snap, run.target, run.spare.org_token)
    for kind in ("labels", "folders", "documents", "schedules", "model YAML", "model roles"):
        t = report.types[kind]
        assert t.checked > 0 and t.matching == t.checked, (kind, t.differences[:5])
    assert report.types["schedules"].checked == 40
    assert report.types["folders"].checked == len(run.scenario.state.folders)


async def test_folder_scope_and_owner_come_from_the_listing_not_a_default(start_fake, tmp_path):
    """Point 1: the official folder record has no scope; personal folders stay personal and
    every folder keeps its owner (POST /folders takes `scope` and `userId`)."""
    run = await migrate(start_fake, tmp_path, "official", ScenarioSpec(documents=40, seed=3))
    restricted = {p: f for p, f in run.snap.source.folders.items() if f.scope == "restricted"}
    assert restricted and all(f.owner for f in restricted.values())
    back = folder_facts(run.target.state)
    for path, folder in run.snap.source.folders.items():
        assert back[path][1:] == (folder.scope, folder.owner), path
    admin = email(run.spare.state, run.spare.state.tokens[run.spare.org_token].user_id)
    assert any(owner != admin for _, _, owner in back.values())


async def test_sibling_folders_whose_slugs_collide_both_come_back(start_fake, tmp_path):
    """Point 2, end to end: "Q4-Reviews-1" at q4-reviews and "Q4 Reviews" at q4-reviews-1
    (each name's slug is the other's path) and a pair whose slugs are equal."""
    run = await migrate(start_fake, tmp_path, "official", ScenarioSpec(documents=60, seed=5))
    names = {f.path: f.name for f in run.target.state.folders.values()}
    assert names["q4-reviews"] == "Q4-Reviews-1" and names["q4-reviews-1"] == "Q4 Reviews"
    assert not [k for k in run.result.by_status("blocked") if k.startswith("folder:")]
    assert folder_facts(run.target.state) == folder_facts(run.scenario.state)
    assert document_facts(run.target.state) == document_facts(run.scenario.state)


async def test_a_path_held_by_a_sibling_of_this_restore_is_swapped_in_two_steps(
    start_fake, tmp_path
):
    """Point 2, the race: concurrent creates put each sibling at the other's path, so
    forcing either answers 409; the holder steps aside to a temporary path, then both
    take their own."""
    spare = standby(generate(ScenarioSpec(documents=1)).state)
    target = await start_fake(spare.state, strict("official"))
    async with client_for(target, spare.org_token) as client:
        y = await client.create_folder("Q4-Reviews-1", scope="organization")
        x = await client.create_folder("Q4 Reviews", scope="organization")
        assert (y.path, x.path) == ("q4-reviews-1", "q4-reviews")  # each at the other's
        inventory = await read_inventory([client])
        plan = PLAN_TYPE(platform="omni", snapshot_id="-", source_instance="-", target_url=target.url,
                        actions=[], created_at=datetime.now(UTC), options=OmniRestoreOptions(),
                        inventory=inventory)  # fmt: skip
        store = LocalStore(tmp_path / "target-ledger")
        ctx = make_runner(plan, BlobStore(store), RestoreLedger(store, "t")).context
        ctx.ids.folders |= {"q4-reviews": y.id, "q4-reviews-1": x.id}
        await force_path(ctx, client, y.id, "q4-reviews")
        await force_path(ctx, client, x.id, "q4-reviews-1")
    paths = {f.name: f.path for f in target.state.folders.values()}
    assert paths == {"Q4-Reviews-1": "q4-reviews", "Q4 Reviews": "q4-reviews-1"}
    statuses = [r.status for r in target.log.records if r.method == "PATCH"]
    assert statuses == [409, 200, 200, 200]  # refused, holder aside, ours, holder home


@pytest.mark.slow
async def test_document_scope_is_restored_as_listed(start_fake, tmp_path):
    """Point 3: a document outside any folder keeps its scope (the fake, like the other
    implementation, makes such an import restricted), and personal documents stay so."""
    run = await migrate(start_fake, tmp_path, "seed", ScenarioSpec(documents=120, seed=8))
    root = {
        d.identifier: d.scope
        for d in run.scenario.state.documents.values()
        if d.folder_id is None and not d.deleted and not d.settings
    }
    assert {"organization", "restricted"} <= set(root.values())
    for ident, scope in root.items():
        assert run.target.state.document(ident).scope == scope, ident


async def test_shared_models_get_their_own_layer_only(start_fake, tmp_path):
    """Point 4: `combined` YAML has the schema model's views in it; only the own layer is
    backed up and written, so no shared model gains copies of schema views."""
    run = await migrate(start_fake, tmp_path, "official", ScenarioSpec(documents=20, seed=4))
    for key, model in run.snap.source.models.items():
        if model.kind == "SHARED" and not model.git_follower:
            assert "events.view.yaml" not in (model.files or {}), key  # a schema-only view
    assert own_layers(run.target.state) == own_layers(run.scenario.state)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.slow
async def test_every_schedule_comes_back_whole(start_fake, tmp_path, shape):
    """Point 5: webhook URLs (`url` or `webhookUrl`), Slack recipients and their type, email
    subjects and bodies, print options; owners who need a permit to see the dashboard."""
    run = await migrate(
        start_fake, tmp_path, shape, ScenarioSpec(documents=80, schedules=30, seed=21)
    )
    kinds = {s.destination_type for s in run.scenario.state.schedules.values()}
    assert kinds == {"email", "slack", "webhook"}
    shared_owner = [
        s
        for s in run.scenario.state.schedules.values()
        if (d := run.scenario.state.document(s.identifier)).scope == "restricted"
        and s.owner_id != d.owner_id
    ]
    assert shared_owner, "no schedule whose owner sees the dashboard through a permit"
    assert not [k for k in run.result.by_status("blocked") if k.startswith("schedule:")]
    assert schedule_facts(run.target.state) == schedule_facts(run.scenario.state)


@pytest.mark.slow
def test_verify_names_a_tampered_folder_scope_schedule_subject_and_model_file(tmp_path):
    """Point 6: after a faithful restore, one folder's scope, one email schedule's subject
    and one file of a shared model's own layer are changed on the target: `verify
    --against` exits 1 and names all three."""
    scenario = generate(ScenarioSpec(documents=60, schedules=20, seed=31))
    spare = standby(scenario.state)
    fakes = [FakeOmni(s, strict("official")) for s in (scenario.state, spare.state)]
    for fake in fakes:
        fake.start_in_thread()
    source, target = fakes
    env = {
        "OMNI_SOURCE_TOKEN": scenario.org_token,
        "OMNI_TARGET_TOKEN": spare.org_token,
        "OMNIMIGRATE_CACHE_DIR": str(tmp_path / "cache"),
        "OMNIMIGRATE_STORE": str(tmp_path / "store"),
    }
    try:
        fast = ["--rate-limit", "100000"]
        migrated = run(
            "migrate", "--source", source.url, "--target", target.url, "--models", *fast, env=env
        )
        assert migrated.returncode in (0, 3), migrated.stderr[-2000:]
        clean = run("verify", "--against", target.url, "--models", *fast, env=env)
        assert clean.returncode == 0, clean.stdout[-3000:]

        state = target.state
        folder = next(f for f in state.folders.values() if f.scope == "organization")
        folder.scope = "restricted"
        sched = next(s for s in state.schedules.values() if s.options.get("subject"))
        sched.options["subject"] = "Tampered"
        model = next(m for m in state.models.values() if m.kind == "SHARED" and m.files)
        model.files["model.yaml"] += "# tampered\n"

        bad = run("verify", "--against", target.url, "--models", *fast, env=env)
        assert bad.returncode == 1, bad.stdout[-3000:]
        out = bad.stdout + bad.stderr
        assert f"{folder.path}: scope is 'restricted'" in out, out[-3000:]
        assert "setting subject is 'Tampered'" in out and sched.name in out, out[-3000:]
        assert "file model.yaml" in out and model.name in out, out[-3000:]
    finally:
        for fake in fakes:
            fake.stop_thread()
        assert [str(v) for fake in fakes for v in fake.violations] == []
