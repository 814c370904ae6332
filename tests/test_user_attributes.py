"""Omni's user-attribute definitions, the type added through the handler seam with no write
route: backed up, planned blocked (named, with what to set by hand) where the target lacks or
differs, skipped where it matches, verified, and a tampered target is noticed."""

from __future__ import annotations

from omnimigrate.engine.restore import open_snapshot, plan_restore
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeSettings
from omnimigrate.platforms.omni.options import OmniRestoreOptions
from omnimigrate.platforms.omni.phases import verify
from omnimigrate.snapshot.store import LocalStore
from tests.backup_helpers import backup, blob_of
from tests.conftest import client_for

STRICT = FakeSettings(rate_limit=None, shape="official")  # only what openapi.json declares


async def test_user_attribute_definitions_are_kept_planned_verified_and_tampering_noticed(
    start_fake, tmp_path
):
    scenario = generate(ScenarioSpec(documents=4, users=4, seed=2))
    source = await start_fake(scenario.state, STRICT)
    store = LocalStore(tmp_path / "store")
    outcome = await backup(source, store, tmp_path / "cache", [scenario.org_token])
    kept = {o.key for o in outcome.manifest.objects if o.type == "user_attribute"}
    assert kept == {"region", "cost_centers"}  # the custom ones; omni_user_timezone is Omni's
    assert blob_of(store, outcome.manifest, "user_attribute", "region")["default_value"] == "emea"

    spare = standby(scenario.state)  # its admin made the same definitions by hand
    target = await start_fake(spare.state, STRICT)
    snap = open_snapshot(store, "latest")
    async with client_for(target, spare.org_token) as client:
        plan = await plan_restore(snap, [client], OmniRestoreOptions())
        defined = {a.object: a for a in plan.actions if a.id.startswith("user_attribute:")}
        assert {k: a.op for k, a in defined.items()} == {"region": "skip", "cost_centers": "skip"}
        report = await verify(snap.source, [client])
        row = report.types["user attributes"]
        assert (row.checked, row.matching) == (2, 2)

        # the target lacks one and holds the other with another default
        region = next(a for a in target.state.user_attributes.values() if a.name == "region")
        region.default_value = "apac"
        for key, a in list(target.state.user_attributes.items()):
            if a.name == "cost_centers":
                del target.state.user_attributes[key]
        plan = await plan_restore(snap, [client], OmniRestoreOptions())
        defined = {a.object: a for a in plan.actions if a.id.startswith("user_attribute:")}
        assert {k: a.op for k, a in defined.items()} == {
            "region": "blocked",
            "cost_centers": "blocked",
        }
        assert "default_value 'apac' (the snapshot's 'emea')" in (defined["region"].reason or "")
        assert "Settings > User attributes" in (defined["cost_centers"].reason or "")
        assert not any(a.writes for a in defined.values())  # never written: no route exists
        tampered = await verify(snap.source, [client])
    row = tampered.types["user attributes"]
    assert (row.checked, row.matching) == (2, 0) and not tampered.ok
    assert any(d.startswith("region: default_value is") for d in row.differences)
