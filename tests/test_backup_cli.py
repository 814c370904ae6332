"""`omnimigrate backup` and `snapshots` as a user runs them: subprocesses, a fake on loopback,
a SIGKILL midway."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from omnimigrate.engine.checkpoints import StoreCheckpoints
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.manifest import instance_slug
from omnimigrate.snapshot.store import LocalStore, Store, open_store
from tests.backup_helpers import exported, inventory
from tests.conftest import s3_client
from tests.test_cli import run


@pytest.fixture
def served():
    def serve(documents: int, seed: int = 21):
        scenario = generate(ScenarioSpec(documents=documents, seed=seed))
        fake = FakeOmni(scenario.state, FakeSettings(rate_limit=None))
        fake.start_in_thread()
        started.append(fake)
        return fake, scenario

    started: list[FakeOmni] = []
    yield serve
    for fake in started:
        fake.stop_thread()
        assert [str(v) for v in fake.violations] == []


def env_for(scenario, tmp_path: Path) -> dict[str, str]:
    return {
        "OMNI_SOURCE_TOKEN": scenario.org_token,
        "OMNIMIGRATE_CACHE_DIR": str(tmp_path / "cache"),
        "OMNIMIGRATE_RETRY_BASE_DELAY": "0.01",
        "OMNIMIGRATE_RETRY_MAX_DELAY": "0.1",
    }


def export_ids(keys: list[str]) -> set[str]:
    return {k.split("|id=")[1].split("|")[0] for k in keys if k.startswith("export|")}


def finished_exports(store: Store, cache: Path) -> set[str]:
    """Exports the run's checkpoint ledger records as finished (SQLite locally, S3 segments)."""
    if isinstance(store, LocalStore):
        keys = []
        for db in cache.rglob("*.sqlite"):
            with sqlite3.connect(db) as conn:
                keys += [k for (k,) in conn.execute("SELECT key FROM done")]
        return export_ids(keys)
    prefixes = {k.rsplit("/", 1)[0] for k in store.list("runs/") if "/ledger/" in k}
    return export_ids([k for p in prefixes for k, _ in StoreCheckpoints(store, p).results()])


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_sigkill_midway_then_rerun_finishes_the_same_snapshot(
    served, tmp_path, kind, moto_endpoint
):
    fake, scenario = served(300)
    env = env_for(scenario, tmp_path)
    if kind == "local":
        store: Store = LocalStore(tmp_path / "store")
        url, clean_url = str(tmp_path / "store"), str(tmp_path / "clean")
    else:
        client = s3_client(moto_endpoint)
        bucket = f"omnimigrate-kill-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=bucket)
        store = open_store(f"s3://{bucket}/dr", s3_client=client)
        url, clean_url = f"s3://{bucket}/dr", f"s3://{bucket}/clean"
        env |= {
            "AWS_ENDPOINT_URL": moto_endpoint,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    env["OMNIMIGRATE_RATE_PERIOD"] = "1"  # 200 a second; a takeover waits out one window
    args = ["backup", "--source", fake.url, "--store", url, "--rate-limit", "200"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnimigrate", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    # a local ledger commits each job; the S3 one in segments of 200 jobs or 5 s
    while len(finished_exports(store, tmp_path / "cache")) < (60 if kind == "local" else 1):
        assert proc.poll() is None, "the backup ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = finished_exports(store, tmp_path / "cache")
    calls_before = len(exported(fake))
    marker = json.loads(store.get(f"runs/{instance_slug(fake.url)}/open.json"))
    assert Catalog(store).refs() == []  # nothing visible as a snapshot yet

    resumed = run(*args, env=env)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    again = exported(fake)[calls_before:]
    assert len(again) >= 50  # the kill left real work to resume
    assert not set(again) & done_before  # no finished export is repeated
    refs = Catalog(store).refs()
    assert [r.snapshot_id for r in refs] == [marker["snapshot_id"]]  # the same snapshot

    clean_args = [*args[:3], "--store", clean_url, *args[5:]]
    clean = run(*clean_args, env={**env, "OMNIMIGRATE_CACHE_DIR": str(tmp_path / "cache2")})
    assert clean.returncode == 0, clean.stderr[-2000:]
    reference = Catalog(open_store(clean_url, s3_client=getattr(store, "client", None))).latest(
        refs[0].instance
    )
    assert reference is not None and inventory(Catalog(store).load(refs[0])) == inventory(reference)


def test_partial_snapshot_exits_3_with_report_and_snapshots_commands(served, tmp_path):
    fake, scenario = served(30, seed=8)
    broken = next(d for d in scenario.state.documents.values() if not d.deleted)
    broken.settings["exportRefusal"] = {"status": 503, "detail": "Service unavailable"}
    env = env_for(scenario, tmp_path)
    store = str(tmp_path / "store")
    report = tmp_path / "report.json"
    result = run(
        "backup", "--source", fake.url, "--store", store, "--report", str(report),
        "--rate-limit", "6000", env=env,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr[-2000:]
    assert f"FAILED export {broken.identifier}" in result.stdout
    summary = json.loads(report.read_text())
    assert summary["status"] == "partial" and summary["failures"][0]["object"] == broken.identifier
    ((_key, stats),) = summary["keys"].items()
    preflight = fake.log.count("GET", "/api/scim/v2/Users") - 1  # before the run; its own one
    assert preflight == 1  # one request per key before anything is opened
    assert stats["requests"] + preflight == len(fake.log.records) and stats["throttled"] == 0
    assert scenario.org_token not in result.stdout + result.stderr + report.read_text()

    listed = run("snapshots", "list", "--store", store, "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    (row,) = json.loads(listed.stdout)
    assert row["status"] == "partial" and row["failures"] == 1
    shown = run("snapshots", "show", "latest", "--store", store, "--json", env=env)
    info = json.loads(shown.stdout)
    assert info["snapshot"] == row["snapshot"] and info["counts"]["document"] == 30
    table = run("snapshots", "list", "--store", store, env=env)
    assert row["snapshot"][:9] in table.stdout and "partial" in table.stdout


def test_usage_errors_exit_2_and_name_the_fix(served, tmp_path):
    fake, scenario = served(5)
    missing = run("backup", "--source", fake.url, "--store", str(tmp_path / "s"))
    assert missing.returncode == 2 and "OMNI_SOURCE_TOKEN" in missing.stderr
    bad = run("backup", "--source", fake.url, "--rate-limit", "0", env=env_for(scenario, tmp_path))
    assert bad.returncode == 2 and "--rate-limit" in bad.stderr
    (tmp_path / "s").mkdir()
    unknown = run("snapshots", "show", "nope", "--store", str(tmp_path / "s"))
    assert unknown.returncode == 2 and "no committed snapshot 'nope'" in unknown.stderr
