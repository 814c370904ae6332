"""Alerts and single-tile schedules watch a query of their dashboard by key, and an import
gives the queries new keys: restore carries each key by its query's name, verify compares
names, and a key that cannot be carried is never copied silently."""

from __future__ import annotations

import json

import pytest

from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import apply_plan, ledger_name, open_snapshot, plan_restore
from omnimigrate.engine.restore_ledger import LedgerRecord, RestoreLedger
from omnimigrate.platforms.omni.fake import state as st
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.snapshot.store import LocalStore
from tests.backup_helpers import backup
from tests.conftest import client_for
from tests.test_cli import run

FIELDS = ("conditionQueryMapKey", "queryIdentifierMapKey")
QUERIES = "/api/v1/documents/{identifier}/queries"
SPEC = ScenarioSpec(documents=30, seed=83)  # four alerts and two single-tile schedules


def exportable_scenario():
    scenario = generate(SPEC)
    for doc in scenario.state.documents.values():  # nothing blocked: every dashboard restores
        doc.settings.pop("exportRefusal", None)
    return scenario


def queries(state: st.OrgState, identifier: str) -> list[dict]:
    return (state.document(identifier).export.get("dashboard") or {}).get("queries", [])


def watched(state: st.OrgState) -> list[tuple[st.Schedule, str, str]]:
    """(schedule, field, the name of the query it watches) of every keyed live schedule."""
    out = []
    for s in state.schedules.values():
        for field in FIELDS:
            if key := s.options.get(field):
                name = next(q["name"] for q in queries(state, s.identifier)
                            if q["queryIdentifierMapKey"] == key)  # fmt: skip
                out.append((s, field, name))
    return out


def key_of(state: st.OrgState, identifier: str, name: str) -> str:
    return next(q["queryIdentifierMapKey"] for q in queries(state, identifier) if q["name"] == name)


def on_target(target: st.OrgState, s: st.Schedule) -> st.Schedule:
    return next(
        t for t in target.schedules.values() if (t.identifier, t.name) == (s.identifier, s.name)
    )


def assert_same_named_queries(source: st.OrgState, target: st.OrgState) -> None:
    """Every keyed schedule on the target watches the target's key of the query the source
    watched, a key the import renewed."""
    keyed = watched(source)
    assert {f for _, f, _ in keyed} == set(FIELDS), "the scenario has both kinds"
    for s, field, name in keyed:
        have = on_target(target, s).options[field]
        assert have == key_of(target, s.identifier, name), (s.name, field)
        assert have != s.options[field], "the fake renews keys on import"


@pytest.fixture
def migrated(tmp_path):
    """`omnimigrate migrate` from a source fake into a standby fake (threads, real HTTP)."""
    scenario = exportable_scenario()
    spare = standby(scenario.state)
    fakes = [
        FakeOmni(state, FakeSettings(rate_limit=None)) for state in (scenario.state, spare.state)
    ]
    for fake in fakes:
        fake.start_in_thread()
    source, target = fakes
    env = {
        "OMNI_SOURCE_TOKEN": scenario.org_token,
        "OMNI_TARGET_TOKEN": spare.org_token,
        "OMNIMIGRATE_CACHE_DIR": str(tmp_path / "cache"),
        "OMNIMIGRATE_STORE": str(tmp_path / "store"),
        "OMNIMIGRATE_RETRY_BASE_DELAY": "0.01",
        "OMNIMIGRATE_RATE_LIMIT": "100000",
    }
    done = run("migrate", "--source", source.url, "--target", target.url, env=env)
    yield done, source, target, env
    for fake in fakes:
        fake.stop_thread()
        assert [str(v) for v in fake.violations] == []


@pytest.mark.slow
def test_migrate_points_alerts_and_single_tile_tasks_at_the_same_named_query(migrated):
    done, source, target, env = migrated
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert_same_named_queries(source.state, target.state)
    # backup read the queries of the watched dashboards only, once each
    dashboards = {s.identifier for s, _, _ in watched(source.state)}
    read = source.log.paths("GET", QUERIES)
    assert sorted(p.split("/")[-2] for p in read) == sorted(dashboards)
    checked = run("verify", "--against", target.url, "--json", env=env)
    assert checked.returncode == 0, checked.stdout[-2000:]
    schedules = json.loads(checked.stdout)["schedules"]
    assert schedules["matching"] == schedules["checked"] == len(source.state.schedules)


@pytest.mark.slow
def test_verify_fails_naming_an_alert_that_watches_another_query_on_the_target(migrated):
    done, source, target, env = migrated
    assert done.returncode == 0, done.stderr[-2000:]
    alert, _, name = next(
        (s, f, n)
        for s, f, n in watched(source.state)
        if f == "conditionQueryMapKey" and len(queries(source.state, s.identifier)) > 1
    )
    other = next(q for q in queries(target.state, alert.identifier) if q["name"] != name)
    on_target(target.state, alert).options["conditionQueryMapKey"] = other["queryIdentifierMapKey"]

    checked = run("verify", "--against", target.url, "--json", env=env)
    assert checked.returncode == 1, checked.stdout[-2000:]
    differences = json.loads(checked.stdout)["schedules"]["differences"]
    assert len(differences) == 1, differences
    assert differences[0].startswith(f"{alert.identifier}/{alert.name}")
    assert "alert condition" in differences[0] and other["name"] in differences[0]


async def snapshot(start_fake, tmp_path, scenario, **settings):
    source = await start_fake(scenario.state, FakeSettings(rate_limit=None, **settings))
    store = LocalStore(tmp_path / "store")
    outcome = await backup(source, store, tmp_path / "cache", [scenario.org_token])
    return open_snapshot(store, "latest"), outcome.manifest


async def restore(snap, target, token):
    async with client_for(target, token) as client:
        plan = await plan_restore(snap, [client], RestoreOptions())
        return plan, await apply_plan(snap, plan, [client])


@pytest.mark.slow
async def test_unreadable_source_queries_keep_keys_with_a_plan_warning_never_silently(
    start_fake, tmp_path
):
    scenario = exportable_scenario()
    refuse = {QUERIES: (403, "Permission denied")}
    snap, manifest = await snapshot(start_fake, tmp_path, scenario, refuse=refuse)
    assert manifest.status == "complete"  # an optional capture: a warning, not a failure
    keyed = watched(scenario.state)
    warned = {o.key for o, w in manifest.warnings if o.type == "document_queries"}
    assert warned == {s.identifier for s, _, _ in keyed}

    spare = standby(scenario.state)
    copying = await start_fake(spare.state, FakeSettings(rate_limit=None, renew_query_keys=False))
    plan, result = await restore(snap, copying, spare.org_token)
    assert result.by_status("failed") == []
    for s, field, _ in keyed:
        action = next(a for a in plan.actions if a.object == f"{s.identifier}/{s.name}")
        assert f"no query names of dashboard {s.identifier}" in action.warning
        assert on_target(copying.state, s).options[field] == s.options[field]

    # a target that renews keys refuses the old ones: those schedules fail, and say why
    renewing = await start_fake(standby(scenario.state).state)
    _, result = await restore(snap, renewing, spare.org_token)
    failed = result.by_status("failed")
    assert {f"schedule:{s.identifier}/{s.name}" for s, _, _ in keyed} <= set(failed), failed
    assert not any(t.options.get(f) for t in renewing.state.schedules.values() for f in FIELDS)


async def test_a_query_gone_from_the_target_fails_its_schedule_naming_both(start_fake, tmp_path):
    scenario = exportable_scenario()
    snap, _ = await snapshot(start_fake, tmp_path, scenario)
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    await restore(snap, target, spare.org_token)
    alert, _, name = next(k for k in watched(scenario.state) if k[1] == "conditionQueryMapKey")
    del target.state.schedules[on_target(target.state, alert).id]
    query = next(q for q in queries(target.state, alert.identifier) if q["name"] == name)
    query["name"] = "Renamed on the target"

    _, result = await restore(snap, target, spare.org_token)
    reason = result.outcomes[f"schedule:{alert.identifier}/{alert.name}"]
    assert reason.status == "failed"
    assert f"schedule {alert.identifier}/{alert.name}" in reason.detail
    assert repr(name) in reason.detail


@pytest.mark.slow
async def test_an_adopted_import_still_reads_the_target_keys(start_fake, tmp_path):
    """A run killed after an import went through adopts it on the next run: the schedules
    then created still get the target's keys, read from the target."""
    scenario = exportable_scenario()
    snap, _ = await snapshot(start_fake, tmp_path, scenario)
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    plan, _ = await restore(snap, target, spare.org_token)
    dashboards = {s.identifier for s, _, _ in watched(scenario.state)}
    ledger = RestoreLedger(snap.store, ledger_name(plan.inventory))
    for ident in dashboards:  # as if killed before the imports and their schedules were done
        key = f"document:{ident}:import"
        rec = ledger.records[key]
        ledger.write(key, LedgerRecord(status="started", digest=rec.digest, target=rec.target))
    for sid in [k for k, t in target.state.schedules.items() if t.identifier in dashboards]:
        del target.state.schedules[sid]
    reads = len(target.log.paths("GET", QUERIES))

    plan, result = await restore(snap, target, spare.org_token)
    adopted = [a.object for a in plan.actions if a.adopt and a.kind == "document.import"]
    assert sorted(adopted) == sorted(dashboards)
    assert result.by_status("failed") == []
    assert_same_named_queries(scenario.state, target.state)
    assert len(target.log.paths("GET", QUERIES)) - reads == len(dashboards)  # once each
