"""A new user's first afternoon with the README (issue 25), one section per thing that went
wrong: the fakes served by hand, hints that run as printed, calm progress, one-line errors,
numbers that agree, exit codes, whole tables, help and names, and small untruths."""

from __future__ import annotations

import asyncio
import io
import json
import os
import pty
import re
import select
import shlex
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
import structlog
from click.testing import CliRunner

from omnimigrate.cli import with_commands
from omnimigrate.cli.app import usage_line
from omnimigrate.cli.progress import job_progress, reading
from omnimigrate.config import load_settings, resolve_tokens
from omnimigrate.engine.backup import BackupOptions, run_backup
from omnimigrate.engine.checkpoints import RunInfo, mark_run_open, open_checkpoints
from omnimigrate.engine.jobs import Job, JobResult
from omnimigrate.engine.plan import Plan, RestoreOptions
from omnimigrate.engine.restore import apply_plan, open_snapshot, plan_restore, resume_saved
from omnimigrate.errors import ConfigError
from omnimigrate.logging import configure_logging
from omnimigrate.platforms.lightdash.fake import scenario as ld_scenario
from omnimigrate.platforms.lightdash.platform import client_pool as ld_client_pool
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.platforms.omni.phases import PLAN_TYPE, verify
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.lock import InstanceLock
from omnimigrate.snapshot.manifest import instance_slug, new_snapshot_id
from omnimigrate.snapshot.store import LocalStore
from tests.backup_helpers import backup
from tests.conftest import client_for
from tests.kills import Killed
from tests.test_cli import run
from tests.test_first_contact import one_line_error
from tests.test_lightdash import serve as ld_serve
from tests.test_restore_cli import pair  # noqa: F401  (the fixture)

cli = with_commands()


@pytest.fixture(scope="module")
def fakes():
    """A source with a small org and the demo's empty standby of it, unthrottled."""
    scenario = generate(ScenarioSpec(documents=8, seed=53))
    spare = standby(scenario.state)
    started = []
    for state in (scenario.state, spare.state):
        fake = FakeOmni(state, FakeSettings(rate_limit=None))
        fake.start_in_thread()
        started.append(fake)
    yield started[0], started[1], scenario.org_token, spare.org_token
    for fake in started:
        fake.stop_thread()
        assert [str(v) for v in fake.violations] == []


@pytest.fixture
def user(fakes, tmp_path):
    source, target, source_token, target_token = fakes
    env = {
        "OMNI_SOURCE_TOKEN": source_token,
        "OMNI_TARGET_TOKEN": target_token,
        "OMNIMIGRATE_CACHE_DIR": str(tmp_path / "cache"),
        "OMNIMIGRATE_RATE_LIMIT": "100000",
        "OMNIMIGRATE_RETRY_BASE_DELAY": "0.01",
    }
    return source, target, env, tmp_path / "store"


def backed_up(source, env, store, *extra: str) -> subprocess.CompletedProcess[str]:
    done = run("backup", "--source", source.url, "--store", str(store), *extra, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return done


def run_hint(hint: str, env: dict[str, str], cwd: Path | None = None):
    """A printed hint, run exactly as printed (`omnimigrate` is this interpreter's)."""
    words = shlex.split(hint)
    assert words[0] == "omnimigrate", hint
    return run(*words[1:], env=env, cwd=cwd)


def hint_in(text: str) -> str:
    found = re.findall(r"`(omnimigrate [^`]+)`", text)
    assert len(found) == 1, text
    return found[0]


# ---------------------------------------------------------------------- 1. the fakes by hand


def serve_once(tmp_path: Path, *args: str) -> tuple[str, dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnimigrate", "fake", "serve", "--port", "0", *args],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        ready = proc.stdout.readline()  # type: ignore[union-attr]
    finally:
        proc.terminate()
        proc.wait(30)
    env_file = tmp_path / re.search(r" in (\S+) \(", ready)[1]  # type: ignore[index]
    values = dict(
        line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines()
    )
    return ready, values


def test_fake_serve_standby_is_empty_and_lightdash_is_served(tmp_path):
    ready, values = serve_once(tmp_path, "--standby", "--token-var", "OMNI_TARGET_TOKEN")
    assert "fake Omni standby at http://127.0.0.1:" in ready and "(no content)" in ready
    assert set(values) == {"OMNI_TARGET_URL", "OMNI_TARGET_TOKEN"}  # a standby has no personal key
    assert values["OMNI_TARGET_TOKEN"] not in ready
    ready, values = serve_once(tmp_path, "--platform", "lightdash", "--documents", "8")
    assert "fake Lightdash at http://127.0.0.1:" in ready and "project Staging: 8 charts" in ready
    assert (tmp_path / "fake-lightdash.env").stat().st_mode & 0o777 == 0o600
    # Lightdash's own CLI's names: LIGHTDASH_API_KEY and LIGHTDASH_URL
    assert values["LIGHTDASH_API_KEY"].startswith("ldpat_") and "LIGHTDASH_URL" in values


def test_the_fakes_rate_limit_0_and_the_readme_names_the_client_setting():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert "omnimigrate fake serve --port 0 --rate-limit 0" in readme
    assert "export OMNIMIGRATE_RATE_LIMIT=6000" in readme
    parsed = cli.commands["fake"].commands["serve"].make_context("serve", ["--rate-limit", "0"])  # type: ignore[attr-defined]
    assert parsed.params["rate_limit"] == 0


# ---------------------------------------------------------------------- 2. hints run as printed


def test_every_printed_hint_runs_as_printed(user, tmp_path):
    source, target, env, store = user
    backed_up(source, env, store)
    # plan --out: restore --plan with this run's --store and --target
    planned = run("plan", "--store", str(store), "--target", target.url, "--out",
                  str(tmp_path / "p.json"), "--platform", "omni", env=env)  # fmt: skip
    assert planned.returncode == 0, planned.stderr[-2000:]
    hint = hint_in(planned.stdout.splitlines()[-1])
    assert f"--store {store}" in hint and f"--target {target.url}" in hint
    assert "--platform omni" in hint
    applied = run_hint(hint, env)
    assert applied.returncode in (0, 3) and "restore: " in applied.stdout, applied.stderr[-2000:]
    # an --include that matches nothing: snapshots show with this store and instance
    empty = run("backup", "--source", source.url, "--store", str(store), "--include",
                "NoSuchFolder/**", env=env)  # fmt: skip
    assert empty.returncode == 2
    shown = run_hint(hint_in(one_line_error(empty)), env, cwd=tmp_path)
    assert shown.returncode == 0 and "folder" in shown.stdout, shown.stderr
    # a lock held by a live run elsewhere in this machine: unlock with this store
    instance = instance_slug(source.url)
    now = time.time()
    (store / "locks").mkdir(exist_ok=True)
    (store / "locks" / f"{instance}.json").write_text(json.dumps({
        "holder": "run-elsewhere", "host": socket.gethostname(), "pid": os.getpid(),
        "acquired_at": now, "expires_at": now + 600}))  # fmt: skip
    locked = run("backup", "--source", source.url, "--store", str(store), env=env)
    assert locked.returncode == 1
    unlocked = run_hint(hint_in(one_line_error(locked)), env, cwd=tmp_path)
    assert unlocked.returncode == 0 and "removed the lock held by run-elsewhere" in unlocked.stdout


# ---------------------------------------------------------------------- 3. calm progress


def progress_lines(body) -> list[dict]:
    stream = io.StringIO()
    configure_logging(level="info", fmt="json", stream=stream)
    try:
        body()
    finally:
        configure_logging(level="warning", fmt="json")
    return [e for e in map(json.loads, stream.getvalue().splitlines()) if e["event"] == "progress"]


def test_off_a_terminal_a_re_run_of_skips_writes_one_line_not_one_per_action():
    now = [100.0]

    def rerun():
        with job_progress(
            "restore", 1.0, unit="requests", clock=lambda: now[0], terminal=False
        ) as update:
            for _ in range(303):  # every action skipped in the same instant
                update(0, 0)

    assert len(progress_lines(rerun)) == 1

    def slow():
        with job_progress("backup", 1.0, clock=lambda: now[0], terminal=False) as update:
            for done in range(1, 61):
                now[0] += 1.0
                update(done, 60)

    lines = progress_lines(slow)
    assert [e["done"] for e in lines] == [5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 55, 60]


async def test_reading_the_target_is_never_silent_off_a_terminal():
    now = [0.0]
    sent = [0]

    def requests() -> int:
        now[0] += 1.0  # each tick: a second of the clock, and two more requests
        sent[0] += 2
        return sent[0]

    stream = io.StringIO()
    configure_logging(level="info", fmt="json", stream=stream)
    try:
        async with reading(
            "plan: reading the target", requests, clock=lambda: now[0], terminal=False, tick=0
        ):
            while now[0] < 21:
                await __import__("asyncio").sleep(0)
    finally:
        configure_logging(level="warning", fmt="json")
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert [e["task"] for e in lines] == ["plan: reading the target"] * len(lines)
    assert 4 <= len(lines) <= 6  # one per 5 s of the clock, and the last
    assert lines[-1]["requests"] == sent[0]


def on_a_terminal(args: list[str], env: dict[str, str], timeout: float = 120) -> str:
    """Run the CLI with stderr and stdout on a pseudo-terminal; what the terminal got."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "omnimigrate", *args], stdin=subprocess.DEVNULL,
                            stdout=follower, stderr=follower, env={**os.environ, **env, "COLUMNS": "160"})  # fmt: skip
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(30)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_on_a_terminal_log_lines_never_land_on_the_bar_and_reading_shows_a_spinner(user):
    source, target, env, store = user
    backed_up(source, env, store)
    shown = on_a_terminal(
        ["--log-level", "info", "plan", "--store", str(store), "--target", target.url], env
    )
    assert "plan: reading the target" in shown and "requests" in shown
    out = on_a_terminal(
        ["--log-level", "info", "backup", "--source", source.url, "--store", str(store)], env
    )
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", out)
    for line in re.split(r"[\r\n]", plain):
        if "backup.start" in line or "backup.committed" in line:
            assert "eta" not in line and "jobs" not in line.split("backup.")[0], line


# ---------------------------------------------------------------------- 4. logs and the bar


def test_log_records_go_to_whatever_stderr_is_when_written(monkeypatch):
    configure_logging(level="info", fmt="json")
    try:
        swapped = io.StringIO()
        monkeypatch.setattr(sys, "stderr", swapped)  # as rich does while a bar is live
        structlog.get_logger("t").info("after.the.swap")
    finally:
        monkeypatch.undo()
        configure_logging(level="warning", fmt="json")
    assert "after.the.swap" in swapped.getvalue()


# ---------------------------------------------------------------------- 5. one line


def test_a_refused_token_and_a_usage_error_are_each_one_line(user):
    source, _, env, store = user
    refused = run("backup", "--source", source.url, "--store", str(store),
                  env={**env, "OMNI_SOURCE_TOKEN": "omni_org_wrong"})  # fmt: skip
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [one_line_error(refused)]  # no warning before it
    usage = run("plan", "--store", str(store))
    assert usage.returncode == 2
    assert usage.stderr.splitlines() == [
        "error: no instance given: pass --target with an instance URL or a name in the config "
        "file (for Lightdash, --platform lightdash reads $LIGHTDASH_URL when --target is left out)"
    ]
    err = click.UsageError("No such option: --bogus\n  more")
    assert usage_line(err) == "No such option: --bogus more"


# ---------------------------------------------------------------------- 6. one count


def test_the_numbers_agree(user, tmp_path):
    source, target, env, store = user
    made = run(
        "--log-format", "json", "backup", "--source", source.url, "--store", str(store), env=env
    )
    logs = [json.loads(x) for x in made.stderr.splitlines()]
    committed = next(e for e in logs if e["event"] == "backup.committed")
    listed = json.loads(run("snapshots", "list", "--store", str(store), "--json").stdout)
    assert committed["objects"] == listed[-1]["objects"]
    # the lock's holder is the run's id, the one its log lines carry
    runs = {e["run"] for e in logs if "run" in e}
    assert len(runs) == 1
    # plan's unchanged and the restore's unchanged are the same count
    first = run("restore", "--store", str(store), "--target", target.url, env=env)
    assert first.returncode in (0, 3), first.stderr[-2000:]
    out = tmp_path / "again.json"
    planned = run("plan", "--store", str(store), "--target", target.url, "--out", str(out), env=env)
    unchanged = int(re.search(r"(\d+) unchanged", planned.stdout)[1])  # type: ignore[index]
    assert unchanged == PLAN_TYPE.model_validate_json(out.read_text()).counts()["skip"] > 0
    again = run(
        "restore", "--store", str(store), "--target", target.url, "--plan", str(out), env=env
    )
    assert f" {unchanged} unchanged," in again.stdout, again.stdout


def test_the_lock_holds_the_runs_id(tmp_path):
    with structlog.contextvars.bound_contextvars(run="run-0123456789ab"):
        lock = InstanceLock(LocalStore(tmp_path / "s"), "acme")
    assert lock.me == "run-0123456789ab"
    lock.acquire()
    assert InstanceLock(LocalStore(tmp_path / "s"), "acme").current().holder == "run-0123456789ab"  # type: ignore[union-attr]


# ---------------------------------------------------------------------- 7. exit codes


def test_an_unknown_snapshot_is_2_and_unlocking_nothing_is_1(user):
    source, target, env, store = user
    backed_up(source, env, store)
    unknown = run("snapshots", "show", "nosuch", "--store", str(store))
    assert unknown.returncode == 2 and "nosuch" in one_line_error(unknown)
    planned = run(
        "plan", "--store", str(store), "--snapshot", "nosuch", "--target", target.url, env=env
    )
    assert planned.returncode == 2
    nothing = run("snapshots", "unlock", "--instance", "nosuch", "--store", str(store))
    assert nothing.returncode == 1
    line = one_line_error(nothing)
    assert "nothing to unlock: nosuch holds no lock" in line and instance_slug(source.url) in line


# ---------------------------------------------------------------------- 8. whole tables


def test_piped_titles_are_never_wrapped(user, tmp_path):
    source, _, env, _ = user
    store = tmp_path / ("a-rather-long-folder-name-for-a-store-" * 3)
    backed_up(source, env, store)
    listed = run("snapshots", "list", "--store", str(store), env={"COLUMNS": "40"})
    assert f"snapshots in {store}" in listed.stdout
    snapshot_id = Catalog(LocalStore(store)).refs()[0].snapshot_id
    made = run(
        "backup", "--source", source.url, "--store", str(store), env={**env, "COLUMNS": "40"}
    )
    assert f"snapshot {snapshot_id}" not in made.stdout  # a new one, whose title is whole:
    assert re.search(r"snapshot \S+ of \S+: complete", made.stdout), made.stdout


# ---------------------------------------------------------------------- 9. help and names


def options_of(path: tuple[str, ...]) -> list[click.Option]:
    command: click.Command = cli
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return [p for p in command.params if isinstance(p, click.Option)]


def test_repeatable_and_platform_only_options_say_so():
    from tests.test_help import commands

    for path, command in commands():
        for option in command.params:
            if isinstance(option, click.Option) and option.multiple:
                assert "repeatable" in (option.help or ""), (path, option.opts)
    omni_only = {("backup", "--include"), ("backup", "--allow-empty"), ("plan", "--models"),
                 ("restore", "--create-missing-users"), ("verify", "--document"),
                 ("restore", "--model-map"), ("fake", "serve", "--limiter")}  # fmt: skip
    for *path, name in omni_only:
        option = next(o for o in options_of(tuple(path)) if name in o.opts)
        assert option.help.startswith("Omni only:"), (path, name)  # type: ignore[union-attr]
    for path in (("backup",), ("plan",), ("verify",)):
        option = next(o for o in options_of(path) if "--project" in o.opts)
        assert option.help.startswith("Lightdash only:")  # type: ignore[union-attr]
    doctor = next(o for o in options_of(("doctor",)) if "--source-token-env" in o.opts)
    assert "default OMNI_SOURCE_TOKEN" in doctor.help  # type: ignore[operator]


def test_one_name_per_concept_and_old_names_everywhere():
    runner = CliRunner()
    with_instance = [p for p, c in __import__("tests.test_help").test_help.commands()
                     if any("--instance" in getattr(o, "opts", []) for o in c.params)]  # fmt: skip
    assert ("snapshots", "unlock") in with_instance and ("backup",) in with_instance
    for path in with_instance:
        command: click.Command = cli
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        option = next(o for o in command.params if "--instance" in getattr(o, "opts", []))
        assert {"--instance-name", "--source-instance"} <= set(option.opts), path
    verify = cli.commands["verify"]
    for flag in ("--target", "--against"):
        assert verify.make_context("verify", [flag, "https://dr.omniapp.co"]).params["target"]
    assert "--against" not in runner.invoke(cli, ["verify", "--help"]).output
    migrate = {o for p in cli.commands["migrate"].params for o in getattr(p, "opts", [])}
    assert "--snapshot" not in migrate and "--instance" not in migrate
    assert (
        "INSTANCE"
        not in runner.invoke(cli, ["snapshots", "unlock", "--help"]).output.split("\n")[0]
    )


# ---------------------------------------------------------------------- 10. small untruths


def test_small_untruths(user, tmp_path, monkeypatch):
    source, _, env, store = user
    with pytest.raises(
        ConfigError, match=r"OMNI_TARGET_TOKEN is set but empty.*--target-token-env"
    ):
        resolve_tokens(["OMNI_TARGET_TOKEN"], {"OMNI_TARGET_TOKEN": ""}, flag="--target-token-env")
    with pytest.raises(ConfigError, match=r"OMNI_X is not set"):
        resolve_tokens(["OMNI_X"], {})
    plan = Plan.model_construct(actions=[])
    assert "under a minute" in plan.estimate(60, 60.0, 1)
    config = tmp_path / "c.yaml"
    config.write_text("rate_limt: 30\n")
    with pytest.raises(ConfigError, match=r"rate_limt: .*did you mean `rate_limit`\?"):
        load_settings(config)
    monkeypatch.setenv("OMNIMIGRATE_RATE_LIMIT", "abc")
    with pytest.raises(ConfigError, match=r"\$OMNIMIGRATE_RATE_LIMIT='abc'"):
        load_settings(None)
    monkeypatch.delenv("OMNIMIGRATE_RATE_LIMIT")
    backed_up(source, env, store)
    backed_up(source, env, store)
    same = run("snapshots", "diff", *[r.snapshot_id for r in Catalog(LocalStore(store)).refs()],
               "--store", str(store))  # fmt: skip
    assert same.returncode == 0 and "no changes" in same.stdout.splitlines()[1]


def test_an_include_that_matches_nothing_is_refused_once_the_listings_are_in(user):
    source, _, env, store = user
    before = len(source.log.records)
    backed_up(source, env, store, "--full")
    full = len(source.log.records) - before
    before = len(source.log.records)
    empty = run("backup", "--source", source.url, "--store", str(store), "--full", "--include",
                "NoSuchFolder/**", env=env)  # fmt: skip
    assert empty.returncode == 2 and "matched no folder and no document" in one_line_error(empty)
    reads = {r.route for r in source.log.records[before:]}
    assert len(source.log.records) - before < full / 2, (len(source.log.records) - before, full)
    assert not any("export" in route for route in reads)  # no document was read


def test_the_hint_of_an_unknown_snapshot_runs_as_printed(pair, tmp_path):  # noqa: F811
    _, target, env = pair(6, seed=57)
    store = env.pop("OMNIMIGRATE_STORE")  # given on the command line, as a person does
    env["OMNIMIGRATE_RATE_LIMIT"] = "100000"
    unknown = run("plan", "--store", store, "--snapshot", "nosuch", "--target", target.url, env=env)
    assert unknown.returncode == 2
    listed = run_hint(hint_in(one_line_error(unknown)), env, cwd=tmp_path)
    assert listed.returncode == 0 and "snapshots in" in listed.stdout


def test_the_hint_of_a_drifted_plan_runs_as_printed(pair, tmp_path):  # noqa: F811
    source, target, env = pair(6, seed=59)
    store = env.pop("OMNIMIGRATE_STORE")  # given on the command line, as a person does
    env["OMNIMIGRATE_RATE_LIMIT"] = "100000"
    saved = tmp_path / "p.json"
    made = run("plan", "--store", store, "--target", target.url, "--platform", "omni", "--out",
               str(saved), env=env)  # fmt: skip
    assert made.returncode == 0, made.stderr[-2000:]
    # out of band: someone adds a label to the target between the plan and its restore
    label = type(next(iter(source.state.labels.values())))
    target.state.labels["drift"] = label(name="Drift")
    drifted = run_hint(hint_in(made.stdout.splitlines()[-1]), env)
    assert drifted.returncode == 1 and "labels: +drift" in drifted.stderr
    assert target.log.writes() == []
    again = hint_in(one_line_error(drifted))
    for option in (f"--store {store}", f"--target {target.url}", "--platform omni",
                   f"--out {saved}"):  # fmt: skip
        assert option in again, again
    replanned = run_hint(again, env, cwd=tmp_path)
    assert replanned.returncode == 0 and "Plan:" in replanned.stdout, replanned.stderr[-2000:]
    applied = run_hint(hint_in(replanned.stdout.splitlines()[-1]), env)
    assert applied.returncode in (0, 3) and "restore: " in applied.stdout, applied.stderr[-2000:]
    assert "drift" in target.state.labels  # the new plan leaves what it found there


# ---------------------------------------------------------------------- 2. hints: the run's config


def runs_as_printed(hint: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A hint run as printed: never a usage error, never a traceback."""
    done = run_hint(hint, env, cwd=cwd)
    assert done.returncode != 2 and "Traceback" not in done.stderr, (hint, done.stderr[-2000:])
    return done


def test_every_hint_names_the_runs_config_and_runs_as_printed(user, tmp_path):
    source, target, env, store = user
    (tmp_path / "c.yaml").write_text(json.dumps({
        "store": str(store), "rate_limit": 100000,
        "instances": {"src": {"url": source.url, "token_env": ["OMNI_SOURCE_TOKEN"]},
                      "dr": {"url": target.url, "token_env": ["OMNI_TARGET_TOKEN"]}}}))  # fmt: skip
    env = {k: v for k, v in env.items() if k != "OMNIMIGRATE_RATE_LIMIT"}  # the config's

    def cli_run(*args: str) -> subprocess.CompletedProcess[str]:
        return run("--config", "c.yaml", *args, env=env, cwd=tmp_path)

    def hint_of(done: subprocess.CompletedProcess[str], text: str) -> str:
        hint = hint_in(text)
        assert hint.startswith("omnimigrate --config c.yaml "), hint
        return hint

    assert cli_run("backup", "--source", "src").returncode == 0
    # plan --out, then the restore it prints
    planned = cli_run("plan", "--target", "dr", "--out", "p.json")
    applied = runs_as_printed(hint_of(planned, planned.stdout.splitlines()[-1]), env, tmp_path)
    assert "restore: " in applied.stdout
    # a plan file that is not one: the plan command that makes it
    (tmp_path / "bad.json").write_text("not a plan")
    bad = cli_run("restore", "--target", "dr", "--plan", "bad.json")
    assert bad.returncode == 2 and "bad.json is not JSON" in one_line_error(bad)
    remade = runs_as_printed(hint_of(bad, one_line_error(bad)), env, tmp_path)
    assert remade.returncode == 0 and json.loads((tmp_path / "bad.json").read_text())["actions"]
    # an unknown snapshot: the list of the store's
    unknown = cli_run("plan", "--target", "dr", "--snapshot", "nosuch")
    assert "snapshots in" in runs_as_printed(hint_of(unknown, one_line_error(unknown)), env,
                                             tmp_path).stdout  # fmt: skip
    # a filter that matches nothing: the latest snapshot's objects
    empty = cli_run("backup", "--source", "src", "--include", "NoSuchFolder/**")
    shown = runs_as_printed(hint_of(empty, one_line_error(empty)), env, tmp_path)
    assert shown.returncode == 0 and "folder" in shown.stdout
    # a held lock: unlock it
    now = time.time()
    (store / "locks").mkdir(exist_ok=True)
    (store / "locks" / "src.json").write_text(json.dumps({
        "holder": "run-elsewhere", "host": socket.gethostname(), "pid": os.getpid(),
        "acquired_at": now, "expires_at": now + 600}))  # fmt: skip
    locked = cli_run("backup", "--source", "src")
    assert locked.returncode == 1
    unlocked = runs_as_printed(hint_of(locked, one_line_error(locked)), env, tmp_path)
    assert "removed the lock held by run-elsewhere" in unlocked.stdout
    # an instance that does not answer: doctor, for that URL and key
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{closed.getsockname()[1]}"
    silent = cli_run("backup", "--source", gone)
    assert "did not answer" in one_line_error(silent)
    doctor = runs_as_printed(hint_of(silent, one_line_error(silent)), env, tmp_path)
    assert gone in doctor.stdout and doctor.stderr == ""  # the failed request is on its row
    # a damaged manifest: verify every snapshot of the store
    snapshot_id = Catalog(LocalStore(store)).refs("src")[-1].snapshot_id
    manifest = store / "snapshots" / "src" / snapshot_id / "manifest.json"
    manifest.write_text(manifest.read_text()[:100])
    damaged = cli_run("snapshots", "show", snapshot_id)
    verified = runs_as_printed(hint_of(damaged, one_line_error(damaged)), env, tmp_path)
    assert verified.returncode == 1 and "fault" in verified.stdout


def test_a_saved_plan_with_an_unknown_action_kind_is_refused_before_any_write(user, tmp_path):
    source, target, env, store = user
    backed_up(source, env, store)
    saved = tmp_path / "p.json"
    made = run("plan", "--store", str(store), "--target", target.url, "--out", str(saved), env=env)
    assert made.returncode == 0, made.stderr[-2000:]
    plan = json.loads(saved.read_text())
    write = next(a for a in plan["actions"] if a["op"] in ("create", "update"))
    write["kind"] = "hologram.create"  # as a newer omnimigrate, or a hand, might write it
    saved.write_text(json.dumps(plan))
    before = len(target.log.writes())
    refused = run_hint(hint_in(made.stdout.splitlines()[-1]), env)
    assert refused.returncode == 2
    line = one_line_error(refused)
    assert refused.stderr.splitlines() == [line]
    assert (
        f"{write['id']} is a 'hologram.create' action, which this omnimigrate does not apply"
        in line
    )
    assert len(target.log.writes()) == before  # nothing written, nor any of its reads needed
    again = runs_as_printed(hint_in(line), env, tmp_path)
    assert again.returncode == 0 and "Plan:" in again.stdout
    assert "hologram" not in saved.read_text()


def test_an_open_run_of_another_version_is_named_at_once_and_restart_starts_over(user):
    source, _, env, store = user
    backed_up(source, env, store)
    instance = instance_slug(source.url)
    started = datetime.now(UTC)
    foreign = RunInfo(snapshot_id=new_snapshot_id(started), started_at=started, options={})
    opened = LocalStore(store)
    mark_run_open(opened, instance, foreign)
    checkpoints = open_checkpoints(
        opened, instance, foreign.snapshot_id, Path(env["OMNIMIGRATE_CACHE_DIR"])
    )
    checkpoints.record("folders", JobResult(children=[Job(kind="hologram", args={"id": "1"})]))
    checkpoints.flush()
    before = len(source.log.records)
    resumed = run("backup", "--source", source.url, "--store", str(store), env=env)
    assert resumed.returncode == 1
    line = one_line_error(resumed)
    assert "job hologram|id=1 is not one this omnimigrate knows" in line
    assert "run the same command with --restart" in line
    assert len(source.log.records) - before <= 1  # the pre-flight only, no job's request
    restarted = backed_up(source, env, store, "--restart")
    assert foreign.snapshot_id not in restarted.stdout
    newest = Catalog(LocalStore(store)).refs(instance)[-1]
    assert newest.snapshot_id != foreign.snapshot_id
    assert backed_up(source, env, store).returncode == 0  # and nothing of the old run is left


# ---------------------------------------------------------------------- found in the tmux trial


def killed_once_stepped_aside(client) -> None:
    """Both slug-alike siblings ("Q4 Reviews" at q4-reviews-1, "Q4-Reviews-1" at q4-reviews)
    are created (each at the path Omni derives from its name, the other's) before either is
    moved, so one must step aside to a temporary path; the run dies right then."""
    send = client.transport.send
    created: list[str] = []
    both = asyncio.Event()

    async def dying(method: str, route: str, *a, **kw):
        body = kw.get("json_body") if isinstance(kw.get("json_body"), dict) else {}
        if method == "PATCH" and body.get("path") in ("q4-reviews", "q4-reviews-1"):
            await both.wait()  # a sibling takes its path once the other is there too
        reply = await send(method, route, *a, **kw)
        if (
            method == "POST"
            and route == "/api/v1/folders"
            and body.get("name") in SIBLINGS
            and "parentFolderId" not in body
        ):
            created.append(body["name"])
            if len(created) == 2:
                both.set()
        if method == "PATCH" and "-omnimigrate-" in json.dumps(body):
            client.transport.send = lambda *a, **kw: (_ for _ in ()).throw(Killed)
            raise Killed
        return reply

    client.transport.send = dying


SIBLINGS = ("Q4 Reviews", "Q4-Reviews-1")


async def test_a_saved_plan_killed_while_a_folder_stood_aside_resumes(start_fake, tmp_path):
    scenario = generate(ScenarioSpec(documents=8, seed=61))
    source = await start_fake(scenario.state)
    store = LocalStore(tmp_path / "store")
    await backup(source, store, tmp_path / "cache", [scenario.org_token])
    snap = open_snapshot(store, "latest")
    spare = standby(scenario.state)
    target = await start_fake(spare.state)
    logged = io.StringIO()
    configure_logging(level="info", fmt="json", stream=logged)
    try:
        async with client_for(target, spare.org_token) as client:
            saved = await plan_restore(snap, [client], RestoreOptions())
            killed_once_stepped_aside(client)
            with pytest.raises(Killed):
                await apply_plan(snap, saved, [client])
    finally:
        configure_logging(level="warning", fmt="json")
    # the path asked for and found taken is handled (the holder steps aside), not a warning
    assert any(r.status == 409 for r in target.log.records)
    assert [
        e for e in map(json.loads, logged.getvalue().splitlines()) if e.get("status") == 409
    ] == []
    aside = [f.path for f in spare.state.folders.values() if "-omnimigrate-" in f.path]
    assert aside, "the run died with a folder at a temporary path"
    async with client_for(target, spare.org_token) as client:
        plan = await resume_saved(snap, saved, [client])  # its own folder, not drift
        result = await apply_plan(snap, plan, [client])
        assert result.by_status("failed") == []
        report = await verify(snap.source, [client])
    assert not [f.path for f in spare.state.folders.values() if "-omnimigrate-" in f.path]
    assert report.types["folders"].matching == report.types["folders"].checked > 0


def test_a_killed_run_resumes_only_with_its_own_filters(user):
    """Seen in the tmux trial: a run killed unfiltered, resumed with `--include`, committed
    a "complete" snapshot of neither selection (46 of 60 documents)."""
    source, _, env, store = user
    backed_up(source, env, store)
    instance = instance_slug(source.url)
    started = datetime.now(UTC)
    killed = RunInfo(snapshot_id=new_snapshot_id(started), started_at=started,
                     options={"full": False, "include": [], "exclude": []})  # fmt: skip
    mark_run_open(LocalStore(store), instance, killed)
    before = Catalog(LocalStore(store)).refs(instance)
    other = run("backup", "--source", source.url, "--store", str(store), "--include",
                "NoSuchFolder/**", env=env)  # fmt: skip
    assert other.returncode == 2
    line = one_line_error(other)
    assert f"snapshot {killed.snapshot_id}" in line and "started with no --include" in line
    assert "not --include 'NoSuchFolder/**'" in line and "add --restart" in line
    assert Catalog(LocalStore(store)).refs(instance) == before  # nothing committed
    restarted = run("backup", "--source", source.url, "--store", str(store), "--include",
                    "NoSuchFolder/**", "--restart", env=env)  # fmt: skip
    assert restarted.returncode == 2  # the filter now applies: it matches nothing
    assert "matched no folder and no document" in one_line_error(restarted)


async def test_a_lightdash_incremental_reuses_every_export_the_full_one_made(tmp_path):
    """Seen in the tmux trial's Lightdash demo: a full backup of 75 exports, then an unchanged
    incremental that said 71 reused (the charts saved in dashboards were kept, not counted)."""
    scenario = ld_scenario.generate(ld_scenario.ScenarioSpec())
    fake = await ld_serve(scenario.state)
    store = LocalStore(tmp_path / "store", create=True)
    outcomes = []
    try:
        for _ in range(2):
            async with ld_client_pool(
                fake.url, [scenario.token], rate_limit=100_000, project="Staging"
            ) as cs:
                outcomes.append(
                    await run_backup(cs, store, BackupOptions(), cache_dir=tmp_path / "cache")
                )
    finally:
        await fake.stop()
    full, incremental = outcomes
    saved = [
        o for o in full.manifest.objects if o.type == "ld_chart" and (o.refs or {}).get("dashboard")
    ]
    assert saved, "the scenario has charts saved in dashboards"
    assert incremental.exports == 0
    assert incremental.reused_exports == full.exports > 0
