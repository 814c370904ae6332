"""Backup end to end: real HTTP to the fake Omni, real S3 protocol to moto's server."""

from __future__ import annotations

import pytest

from omnimigrate.fakes.policies import FaultPlan
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate
from omnimigrate.platforms.omni.fake.server import FakeSettings
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.store import LocalStore
from tests.backup_helpers import backup, blob_of, exported, inventory
from tests.conftest import SCALE_DOCUMENTS


def keys(manifest, kind):
    return {o.key for o in manifest.of_type(kind)}


@pytest.mark.slow
async def test_backup_captures_every_object_then_exports_only_what_changed(
    start_fake, make_s3_store, tmp_path
):
    scenario = generate(ScenarioSpec(documents=SCALE_DOCUMENTS, seed=11))
    state = scenario.state
    fake = await start_fake(state)
    store = make_s3_store("moto")

    first = await backup(fake, store, tmp_path, [scenario.org_token])
    m = first.manifest
    assert m.status == "complete" and m.failures == [] and m.export_flavour == "official"

    # every object of every type, by natural key
    assert keys(m, "folder") == {f.path for f in state.folders.values()}
    assert keys(m, "document") == {d.identifier for d in state.documents.values()}
    assert keys(m, "label") == {lb.name for lb in state.labels.values()}
    assert keys(m, "user") == {u.email.lower() for u in state.users.values() if not u.embed}
    assert keys(m, "group") == {g.name for g in state.groups.values()}
    assert keys(m, "email_only_user") == {e.email.lower() for e in state.email_only.values()}
    assert keys(m, "connection") == {c.name for c in state.connections.values()}
    assert len(keys(m, "model")) == len([x for x in state.models.values() if not x.deleted_at])
    assert len(keys(m, "schedule")) == len(state.schedules)
    assert keys(m, "user_model_roles") == keys(m, "user")
    assert keys(m, "folder_permissions") == keys(m, "folder")

    # exports: every live, exportable document verbatim; refusals are warnings with a reason
    for doc in state.documents.values():
        entry = next(o for o in m.of_type("document_export") if o.key == doc.identifier)
        if doc.deleted or doc.settings.get("exportRefusal"):
            assert entry.blob is None and entry.warnings
            assert ("403" if not doc.deleted else "404") in entry.warnings[0]
        else:
            blob = blob_of(store, m, "document_export", doc.identifier)
            assert blob["dashboard"] == doc.export.get("dashboard")
            assert blob["queryModels"] == doc.export["queryModels"]
            assert blob["fileUploads"] == doc.export["fileUploads"]
            assert blob["exportVersion"] == "0.1"

    # permissions, folder permissions, labels, model YAML, roles, schedules with recipients
    doc = next(d for d in state.documents.values() if d.permits and not d.deleted)
    direct = {
        p["id"]
        for p in blob_of(store, m, "document_permissions", doc.identifier)
        if p["accessSource"] == "direct" and not p["isOwner"]
    }
    assert direct == {p.user_id or p.group_id for p in doc.permits}
    folder = next(f for f in state.folders.values() if f.permits)
    permits = blob_of(store, m, "folder_permissions", folder.path)
    assert {p.get("userId") or p.get("userGroupId") for p in permits} == {
        p.user_id or p.group_id for p in folder.permits
    }
    verified = next(lb for lb in state.labels.values() if lb.verified)
    assert blob_of(store, m, "label", verified.name)["verified"] is True
    for model in state.models.values():
        if model.kind == "SHARED" and not model.deleted_at:
            entry = next(o for o in m.of_type("model_yaml") if o.source_id == model.id)
            assert blob_of(store, m, "model_yaml", entry.key)["yaml"]["files"] == model.files
    role = state.model_roles[0]
    if role.principal_type == "user":
        email = state.users[role.principal_id].email.lower()
        roles = blob_of(store, m, "user_model_roles", email)["results"]
        assert role.role_name in {r["roleName"] for r in roles}
    paused = next(s for s in state.schedules.values() if s.disabled_at)
    blob = blob_of(store, m, "schedule", f"{paused.identifier}/{paused.name}")
    assert blob["schedule"]["disabledAt"] and blob["schedule"]["schedule"] == paused.schedule
    emailed = next(s for s in state.schedules.values() if s.user_ids)
    blob = blob_of(store, m, "schedule", f"{emailed.identifier}/{emailed.name}")
    assert {r["id"] for r in blob["recipients"]["recipients"]} >= set(emailed.user_ids)
    restricted = [d for d in state.documents.values() if d.scope == "restricted"]
    assert restricted and {d.identifier for d in restricted} <= keys(m, "document")

    # a second run with no change: zero exports, same inventory
    calls = len(exported(fake))
    second = await backup(fake, store, tmp_path, [scenario.org_token])
    assert len(exported(fake)) == calls and second.exports == 0
    assert inventory(second.manifest) == inventory(m)

    # five documents change: exactly those five are exported again
    changed = [d for d in state.documents.values() if not d.deleted and d.export][:5]
    for i, d in enumerate(changed):
        d.export["dashboard"] = {**(d.export.get("dashboard") or {}), "note": f"edit {i}"}
        d.updated_at = f"2027-01-01T00:00:0{i}Z"
    third = await backup(fake, store, tmp_path, [scenario.org_token])
    assert sorted(exported(fake)[calls:]) == sorted(d.identifier for d in changed)
    assert (
        blob_of(store, third.manifest, "document_export", changed[0].identifier)["dashboard"][
            "note"
        ]
        == "edit 0"
    )
    assert [r.snapshot_id for r in Catalog(store).refs()] == [
        m.snapshot_id,
        second.manifest.snapshot_id,
        third.manifest.snapshot_id,
    ]

    # --full exports everything again
    full = await backup(fake, store, tmp_path, [scenario.org_token], full=True)
    assert full.exports == len(keys(m, "document"))


@pytest.mark.slow
async def test_faults_and_429_storms_give_the_same_inventory(start_fake, tmp_path):
    scenario = generate(ScenarioSpec(documents=120, seed=5))
    fake = await start_fake(scenario.state)
    reference = await backup(fake, LocalStore(tmp_path / "a"), tmp_path, [scenario.org_token])

    fake.settings.faults = FaultPlan(seed=3, rate=0.10, storm_every=40, storm_length=3)
    before = len(fake.log.records)
    outcome = await backup(fake, LocalStore(tmp_path / "b"), tmp_path, [scenario.org_token])
    failed = [r for r in fake.log.records[before:] if r.status >= 500 or r.status in (0, 429)]
    assert len(failed) > 30  # the faults and storms really happened
    assert outcome.manifest.status == "complete"
    assert inventory(outcome.manifest) == inventory(reference.manifest)


@pytest.mark.slow
async def test_an_export_that_always_fails_commits_a_partial_snapshot(start_fake, tmp_path):
    scenario = generate(ScenarioSpec(documents=40, seed=2))
    broken = next(d for d in scenario.state.documents.values() if not d.deleted)
    broken.settings["exportRefusal"] = {"status": 500, "detail": "Internal server error"}
    fake = await start_fake(scenario.state)
    outcome = await backup(fake, LocalStore(tmp_path / "s"), tmp_path, [scenario.org_token])
    m = outcome.manifest
    assert m.status == "partial"
    assert [(f.job, f.object) for f in m.failures] == [("export", broken.identifier)]
    assert Catalog(LocalStore(tmp_path / "s")).resolve("latest").snapshot_id == m.snapshot_id


@pytest.mark.slow
async def test_several_keys_share_the_work_each_within_its_own_limit(start_fake, tmp_path):
    scenario = generate(ScenarioSpec(documents=150, seed=4))
    extra = ["omni_org_key_two", "omni_org_key_three"]
    for token in extra:
        scenario.state.tokens[token] = scenario.state.tokens[scenario.org_token].model_copy(
            update={"token": token}
        )
    fake = await start_fake(scenario.state, FakeSettings(rate_limit=40, period=1.0))
    tokens = [scenario.org_token, *extra]
    outcome = await backup(
        fake, LocalStore(tmp_path / "s"), tmp_path, tokens, rate=40, period=1.0, concurrency=2
    )
    per_key = {k: v.requests for k, v in outcome.manifest.keys.items()}
    assert len(per_key) == 3 and sum(per_key.values()) == len(fake.log.records)
    assert min(per_key.values()) > 0.2 * sum(per_key.values())  # the work is spread
    assert [r for r in fake.log.records if r.status == 429] == []
    for key in {r.key for r in fake.log.records}:
        assert fake.log.max_in_window(1.0, key) <= 40


async def test_include_and_exclude_scope_folders_and_their_documents(start_fake, tmp_path):
    scenario = generate(ScenarioSpec(documents=80, seed=6))
    state = scenario.state
    fake = await start_fake(state)
    top = next(
        f for f in state.folders.values() if f.parent_id is None and f.scope == "organization"
    )
    child = next(f for f in state.folders.values() if f.parent_id == top.id)
    outcome = await backup(
        fake,
        LocalStore(tmp_path / "s"),
        tmp_path,
        [scenario.org_token],
        include=(top.path,),
        exclude=(child.path,),
    )
    m = outcome.manifest
    assert top.path in keys(m, "folder") and child.path not in keys(m, "folder")
    assert all(p == top.path or p.startswith(top.path + "/") for p in keys(m, "folder"))
    expected = {
        d.identifier
        for d in state.documents.values()
        if d.folder_id
        and (path := state.folders[d.folder_id].path).startswith(top.path)
        and not path.startswith(child.path)
    }
    assert expected and keys(m, "document") == expected
    assert set(exported(fake)) <= expected


async def test_an_optional_part_refused_for_good_makes_the_snapshot_partial(start_fake, tmp_path):
    """Email-only users (an admin list) and a model's git settings refused with 403 or 501:
    the backup commits with everything else, partial, naming each; nothing is retried."""
    scenario = generate(ScenarioSpec(documents=20, seed=2))
    refuse = {
        "/api/v1/users/email-only": (403, "Forbidden: admin only"),
        "/api/v1/models/{modelId}/git": (501, "Not implemented"),
    }
    fake = await start_fake(scenario.state, FakeSettings(rate_limit=None, refuse=refuse))
    outcome = await backup(fake, LocalStore(tmp_path / "store"), tmp_path, [scenario.org_token])
    m = outcome.manifest
    assert m.status == "partial"
    errors = " | ".join(f.error for f in m.failures)
    assert "email-only users not readable (403): Forbidden: admin only" in errors
    assert "git settings of" in errors and "(501)" in errors
    assert keys(m, "document") == {d.identifier for d in scenario.state.documents.values()}
    assert len(list(m.of_type("model_yaml"))) > 0 and all(o.blob for o in m.of_type("model_yaml"))
    refused = [r for r in fake.log.records if r.status in (403, 501) and "export" not in r.route]
    git_models = [
        x for x in scenario.state.models.values() if x.kind in ("SHARED", "SHARED_EXTENSION")
    ]
    assert len(refused) == 1 + len(git_models)  # each asked once
