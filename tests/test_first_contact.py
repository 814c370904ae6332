"""A first week's mistakes, run as a user would (a subprocess): each gets one line naming
what is wrong and how to fix it, the right exit code, fast, and nothing left behind."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.snapshot.catalog import Catalog
from omnimigrate.snapshot.store import LocalStore
from tests.test_cli import run


@pytest.fixture(scope="module")
def served():
    scenario = generate(ScenarioSpec(documents=8, seed=31))
    fake = FakeOmni(scenario.state, FakeSettings(rate_limit=None))
    fake.start_in_thread()
    yield fake, scenario
    fake.stop_thread()
    assert [str(v) for v in fake.violations] == []


def env(scenario, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "OMNI_SOURCE_TOKEN": scenario.org_token,
        "OMNI_TARGET_TOKEN": scenario.org_token,
        "OMNIMIGRATE_CACHE_DIR": str(tmp_path / "cache"),
        "OMNIMIGRATE_RATE_LIMIT": "100000",
        **extra,
    }


def timed(*args: str, **kw) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    result = run(*args, **kw)
    return result, time.monotonic() - start


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------- the instance


@pytest.mark.parametrize("command", ["backup", "plan", "verify"])
def test_an_unreachable_instance_fails_in_seconds_and_opens_nothing(served, tmp_path, command):
    _, scenario = served
    store = tmp_path / "store"
    url = f"http://127.0.0.1:{free_port()}"
    if command == "backup":
        args = ["backup", "--source", url, "--store", str(store)]
    else:
        LocalStore(store)  # a store with no snapshot: the pre-flight comes first anyway
        flag = "--target" if command == "plan" else "--against"
        args = [command, flag, url, "--store", str(store)]
    result, seconds = timed(*args, env=env(scenario, tmp_path))
    assert result.returncode == 1 and seconds < 10, (seconds, result.stderr)
    assert "did not answer" in one_line_error(result) and "check the URL" in result.stderr
    assert not store.exists() or list(store.rglob("*")) == []  # no store, run or lock


def test_https_against_an_http_instance_fails_in_seconds(served, tmp_path):
    fake, scenario = served
    url = fake.url.replace("http://", "https://")
    result, seconds = timed(
        "backup", "--source", url, "--store", str(tmp_path / "s"), env=env(scenario, tmp_path)
    )
    assert result.returncode == 1 and seconds < 10
    assert "http or https" in one_line_error(result)
    assert not (tmp_path / "s").exists()


def test_a_wrong_token_and_a_personal_token_are_configuration_errors(served, tmp_path):
    fake, scenario = served
    wrong = env(scenario, tmp_path, OMNI_SOURCE_TOKEN="omni_org_not_a_key")
    result, seconds = timed(
        "backup", "--source", fake.url, "--store", str(tmp_path / "s"), env=wrong
    )
    assert result.returncode == 2 and seconds < 10
    assert "refused the token in $OMNI_SOURCE_TOKEN (401" in one_line_error(result)
    personal = env(scenario, tmp_path, OMNI_SOURCE_TOKEN=scenario.personal_token)
    result = run("backup", "--source", fake.url, "--store", str(tmp_path / "s"), env=personal)
    assert result.returncode == 2
    line = one_line_error(result)
    assert "not an organization API key" in line and line.count("Settings > API keys") == 1
    assert scenario.personal_token not in result.stdout + result.stderr
    assert not (tmp_path / "s").exists()


# ---------------------------------------------------------------------- what is selected


def test_a_filter_that_matches_nothing_exits_2_and_latest_is_unchanged(served, tmp_path):
    fake, scenario = served
    store = tmp_path / "store"
    first = run("backup", "--source", fake.url, "--store", str(store), env=env(scenario, tmp_path))
    assert first.returncode == 0, first.stderr
    latest = Catalog(LocalStore(store)).latest("127.0.0.1-" + fake.url.rsplit(":", 1)[1])
    result = run(
        "backup", "--source", fake.url, "--store", str(store), "--include", "NoSuchFolder/**",
        env=env(scenario, tmp_path),
    )  # fmt: skip
    assert result.returncode == 2
    line = one_line_error(result)
    assert "--include 'NoSuchFolder/**' matched no folder and no document" in line
    assert "--allow-empty" in line
    catalog = Catalog(LocalStore(store))
    assert catalog.latest(latest.instance).snapshot_id == latest.snapshot_id
    assert list(store.glob("runs/*/open.json")) == []  # the run is closed, not left open
    allowed = run(
        "backup", "--source", fake.url, "--store", str(store), "--include", "NoSuchFolder/**",
        "--allow-empty", env=env(scenario, tmp_path),
    )  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr


# ---------------------------------------------------------------------- the store


def test_a_read_only_command_never_creates_a_store(tmp_path):
    missing = tmp_path / "no" / "such" / "store"
    for args in (["snapshots", "list"], ["snapshots", "show", "latest"]):
        result = run(*args, "--store", str(missing))
        assert result.returncode == 2 and f"no store at {missing}" in one_line_error(result)
    assert not (tmp_path / "no").exists()
    cwd_default = run("snapshots", "list", cwd=tmp_path)  # the default ./omnimigrate-store
    assert cwd_default.returncode == 2 and not (tmp_path / "omnimigrate-store").exists()


def test_a_store_path_that_is_a_file(tmp_path):
    path = tmp_path / "store"
    path.write_text("not a folder")
    result = run("snapshots", "list", "--store", str(path))
    assert result.returncode == 2 and "is a file, not a folder" in one_line_error(result)


@contextlib.contextmanager
def read_only_folder(path: Path):
    """A folder nobody may write to: a read-only tmpfs as root (who ignores modes), else 0500."""
    path.mkdir()
    if os.geteuid() == 0:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], check=True)
        try:
            yield path
        finally:
            subprocess.run(["umount", str(path)], check=True)
    else:
        path.chmod(0o500)
        try:
            yield path
        finally:
            path.chmod(0o700)


def test_a_read_only_store_and_a_read_only_cache(served, tmp_path):
    fake, scenario = served
    with read_only_folder(tmp_path / "ro") as ro:
        result = run(
            "backup", "--source", fake.url, "--store", str(ro), env=env(scenario, tmp_path)
        )
        assert result.returncode == 1
        assert f"cannot write to store {ro}" in one_line_error(result)
        cache = env(scenario, tmp_path, OMNIMIGRATE_CACHE_DIR=str(ro))
        result = run("backup", "--source", fake.url, "--store", str(tmp_path / "s"), env=cache)
        assert result.returncode == 2
        assert f"cache folder {ro} is not writable" in one_line_error(result)
        assert not (tmp_path / "s").exists()  # checked before the store is made


def test_s3_without_credentials_and_without_an_endpoint(tmp_path):
    nothing = {
        "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "",
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true", "AWS_DEFAULT_REGION": "us-east-1",
    }  # fmt: skip
    result = run("snapshots", "list", "--store", "s3://bucket/dr", env=nothing)
    assert result.returncode == 2 and "no AWS credentials" in one_line_error(result)
    unreachable = {
        **nothing, "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
    }  # fmt: skip
    result, seconds = timed("snapshots", "list", "--store", "s3://bucket/dr", env=unreachable)
    assert result.returncode == 1 and "cannot reach the S3 endpoint" in one_line_error(result)
    assert seconds < 10


def test_a_bucket_that_does_not_exist_is_no_store(moto_endpoint, tmp_path):
    creds = {"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "y",
             "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto_endpoint}  # fmt: skip
    result = run("snapshots", "list", "--store", "s3://no-such-bucket-here/dr", env=creds)
    assert result.returncode == 2
    assert "no store at s3://no-such-bucket-here/dr" in one_line_error(result)


# ---------------------------------------------------------------------- configuration


def test_a_malformed_config_and_a_list_as_config(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("store: ./s\ninstances:\n  prod: {url: [\n")
    result = run("--config", str(broken), "snapshots", "list")
    assert result.returncode == 2
    assert f"config file {broken} is not valid YAML at line" in one_line_error(result)
    listed = tmp_path / "list.yaml"
    listed.write_text("- store: ./s\n")
    result = run("--config", str(listed), "snapshots", "list")
    assert result.returncode == 2 and "holds a YAML list, not a mapping" in one_line_error(result)


def test_doctor_refuses_a_negative_rate_limit(tmp_path):
    result = run("doctor", "--source", "http://127.0.0.1:1", "--rate-limit", "-5")
    assert result.returncode == 2 and "--rate-limit" in result.stderr
    assert "Traceback" not in result.stderr


def test_fake_serve_on_a_busy_port_writes_no_token_file(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        tokens = tmp_path / "fake.env"
        result = run("fake", "serve", "--port", str(port), "--tokens-file", str(tokens), timeout=60)
    assert result.returncode == 2 and f"port {port} is in use" in one_line_error(result)
    assert "Traceback" not in result.stderr
    assert not tokens.exists()


# ---------------------------------------------------------------------- output


def test_two_fakes_share_one_tokens_file_each_with_its_own_random_key(tmp_path):
    shared = tmp_path / "fakes.env"
    procs = []
    try:
        for var in ("OMNI_SOURCE_TOKEN", "OMNI_TARGET_TOKEN"):  # started at once: both kept
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "omnimigrate", "fake", "serve", "--port", "0",
                 "--documents", "3", "--token-var", var, "--tokens-file", str(shared)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            ))  # fmt: skip
        deadline = time.monotonic() + 60
        while not (shared.exists() and shared.read_text().count("_URL=") == 2):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(30)
    tokens = dict(
        line.removeprefix("export ").split("=", 1) for line in shared.read_text().splitlines()
    )
    assert set(tokens) == {"OMNI_SOURCE_URL", "OMNI_SOURCE_TOKEN", "OMNI_SOURCE_PERSONAL_TOKEN",
                           "OMNI_TARGET_URL", "OMNI_TARGET_TOKEN", "OMNI_TARGET_PERSONAL_TOKEN"}  # fmt: skip
    assert tokens["OMNI_SOURCE_TOKEN"] != tokens["OMNI_TARGET_TOKEN"]
    assert tokens["OMNI_SOURCE_URL"] != tokens["OMNI_TARGET_URL"]
    assert shared.stat().st_mode & 0o777 == 0o600


def test_without_a_terminal_tables_are_whole_however_narrow_columns_says(served, tmp_path):
    fake, scenario = served
    store = tmp_path / "store"
    assert (
        run(
            "backup", "--source", fake.url, "--store", str(store), env=env(scenario, tmp_path)
        ).returncode
        == 0
    )
    listed = run("snapshots", "list", "--store", str(store), env={"COLUMNS": "40"})
    snapshot_id = Catalog(LocalStore(store)).refs()[0].snapshot_id
    assert listed.returncode == 0 and snapshot_id in listed.stdout, listed.stdout


def test_an_interrupted_backup_says_how_to_resume(served, tmp_path):
    fake, scenario = served
    slow = env(scenario, tmp_path, OMNIMIGRATE_RATE_LIMIT="30")  # a request every 2 s
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnimigrate", "backup", "--source", fake.url, "--store",
         str(tmp_path / "store")],
        env={**os.environ, **slow}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not list((tmp_path / "store").glob("runs/*/open.json")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130  # as shells report a process ended by SIGINT
    assert "interrupted" in stderr and "run the same command again to resume" in stderr
