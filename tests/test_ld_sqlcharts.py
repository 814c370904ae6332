"""Lightdash 1.219's SQL charts and the schedulers on them, over real HTTP to the strict fake:
backed up as code with their uuids, restored into their (nested, restricted) spaces with
their schedulers, verified, a re-run writing nothing; restored into a 0.1471 server they are
blocked, each naming the target's generation, and so are their schedulers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import open_snapshot, plan_restore
from omnimigrate.errors import ApiStatusError
from omnimigrate.platforms.lightdash.fake import scenario as sc
from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.schedulers import SQL_CHART_SCHEDULERS
from omnimigrate.platforms.lightdash.handlers.sqlcharts import NO_SQL_CHARTS
from omnimigrate.platforms.lightdash.platform import client_pool
from tests.test_lightdash import backed_up, restore, serve

NEW, OLD = "1.219.0", "0.1471.0"
SQL_CODE = "/api/v1/projects/{projectUuid}/code/sqlCharts"


def sql_chart(space: st.Space, slug: str, sql: str) -> st.SqlChart:
    content: dict[str, Any] = {
        "name": slug.replace("-", " ").title(),
        "description": None,
        "sql": sql,
        "limit": 500,
        "config": {"type": "table", "metadata": {"version": 1}, "columns": {}},
        "chartKind": "table",
    }
    return st.SqlChart(st.new_uuid(), slug, space.uuid, content, "2026-01-01T00:00:00.000Z")


def scheduler_on(
    p: st.Project, chart: st.SqlChart, name: str, recipient: str, by: str
) -> st.Scheduler:
    fields = {"name": name, "message": "weekly", "format": "csv", "cron": "0 7 * * 1",
              "timezone": "Europe/Paris", "enabled": True, "includeLinks": True,
              "options": {"formatted": True, "limit": "table"}, "savedChartUuid": None,
              "dashboardUuid": None, "savedSqlUuid": chart.uuid, "createdBy": by,
              "createdAt": "2026-01-01T00:00:00.000Z", "updatedAt": "2026-01-01T00:00:00.000Z"}  # fmt: skip
    return st.Scheduler(st.new_uuid(), fields, [{"recipient": recipient, "uuid": st.new_uuid()}],
                        p.scheduler_slug(name))  # fmt: skip


def with_sql_charts() -> tuple[sc.Scenario, list[st.SqlChart]]:
    """A small project with a restricted space, a child of it, and a SQL chart in each; two
    schedulers of one name on the child's chart and one on the other."""
    scenario = sc.generate(sc.ScenarioSpec(charts=4, dashboards=1, spaces=2, schedulers=2))
    p, users = scenario.staging, list(scenario.state.users.values())
    root = st.Space(st.new_uuid(), "Analytics", "analytics", True)
    root.users[users[1].uuid] = "editor"
    leaf = st.Space(st.new_uuid(), "SQL", "sql", False, root.uuid)
    p.spaces |= {root.uuid: root, leaf.uuid: leaf}
    charts = [sql_chart(leaf, "revenue-by-month", "select month, sum(amount) from orders group by 1"),
              sql_chart(root, "open-tickets", "select count(*) from tickets where open")]  # fmt: skip
    p.sql_charts |= {c.uuid: c for c in charts}
    for chart, name, to in ((charts[0], "Monday revenue", "cfo@acme.example"),
                            (charts[0], "Monday revenue", "ops@acme.example"),
                            (charts[1], "Tickets", "ops@acme.example")):  # fmt: skip
        s = scheduler_on(p, chart, name, to, users[0].uuid)
        p.schedulers[s.uuid] = s
    return scenario, charts


async def test_sql_charts_and_their_schedulers_round_trip_on_1_219(tmp_path: Path) -> None:
    scenario, charts = with_sql_charts()
    # 1.219's /logs lists the schedulers on data apps with the others (on no chart): not kept
    app = scheduler_on(scenario.staging, charts[0], "App digest", "ops@acme.example", "")
    app.fields |= {"savedSqlUuid": None, "appUuid": st.new_uuid()}
    scenario.staging.schedulers[app.uuid] = app
    store, fake = await backed_up(scenario.state, scenario.token, NEW, tmp_path)
    assert fake.violations == []
    snap = open_snapshot(store, "latest")
    kept = snap.source.projects["Staging"]
    assert not [s for s in kept.schedulers.values() if s.name == "App digest"]
    assert kept.sql_charts["revenue-by-month"].space == ["Analytics", "SQL"]
    assert kept.sql_charts["revenue-by-month"].body["sql"] == charts[0].content["sql"]
    assert all(k == s.slug for k, s in kept.schedulers.items())  # 1.219 serves slugs
    on_sql = sorted(s.natural for s in kept.schedulers.values() if s.on == "sqlchart")
    assert on_sql == ["sqlchart:open-tickets:Tickets", "sqlchart:revenue-by-month:Monday revenue",
                      "sqlchart:revenue-by-month:Monday revenue#2"]  # fmt: skip

    spare = sc.standby(scenario.state)
    target = await serve(spare.state, NEW)
    try:
        writes, report = await restore(snap, target, spare.token, RestoreOptions())
        assert report.ok, {t: r.differences for t, r in report.types.items()}
        assert report.types["sql charts"].matching == report.types["sql charts"].checked == 2
        assert report.types["schedulers"].matching == report.types["schedulers"].checked
        assert report.types["schedulers"].checked == len(kept.schedulers) > 3
        made = {c.slug: c for c in spare.staging.sql_charts.values()}
        spaces = {s.uuid: s for s in spare.staging.spaces.values()}
        assert made["revenue-by-month"].content == charts[0].content
        leaf = spaces[made["revenue-by-month"].space]
        assert leaf.name == "SQL" and spaces[leaf.parent or ""].name == "Analytics"
        assert spaces[made["open-tickets"].space].is_private
        on = {c.uuid: c.slug for c in made.values()}
        restored = sorted(
            (on[s.fields["savedSqlUuid"]], s.fields["name"], s.targets[0]["recipient"])
            for s in spare.staging.schedulers.values()
            if s.fields.get("savedSqlUuid")
        )
        assert restored == [("open-tickets", "Tickets", "ops@acme.example"),
                            ("revenue-by-month", "Monday revenue", "cfo@acme.example"),
                            ("revenue-by-month", "Monday revenue", "ops@acme.example")]  # fmt: skip
        assert target.log.count("POST", SQL_CHART_SCHEDULERS) == 3
        assert writes > 0
        rerun, again = await restore(snap, target, spare.token, RestoreOptions())
        assert rerun == 0 and again.ok
        # verify notices a SQL chart changed on the target; this restore, which wrote it,
        # puts it back with one upload
        made["open-tickets"].content["sql"] = "select 1"
        async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
            tampered = await snap.platform.verify(snap.source, cs)
        assert not tampered.ok
        assert [
            str(d) for d in tampered.types["sql charts"].differences if "open-tickets" in str(d)
        ]
        uploads = target.log.count("POST", SQL_CODE + "/{slug}")
        back, fixed = await restore(snap, target, spare.token, RestoreOptions())
        assert fixed.ok and made["open-tickets"].content["sql"] == charts[1].content["sql"]
        # a selection takes SQL charts by space glob or by `sqlchart:SLUG`, with their schedulers
        async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
            by_space = await plan_restore(snap, cs, RestoreOptions(include=["Analytics/SQL/**"]))
            by_slug = await plan_restore(snap, cs, RestoreOptions(include=["sqlchart:open-*"]))
        for plan, slug in ((by_space, "revenue-by-month"), (by_slug, "open-tickets")):
            picked = [a for a in plan.actions if not a.reason.startswith("not selected")]
            chosen = {a.id for a in picked}
            assert f"ld.sqlchart:Staging:{slug}" in chosen
            assert {i for i in chosen if i.startswith("ld.sqlchart:")} == {
                f"ld.sqlchart:Staging:{slug}"
            }
            assert any(a.kind == "ld.scheduler" and a.params["resource"] == slug for a in picked)
        assert target.log.count("POST", SQL_CODE + "/{slug}") == uploads + 1 and back == 1
    finally:
        await target.stop()
    assert target.violations == []


async def test_sql_charts_into_a_0_1471_server_are_blocked_naming_its_generation(
    tmp_path: Path,
) -> None:
    scenario, _ = with_sql_charts()
    store, _fake = await backed_up(scenario.state, scenario.token, NEW, tmp_path)
    snap = open_snapshot(store, "latest")
    spare = sc.standby(scenario.state)
    target = await serve(spare.state, OLD)
    try:
        async with client_pool(target.url, [spare.token], rate_limit=100_000) as cs:
            plan = await plan_restore(snap, cs, RestoreOptions())
    finally:
        await target.stop()
    blocked = {a.id: a.reason for a in plan.actions if a.op == "blocked"}
    assert blocked["ld.sqlchart:Staging:revenue-by-month"] == NO_SQL_CHARTS
    assert blocked["ld.sqlchart:Staging:open-tickets"] == NO_SQL_CHARTS
    assert "0.1471" in NO_SQL_CHARTS and "1.219" in NO_SQL_CHARTS
    on_sql = [a for a in plan.actions if a.kind == "ld.scheduler" and ":sqlchart:" in a.id]
    assert len(on_sql) == 3 and all(a.op == "blocked" for a in on_sql)
    assert all("blocked by ld.sqlchart:Staging:" in (a.reason or "") for a in on_sql)
    # everything else still restores: the charts' and dashboards' schedulers are planned
    others = [a for a in plan.actions if a.kind == "ld.scheduler" and ":sqlchart:" not in a.id]
    assert others and all(a.op == "create" for a in others)
    assert target.log.count("GET", SQL_CODE) == 0  # 0.1471 serves no such route
    assert target.violations == []


async def test_a_0_1471_source_backs_up_no_sql_charts_and_asks_no_sql_route(
    tmp_path: Path,
) -> None:
    scenario, _ = with_sql_charts()
    # the same state on a 0.1471 server: it serves no SQL charts, nor schedulers on them
    for k in [k for k, s in scenario.staging.schedulers.items() if s.fields.get("savedSqlUuid")]:
        del scenario.staging.schedulers[k]
    store, fake = await backed_up(scenario.state, scenario.token, OLD, tmp_path)
    assert fake.violations == []
    assert open_snapshot(store, "latest").source.projects["Staging"].sql_charts == {}
    assert fake.log.count("GET", SQL_CODE) == 0


async def test_1_219_refuses_a_sql_chart_scheduler_lacking_a_required_field_as_the_real_one(
    tmp_path: Path,
) -> None:
    """As the real 1.219 answered (tsoa's 422, naming each field), the fake refuses a create
    without `appUuid`, `appName` or `includeLinks`; the client's own body passes."""
    scenario, charts = with_sql_charts()
    fake = await serve(scenario.state, NEW)
    route = SQL_CHART_SCHEDULERS
    path = {"projectUuid": scenario.staging.uuid, "savedSqlUuid": charts[0].uuid}
    body = {"name": "probe", "format": "csv", "cron": "0 9 * * 1", "timezone": "UTC",
            "enabled": True, "options": {}, "targets": []}  # fmt: skip
    try:
        async with client_pool(fake.url, [scenario.token], rate_limit=100_000) as cs:
            with pytest.raises(ApiStatusError) as refused:
                await cs[0]._results("POST", route, path=path, json=body)
            made = await cs[0].create_scheduler(
                scenario.staging.uuid, ("sqlchart", charts[0].uuid), {**body, "includeLinks": True}
            )
    finally:
        await fake.stop()
    assert refused.value.status == 422
    for field in ("appUuid", "appName", "includeLinks"):
        assert f"body.{field}: '{field}' is required" in refused.value.detail
    assert scenario.staging.schedulers[made].fields["savedSqlUuid"] == charts[0].uuid
