"""Lightdash project tags, a type added through the handler seam (`handlers/tags.py`), over
real HTTP to the strict fake of each generation: backed up, restored by name (those made in
the app through POST and PATCH, those of the dbt project's YAML through PUT …/tags/yaml with
the target's own YAML tags), verified (color and where it comes from), a second restore
writing nothing; a tampered tag named by verify and put back; a tag whose origin differs on
the target blocked, naming both; a restore killed after a tag's write finishes on a re-run."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import OpenSnapshot, apply_plan, open_snapshot, plan_restore
from omnimigrate.platforms.lightdash.client import TagRef
from omnimigrate.platforms.lightdash.fake import scenario as sc
from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.server import FakeLightdash
from omnimigrate.platforms.lightdash.handlers import tags
from omnimigrate.platforms.lightdash.handlers.tags import keyed, paired
from omnimigrate.platforms.lightdash.platform import client_pool
from omnimigrate.platforms.lightdash.registry import PLAN
from tests import kills
from tests.conftest import FAST_RETRY
from tests.kills import Killed
from tests.test_lightdash import VERSIONS, backed_up, restore, serve

SMALL = sc.ScenarioSpec(users=6, groups=2, spaces=3, charts=6, dashboards=1, schedulers=1)
WANT = {name: (color, ref) for name, color, ref in sc.TAGS}


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def pair(tmp_path: Path, version: str):
    """A snapshot of the scenario's staging, and a standby instance (other uuids) whose
    Staging has tags of its own: one made in the app, one of its own dbt project's YAML."""
    scenario = sc.generate(SMALL)
    store, source = await backed_up(scenario.state, scenario.token, version, tmp_path)
    assert [str(v) for v in source.violations] == []
    spare = sc.standby(scenario.state)
    admin = spare.state.tokens[spare.token]
    for name, color, ref in (("Local", "#000000", None), ("Own YAML", "#111111", "own_yaml")):
        tag = st.Tag(st.new_uuid(), name, color, admin, ref)
        spare.staging.tags[tag.uuid] = tag
    target = await serve(spare.state, version)
    yield open_snapshot(store, "latest"), spare, target
    await target.stop()
    assert [str(v) for v in target.violations] == []


def tags_of(project: st.Project) -> dict[str, tuple[str, str | None]]:
    return {t.name: (t.color, t.yaml_reference) for t in project.tags.values()}


def tag_named(project: st.Project, name: str) -> st.Tag:
    return next(t for t in project.tags.values() if t.name == name)


async def verified(snap: OpenSnapshot, target: FakeLightdash, token: str):
    async with client_pool(target.url, [token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        return await snap.platform.verify(snap.source, cs)


async def test_tags_round_trip_keeping_the_targets_own_and_a_rerun_writes_nothing(pair) -> None:
    snap, spare, target = pair
    kept = snap.source.projects["Staging"].tags
    assert {t.name: (t.color, t.yaml) for t in kept.values()} == WANT
    assert sorted(kept) == ["Déprécié", "Finance", "yaml:core_metrics"]
    _, report = await restore(snap, target, spare.token, RestoreOptions())
    assert tags_of(spare.staging) == {
        **WANT, "Local": ("#000000", None), "Own YAML": ("#111111", "own_yaml"),
    }  # fmt: skip
    rows = report.types["tags"]
    assert (rows.checked, rows.matching, rows.differences) == (3, 3, [])
    assert sorted(rows.extras) == ["Staging:Local", "Staging:yaml:own_yaml"]  # left as they are
    made = [r for r in target.log.writes() if "/tags" in r.route]
    # two made in the app (POST), the YAML one put back with the target's own (PUT)
    assert sorted((r.method, r.route.rsplit("/", 1)[1]) for r in made) == [
        ("POST", "tags"), ("POST", "tags"), ("PUT", "yaml"),
    ]  # fmt: skip
    rerun, again = await restore(snap, target, spare.token, RestoreOptions())
    assert rerun == 0
    assert again.types["tags"].matching == 3


async def test_the_plan_names_each_tag_costs_it_and_carries_it_in_its_inventory(pair) -> None:
    snap, spare, target = pair
    async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
        plan = await plan_restore(snap, cs, RestoreOptions())
        selected = await plan_restore(snap, cs, RestoreOptions(include=["tag:Core*"]))
    tagged = {a.id: (a.op, a.requests) for a in plan.actions if a.kind == "ld.tag"}
    assert tagged == {
        "ld.tag:Staging:yaml:core_metrics": ("create", 2),  # the YAML's read, then put back
        "ld.tag:Staging:Déprécié": ("create", 1),
        "ld.tag:Staging:Finance": ("create", 1),
    }
    saved = PLAN.model_validate_json(plan.model_dump_json())
    assert saved.inventory.digest() == plan.inventory.digest()
    inv = saved.inventory.model_dump()
    assert set(inv["tags"]) == {"Staging:Local", "Staging:yaml:own_yaml"}
    assert set(inv["ids"]["tags"]) == {"Staging:Local", "Staging:yaml:own_yaml"}
    assert [a.id for a in selected.actions if a.writes] == ["ld.tag:Staging:yaml:core_metrics"]


async def test_a_tampered_tag_is_named_by_verify_and_put_back_by_the_next_restore(pair) -> None:
    snap, spare, target = pair
    await restore(snap, target, spare.token, RestoreOptions())
    project = spare.staging.uuid
    finance, gone = tag_named(spare.staging, "Finance"), tag_named(spare.staging, "Déprécié")
    yaml = tag_named(spare.staging, "Core metrics")
    headers = {"Authorization": f"ApiKey {spare.token}"}
    base = f"{target.url}/api/v1/projects/{project}/tags"
    async with aiohttp.ClientSession(headers=headers) as http:  # as someone would, in the app
        async with http.patch(f"{base}/{finance.uuid}", json={"color": "#ff00ff"}) as r:
            assert r.status == 200
        async with http.delete(f"{base}/{gone.uuid}") as r:
            assert r.status == 204
    yaml.color = "#abcdef"  # a deploy of another YAML
    report = await verified(snap, target, spare.token)
    rows = report.types["tags"]
    assert (rows.checked, rows.matching) == (3, 0)
    assert sorted(rows.differences) == sorted(
        [
            "Staging:yaml:core_metrics: color is '#abcdef', snapshot has '#2ca02c'",
            "Staging:Déprécié: missing",
            "Staging:Finance: color is '#ff00ff', snapshot has '#1f77b4'",
        ]
    )
    # this restore wrote them (its ledger says so): put back without --on-conflict overwrite
    writes, report = await restore(snap, target, spare.token, RestoreOptions())
    assert writes == 3  # a PATCH, a POST, and the YAML ones put back (read, then one PUT)
    assert report.types["tags"].matching == 3
    assert tags_of(spare.staging)["Own YAML"] == ("#111111", "own_yaml")


async def test_a_tag_of_another_color_is_a_conflict_and_an_app_namesake_of_a_yaml_tag_stays(
    tmp_path: Path, version: str
) -> None:
    """A target tag of the snapshot's name: another color is a conflict (set with
    --on-conflict overwrite); one made in the app where the snapshot's is of the YAML is
    another tag (the YAML one is keyed by its reference), left as it is beside it."""
    scenario = sc.generate(SMALL)
    store, _ = await backed_up(scenario.state, scenario.token, version, tmp_path)
    snap = open_snapshot(store, "latest")
    spare = sc.standby(scenario.state)
    admin = spare.state.tokens[spare.token]
    for name, color in (("Finance", "#999999"), ("Core metrics", "#2ca02c")):
        tag = st.Tag(st.new_uuid(), name, color, admin, None)  # both made in the app
        spare.staging.tags[tag.uuid] = tag
    target = await serve(spare.state, version)
    try:
        async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
            skip = await plan_restore(snap, cs, RestoreOptions())
            over = await plan_restore(snap, cs, RestoreOptions(on_conflict="overwrite"))
        ops = {a.id: a.op for a in skip.actions if a.kind == "ld.tag"}
        assert ops == {"ld.tag:Staging:yaml:core_metrics": "create",
                       "ld.tag:Staging:Déprécié": "create", "ld.tag:Staging:Finance": "conflict"}  # fmt: skip
        decided = {a.id: a.op for a in over.actions if a.kind == "ld.tag"}
        assert decided["ld.tag:Staging:Finance"] == "update"
        _, report = await restore(
            snap, target, spare.token, RestoreOptions(on_conflict="overwrite")
        )
        held = sorted(
            (t.name, t.color, t.yaml_reference or "") for t in spare.staging.tags.values()
        )
        assert held == [("Core metrics", "#2ca02c", ""), ("Core metrics", "#2ca02c", "core_metrics"),
                        ("Déprécié", "#d62728", ""), ("Finance", "#1f77b4", "")]  # fmt: skip
        assert report.types["tags"].extras == ["Staging:Core metrics"]
    finally:
        await target.stop()
    assert target.violations == []


def ref(name: str, color: str, yaml: str | None = None) -> TagRef:
    return TagRef(tagUuid=f"{name}{color}{yaml}", name=name, color=color, yamlReference=yaml)


def test_namesakes_pair_by_what_they_hold_not_by_position() -> None:
    """The snapshot {Finance red, Finance blue} and a target holding only the blue one: the
    blue pairs with the snapshot's blue, so only the red is missing; a tag literally named
    `Finance#2` keeps its name, and a namesake takes the next free key."""
    snapshot = keyed([ref("Finance", "red"), ref("Finance", "blue"), ref("Finance#2", "x")])
    assert {k: r.color for k, r in snapshot.items()} == {
        "Finance": "blue", "Finance#3": "red", "Finance#2": "x"}  # fmt: skip
    want = {k: tags.tag_of(r) for k, r in snapshot.items()}
    target = paired([ref("Finance", "red"), ref("Other", "x", "core")], want)
    assert {k: r.color for k, r in target.items()} == {"Finance#3": "red", "yaml:core": "x"}
    extra = paired([ref("Finance", "red"), ref("Finance", "red"), ref("Finance", "green")], want)
    assert {k: r.color for k, r in extra.items()} == {
        "Finance#3": "red", "Finance": "green", "Finance#4": "red"}  # fmt: skip


@pytest.mark.parametrize(
    "boundary", [("POST", "/tags"), ("PUT", "/tags/yaml")], ids=["app tag made", "yaml put"]
)
async def test_a_restore_killed_after_a_tags_write_finishes_on_a_rerun(pair, boundary) -> None:
    snap, spare, target = pair
    async with client_pool(target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        plan = await plan_restore(snap, cs, RestoreOptions())
        method, route = boundary
        killed = kills.kill_after(cs, lambda m, r, _: m == method and r.endswith(route))
        with pytest.raises(Killed):
            await apply_plan(snap, plan, cs)
    assert killed
    async with client_pool(target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        plan = await plan_restore(snap, cs, RestoreOptions())
        assert [a.id for a in plan.actions if a.op == "conflict"] == []
        result = await apply_plan(snap, plan, cs)
        assert result.by_status("failed") == []
    names = [t.name for t in spare.staging.tags.values()]
    assert sorted(names) == sorted([*WANT, "Local", "Own YAML"])  # none twice, none lost
    again, report = await restore(snap, target, spare.token, RestoreOptions())
    assert again == 0
    assert report.types["tags"].differences == []


async def test_namesake_tags_as_a_real_lightdash_keeps_them_are_restored_each_once(
    tmp_path: Path, version: str
) -> None:
    """A real Lightdash 1.219 took a second tag of an existing name: both are kept, told
    apart by what they hold (`Finance`, `Finance#2`), restored each once, even through a
    kill after the first's POST, and a second restore writes nothing."""
    scenario = sc.generate(SMALL)
    admin = scenario.state.tokens[scenario.token]
    staging = next(p for p in scenario.state.projects.values() if p.name == "Staging")
    twin = st.Tag(st.new_uuid(), "Finance", "#000001", admin, None)
    staging.tags[twin.uuid] = twin
    store, _ = await backed_up(scenario.state, scenario.token, version, tmp_path)
    snap = open_snapshot(store, "latest")
    assert {k: t.color for k, t in snap.source.projects["Staging"].tags.items()
            if t.name == "Finance"} == {"Finance": "#000001", "Finance#2": "#1f77b4"}  # fmt: skip
    spare = sc.standby(scenario.state)
    target = await serve(spare.state, version)
    try:
        async with client_pool(
            target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY
        ) as cs:
            plan = await plan_restore(snap, cs, RestoreOptions())
            killed = kills.kill_after(cs, lambda m, r, _: m == "POST" and r.endswith("/tags"))
            with pytest.raises(Killed):
                await apply_plan(snap, plan, cs)
        assert killed
        await restore(snap, target, spare.token, RestoreOptions())
        finance = sorted(t.color for t in spare.staging.tags.values() if t.name == "Finance")
        assert finance == ["#000001", "#1f77b4"]  # each once: none twice, none lost
        again, report = await restore(snap, target, spare.token, RestoreOptions())
        assert again == 0
        rows = report.types["tags"]
        assert (rows.checked, rows.matching, rows.differences) == (4, 4, [])
    finally:
        await target.stop()
    assert target.violations == []
