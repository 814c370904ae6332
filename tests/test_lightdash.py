"""Lightdash end to end, over real HTTP to the strict fake (every request and response is
checked against Lightdash's openapi.json 0.1471.0): backup of a project of 210 charts, 52
dashboards, 22 spaces and 18 schedulers, restore into another project of the same instance
and into another instance whose users and groups have other uuids, re-runs, faults, and
verify noticing a tampered target."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from omnimigrate.engine.backup import BackupOptions, run_backup
from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import OpenSnapshot, apply_plan, open_snapshot, plan_restore
from omnimigrate.engine.verify import VerifyReport
from omnimigrate.errors import NotFound
from omnimigrate.fakes.policies import FaultPlan
from omnimigrate.platforms.lightdash.client import LightdashClient, TagRef
from omnimigrate.platforms.lightdash.fake import scenario as sc
from omnimigrate.platforms.lightdash.fake import state as State
from omnimigrate.platforms.lightdash.fake.conformance import load_openapi
from omnimigrate.platforms.lightdash.fake.schedulers import UNOFFICIAL_SCHEDULER_ROUTES
from omnimigrate.platforms.lightdash.fake.server import FakeLightdash, LightdashSettings
from omnimigrate.platforms.lightdash.fake.state import LightdashState, Project
from omnimigrate.platforms.lightdash.planning import LightdashPlan
from omnimigrate.platforms.lightdash.platform import client_pool
from omnimigrate.platforms.lightdash.registry import REGISTRY
from omnimigrate.snapshot.store import LocalStore
from tests.conftest import FAST_RETRY

CODE_ROUTES = (  # 0.1471's, then 1.219's
    "/api/v1/projects/{projectUuid}/charts/code",
    "/api/v1/projects/{projectUuid}/dashboards/code",
    "/api/v1/projects/{projectUuid}/code/charts",
    "/api/v1/projects/{projectUuid}/code/dashboards",
)
MINIMUM = {"charts": 200, "dashboards": 50, "spaces": 20, "schedulers": 15}


VERSIONS = ("0.1471.0", "1.219.0")  # the fake's two variants: each API generation


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return request.param


async def serve(
    state: LightdashState, version: str = "0.1471.0", **settings: object
) -> FakeLightdash:
    fake = FakeLightdash(state, LightdashSettings(nested_spaces=True, version=version, **settings))  # type: ignore[arg-type]
    await fake.start()
    return fake


async def backup(fake: FakeLightdash, token: str, store: LocalStore, cache: Path) -> None:
    async with client_pool(
        fake.url, [token], rate_limit=100_000, retry=FAST_RETRY, project="Staging"
    ) as cs:
        outcome = await run_backup(cs, store, BackupOptions(), cache_dir=cache)
    assert outcome.manifest.status == "complete", outcome.dead


async def backed_up(
    state: LightdashState, token: str, version: str, tmp_path: Path
) -> tuple[LocalStore, FakeLightdash]:
    """`state` backed up from a fake of `version` into a store under `tmp_path`: the store,
    and the fake, stopped (for its violations)."""
    fake = await serve(state, version)
    store = LocalStore(tmp_path / "store", create=True)
    try:
        await backup(fake, token, store, tmp_path / "cache")
    finally:
        await fake.stop()
    return store, fake


async def restore(
    snap: OpenSnapshot,
    fake: FakeLightdash,
    token: str,
    options: RestoreOptions,
    project: str | None = None,
) -> tuple[int, VerifyReport]:
    """Plan and apply; the writes it made and a verify afterwards."""
    async with client_pool(
        fake.url, [token], rate_limit=100_000, retry=FAST_RETRY, project=project
    ) as cs:
        before = len(fake.log.writes())
        plan = await plan_restore(snap, cs, options)
        result = await apply_plan(snap, plan, cs)
        assert not result.by_status("failed"), {
            k: result.outcomes[k].detail for k in result.by_status("failed")
        }
        writes = len(fake.log.writes()) - before
        return writes, await snap.platform.verify(snap.source, cs)


async def plan_into(snap: OpenSnapshot, target: sc.Scenario) -> LightdashPlan:
    """A plan into a fresh fake of `target`'s state (stopped afterwards)."""
    fake = await serve(target.state)
    try:
        async with client_pool(fake.url, [target.token], rate_limit=100_000) as cs:
            return await plan_restore(snap, cs, RestoreOptions())
    finally:
        await fake.stop()


def assert_faithful(report: VerifyReport) -> None:
    for title, rows in report.types.items():
        assert rows.differences == [], (title, rows.differences[:5])
        assert rows.matching == rows.checked, title
    for title, least in MINIMUM.items():
        assert report.types[title].checked >= least, title


def duplicates(project: Project) -> list[str]:
    """Objects a natural key names twice: a retry that created again."""
    spaces = Counter((s.parent, s.name) for s in project.spaces.values())
    schedulers = Counter(
        (s.fields["savedChartUuid"] or s.fields["dashboardUuid"], s.fields["name"])
        for s in project.schedulers.values()
    )
    charts = Counter(c.slug for c in project.charts.values())
    return [str(k) for counter in (spaces, schedulers, charts) for k, n in counter.items() if n > 1]


@pytest.fixture
async def source(tmp_path: Path, version: str):
    scenario = sc.generate()
    fake = await serve(scenario.state, version)
    store = LocalStore(tmp_path / "store", create=True)
    await backup(fake, scenario.token, store, tmp_path / "cache")
    yield scenario, fake, store
    await fake.stop()
    assert [str(v) for v in fake.violations] == []


@pytest.mark.slow
async def test_a_project_restores_into_another_instance_with_other_uuids(
    source, tmp_path: Path
) -> None:
    scenario, fake, store = source
    spare = sc.standby(scenario.state)
    assert not set(spare.state.users) & set(scenario.state.users)  # other uuids
    target = await serve(spare.state, fake.settings.version)
    try:
        snap = open_snapshot(store, "latest")
        nested = [k for k in snap.source.projects["Staging"].spaces if "/" in k]
        assert nested, "the scenario nests spaces"
        saved = {c.slug for c in snap.source.projects["Staging"].charts.values() if c.dashboard}
        # the charts list leaves them out; the dashboards' tiles bring them
        assert saved == {c.slug for c in scenario.staging.charts.values() if c.dashboard} != set()
        writes, report = await restore(snap, target, spare.token, RestoreOptions())
        assert writes > 300
        assert_faithful(report)
        rerun, again = await restore(snap, target, spare.token, RestoreOptions())
        assert rerun == 0
        assert_faithful(again)
        assert duplicates(spare.prod) == []
    finally:
        await target.stop()
    assert [str(v) for v in target.violations] == []


@pytest.mark.slow
async def test_staging_promotes_into_prod_on_the_same_instance(source) -> None:
    scenario, fake, store = source
    snap = open_snapshot(store, "latest")
    writes, report = await restore(
        snap, fake, scenario.token, RestoreOptions(on_conflict="overwrite"), "Production"
    )
    assert writes > 300
    assert_faithful(report)
    rerun, _ = await restore(
        snap, fake, scenario.token, RestoreOptions(on_conflict="overwrite"), "Production"
    )
    assert rerun == 0
    assert duplicates(scenario.prod) == []


async def test_prod_content_that_differs_is_left_alone_without_overwrite(source) -> None:
    scenario, fake, store = source
    snap = open_snapshot(store, "latest")
    async with client_pool(
        fake.url, [scenario.token], rate_limit=100_000, project="Production"
    ) as cs:
        plan = await plan_restore(snap, cs, RestoreOptions())
    conflicts = [a.id for a in plan.actions if a.op == "conflict"]
    assert conflicts and all(a.startswith(("ld.access:", "ld.space.access:")) for a in conflicts)
    assert not any(a.writes for a in plan.actions if a.id in conflicts)


async def test_a_second_backup_of_an_unchanged_project_downloads_no_content(
    source, tmp_path: Path
) -> None:
    scenario, fake, store = source
    first = sum(fake.log.count("GET", r) for r in CODE_ROUTES)
    charts_route = CODE_ROUTES[2 if fake.modern else 0]
    charts_before = fake.log.count("GET", charts_route)
    await backup(fake, scenario.token, store, tmp_path / "cache")
    assert sum(fake.log.count("GET", r) for r in CODE_ROUTES) == first
    chart = next(iter(scenario.staging.charts.values()))
    chart.content["name"] += " (edited)"
    chart.updated_at = scenario.state.now()
    await backup(fake, scenario.token, store, tmp_path / "cache")
    assert fake.log.count("GET", charts_route) == charts_before + 1  # the one changed
    snap = open_snapshot(store, "latest")
    assert snap.source.projects["Staging"].charts[chart.slug].body["name"].endswith("(edited)")


@pytest.mark.slow
async def test_ten_percent_faults_make_no_duplicates(source) -> None:
    scenario, fake, store = source
    spare = sc.standby(scenario.state)
    faults = FaultPlan(seed=3, rate=0.1, kinds=("500", "502", "503", "drop"), after_share=0.5)
    target = await serve(spare.state, fake.settings.version, faults=faults)
    try:
        snap = open_snapshot(store, "latest")
        async with client_pool(
            target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY
        ) as cs:
            for _ in range(3):  # a run whose retries ran out is finished by the next
                result = await apply_plan(snap, await plan_restore(snap, cs, RestoreOptions()), cs)
                if result.complete:
                    break
        assert sum(1 for r in target.log.records if r.fault) > 30
        assert duplicates(spare.prod) == []
        assert sorted(g.name for g in spare.state.groups.values()) == sorted(
            scenario.state.groups[g].name for g in scenario.state.groups
        )
        target.settings.faults = None
        async with client_pool(
            target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY
        ) as cs:
            assert_faithful(await snap.platform.verify(snap.source, cs))
    finally:
        await target.stop()


async def test_missing_users_block_what_needs_them_and_are_listed(source) -> None:
    scenario, _, store = source
    spare = sc.standby(scenario.state)
    gone = sorted(scenario.staging.access)[0]
    email = scenario.state.users[gone].email
    missing = next(u for u in spare.state.users.values() if u.email == email)
    del spare.state.users[missing.uuid]
    plan = await plan_into(open_snapshot(store, "latest"), spare)
    blocked = {a.id: a.reason for a in plan.blocked()}
    assert f"ld.access:Staging:user:{email}" in blocked
    assert all(email in why and "cannot invite" in why for why in blocked.values())


@pytest.mark.slow
async def test_a_server_without_the_web_apps_scheduler_routes_fails_them_clearly(source) -> None:
    scenario, _, store = source
    spare = sc.standby(scenario.state)
    refuse = {r: (404, "NotFoundError", "Cannot POST") for r in UNOFFICIAL_SCHEDULER_ROUTES}
    target = await serve(spare.state, refuse=refuse)
    try:
        snap = open_snapshot(store, "latest")
        async with client_pool(
            target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY
        ) as cs:
            result = await apply_plan(snap, await plan_restore(snap, cs, RestoreOptions()), cs)
        failed = result.by_status("failed")
        assert failed and all(k.startswith("ld.scheduler:") for k in failed)
        assert "not in its public API" in result.outcomes[failed[0]].detail
        assert len(result.by_status("done")) > 300
    finally:
        await target.stop()


async def test_errors_come_in_lightdashs_envelope_with_a_hint(source) -> None:
    scenario, fake, _ = source
    async with LightdashClient(fake.url, scenario.token, retry=FAST_RETRY) as client:
        with pytest.raises(NotFound) as err:
            await client.space(scenario.staging.uuid, "no-such-space")
    assert "NotFoundError: Space not found" in str(err.value)
    assert "project uuid" in str(err.value)


async def test_the_fake_models_lightdash_upserts(source) -> None:
    scenario, fake, _ = source
    project = scenario.staging.uuid
    async with LightdashClient(fake.url, scenario.token, retry=FAST_RETRY) as client:
        code = (await client.charts_code(project))[0]
        assert (await client.upsert_chart(project, code["slug"], code)).action == "no changes"
        with pytest.raises(NotFound, match="Space with slug nowhere"):
            await client.upsert_chart(
                project, "new-chart", {**code, "spaceSlug": "nowhere", "skipSpaceCreate": True}
            )
        board = (await client.dashboards_code(project))[0]
        tiles = [
            {**board["tiles"][0], "type": "saved_chart", "properties": {"chartSlug": "missing"}}
        ]
        with pytest.raises(NotFound, match="Chart with slug missing"):
            await client.upsert_dashboard(project, "new-board", {**board, "tiles": tiles})


@pytest.mark.slow
async def test_every_client_method_conforms_to_the_spec(source) -> None:
    """Each public method of the client, against the strict fake: the fixture fails the test
    if any request or answer strays from openapi.json (or the web app's scheduler shape)."""
    scenario, fake, _ = source
    public = {
        n
        for n in vars(LightdashClient)
        if not n.startswith("_") and callable(getattr(LightdashClient, n))
    }
    called: set[str] = set()
    p = scenario.prod.uuid
    async with LightdashClient(fake.url, scenario.token, retry=FAST_RETRY) as c:

        async def call(name: str, *args: object, **kw: object) -> object:
            called.add(name)
            return await getattr(c, name)(*args, **kw)

        assert (await call("me")).role == "admin"
        assert await call("version") == fake.settings.version
        assert await call("modern") == (await call("generation") == "1.219")
        assert (await call("code_route", "charts")).endswith(
            "code" if not await c.modern() else "code/charts"
        )
        users = await call("users")
        group = await call("create_group", "Auditors", [users[1].uuid])
        await call("add_group_member", group, users[2].uuid)
        assert {m.uuid for m in await call("group_members", group)} == {
            users[1].uuid,
            users[2].uuid,
        }
        assert "Auditors" in {g.name for g in await call("groups")}
        assert "Production" in {x.name for x in await call("projects")}
        from omnimigrate.platforms.lightdash.handlers.attributes import Attribute

        attr = Attribute(name="tier", description="row filter", defaults=["gold"])
        made_a = await call(
            "create_attribute", attr, {users[1].uuid: ["gold"]}, {group: ["silver"]}
        )
        await call("update_attribute", made_a, attr, {users[2].uuid: ["bronze"]}, {})
        found_a = next(a for a in await call("attributes") if a.uuid == made_a)
        assert [(u.email, u.values) for u in found_a.users] == [(users[2].email, ["bronze"])]
        await call("set_scheduler_timezone", p, "Asia/Tokyo")
        assert await call("scheduler_timezone", p) == "Asia/Tokyo"
        made_t = await call("create_tag", p, "Audit", "#000000", set())
        await call("update_tag", p, made_t, "#ffffff")
        yaml = TagRef(uuid="", name="From YAML", color="#123456", yaml_reference="audit_yaml")
        await call("replace_yaml_tags", p, [yaml])
        found_t = {t.name: (t.color, t.yaml_reference) for t in await call("tags", p)}
        assert found_t == {"Audit": ("#ffffff", None), "From YAML": ("#123456", "audit_yaml")}
        outsider = next(u for u in users if u.uuid not in scenario.prod.access)
        await call("grant_project_access", p, outsider.email, "viewer")
        await call("update_project_access", p, outsider.uuid, "editor")
        assert {m.email: m.role for m in await call("project_access", p)}[
            outsider.email
        ] == "editor"
        await call("grant_group_access", group, p, "viewer", update=False)
        await call("grant_group_access", group, p, "editor", update=True)
        assert {a.group: a.role for a in await call("group_accesses", p)}[group] == "editor"
        space = await call("create_space", p, "Audit Ω", True, None)
        await call("update_space", p, space.uuid, "Audit Ω", False)
        await call("share_space", p, space.uuid, outsider.uuid, "editor")
        await call("share_space_group", p, space.uuid, group, "viewer")
        detail = await call("space", p, space.uuid)
        direct = [a.user for a in await call("space_users", p, space.uuid)]
        assert (detail.restricted, outsider.uuid in direct, [g.group for g in detail.groups]) == (
            False,
            True,
            [group],
        )
        await call("unshare_space", p, space.uuid, outsider.uuid)
        await call("unshare_space_group", p, space.uuid, group)
        assert outsider.uuid not in {a.user for a in await call("space_users", p, space.uuid)}
        assert space.uuid in {s.uuid for s in await call("spaces", p)}
        code = (await call("charts_code", scenario.staging.uuid))[0]
        made = await call(
            "upsert_chart",
            p,
            "audit-chart",
            {**code, "spaceSlug": space.code_slug, "skipSpaceCreate": True},
        )
        assert made.action == "create" and made.uuid in {
            r.uuid for r in await call("chart_list", p)
        }
        board = (await call("dashboards_code", p))[0]
        assert (await call("upsert_dashboard", p, board["slug"], board)).action == "no changes"
        assert await call("dashboard_list", p)
        assert await call("validate_project", p) == []  # prod's charts name only what exists
        body = {"name": "Audit", "format": "csv", "cron": "0 9 * * 1", "enabled": True, "includeLinks": True, "options": {"formatted": True, "limit": "table"},
                "targets": [{"recipient": "audit@acme.example"}]}  # fmt: skip
        made_s = await call("create_scheduler", p, ("chart", made.uuid), body)
        await call("update_scheduler", made_s, {**body, "targets": [{"channel": "C0AUDIT"}]})
        found = next(s for s in await call("schedulers", p) if s["schedulerUuid"] == made_s)
        assert [t.get("channel") for t in found["targets"]] == ["C0AUDIT"]
        assert await call("nests", await c.spaces(p))  # the fixture nests on both generations
        sql = {"name": "Audit SQL", "slug": "audit-sql", "sql": "select 1", "limit": 10, "chartKind": "table",
               "config": {"type": "table", "metadata": {"version": 1}, "columns": {}},
               "spaceSlug": space.code_slug, "skipSpaceCreate": True, "version": 1}  # fmt: skip
        if await c.modern():
            made_q = await call("upsert_sql_chart", p, "audit-sql", sql)
            assert made_q.action == "create"
            assert await call("sql_chart_uuid", p, "audit-sql") == made_q.uuid
            assert [q["slug"] for q in await call("sql_charts_code", p)] == ["audit-sql"]
            q_s = await call("create_scheduler", p, ("sqlchart", made_q.uuid), body)
            found = next(s for s in await call("schedulers", p) if s["schedulerUuid"] == q_s)
            assert found["savedSqlUuid"] == made_q.uuid
        else:  # 0.1471 has no SQL charts: none is asked for
            assert await call("sql_charts_code", p) == []
            called |= {"upsert_sql_chart", "sql_chart_uuid"}  # 1.219's only: exercised there
    assert public - called == set(), "every public client method is exercised against the fake"


def test_the_restore_order_is_what_the_readme_documents() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("platforms/lightdash/registry.py`; a test keeps this copy in step):", 1)[1]
    documented = block.split("```text\n", 1)[1].split("```", 1)[0].splitlines()
    assert documented == REGISTRY.explain_order()
    assert [s.handler.name for s in REGISTRY.stages] == [
        "groups",
        "user attributes",
        "project access",
        "spaces",
        "charts",
        "dashboards",
        "sql charts",
        "project settings",
        "tags",
        "schedulers",
    ]


@pytest.mark.slow
async def test_restores_into_two_projects_of_one_instance_keep_separate_ledgers(source) -> None:
    """What a restore into prod recorded never makes a restore into QA overwrite QA's own."""
    scenario, fake, store = source
    snap = open_snapshot(store, "latest")
    prod_names = {s.name for s in scenario.prod.spaces.values()}
    await restore(snap, fake, scenario.token, RestoreOptions(), "Production")
    qa = scenario.state.add_project("QA")
    path, space = next(
        (k, s)
        for k, s in snap.source.projects["Staging"].spaces.items()
        if "/" not in k and k not in prod_names
    )
    uuid = State.new_uuid()
    qa.spaces[uuid] = State.Space(uuid, space.path[0], "qa-space", not space.private)
    async with client_pool(fake.url, [scenario.token], rate_limit=100_000, project="QA") as cs:
        plan = await plan_restore(snap, cs, RestoreOptions())
    ops = {a.id: a.op for a in plan.actions}
    assert ops[f"ld.space:Staging:{path}"] == "conflict"


async def test_every_project_backs_up_and_each_restores_into_its_namesake(tmp_path: Path) -> None:
    scenario = sc.generate(sc.ScenarioSpec(charts=30, dashboards=8, spaces=5, schedulers=4))
    scenario.prod.name = "Prod: EU"  # keys join a project's name with ':'
    fake = await serve(scenario.state)
    store = LocalStore(tmp_path / "store", create=True)
    async with client_pool(fake.url, [scenario.token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        await run_backup(
            cs, store, BackupOptions(), cache_dir=tmp_path / "cache"
        )  # no project: all
    await fake.stop()
    snap = open_snapshot(store, "latest")
    assert sorted(snap.source.projects) == ["Prod: EU", "Staging"]
    assert any(
        "/" in name for s in snap.source.projects["Staging"].spaces.values() for name in s.path
    )
    both = sc.standby(scenario.state, projects=("Staging", "Prod: EU"))
    target = await serve(both.state)
    try:
        _, report = await restore(snap, target, both.token, RestoreOptions())
        assert report.ok and report.types["charts"].checked == 33  # staging's 30, prod's 3
    finally:
        await target.stop()
    one = sc.standby(scenario.state, projects=("Staging",))
    plan = await plan_into(snap, one)
    blocked = {a.id: a.reason for a in plan.blocked()}
    assert (
        list(blocked) == ["ld.project:Prod: EU"]
        and "no project 'Prod: EU'" in blocked["ld.project:Prod: EU"]
    )
    assert any(a.id.startswith("ld.chart:Staging:") and a.op == "create" for a in plan.actions)


async def test_content_whose_space_the_snapshot_lacks_is_blocked_naming_it(source) -> None:
    scenario, _, store = source
    snap = open_snapshot(store, "latest")
    project = snap.source.projects["Staging"]
    path = next(
        k
        for k, s in project.spaces.items()
        if any(c.space == s.path for c in project.charts.values())
    )
    del project.spaces[path]  # as if the backup's token could not read it
    spare = sc.standby(scenario.state)
    plan = await plan_into(snap, spare)
    blocked = [a for a in plan.blocked() if a.kind == "ld.chart"]
    assert blocked and all(
        f"its space {path!r} is not in the snapshot" in a.reason for a in blocked
    )
    assert len(blocked) == sum(1 for c in project.charts.values() if "/".join(c.space) == path)


@pytest.mark.parametrize(
    ("name", "version"), [("openapi.json", "0.1471.0"), ("openapi-1.219.0.json", "1.219.0")]
)
def test_the_packaged_spec_is_lightdashs_and_the_fake_serves_only_its_routes(
    name: str, version: str
) -> None:
    """Each variant ships its release's spec byte for byte and serves only its routes (0.1471:
    and the web app's scheduler creates; both: `/api/v1/health`, which no spec declares)."""
    here = Path(__file__).resolve()
    shared = next(
        (p / "shared" / "lightdash-api" / name for p in here.parents if (p / "shared").is_dir()),
        here.parents[2] / "shared" / "lightdash-api" / name,
    )
    packaged = here.parents[1] / "omnimigrate/platforms/lightdash/fake" / name
    assert shared.is_file(), f"expected Lightdash's spec at {shared} (the shared/ folder)"
    assert packaged.read_bytes() == shared.read_bytes()
    fake = FakeLightdash(settings=LightdashSettings(version=version))
    paths = load_openapi("1.219" if fake.modern else "0.1471")[1]["paths"]
    served = {(r.method.lower(), r.path) for r in fake.api.routes()}
    outside = {(m, p) for m, p in served if m not in paths.get(p, {})}
    unofficial = set() if fake.modern else {("post", r) for r in UNOFFICIAL_SCHEDULER_ROUTES}
    assert outside == unofficial | {("get", "/api/v1/health")}


async def test_a_grant_to_a_group_the_snapshot_could_not_list_is_blocked_naming_it(source) -> None:
    scenario, _, store = source
    snap = open_snapshot(store, "latest")
    name = next(iter(snap.source.projects["Staging"].groups))
    del snap.source.groups[name]  # as if the backup's token could not list it
    spare = sc.standby(scenario.state)
    spare.state.groups = {k: g for k, g in spare.state.groups.items() if g.name != name}
    plan = await plan_into(snap, spare)
    blocked = {a.id: a.reason for a in plan.blocked() if name in a.object}
    assert f"ld.access:Staging:group:{name}" in blocked
    assert all(f"group {name} is not in the snapshot's groups" in why for why in blocked.values())
    assert not [a for a in plan.actions if a.writes and name in str(a.params.get("groups", {}))]


async def test_schedulers_of_one_name_on_one_chart_each_keep_their_own_key(
    tmp_path: Path, version: str
) -> None:
    """(resource, name) is not unique: three namesakes on one chart back up, restore and
    verify as three, under 1.219's slugs where served (each to its own: slugs a create
    without them would not give), else as `…#2`, `…#3`; a re-run writes nothing."""
    scenario = sc.generate(sc.ScenarioSpec(charts=6, dashboards=2, spaces=3, schedulers=2))
    chart = next(iter(scenario.staging.charts.values()))
    slugs = ["weekly-ops", "weekly-finance", "weekly-board"]
    for n in range(3):
        fields = {"name": "Weekly", "format": "csv", "cron": f"0 {n} * * 1", "timezone": "UTC",
                  "enabled": True, "options": {}, "includeLinks": True,
                  "savedChartUuid": chart.uuid, "dashboardUuid": None,
                  "createdBy": None, "createdAt": scenario.state.now(), "updatedAt": ""}  # fmt: skip
        s = State.Scheduler(State.new_uuid(), fields, [], slugs[n])
        scenario.staging.schedulers[s.uuid] = s
    fake = await serve(scenario.state, version)
    store = LocalStore(tmp_path / "store", create=True)
    await backup(fake, scenario.token, store, tmp_path / "cache")
    await fake.stop()
    snap = open_snapshot(store, "latest")
    held = snap.source.projects["Staging"].schedulers
    weekly = sorted(k for k, s in held.items() if s.name == "Weekly")
    naturals = [f"chart:{chart.slug}:Weekly", f"chart:{chart.slug}:Weekly#2",
                f"chart:{chart.slug}:Weekly#3"]  # fmt: skip
    assert weekly == (sorted(slugs) if fake.modern else naturals)
    assert sorted(held[k].natural for k in weekly) == naturals  # the fallback, kept as well
    spare = sc.standby(scenario.state)
    target = await serve(spare.state, version)
    try:
        async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
            plan = await plan_restore(snap, cs, RestoreOptions())
        _, report = await restore(snap, target, spare.token, RestoreOptions())
        assert report.types["schedulers"].matching == report.types["schedulers"].checked == 5
        crons = sorted(
            s.fields["cron"]
            for s in spare.staging.schedulers.values()
            if s.fields["name"] == "Weekly"
        )
        assert crons == ["0 0 * * 1", "0 1 * * 1", "0 2 * * 1"]
        if target.modern:  # 1.219's slugs come along, each on its own scheduler
            assert {s.slug: s.fields["cron"] for s in spare.staging.schedulers.values()} == {
                s.slug: s.fields["cron"] for s in scenario.staging.schedulers.values()
            }
            assert {a.params["key"] for a in plan.actions if a.kind == "ld.scheduler"} >= set(slugs)
        rerun, _ = await restore(snap, target, spare.token, RestoreOptions())
        assert rerun == 0
    finally:
        await target.stop()
    assert target.violations == []


async def test_a_tree_three_deep_round_trips_with_access_at_the_root_and_content_in_a_leaf(
    tmp_path: Path, version: str
) -> None:
    scenario = sc.generate(sc.ScenarioSpec(charts=4, dashboards=1, spaces=2, schedulers=0))
    p, users = scenario.staging, list(scenario.state.users.values())
    group = next(iter(scenario.state.groups.values()))
    root = State.Space(State.new_uuid(), "Finance", "finance", True)
    root.users[users[1].uuid] = "editor"
    root.groups[group.uuid] = "viewer"
    mid = State.Space(State.new_uuid(), "Close", "close", False, root.uuid)
    leaf = State.Space(State.new_uuid(), "Monthly", "monthly", False, mid.uuid)
    for s in (root, mid, leaf):
        p.spaces[s.uuid] = s
    chart = next(iter(p.charts.values()))
    chart.space = leaf.uuid
    fake = await serve(scenario.state, version)
    store = LocalStore(tmp_path / "store", create=True)
    await backup(fake, scenario.token, store, tmp_path / "cache")
    await fake.stop()
    snap = open_snapshot(store, "latest")
    spaces = snap.source.projects["Staging"].spaces
    assert spaces["Finance"].private and not spaces["Finance/Close/Monthly"].private
    assert snap.source.projects["Staging"].charts[chart.slug].space == [
        "Finance",
        "Close",
        "Monthly",
    ]
    spare = sc.standby(scenario.state)
    target = await serve(spare.state, version)
    try:
        _, report = await restore(snap, target, spare.token, RestoreOptions())
        assert report.types["spaces"].differences == [] and report.ok
        made = {s.name: s for s in spare.staging.spaces.values()}
        assert made["Monthly"].parent == made["Close"].uuid
        assert made["Close"].parent == made["Finance"].uuid and made["Finance"].parent is None
        assert (made["Finance"].is_private, made["Close"].is_private) == (True, False)
        assert {spare.state.users[u].email for u in made["Finance"].users} == {users[1].email}
        restored = spare.staging.chart_by_slug(chart.slug)
        assert restored is not None and restored.space == made["Monthly"].uuid
        rerun, _ = await restore(snap, target, spare.token, RestoreOptions())
        assert rerun == 0
    finally:
        await target.stop()
    assert target.violations == []


@pytest.mark.slow
async def test_user_attributes_round_trip_and_a_missing_user_blocks_its_value_by_name(
    source, tmp_path: Path
) -> None:
    scenario, fake, store = source
    snap = open_snapshot(store, "latest")
    region = snap.source.attributes["region"]
    expected = ["EU", "US"] if fake.modern else ["EU"]  # 0.1471 serves one value
    assert region.defaults == ["EU"] and region.description == "row filter 0"
    assert region.users and all(v == expected for v in region.users.values())
    assert region.groups and all(v == expected[::-1] or v == ["US"] for v in region.groups.values())
    spare = sc.standby(scenario.state)
    gone = sorted(region.users)[0]
    user = spare.state.user_by_email(gone)
    assert user is not None
    del spare.state.users[user.uuid]
    target = await serve(spare.state, fake.settings.version)
    try:
        async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
            plan = await plan_restore(snap, cs, RestoreOptions())
            blocked = {a.id: a.reason for a in plan.blocked()}
            assert (
                f"user {gone} is not on the target" in blocked[f"ld.attribute.value:region:{gone}"]
            )
            order = [a.kind for a in plan.actions if a.writes]
            assert order.index("ld.attribute") < order.index("ld.access.group")
            await apply_plan(snap, plan, cs)
            report = await snap.platform.verify(snap.source, cs)
        rows = report.types["user attributes"]
        assert rows.checked == 2 and rows.matching == 1  # region lacks the missing user's value
        made = {a.name: a for a in spare.state.attributes.values()}
        assert sorted(spare.state.users[u].email for u in made["region"].users) == sorted(
            e for e in region.users if e != gone
        )
        assert made["is admin saas"].defaults == ["true"]
        rerun, _ = await restore(snap, target, spare.token, RestoreOptions())
        assert rerun == 0
    finally:
        await target.stop()
    assert target.violations == []


async def test_one_dashboard_from_an_older_snapshot_into_a_project_that_moved_on(
    source, tmp_path: Path
) -> None:
    """`--include dashboard:SLUG`: only the dashboard and what it needs (its tiles' charts,
    its space path with access) are written, each dependency named in the plan; the
    project's other changes since the snapshot are left as they are."""
    scenario, fake, store = source
    snap = open_snapshot(store, "latest")
    staging = snap.source.projects["Staging"]
    slug, board = next((s, d) for s, d in sorted(staging.dashboards.items()) if d.chart_slugs())
    live = scenario.staging.dashboard_by_slug(slug)
    assert live is not None
    live.content = {**live.content, "name": "Edited since"}
    live.updated_at = scenario.state.now()
    other = next(c for c in scenario.staging.charts.values() if c.slug not in board.chart_slugs())
    other.content = {**other.content, "name": "Also edited since"}
    tile_chart = scenario.staging.chart_by_slug(board.chart_slugs()[0])
    assert tile_chart is not None
    tile_chart.content = {**tile_chart.content, "name": "Tile chart edited"}
    options = RestoreOptions(include=[f"dashboard:{slug}"], on_conflict="overwrite")
    async with client_pool(fake.url, [scenario.token], rate_limit=100_000, project="Staging") as cs:
        plan = await plan_restore(snap, cs, options)
        written = {a.id for a in plan.actions if a.writes}
        assert written == {f"ld.dashboard:Staging:{slug}", f"ld.chart:Staging:{tile_chart.slug}"}
        dep = next(a for a in plan.actions if a.id == f"ld.chart:Staging:{tile_chart.slug}")
        assert "a dependency of the selection" in dep.reason
        assert all(
            a.reason == "not selected (--include/--exclude)"
            for a in plan.actions
            if a.op == "skip" and a.kind == "ld.chart" and a.object.endswith(other.slug)
        )
        before = len(fake.log.writes())
        result = await apply_plan(snap, plan, cs)
        assert not result.by_status("failed")
        assert len(fake.log.writes()) - before == 2
    assert live.content["name"] == board.body["name"]
    assert tile_chart.content["name"] == staging.charts[tile_chart.slug].body["name"]
    assert other.content["name"] == "Also edited since"  # touched nothing else


async def test_a_rename_restore_uploads_a_copy_and_leaves_the_existing_dashboard_untouched(
    source,
) -> None:
    scenario, fake, store = source
    snap = open_snapshot(store, "latest")
    slug = sorted(snap.source.projects["Staging"].dashboards)[0]
    live = scenario.staging.dashboard_by_slug(slug)
    assert live is not None
    live.content = {**live.content, "name": "Edited since"}
    kept = (live.uuid, dict(live.content), live.updated_at)
    options = RestoreOptions(include=[f"dashboard:{slug}"], on_conflict="rename")
    async with client_pool(fake.url, [scenario.token], rate_limit=100_000, project="Staging") as cs:
        plan = await plan_restore(snap, cs, options)
        action = next(a for a in plan.actions if a.id == f"ld.dashboard:Staging:{slug}")
        assert (action.op, action.params["slug"]) == ("create", f"{slug}-restored")
        assert f"{slug}-restored" in action.reason
        await apply_plan(snap, plan, cs)
        again = await plan_restore(snap, cs, options)
        assert not [a.id for a in again.actions if a.writes]
    assert (live.uuid, live.content, live.updated_at) == kept
    copy = scenario.staging.dashboard_by_slug(f"{slug}-restored")
    assert (
        copy is not None
        and copy.content["name"] == snap.source.projects["Staging"].dashboards[slug].body["name"]
    )
