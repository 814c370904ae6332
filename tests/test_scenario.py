"""The generated org has what makes backups hard, and the fake's state round-trips as JSON."""

from __future__ import annotations

from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate
from omnimigrate.platforms.omni.fake.state import OrgState


def test_generated_org_is_realistic():
    org = generate(ScenarioSpec(documents=120, schedules=30)).state
    depths = [f.path.count("/") + 1 for f in org.folders.values()]
    names = [f.name for f in org.folders.values()]
    assert max(depths) == 5
    assert any(" " in n for n in names) and any(not n.isascii() for n in names)
    assert any(f.scope == "restricted" for f in org.folders.values())
    docs = list(org.documents.values())
    assert {d.has_dashboard for d in docs} == {True, False}
    assert any(d.deleted for d in docs) and any(d.export.get("fileUploads") for d in docs)
    assert any(d.settings.get("exportRefusal") for d in docs)
    assert len({d.model_id for d in docs}) >= 3
    shared = [m for m in org.models.values() if m.kind == "SHARED"]
    assert all(m.files for m in shared) and any(m.git_follower for m in shared)
    labels = list(org.labels.values())
    assert any(x.verified for x in labels) and any(x.homepage for x in labels)
    assert any(not x.verified and not x.homepage for x in labels)
    assert org.groups and org.email_only and any(u.embed for u in org.users.values())
    assert any(d.permits for d in docs) and any(f.permits for f in org.folders.values())
    schedules = list(org.schedules.values())
    assert {s.destination_type for s in schedules} == {"email", "slack", "webhook"}
    assert any(s.disabled_at for s in schedules) and any(s.disabled_at is None for s in schedules)
    assert any(s.user_ids or s.group_ids or s.emails for s in schedules)
    assert any(s.options.get("conditionType") for s in schedules)
    assert any(r.principal_type == "group" for r in org.model_roles)


def test_same_seed_same_org_and_json_round_trip(tmp_path):
    a, b = generate(ScenarioSpec(seed=3)).state, generate(ScenarioSpec(seed=3)).state
    assert a.model_dump() == b.model_dump()
    assert generate(ScenarioSpec(seed=4)).state.model_dump() != a.model_dump()
    path = tmp_path / "org.json"
    a.dump_json(path)
    assert OrgState.load_json(path).model_dump() == a.model_dump()
