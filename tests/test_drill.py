"""DR drills and content checks, Omni: the content validator at backup and after restore, a
drill's figures, drill.json and drill.html (rendered in a real headless Chromium), and
`omnimigrate drill` as a CronJob runs it."""

from __future__ import annotations

import html.parser
import itertools
import json
import os
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest

from omnimigrate.cli.target import Acknowledged
from omnimigrate.engine.drill import (
    Drill,
    DrillReport,
    list_drills,
    save_drill,
    within_tolerance,
)
from omnimigrate.engine.drill_html import render_drill
from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeSettings
from omnimigrate.platforms.omni.options import OmniRestoreOptions
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.store import LocalStore
from tests.backup_helpers import backup
from tests.conftest import client_for, samples_of
from tests.test_cli import run
from tests.test_events import pushgateway
from tests.test_restore_cli import pair  # noqa: F401  (the fixture)

MISSING = "customers.name"  # Sales' own customers view has it; Marketing's (the schema's) not
STALE = "orders.old_field"  # no model has it: broken at the source already


def model_id(state, name: str) -> str:
    return next(m.id for m in state.models.values() if m.name == name)


def use_field(doc, field: str) -> None:
    first = sorted(doc.export["queryModels"])[0]
    doc.export["queryModels"][first]["fields"].append(field)


async def backed_up(start_fake, tmp_path, scenario):
    source = await start_fake(scenario.state)
    store = LocalStore(tmp_path / "store")
    await backup(source, store, tmp_path / "cache", [scenario.org_token])
    return store, source


async def test_a_model_map_onto_a_model_lacking_a_field_reports_exactly_its_documents(
    start_fake, tmp_path
):
    scenario = generate(ScenarioSpec(documents=20))
    sales = model_id(scenario.state, "Sales")
    on_sales = sorted(
        (d for d in scenario.state.documents.values() if d.model_id == sales and not d.deleted
         and "exportRefusal" not in d.settings),
        key=lambda d: d.identifier,
    )  # fmt: skip
    broken, stale = on_sales[:3], on_sales[3]
    for doc in broken:
        use_field(doc, MISSING)
    use_field(stale, STALE)
    spare = standby(scenario.state)
    store, _ = await backed_up(start_fake, tmp_path, scenario)
    snap = open_snapshot(store, "latest")
    assert snap.source.content["warehouse/SHARED/Sales"].issues.keys() == {stale.identifier}

    target = await start_fake(spare.state)
    marketing = model_id(spare.state, "Marketing")
    options = OmniRestoreOptions(models=True, model_map={sales: marketing})
    async with client_for(target, spare.org_token) as client:
        plan = await plan_restore(snap, [client], options)
        result = await apply_plan(snap, plan, [client])
        assert result.by_status("failed") == []
        report = await snap.platform.check_content(snap.source, [client], options)

    assert [i.key for i in report.new] == sorted(d.identifier for d in broken)
    assert all(any(MISSING in m for m in i.issues) for i in report.new)
    assert [i.key for i in report.carried] == [stale.identifier]
    assert report.fixed == []
    assert "warehouse/SHARED/Marketing" in report.scopes
    assert target.log.paths("GET", "/api/v1/models/{modelId}/content-validator")


async def test_a_refused_validator_is_a_warning_at_backup_never_a_failure(start_fake, tmp_path):
    scenario = generate(ScenarioSpec(documents=10))
    refuse = {"/api/v1/models/{modelId}/content-validator": (403, "Permission denied")}
    source = await start_fake(scenario.state, FakeSettings(rate_limit=None, refuse=refuse))
    store = LocalStore(tmp_path / "store")
    outcome = await backup(source, store, tmp_path / "cache", [scenario.org_token])
    assert outcome.manifest.status == "complete"
    snap = open_snapshot(store, "latest")
    assert snap.source.content == {}
    assert any("403" in w for w in snap.source.content_warnings)


def test_rto_within_a_quarter_of_the_estimate():
    assert within_tolerance(12.4, 10.0)
    assert within_tolerance(7.5, 10.0)
    assert not within_tolerance(12.6, 10.0)
    assert not within_tolerance(7.4, 10.0)
    assert within_tolerance(0.2, 0.0) and not within_tolerance(3.0, 0.0)


class FakeClock:
    """Monotonic seconds that advance by `step` on every reading: a drill's durations
    without waiting for them."""

    def __init__(self, step: float) -> None:
        self._ticks = itertools.count()
        self.step = step

    def __call__(self) -> float:
        return next(self._ticks) * self.step


async def drill_of_demo_standby(
    start_fake, tmp_path, pause_schedules: bool = False
) -> tuple[DrillReport, LocalStore]:
    scenario = generate(ScenarioSpec(documents=12))
    spare = standby(scenario.state)
    store, _ = await backed_up(start_fake, tmp_path, scenario)
    snap = open_snapshot(store, "latest")
    catalog = Catalog(store)
    manifest = catalog.load(catalog.resolve("latest"))
    target = await start_fake(spare.state)
    # what nobody can fix on this standby, acknowledged as `--accept-blocked` would: the
    # git-follower model's YAML, and the document whose export the source refuses
    refused = next(d for d in scenario.state.documents.values() if "exportRefusal" in d.settings)
    accepted = tmp_path / "accepted.txt"
    accepted.write_text(f"model:*/dbt Core:yaml\n*:{refused.identifier}*\n")
    start = manifest.finished_at + timedelta(hours=5)
    stamps = (start + timedelta(seconds=n) for n in itertools.count())
    drill = Drill(
        snap, manifest, OmniRestoreOptions(models=True, pause_schedules=pause_schedules),
        rate=3000, period=60.0,
        acknowledged=Acknowledged(accepted).__contains__, clock=FakeClock(1.0),
        now=lambda: next(stamps),
    )  # fmt: skip
    async with client_for(target, spare.org_token) as client:
        report, _ = await drill.run([client])
    if pause_schedules:  # a drill's standby must not send the source's deliveries
        assert target.state.schedules and all(
            s.disabled_at for s in target.state.schedules.values()
        )
    return report, store


async def test_a_drill_of_the_demo_standby_is_100_percent_with_no_new_content_issues(
    start_fake, tmp_path
):
    report, store = await drill_of_demo_standby(start_fake, tmp_path)
    assert report.fidelity_percent == 100.0
    assert all(t.percent == 100.0 for t in report.fidelity.values()) and report.fidelity
    assert report.content.new == [] and report.content.checked > 0
    assert report.blocked and all(b.acknowledged for b in report.blocked)
    assert report.ok
    assert report.rpo_seconds == 5 * 3600  # the injected clock: 5 h after the snapshot
    assert report.restore.wall_seconds == 1.0  # one tick between the apply's readings
    assert report.restore.estimate_requests > 0 and report.restore.counts["done"] > 0
    assert report.keys and all(k.requests > 0 for k in report.keys.values())
    folder = save_drill(store, report, render_drill(report))
    assert store.exists(f"{folder}/drill.html")
    report.fidelity["documents"].differences.append("<script>x</script>: missing")
    assert "&lt;script&gt;x" in render_drill(report) and "<script>" not in render_drill(report)
    report.fidelity["documents"].differences.pop()
    assert list_drills(store) == [report]
    assert DrillReport.model_validate_json(store.get(f"{folder}/drill.json")) == report


async def test_a_drill_that_pauses_the_schedules_expects_them_paused(start_fake, tmp_path):
    """`--pause-schedules` is the restore's promise: verify holds the standby to it, so the
    drill is still 100 %, where comparing with the snapshot's active schedules would fail."""
    report, _ = await drill_of_demo_standby(start_fake, tmp_path, pause_schedules=True)
    assert report.fidelity["schedules"].checked > 0
    assert report.fidelity_percent == 100.0, report.fidelity["schedules"].differences


class DomReader(html.parser.HTMLParser):
    """Text by element id, and the fidelity table's percent per object type."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.percent: dict[str, float] = {}
        self._open: list[str | None] = []
        self._row: str | None = None
        self._in_percent = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "tr" and "data-type" in a:
            self._row = a["data-type"]
        self._in_percent = a.get("class") == "percent" and self._row is not None
        self._open.append(a.get("id"))

    def handle_endtag(self, tag):
        if self._open:
            self._open.pop()
        if tag == "tr":
            self._row = None

    def handle_data(self, data):
        current = next((i for i in reversed(self._open) if i), None)
        if current:
            self.by_id[current] = self.by_id.get(current, "") + data
        if self._in_percent and self._row and data.strip():
            self.percent[self._row] = float(data)
            self._in_percent = False


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "chromium is not installed: .ci/run installs Debian's package"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}"]  # fmt: skip
    return subprocess.run(
        [binary, *flags, *args], capture_output=True, text=True, timeout=90, check=True,
        env={**os.environ, "HOME": str(profile)},
    )  # fmt: skip


@pytest.mark.slow
async def test_drill_html_in_headless_chromium_shows_what_drill_json_holds(start_fake, tmp_path):
    report, store = await drill_of_demo_standby(start_fake, tmp_path)
    folder = save_drill(store, report, render_drill(report))
    page = tmp_path / "store" / folder / "drill.html"
    text = page.read_text()  # self-contained: nothing to fetch, nothing to run
    assert not [x for x in ("src=", "href=", "@import", "url(", "<script", "<link") if x in text]
    url = page.as_uri()
    dom = chromium("--dump-dom", url, profile=tmp_path / "profile-dom").stdout
    shot = tmp_path / "drill.png"
    chromium(f"--screenshot={shot}", "--window-size=1100,1500", "--hide-scrollbars", url,
             profile=tmp_path / "profile-shot")  # fmt: skip
    assert shot.stat().st_size > 10_000
    if os.environ.get("OMNIMIGRATE_DRILL_SCREENSHOT"):  # the copy kept in docs/
        shutil.copy(shot, os.environ["OMNIMIGRATE_DRILL_SCREENSHOT"])

    saved = DrillReport.model_validate_json(store.get(f"{folder}/drill.json"))
    read = DomReader()
    read.feed(dom)
    assert read.percent == {k: t.percent for k, t in saved.fidelity.items()}
    assert float(read.by_id["rto-seconds"]) == saved.restore.wall_seconds
    assert float(read.by_id["rto-estimate-seconds"]) == saved.restore.estimate_seconds
    assert float(read.by_id["rpo-seconds"]) == saved.rpo_seconds
    assert int(read.by_id["new-issues"]) == len(saved.content.new)
    assert read.by_id["snapshot-id"] == saved.snapshot_id
    assert read.by_id["verdict"] == "PASSED"


def test_the_drill_command_keeps_its_evidence_beside_the_snapshot_and_pushes_its_gauges(
    pair,  # noqa: F811
    tmp_path,
):
    source, target, env = pair(12, seed=61)
    refused = next(d for d in source.state.documents.values() if "exportRefusal" in d.settings)
    (snapshot_dir,) = (tmp_path / "store" / "snapshots").glob("*/*")
    instance, snapshot_id = snapshot_dir.parent.name, snapshot_dir.name
    config = tmp_path / "config.yaml"
    with pushgateway() as (url, pushed):
        config.write_text(json.dumps({
            "rate_limit": 100_000,
            "instances": {"standby": {"url": target.url, "token_env": ["OMNI_TARGET_TOKEN"]}},
            # the export the source refuses, acknowledged by the config as the chart's is
            "service": {"pushgateway": url, "restore_targets": {
                "standby": {"accept_blocked": [f"*:{refused.identifier}*"]}}},
        }))  # fmt: skip
        drill = run("--config", str(config), "drill", "--target", "standby", env=env)
    assert drill.returncode == 0, drill.stdout[-3000:] + drill.stderr[-2000:]
    assert "passed" in drill.stdout and "(acknowledged)" in drill.stdout

    (evidence,) = snapshot_dir.glob("drills/*/drill.json")
    assert (evidence.parent / "drill.html").stat().st_size > 0
    report = DrillReport.model_validate_json(evidence.read_text())
    assert (report.instance, report.snapshot_id, report.target_url) == (
        instance, snapshot_id, target.url,
    )  # fmt: skip
    assert f"{tmp_path / 'store'}/snapshots/{instance}/{snapshot_id}/drills/" in drill.stdout
    listed = run("snapshots", "drills", "--json", env=env)
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert json.loads(listed.stdout) == [{
        "drill": report.drill_id, "instance": instance, "snapshot": snapshot_id,
        "target": target.url, "passed": True, "rpo_seconds": report.rpo_seconds,
        "rto_seconds": report.rto_seconds, "estimate_seconds": report.restore.estimate_seconds,
        "fidelity_percent": 100.0, "new_content_issues": 0,
    }]  # fmt: skip

    ((path, body),) = pushed
    assert path == "/metrics/job/omnimigrate-drill"
    samples = samples_of(body)
    pair_labels = f'instance="{instance}",target="standby"'
    assert samples[f"omnimigrate_drill_rpo_seconds{{{pair_labels}}}"] == report.rpo_seconds
    assert samples[f"omnimigrate_drill_rto_seconds{{{pair_labels}}}"] == report.rto_seconds
    assert samples[f"omnimigrate_drill_fidelity_percent{{{pair_labels}}}"] == 100.0
    assert samples[f"omnimigrate_drill_passed{{{pair_labels}}}"] == 1.0


def test_verify_content_on_omni_reports_the_content_checks_in_its_json(pair):  # noqa: F811
    _, target, env = pair(8, seed=67, exportable=True)
    into = ["--target", target.url, "--target-token-env", "OMNI_TARGET_TOKEN",
            "--rate-limit", "100000"]  # fmt: skip
    restored = run("restore", *into, env=env)
    assert restored.returncode == 0, restored.stdout[-2000:] + restored.stderr[-2000:]
    checked = run("verify", *into, "--content", "--json", env=env)
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-2000:]
    content = json.loads(checked.stdout)["content"]
    assert content["new"] == [] and content["checked"] > 0 and content["scopes"]
