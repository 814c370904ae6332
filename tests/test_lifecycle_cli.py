"""Lifecycle commands as an operator runs them: concurrent backups and a stale lock,
encrypted snapshots restored with the right and the wrong key, verify and prune."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aiohttp import web

from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.platforms.omni.fake.state import OrgState
from omnimigrate.snapshot.blobs import blob_key
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.manifest import instance_slug
from omnimigrate.snapshot.store import LocalStore
from tests.test_cli import run
from tests.test_first_contact import one_line_error
from tests.test_restore_cli import pair  # noqa: F401  (the fixture)


@pytest.mark.slow
def test_two_backups_at_once_one_waits_and_a_killed_holder_is_taken_over(pair, tmp_path):  # noqa: F811
    source, _, env = pair(120, seed=71)
    env = {
        **env,
        "OMNIMIGRATE_STORE": str(tmp_path / "locked"),
        "OMNIMIGRATE_LOCK_TTL": "4",
        "OMNIMIGRATE_RATE_PERIOD": "1",
    }
    args = ["backup", "--source", source.url, "--rate-limit", "100"]
    holder = subprocess.Popen(
        [sys.executable, "-m", "omnimigrate", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    lock = tmp_path / "locked" / "locks" / f"{source.url.split('//')[1].replace(':', '-')}.json"
    deadline = time.monotonic() + 60
    while not lock.exists():
        assert holder.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    second = run(*args, env=env)
    assert second.returncode == 1 and "is locked by run-" in second.stderr
    assert "snapshots unlock" in second.stderr

    holder.send_signal(signal.SIGKILL)
    holder.wait()
    # on this host a dead holder's lock is taken over at once (the backup SIGKILL tests show
    # it); a holder on another host (a pod elsewhere) holds it until its lease runs out
    # The lease is written outright rather than waited out: one still running, then one run out.
    info = {**json.loads(lock.read_text()), "host": "omnimigrate-cronjob-elsewhere"}
    lock.write_text(json.dumps({**info, "expires_at": time.time() + 300}))
    elsewhere = run(*args, env=env)
    assert elsewhere.returncode == 1 and "host omnimigrate-cronjob-elsewhere" in elsewhere.stderr
    lock.write_text(json.dumps({**info, "expires_at": time.time() - 1}))
    taken = run("--log-format", "json", *args, env=env)
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert '"lock.takeover"' in taken.stderr and '"backup.resume"' in taken.stderr
    assert len(Catalog(LocalStore(tmp_path / "locked")).refs()) == 1
    assert not lock.exists()  # released at the end


class UnlocksMidRun(FakeOmni):
    """A fake Omni that, answering its `after`-th document export, removes the backup's lock
    file (as `snapshots unlock` run from elsewhere would)."""

    def __init__(self, state: OrgState, store: Path, after: int) -> None:
        super().__init__(state, FakeSettings(rate_limit=None))
        self.store, self.after, self.exports = store, after, 0

    def _record(
        self, key: str, request: web.Request, route: str, status: int, fault: str | None
    ) -> None:
        super()._record(key, request, route, status, fault)
        if route.endswith("/export") and status == 200:
            self.exports += 1
            if self.exports == self.after:
                (self.store / "locks" / f"{instance_slug(self.url)}.json").unlink()


def test_a_backup_whose_lock_is_removed_exits_1_and_commits_nothing(tmp_path):
    scenario = generate(ScenarioSpec(documents=12, seed=73))
    store = tmp_path / "store"
    source = UnlocksMidRun(scenario.state, store, after=4)
    source.start_in_thread()
    env = {"OMNI_SOURCE_TOKEN": scenario.org_token, "OMNIMIGRATE_STORE": str(store),
           "OMNIMIGRATE_CACHE_DIR": str(tmp_path / "cache"), "OMNIMIGRATE_RATE_LIMIT": "100000",
           "OMNIMIGRATE_RETRY_BASE_DELAY": "0.01"}  # fmt: skip
    try:
        lost = run("backup", "--source", source.url, env=env)
        assert lost.returncode == 1, lost.stderr[-2000:]
        line = one_line_error(lost)
        assert f"lost the lock locks/{instance_slug(source.url)}.json in {store}" in line
        assert "(it was removed)" in line and "run the same command again" in line
        listed = run("snapshots", "list", "--json", env=env)
        assert listed.returncode == 0 and json.loads(listed.stdout) == []
        again = run("--log-format", "json", "backup", "--source", source.url, env=env)
        assert again.returncode == 0 and '"backup.resume"' in again.stderr, again.stderr[-2000:]
        assert len(json.loads(run("snapshots", "list", "--json", env=env).stdout)) == 1
    finally:
        source.stop_thread()
    assert [str(v) for v in source.violations] == []


@pytest.mark.slow
def test_encrypted_snapshot_restores_with_its_key_and_fails_cleanly_without_it(pair, tmp_path):  # noqa: F811
    source, target, env = pair(15, seed=73)
    key = base64.b64encode(os.urandom(32)).decode()
    env = {**env, "OMNIMIGRATE_STORE": str(tmp_path / "sealed"), "OMNIMIGRATE_RATE_LIMIT": "100000"}
    sealed = {**env, "OMNIMIGRATE_ENCRYPTION_KEY": key}
    made = run("backup", "--source", source.url, env=sealed)
    assert made.returncode == 0, made.stderr[-2000:]
    assert key not in made.stdout + made.stderr
    store = LocalStore(tmp_path / "sealed")
    manifest = Catalog(store).latest(Catalog(store).refs()[0].instance)
    blob = next(o.blob for o in manifest.objects if o.type == "document_export" and o.blob)
    raw = store.get(blob_key(blob))
    assert b"exportVersion" not in raw and manifest.encryption.startswith("aes-256-gcm key ")

    wrong = {**env, "OMNIMIGRATE_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode()}
    refused = run("restore", "--target", target.url, env=wrong)
    assert refused.returncode == 1 and "wrong encryption key" in refused.stderr
    missing = run("restore", "--target", target.url, env=env)
    assert missing.returncode == 1 and "OMNIMIGRATE_ENCRYPTION_KEY" in missing.stderr
    malformed = run(
        "restore", "--target", target.url, env={**env, "OMNIMIGRATE_ENCRYPTION_KEY": "hunter2"}
    )
    assert malformed.returncode == 2 and "openssl rand -base64 32" in malformed.stderr
    assert target.log.writes() == []  # nothing reached the target

    restored = run("restore", "--target", target.url, env=sealed)
    assert restored.returncode == 3 and "FAILED" not in restored.stdout, restored.stderr[-2000:]
    assert run("snapshots", "verify", "latest", env=sealed).returncode == 0


def test_verify_and_prune_commands(pair, tmp_path):  # noqa: F811
    source, _, env = pair(10, seed=79)
    for _ in range(2):
        assert (
            run("backup", "--source", source.url, "--rate-limit", "100000", env=env).returncode == 0
        )
    listed = json.loads(run("snapshots", "list", "--json", env=env).stdout)
    assert len(listed) == 3  # the fixture's backup and these two
    ok = run("snapshots", "verify", "--all", env=env)
    assert ok.returncode == 0 and "no faults" in ok.stdout
    store = LocalStore(tmp_path / "store")
    victim = next(iter(store.list("blobs/")))
    store.put(victim, b"garbage")
    bad = run("snapshots", "verify", "--all", "--json", env=env)
    assert bad.returncode == 1 and json.loads(bad.stdout)["faults"]
    store.delete(victim)

    config = tmp_path / "config.yaml"
    config.write_text("retention:\n  keep_last: 1\ngc_grace_seconds: 0\n")
    dry = run("--config", str(config), "snapshots", "prune", "--dry-run", env=env)
    assert dry.returncode == 0 and dry.stdout.count("would forget") == 2
    assert len(json.loads(run("snapshots", "list", "--json", env=env).stdout)) == 3
    done = run("--config", str(config), "snapshots", "prune", "--json", env=env)
    assert done.returncode == 0 and len(json.loads(done.stdout)["forgotten"]) == 2
    assert [
        r["snapshot"] for r in json.loads(run("snapshots", "list", "--json", env=env).stdout)
    ] == [listed[-1]["snapshot"]]
    assert run("snapshots", "prune", env=env).returncode == 2  # no rule given: a usage error


def test_a_damaged_snapshot_is_refused_before_the_target_is_touched(pair, tmp_path):  # noqa: F811
    _, target, env = pair(8, seed=83)
    store = LocalStore(tmp_path / "store")
    victim = next(iter(store.list("blobs/")))
    store.put(victim, store.get(victim)[:-3])
    result = run("restore", "--target", target.url, "--rate-limit", "100000", env=env)
    assert result.returncode == 1 and victim in result.stderr
    assert target.log.writes() == []
    manifest = next(k for k in store.list("snapshots/") if k.endswith("manifest.json"))
    store.put(manifest, b'{"format_version": 9}')
    result = run("restore", "--target", target.url, env=env)
    assert (
        result.returncode == 1 and "format version 9" in result.stderr and manifest in result.stderr
    )
    assert target.log.writes() == []
