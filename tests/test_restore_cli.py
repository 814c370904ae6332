"""`plan`, `restore`, `migrate` and `verify` as a user runs them, including a SIGKILL."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.snapshot.store import LocalStore
from tests.test_cli import run
from tests.test_restore import no_duplicates


@pytest.fixture
def pair(tmp_path):
    """A source fake with a snapshot of it in a local store, and an empty standby fake."""
    started: list[FakeOmni] = []

    def make(documents: int, seed: int = 31, *, exportable: bool = False, **standby_kw):
        scenario = generate(ScenarioSpec(documents=documents, seed=seed))
        if exportable:  # no document Omni refuses to export: nothing blocked
            for doc in scenario.state.documents.values():
                doc.settings.pop("exportRefusal", None)
        spare = standby(scenario.state, **standby_kw)
        for state in (scenario.state, spare.state):
            fake = FakeOmni(state, FakeSettings(rate_limit=None))
            fake.start_in_thread()
            started.append(fake)
        source, target = started[-2:]
        env = {
            "OMNI_SOURCE_TOKEN": scenario.org_token,
            "OMNI_TARGET_TOKEN": spare.org_token,
            "OMNIMIGRATE_CACHE_DIR": str(tmp_path / "cache"),
            "OMNIMIGRATE_STORE": str(tmp_path / "store"),
            "OMNIMIGRATE_RETRY_BASE_DELAY": "0.01",
        }
        backup = run("backup", "--source", source.url, "--rate-limit", "100000", env=env)
        assert backup.returncode == 0, backup.stderr[-2000:]
        return source, target, env

    yield make
    for fake in started:
        fake.stop_thread()
        assert [str(v) for v in fake.violations] == []


def kill_after(args: list[str], env: dict[str, str], segments, count: int) -> None:
    """Run omnimigrate, SIGKILL it once its restore ledger holds `count` records."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnimigrate", *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while len(list(segments.rglob("segments/*.json"))) < count:
        assert proc.poll() is None, "the restore ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_sigkill_midway_then_rerun_reaches_the_same_end_state(pair, tmp_path):
    _, target, env = pair(150)
    args = ["restore", "--target", target.url, "--rate-limit", "12000", "--models"]
    kill_after(args, env, tmp_path / "store" / "restores", 150)
    imported_before = len([d for d in target.state.documents.values() if not d.deleted])
    assert 0 < imported_before < 140

    resumed = run(*args, env=env)
    assert resumed.returncode == 3, resumed.stderr[-2000:]  # 3: the unexportable document
    assert "BLOCKED document:" in resumed.stdout and "FAILED" not in resumed.stdout
    no_duplicates(target.state)
    verify = run("verify", "--against", target.url, "--models", "--rate-limit", "100000", env=env)
    assert verify.returncode == 0, verify.stdout[-3000:]
    assert "100.0 %" in verify.stdout and "documents" in verify.stdout

    writes = len(target.log.writes())
    again = run(*args, env=env)
    assert again.returncode == 3 and len(target.log.writes()) == writes  # zero writes


@pytest.mark.slow
def test_a_killed_restore_of_a_saved_plan_resumes_with_the_same_command(pair, tmp_path):
    _, target, env = pair(120, seed=43, exportable=True)
    env = {**env, "OMNIMIGRATE_RATE_LIMIT": "12000"}
    plan_file = tmp_path / "plan.json"
    assert run("plan", "--target", target.url, "--out", str(plan_file), env=env).returncode == 0
    args = ["restore", "--target", target.url, "--plan", str(plan_file)]
    kill_after(args, env, tmp_path / "store" / "restores", 120)
    assert 0 < len(target.state.documents) < 115

    resumed = run(*args, env=env)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-2000:]
    assert "0 failed, 0 blocked" in resumed.stdout
    no_duplicates(target.state)
    verify = run("verify", "--against", target.url, env=env)
    assert verify.returncode == 0 and "100.0 %" in verify.stdout, verify.stdout[-3000:]

    # someone else's change is still drift, named
    target.state.labels["drift"] = type(next(iter(target.state.labels.values())))(name="Drift")
    refused = run(*args, env=env)
    assert refused.returncode == 1 and "labels: +drift" in refused.stderr


def test_acknowledged_blocked_actions_stop_turning_exit_0_into_3(pair, tmp_path):
    _, target, env = pair(12, seed=53)
    env = {**env, "OMNIMIGRATE_RATE_LIMIT": "100000"}
    first = run("restore", "--target", target.url, env=env)
    assert first.returncode == 3
    blocked = re.findall(r"^  BLOCKED (.+?): ", first.stdout, flags=re.M)
    assert blocked, first.stdout
    accepted = tmp_path / "accepted.txt"
    accepted.write_text("# the export Omni refuses; we know\n" + "\n".join(blocked) + "\n")
    again = run("restore", "--target", target.url, "--accept-blocked", str(accepted), env=env)
    assert again.returncode == 0, again.stdout[-2000:]
    assert f"({len(blocked)} blocked acknowledged in {accepted})" in again.stdout
    assert "(acknowledged)" in again.stdout
    partly = tmp_path / "partly.txt"
    partly.write_text("nothing:matches\n")
    assert (
        run("restore", "--target", target.url, "--accept-blocked", str(partly), env=env).returncode
        == 3
    )


def test_plan_out_then_restore_plan_refuses_drift(pair, tmp_path):
    source, target, env = pair(20, seed=37)
    plan_file = tmp_path / "plan.json"
    env = {**env, "OMNIMIGRATE_RATE_LIMIT": "100000"}
    shown = run("plan", "--target", target.url, "--out", str(plan_file), env=env)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "Plan:" in shown.stdout and "document.import" in shown.stdout
    assert target.log.writes() == []  # plan writes nothing
    as_json = json.loads(run("plan", "--target", target.url, "--json", env=env).stdout)
    assert {a["op"] for a in as_json["actions"]} >= {"create", "blocked"}

    target.state.labels["drift"] = target.state.labels.get("drift") or type(
        next(iter(source.state.labels.values()))
    )(name="Drift")
    refused = run("restore", "--target", target.url, "--plan", str(plan_file), env=env)
    assert refused.returncode == 1 and "labels: +drift" in refused.stderr
    assert target.log.writes() == []

    del target.state.labels["drift"]
    applied = run("restore", "--target", target.url, "--plan", str(plan_file), "--report",
                  str(tmp_path / "r.json"), env=env)  # fmt: skip
    assert applied.returncode == 3, applied.stderr[-2000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["counts"]["done"] > 20 and report["counts"]["failed"] == 0
    assert env["OMNI_TARGET_TOKEN"] not in applied.stdout + applied.stderr


def test_migrate_backs_up_and_restores_and_verify_fails_on_a_difference(pair, tmp_path):
    source, target, env = pair(15, seed=41)
    env = {
        **env,
        "OMNIMIGRATE_STORE": str(tmp_path / "migrate-store"),
        "OMNIMIGRATE_RATE_LIMIT": "100000",
    }
    migrated = run(
        "migrate", "--source", source.url, "--target", target.url, "--rate-limit", "100000", env=env
    )
    assert migrated.returncode == 3, migrated.stderr[-2000:]
    assert len(list(LocalStore(tmp_path / "migrate-store").list("snapshots/"))) == 1
    ok = run("verify", "--against", target.url, "--rate-limit", "100000", env=env)
    assert ok.returncode == 0, ok.stdout[-2000:]
    label = next(iter(target.state.labels.values()))
    label.verified = not label.verified
    bad = run("verify", "--against", target.url, "--json", "--rate-limit", "100000", env=env)
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["labels"]["differences"][0].startswith(label.name)


def test_bad_model_map_and_missing_token_are_usage_errors(pair, tmp_path):
    _, target, env = pair(5, seed=43)
    bad = tmp_path / "map.yaml"
    bad.write_text("- not a mapping\n")
    result = run("plan", "--target", target.url, "--model-map", str(bad), env=env)
    assert result.returncode == 2 and "must be a YAML mapping" in result.stderr
    no_token = {k: v for k, v in env.items() if k != "OMNI_TARGET_TOKEN"}
    result = run("restore", "--target", target.url, env=no_token)
    assert result.returncode == 2 and "OMNI_TARGET_TOKEN" in result.stderr


def test_plan_lists_what_unmapped_identities_block_and_restore_exits_3(pair):
    _, target, env = pair(25, seed=53, skip_users=3)
    env = {**env, "OMNIMIGRATE_RATE_LIMIT": "100000"}
    shown = run("plan", "--target", target.url, env=env)
    assert shown.returncode == 0 and "is not on the target (create it there" in shown.stdout
    assert target.log.writes() == []
    restored = run("restore", "--target", target.url, env=env)
    assert restored.returncode == 3, restored.stderr[-2000:]
    assert "BLOCKED" in restored.stdout and "FAILED" not in restored.stdout
    assert len([d for d in target.state.documents.values() if not d.deleted]) > 15


@pytest.mark.slow
def test_plan_estimates_the_restore_it_describes(pair, tmp_path):
    """`plan` says how many requests and minutes the restore will take at the key's rate;
    the restore then sends about that many."""
    _, target, env = pair(30, seed=41)
    keys = {**env, "OMNI_TARGET_TOKEN_2": env["OMNI_TARGET_TOKEN"]}  # the same key twice
    shown = run("plan", "--target", target.url, "--target-token-env", "OMNI_TARGET_TOKEN",
                "--target-token-env", "OMNI_TARGET_TOKEN_2", "--rate-limit", "120", env=keys)  # fmt: skip
    assert shown.returncode == 0, shown.stderr[-2000:]
    found = re.search(
        r"Restore: about (\d+) requests, about (\d+) minutes? at 120/min with 2 keys", shown.stdout
    )
    assert found, shown.stdout[-1500:]
    estimate, minutes = int(found[1]), int(found[2])
    assert minutes == round(estimate / 240)
    reads = len(target.log.records)  # the plan's reading of the target
    done = run("restore", "--target", target.url, "--rate-limit", "100000", env=env)
    assert done.returncode in (0, 3), done.stderr[-2000:]
    applied = len(target.log.records) - 2 * reads  # the restore reads the target again
    assert abs(applied - estimate) <= 0.15 * estimate, (applied, estimate)
    assert re.search(r"key [0-9a-f]{10}: \d+ requests \(0 answered 429\)", done.stdout)
