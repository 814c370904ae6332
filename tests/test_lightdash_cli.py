"""Lightdash through the CLI, as an operator runs it: backup of one project, restore killed
with SIGKILL midway and run again, verify noticing a tampered target, and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnimigrate.platforms.lightdash.fake import scenario as sc
from omnimigrate.platforms.lightdash.fake.server import FakeLightdash, LightdashSettings
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.store import LocalStore
from tests.test_cli import run
from tests.test_lightdash import duplicates

LD = ("--platform", "lightdash")


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory):
    """A source backed up into a store, and a standby (other uuids) to restore into."""
    scenario = sc.generate()
    spare = sc.standby(scenario.state)
    source = FakeLightdash(scenario.state, LightdashSettings(nested_spaces=True))
    target = FakeLightdash(spare.state, LightdashSettings(nested_spaces=True))
    source.start_in_thread()
    target.start_in_thread()
    store = tmp_path_factory.mktemp("ld") / "store"
    env = {"LIGHTDASH_API_KEY": scenario.token, "LD_TARGET": spare.token}
    done = run("backup", "--source", source.url, *LD, "--project", "Staging", "--store", str(store),
               "--rate-limit", "100000", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    yield scenario, spare, source, target, store, env
    source.stop_thread()
    target.stop_thread()
    assert [str(v) for v in [*source.violations, *target.violations]] == []


def backup(
    source: FakeLightdash, store: Path, env: dict[str, str], *flags: str
) -> subprocess.CompletedProcess[str]:
    return run("backup", "--source", source.url, *LD, "--store", str(store), *flags, env=env)


def restore_args(target: FakeLightdash, store: Path, rate: str = "100000") -> list[str]:
    return ["restore", "--target", target.url, *LD, "--target-token-env", "LD_TARGET",
            "--store", str(store), "--rate-limit", rate]  # fmt: skip


def verify(
    target: FakeLightdash, store: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return run("verify", "--against", target.url, *LD, "--target-token-env", "LD_TARGET",
               "--store", str(store), "--rate-limit", "100000", env=env)  # fmt: skip


@pytest.mark.slow
def test_a_restore_killed_midway_finishes_on_a_rerun_without_duplicates(instances) -> None:
    _, spare, _, target, store, env = instances
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnimigrate", *restore_args(target, store, rate="3000")],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while len(target.log.writes()) < 120 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = len(target.log.writes())
    assert 120 <= written < 300, "killed midway"
    again = run(*restore_args(target, store), env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert duplicates(spare.prod) == []
    checked = verify(target, store, env)
    assert checked.returncode == 0, checked.stdout
    assert "100.0 %" in checked.stdout and "schedulers" in checked.stdout
    before = len(target.log.writes())
    third = run(*restore_args(target, store), env=env)
    assert third.returncode == 0 and len(target.log.writes()) == before


def test_verify_names_a_tampered_space_tile_and_scheduler_target(instances) -> None:
    _, spare, _, target, store, env = instances
    assert run(*restore_args(target, store), env=env).returncode == 0
    project = spare.prod
    space = next(s for s in project.spaces.values() if s.groups)
    group = next(iter(space.groups))
    space.groups[group] = "admin" if space.groups[group] != "admin" else "viewer"
    board = next(d for d in project.dashboards.values() if len(d.content["tiles"]) > 1)
    board.content["tiles"].pop()
    scheduler = next(
        s for s in project.schedulers.values() if any("channel" in t for t in s.targets)
    )
    scheduler.targets = [{"channel": "C-TAMPERED", "uuid": "t"}]
    checked = verify(target, store, env)
    assert checked.returncode == 1
    out = " ".join(checked.stdout.split())
    assert f"Staging:{'/'.join(_path(project, space))}: groups" in out
    assert f"Staging:{board.slug}: tiles" in out
    assert "targets is" in out and "C-TAMPERED" in out


def _path(project, space) -> list[str]:
    chain = [space.name]
    while space.parent:
        space = project.spaces[space.parent]
        chain.insert(0, space.name)
    return chain


def test_a_project_the_instance_does_not_have_fails_in_seconds_naming_its_projects(
    instances, tmp_path: Path
) -> None:
    _, _, source, _, _, env = instances
    done = backup(source, tmp_path / "s", env, "--project", "Nope")
    assert done.returncode != 0
    assert "project 'Nope' is not on" in done.stderr and "Staging (" in done.stderr
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_a_project_on_an_omni_instance_is_refused(tmp_path: Path) -> None:
    done = run("backup", "--source", "https://acme.omniapp.co", "--project", "Staging",
               "--store", str(tmp_path / "s"), env={"OMNI_SOURCE_TOKEN": "x"})  # fmt: skip
    assert done.returncode != 0
    assert "project 'Staging' is a Lightdash setting" in done.stderr


def test_include_is_refused_for_a_lightdash_backup(instances, tmp_path: Path) -> None:
    _, _, source, _, _, env = instances
    done = backup(source, tmp_path / "s", env, "--include", "Finance*")
    assert done.returncode != 0
    assert "--project instead" in done.stderr


def test_the_token_never_reaches_the_output_even_at_debug(instances, tmp_path: Path) -> None:
    scenario, _, source, _, _, env = instances
    done = run("--log-level", "debug", "backup", "--source", source.url, *LD, "--project", "Staging",
               "--store", str(tmp_path / "s"), "--rate-limit", "100000", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "ld_chart" in done.stdout and "/api/v1/projects/{projectUuid}/charts/code" in done.stderr
    assert scenario.token not in done.stdout + done.stderr


def test_omni_only_restore_options_are_refused_naming_why(instances) -> None:
    _, _, _, target, store, env = instances
    for flag, why in ((["--models"], "dbt"),):
        done = run("plan", "--target", target.url, *LD, "--target-token-env", "LD_TARGET",
                   "--store", str(store), *flag, env=env)  # fmt: skip
        assert done.returncode == 2 and why in done.stderr, (flag, done.stderr)


@pytest.mark.slow
def test_the_demo_runs_lightdash_end_to_end(tmp_path: Path) -> None:
    done = run("demo", "--platform", "lightdash", "--documents", "40", "--store", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    for row in ("groups", "project access", "spaces", "charts", "dashboards", "schedulers"):
        assert any(
            line.split("│")[1].strip() == row and "100.0 %" in line
            for line in done.stdout.splitlines()
            if "│" in line
        ), row
    assert "second restore: 0 write requests" in done.stdout
    assert "0 openapi.json violations" in done.stdout


def test_doctor_checks_a_lightdash_token_and_project(instances) -> None:
    _, _, source, _, _, env = instances
    done = run("doctor", "--source", source.url, *LD, "--project", "Staging", env=env)
    assert done.returncode == 0, done.stdout
    out = " ".join(done.stdout.split())
    assert "organization admin" in out and "Staging" in out and "Lightdash documents none" in out
    missing = run("doctor", "--source", source.url, *LD, "--project", "Nope", env=env)
    assert missing.returncode == 1 and "no project 'Nope'" in " ".join(missing.stdout.split())


@pytest.mark.slow
def test_a_backup_killed_midway_resumes_the_same_snapshot(tmp_path: Path) -> None:
    scenario = sc.generate(sc.ScenarioSpec(charts=600, dashboards=150, spaces=30, schedulers=10))
    fake = FakeLightdash(scenario.state, LightdashSettings(nested_spaces=True, validate=False))
    fake.start_in_thread()
    code = "/api/v1/projects/{projectUuid}/charts/code"
    env = {"LIGHTDASH_API_KEY": scenario.token, "OMNIMIGRATE_RATE_PERIOD": "1",
           "OMNIMIGRATE_CACHE_DIR": str(tmp_path / "cache")}  # fmt: skip
    args = ["backup", "--source", fake.url, *LD, "--project", "Staging", "--store", str(tmp_path / "s"),
            "--rate-limit", "15", "--concurrency", "1"]  # fmt: skip
    try:
        proc = subprocess.Popen([sys.executable, "-m", "omnimigrate", *args], env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 60
        while fake.log.count("GET", code) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = fake.log.count("GET", code)
        assert 4 <= before < 12, "killed midway through the 12 chart batches"
        store = LocalStore(tmp_path / "s")
        marker = json.loads(
            store.get("runs/127.0.0.1-" + fake.url.rsplit(":", 1)[1] + "-staging/open.json")
        )
        resumed = run(*args, env=env)
        assert resumed.returncode == 0, resumed.stderr[-2000:]
        # finished batches are not fetched again (+9: the tiles' charts of the 3 dashboard
        # batches, 50 slugs a download, for the charts saved in dashboards)
        assert fake.log.count("GET", code) - before <= 12 - before + 1 + 9
        refs = Catalog(store).refs()
        assert [r.snapshot_id for r in refs] == [marker["snapshot_id"]]
        assert Catalog(store).load(refs[0]).counts["ld_chart"] == 600
    finally:
        fake.stop_thread()


def test_lightdashs_conventions_token_variable_manifest_platform_and_order(
    instances, tmp_path: Path
) -> None:
    """LIGHTDASH_API_KEY is the default token variable (the fixture's backup used it), a
    missing one is asked for as a Lightdash token, a plan without --platform takes the
    snapshot's, and --explain-order prints the asked platform's order."""
    _, spare, source, target, store, _ = instances
    env = {k: v for k, v in os.environ.items() if k != "LIGHTDASH_API_KEY"}
    missing = subprocess.run(
        [sys.executable, "-m", "omnimigrate", "backup", "--source", source.url, *LD,
         "--store", str(tmp_path / "s")],
        capture_output=True, text=True, env=env, timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2
    assert "LIGHTDASH_API_KEY is not set: export the Lightdash token" in missing.stderr
    planned = run("plan", "--target", target.url, "--store", str(store), "--rate-limit", "100000",
                  env={"LIGHTDASH_API_KEY": spare.token})  # fmt: skip
    assert planned.returncode in (0, 3), planned.stderr
    assert "Plan:" in planned.stdout
    order = run("plan", "--explain-order", *LD).stdout.splitlines()
    numbered = [line for line in order if not line.startswith(" ")]  # a stage's steps are indented
    assert numbered[0].startswith("1. groups:")
    assert numbered[-1].startswith(f"{len(numbered)}. schedulers:")
    assert run("plan", "--explain-order").stdout.startswith("1. user attributes:")


def test_the_other_platforms_server_is_recognised_and_the_flag_named(instances) -> None:
    """Omni's pre-flight and doctor, pointed at a Lightdash, say so and name --platform."""
    scenario, _, source, _, store, _ = instances
    env = {"OMNI_SOURCE_TOKEN": scenario.token}
    doctor = run("doctor", "--source", source.url, env=env)
    assert doctor.returncode == 1
    assert "is a Lightdash (0.1471.0) server: add --platform lightdash" in doctor.stdout.replace(
        "\n", " "
    )
    backup = run("backup", "--source", source.url, "--store", str(store), env=env)
    assert backup.returncode != 0 and "--platform lightdash" in backup.stderr


def test_lightdash_url_is_the_instance_when_no_source_or_target_is_given(
    instances, tmp_path: Path
) -> None:
    """As Lightdash's CLI: $LIGHTDASH_URL names the instance where --source/--target is left
    out (with --platform lightdash, or a Lightdash snapshot's platform); without it the error
    names both ways to give one."""
    scenario, spare, source, target, store, _ = instances
    env = {"LIGHTDASH_API_KEY": scenario.token, "LIGHTDASH_URL": source.url}
    done = run("backup", *LD, "--project", "Staging", "--store", str(tmp_path / "s"),
               "--rate-limit", "100000", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    port = source.url.rsplit(":", 1)[1]
    assert Catalog(LocalStore(tmp_path / "s")).refs()[0].instance.startswith(f"127.0.0.1-{port}")
    before, reads = len(target.log.writes()), target.log.count("GET", "/api/v1/org/projects")
    planned = run("plan", "--store", str(store), "--rate-limit", "100000",
                  env={"LIGHTDASH_API_KEY": spare.token, "LIGHTDASH_URL": target.url})  # fmt: skip
    assert planned.returncode in (0, 3), planned.stderr
    assert "Plan:" in planned.stdout and len(target.log.writes()) == before
    assert target.log.count("GET", "/api/v1/org/projects") > reads  # it read the target
    env = {k: v for k, v in os.environ.items() if k != "LIGHTDASH_URL"}
    lost = run("doctor", *LD, env={**env, "LIGHTDASH_API_KEY": scenario.token})
    assert lost.returncode == 2
    assert "no Lightdash instance given: pass --source URL, or export LIGHTDASH_URL" in lost.stderr
