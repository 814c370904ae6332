"""Content checks and drills, Lightdash: the project validator at backup and after restore
(both API generations), the client's polling of its job, a drill of a clean standby, and
`verify --content` and `drill --platform lightdash` as an operator runs them. Over real HTTP
to the strict fake."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from pathlib import Path

import pytest
from aiohttp import web
from pydantic import SecretStr

from omnimigrate.config import InstanceConfig, RestoreTarget, ServiceConfig, Settings
from omnimigrate.engine.content import ContentShapeError
from omnimigrate.engine.drill import Drill, DrillReport
from omnimigrate.engine.plan import RestoreOptions
from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore
from omnimigrate.http.ratelimit import RateLimiter
from omnimigrate.platforms.lightdash.client import (
    JOB_STATUS,
    VALIDATE,
    VALIDATION_POLLS,
    LightdashClient,
    ValidationUnfinished,
)
from omnimigrate.platforms.lightdash.content import read_rows
from omnimigrate.platforms.lightdash.fake import scenario as sc
from omnimigrate.platforms.lightdash.fake import state as st
from omnimigrate.platforms.lightdash.fake.server import FakeLightdash, LightdashSettings
from omnimigrate.platforms.lightdash.platform import client_pool
from omnimigrate.service.event_queue import MemoryQueue
from omnimigrate.service.events import BackupRequested, DrillCompleted, DrillRequested
from omnimigrate.service.metrics import Metrics
from omnimigrate.service.sinks import Publisher
from omnimigrate.service.worker import Worker
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.store import LocalStore
from tests.conftest import FAST_RETRY, local_server, samples_of
from tests.test_cli import run
from tests.test_drill import FakeClock
from tests.test_lightdash import VERSIONS, backup, serve

SMALL = sc.ScenarioSpec(spaces=6, charts=40, dashboards=10, schedulers=4)
MISSING = "customers_lifetime_value"  # the source's customers explore has it; the target's not
STALE = "orders_old_field"  # no explore has it: broken at the source already
LEGACY = "orders_legacy_id"  # the source's explores lack it, the target's have it: fixed


@pytest.fixture(params=VERSIONS)
def version(request: pytest.FixtureRequest) -> str:
    return request.param


def boards_showing(project: st.Project, chart: st.Chart) -> set[str]:
    """The slugs of the dashboards with a tile of this chart."""
    return {
        d.slug
        for d in project.dashboards.values()
        for t in d.content["tiles"]
        if t["type"] == "saved_chart" and t["properties"].get("savedChartUuid") == chart.uuid
    }


async def test_a_restore_onto_explores_lacking_a_field_reports_exactly_the_charts_using_it(
    tmp_path: Path, version: str
) -> None:
    scenario = sc.generate(SMALL)
    staging = scenario.staging
    staging.explores["customers"].metrics.add(MISSING)
    charts = sorted(staging.charts.values(), key=lambda c: c.slug)
    saved = next(c for c in charts if c.dashboard)  # no list gives its uuid: found by name
    listed = [c for c in charts if c.dashboard is None]
    broken = [saved, *listed[:2]]
    for chart in broken:
        chart.content["metricQuery"]["metrics"].append(MISSING)
    stale, cured = [c for c in listed[2:] if not boards_showing(staging, c)][:2]
    stale.content["metricQuery"]["dimensions"].append(STALE)
    cured.content["metricQuery"]["dimensions"].append(LEGACY)
    spare = sc.standby(scenario.state)
    spare.staging.explores["customers"].metrics.discard(MISSING)  # the target's dbt lags
    spare.staging.explores["orders"].dimensions.add(LEGACY)  # and is ahead here

    source = await serve(scenario.state, version)
    store = LocalStore(tmp_path / "store", create=True)
    await backup(source, scenario.token, store, tmp_path / "cache")
    await source.stop()
    snap = open_snapshot(store, "latest")
    assert snap.source.content["Staging"].issues.keys() == {
        f"chart:Staging:{stale.slug}",
        f"chart:Staging:{cured.slug}",
    }
    assert snap.source.content_warnings == []

    target = await serve(spare.state, version)
    async with client_pool(target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        plan = await plan_restore(snap, cs, RestoreOptions())
        result = await apply_plan(snap, plan, cs)
        assert result.by_status("failed") == []
        report = await snap.platform.check_content(snap.source, cs, RestoreOptions())
    await target.stop()
    assert [str(v) for v in [*source.violations, *target.violations]] == []

    boards = set().union(*(boards_showing(staging, c) for c in broken))
    assert boards, "a broken chart is on a dashboard, which breaks with it"
    assert [i.key for i in report.new] == sorted(
        [f"chart:Staging:{c.slug}" for c in broken] + [f"dashboard:Staging:{b}" for b in boards]
    )
    for item in report.new:
        expected = MISSING if item.key.startswith("chart:") else "is broken on this dashboard"
        assert all(expected in m for m in item.issues), item
    assert [i.key for i in report.carried] == [f"chart:Staging:{stale.slug}"]
    assert any(STALE in m for m in report.carried[0].issues)
    assert [i.key for i in report.fixed] == [f"chart:Staging:{cured.slug}"]
    assert report.warnings == []
    assert report.scopes == ["Staging"] and report.checked == len(staging.charts) + len(
        staging.dashboards
    )
    assert target.log.paths("POST", VALIDATE) and target.log.paths("GET", JOB_STATUS)


async def test_a_refused_validator_is_a_warning_at_backup_and_after_restore(tmp_path: Path) -> None:
    scenario = sc.generate(SMALL)
    refused = {VALIDATE: (403, "ForbiddenError", "You don't have access to this resource")}
    source = await serve(scenario.state, refuse=refused)
    store = LocalStore(tmp_path / "store", create=True)
    await backup(source, scenario.token, store, tmp_path / "cache")  # complete, or it fails
    await source.stop()
    snap = open_snapshot(store, "latest")
    assert snap.source.content == {}
    assert [w for w in snap.source.content_warnings if "Staging" in w and "403" in w]

    spare = sc.standby(scenario.state)
    target = await serve(spare.state, refuse={VALIDATE: (501, "NotImplemented", "not here")})
    async with client_pool(target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        report = await snap.platform.check_content(snap.source, cs, RestoreOptions())
    await target.stop()
    assert report.new == [] and report.carried == []
    assert any("target content check of Staging (501)" in w for w in report.warnings)
    assert any("403" in w for w in report.warnings)


@pytest.mark.slow
async def test_the_client_waits_for_the_validation_job_and_gives_up_naming_it() -> None:
    scenario = sc.generate(SMALL)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    fake = await serve(scenario.state, validation_polls=4)
    broken = next(iter(scenario.staging.charts.values()))
    broken.content["metricQuery"]["dimensions"].append(STALE)
    # the limiter paces on real time (at 1,000 a second), so `waits` holds only the backoff
    pacing = RateLimiter(60_000)
    async with LightdashClient(
        fake.url, scenario.token, retry=FAST_RETRY, sleep=sleep, limiter=pacing
    ) as c:
        rows = await c.validate_project(scenario.staging.uuid)
        assert [(r["chartUuid"], r["fieldName"]) for r in rows] == [(broken.uuid, STALE)]
        assert waits == [0.5, 1.0, 2.0, 4.0]
        assert len(fake.log.paths("GET", JOB_STATUS)) == 5
        fake.api.validation_polls = 10 * VALIDATION_POLLS
        waits.clear()
        with pytest.raises(ValidationUnfinished, match=f"after {VALIDATION_POLLS} status reads"):
            await c.validate_project(scenario.staging.uuid)
        assert len(waits) == VALIDATION_POLLS and max(waits) == 5.0
    await fake.stop()
    assert [str(v) for v in fake.violations] == []


async def test_a_drill_of_a_clean_standby_is_100_percent_with_no_new_content_issues(
    tmp_path: Path, version: str
) -> None:
    scenario = sc.generate(SMALL)
    spare = sc.standby(scenario.state)
    source = await serve(scenario.state, version)
    store = LocalStore(tmp_path / "store", create=True)
    await backup(source, scenario.token, store, tmp_path / "cache")
    await source.stop()
    catalog = Catalog(store)
    manifest = catalog.load(catalog.resolve("latest"))
    snap = open_snapshot(store, "latest")
    start = manifest.finished_at + timedelta(hours=2)
    stamps = (start + timedelta(seconds=n) for n in itertools.count())
    drill = Drill(snap, manifest, RestoreOptions(), rate=3000, period=60.0,
                  clock=FakeClock(1.0), now=lambda: next(stamps))  # fmt: skip
    target = await serve(spare.state, version)
    async with client_pool(target.url, [spare.token], rate_limit=100_000, retry=FAST_RETRY) as cs:
        report, _ = await drill.run(cs)
    await target.stop()
    assert report.platform == "lightdash"
    assert report.fidelity_percent == 100.0 and report.fidelity
    assert all(t.percent == 100.0 for t in report.fidelity.values())
    assert report.content.new == [] and report.content.warnings == []
    assert report.content.checked == len(scenario.staging.charts) + len(scenario.staging.dashboards)
    assert report.ok and report.rpo_seconds == 2 * 3600
    assert report.restore.counts["done"] > 0 and report.restore.estimate_requests > 0


def test_verify_content_and_drill_on_lightdash_from_the_command_line(tmp_path: Path) -> None:
    """`verify --content` names the chart a drifted target breaks (exit 1); `drill --platform
    lightdash` into a clean standby passes (exit 0) and keeps drill.json/html by the snapshot."""
    scenario = sc.generate(SMALL)
    chart = sorted(scenario.staging.charts.values(), key=lambda c: c.slug)[0]
    scenario.staging.explores["customers"].metrics.add(MISSING)
    chart.content["metricQuery"]["metrics"].append(MISSING)
    spare = sc.standby(scenario.state)
    source = FakeLightdash(scenario.state, LightdashSettings(nested_spaces=True))
    target = FakeLightdash(spare.state, LightdashSettings(nested_spaces=True))
    source.start_in_thread()
    target.start_in_thread()
    try:
        store = tmp_path / "store"
        env = {"LIGHTDASH_API_KEY": scenario.token, "LD_TARGET": spare.token}
        ld = ["--platform", "lightdash", "--rate-limit", "100000"]
        done = run("backup", "--source", source.url, *ld, "--project", "Staging",
                   "--store", str(store), env=env)  # fmt: skip
        assert done.returncode == 0, done.stderr
        into = ["--target", target.url, *ld, "--target-token-env", "LD_TARGET",
                "--store", str(store)]  # fmt: skip
        drilled = run("drill", *into, env=env)
        assert drilled.returncode == 0, drilled.stdout[-3000:] + drilled.stderr[-2000:]
        assert "passed" in drilled.stdout and "content: 0 new" in drilled.stdout
        (evidence,) = store.glob("snapshots/*/*/drills/*/drill.json")
        assert (evidence.parent / "drill.html").stat().st_size > 0
        report = DrillReport.model_validate_json(evidence.read_text())
        assert (report.platform, report.fidelity_percent, report.content.new) == (
            "lightdash", 100.0, [],
        )  # fmt: skip

        spare.staging.explores["customers"].metrics.discard(MISSING)
        checked = run("verify", *into, "--content", "--json", env=env)
        assert checked.returncode == 1, checked.stderr[-2000:]
        content = json.loads(checked.stdout)["content"]
        boards = sorted(f"dashboard:Staging:{b}" for b in boards_showing(scenario.staging, chart))
        assert [i["key"] for i in content["new"]] == [f"chart:Staging:{chart.slug}", *boards]
        (tmp_path / "map.yaml").write_text("a: b\n")
        mapped = run(
            "verify", *into, "--content", "--model-map", str(tmp_path / "map.yaml"), env=env
        )
        assert mapped.returncode == 2
        assert "--model-map is not an option of a Lightdash restore" in mapped.stderr
    finally:
        source.stop_thread()
        target.stop_thread()
    assert [str(v) for v in [*source.violations, *target.violations]] == []


class Recorded:
    """A sink that keeps what was published."""

    def __init__(self) -> None:
        self.events: list[object] = []

    async def publish(self, event: object) -> None:
        self.events.append(event)


async def test_a_drill_job_into_a_lightdash_standby_publishes_its_figures_and_gauges(
    tmp_path: Path,
) -> None:
    """Service mode: a backup job, then a drill.requested into a Lightdash restore target."""
    scenario = sc.generate(SMALL)
    spare = sc.standby(scenario.state)
    source, target = await serve(scenario.state), await serve(spare.state)
    settings = Settings(
        rate_limit=100_000, cache_dir=tmp_path / "cache", retry_base_delay=0.01,
        instances={"ld": InstanceConfig(url=source.url, token_env=["SRC"], platform="lightdash",
                                        project="Staging"),
                   "ld-standby": InstanceConfig(url=target.url, token_env=["STANDBY"],
                                                platform="lightdash")},
        service=ServiceConfig(restore_targets={"ld-standby": RestoreTarget()}),
    )  # fmt: skip
    tokens = {source.url: scenario.token, target.url: spare.token}
    sink, metrics, store = Recorded(), Metrics(), LocalStore(tmp_path / "store", create=True)
    worker = Worker(settings, store, MemoryQueue(), Publisher([sink]), metrics,
                    tokens=lambda inst: [SecretStr(tokens[inst.url])])  # fmt: skip
    drill = DrillRequested(instance="ld", target="ld-standby")
    worker.gate.check(drill)
    await worker.backup(BackupRequested(instance="ld"))
    await worker.drill(drill)
    await source.stop()
    await target.stop()
    assert [str(v) for v in [*source.violations, *target.violations]] == []

    (done,) = [e for e in sink.events if isinstance(e, DrillCompleted)]
    assert (done.passed, done.fidelity_percent, done.new_content_issues) == (True, 100.0, 0)
    (key,) = [k for k in store.list("snapshots/ld/") if k.endswith("/drill.json")]
    report = DrillReport.model_validate_json(store.get(key))
    assert report.platform == "lightdash" and report.content.checked > 0
    samples = samples_of(metrics.exposition().decode())
    pair = 'instance="ld",target="ld-standby"'
    assert samples[f"omnimigrate_drill_passed{{{pair}}}"] == 1.0
    assert samples[f"omnimigrate_drill_new_content_issues{{{pair}}}"] == 0.0


async def test_a_validation_row_without_its_required_error_fails_naming_the_field() -> None:
    """A server whose rows lack a field both specs require: the check fails naming it, rather
    than counting a chart as clean."""

    async def scheduled(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "results": {"jobId": "job-1"}})

    async def done(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "results": {"status": "completed"}})

    async def rows(_: web.Request) -> web.Response:
        return web.json_response(
            {"status": "ok", "results": [{"name": "Orders", "chartUuid": "c1"}]}
        )

    app = web.Application()
    app.router.add_post("/api/v1/projects/{p}/validate", scheduled)
    app.router.add_get("/api/v1/projects/{p}/validate", rows)
    app.router.add_get("/api/v1/schedulers/job/{j}/status", done)
    async with local_server(app) as url, LightdashClient(url, "t", retry=FAST_RETRY) as c:
        answer = await c.validate_project("p")
    with pytest.raises(ContentShapeError, match=r"project validator of Staging: .*`error`"):
        read_rows(answer, "Staging")
