"""The command line, run as a user would (its entry point, its environment and streams)
against a fake on loopback."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator

import pytest
import structlog

from omnimigrate.cli import main
from omnimigrate.platforms.omni.fake.scenario import generate
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120, cwd: object = None
) -> subprocess.CompletedProcess[str]:
    """`omnimigrate ARGS` as a user runs it, through the real entry point, with its own
    environment, working directory, stdout and stderr and its exit code, but in this process:
    a subprocess costs about a second of interpreter start and imports, and the suite runs
    hundreds. Tests that need a real process (a signal, a kill) start one themselves."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    with entry_point_in_process(list(args), full_env, cwd) as (invoke, result):
        worker = threading.Thread(target=invoke, name="omnimigrate-cli")
        worker.start()  # its own thread: the command's asyncio.run needs a thread without a loop
        worker.join(timeout)
        assert not worker.is_alive(), f"omnimigrate {' '.join(args)} ran over {timeout} s"
    return result


@contextlib.contextmanager
def entry_point_in_process(
    args: list[str], env: dict[str, str], cwd: object
) -> Iterator[tuple[Callable[[], None], subprocess.CompletedProcess[str]]]:
    """What a process would have of its own, swapped in around `invoke` and put back after:
    argv, environment, working directory, standard streams and the logging set-up."""
    result = subprocess.CompletedProcess(["omnimigrate", *args], 0, "", "")
    out, err = io.StringIO(), io.StringIO()

    def invoke() -> None:
        try:
            main()
        except SystemExit as exit_:
            code = exit_.code
            if isinstance(code, str):
                err.write(code + "\n")
            result.returncode = code if isinstance(code, int) else (0 if code is None else 1)

    saved = (sys.argv, dict(os.environ), os.getcwd(), sys.stdout, sys.stderr)
    logging_config = structlog.get_config()
    sys.argv = ["omnimigrate", *args]
    os.environ.clear()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(str(cwd))
    sys.stdout, sys.stderr = out, err
    try:
        yield invoke, result
    finally:
        sys.argv, env_before, cwd_before, sys.stdout, sys.stderr = saved
        os.environ.clear()
        os.environ.update(env_before)
        os.chdir(cwd_before)
        structlog.configure(**logging_config)
        result.stdout, result.stderr = out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def served():
    scenario = generate()
    fake = FakeOmni(scenario.state, FakeSettings(rate_limit=600))
    fake.start_in_thread()
    yield fake, scenario
    fake.stop_thread()
    assert [str(v) for v in fake.violations] == []


def test_doctor_with_an_org_key(served):
    fake, scenario = served
    result = run(
        "doctor", "--source", fake.url + "/api", env={"OMNI_SOURCE_TOKEN": scenario.org_token}
    )
    assert result.returncode == 0, result.stderr
    assert "organization API key" in result.stdout and "of 600 requests left" in result.stdout
    assert scenario.org_token not in result.stdout + result.stderr


def test_doctor_with_a_personal_token_explains(served):
    fake, scenario = served
    result = run(
        "doctor",
        "--source",
        fake.url,
        "--source-token-env",
        "MY_PAT",
        env={"MY_PAT": scenario.personal_token},
    )
    assert result.returncode == 1
    assert "personal access token" in result.stdout and "need an organization" in result.stdout
    assert scenario.personal_token not in result.stdout + result.stderr


def test_doctor_with_a_bad_token_and_a_missing_variable(served):
    fake, _ = served
    bad = run("doctor", "--source", fake.url, env={"OMNI_SOURCE_TOKEN": "wrong-token-123"})
    assert (
        bad.returncode == 1
        and "401" in bad.stdout
        and "wrong-token-123" not in bad.stdout + bad.stderr
    )
    env = {k: v for k, v in os.environ.items() if k != "OMNI_SOURCE_TOKEN"}
    missing = subprocess.run(
        [sys.executable, "-m", "omnimigrate", "doctor", "--source", fake.url],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert missing.returncode == 2 and "OMNI_SOURCE_TOKEN is not set" in missing.stderr


def test_usage_errors_exit_2():
    assert run("doctor").returncode == 2
    result = run("doctor", "--source", "not a url", env={"OMNI_SOURCE_TOKEN": "x"})
    assert result.returncode == 2 and "neither an http(s) instance URL" in result.stderr


@pytest.mark.slow
def test_demo_runs_end_to_end():
    result = run("demo", "--documents", "20")
    assert result.returncode == 0, result.stderr
    assert "document_export" in result.stdout and "0 openapi.json violations" in result.stdout
    assert ": complete, 0 exports, 20 unchanged exports reused" in result.stdout


def test_progress_without_a_terminal_logs_every_few_seconds_with_an_eta_from_the_rate():
    import io
    import json

    from omnimigrate.cli.progress import eta, job_progress
    from omnimigrate.logging import configure_logging

    stream = io.StringIO()
    configure_logging(level="info", fmt="json", stream=stream)
    now = [0.0]
    try:
        with job_progress("backup", 2.0, clock=lambda: now[0]) as update:
            update(1, None)  # listings still running: no total, no eta
            for done in range(2, 100):
                now[0] += 0.5
                update(done, 100)
            update(100, 100)
    finally:
        configure_logging(level="warning", fmt="json")
    logs = [json.loads(line) for line in stream.getvalue().splitlines()]
    lines = [e for e in logs if e["event"] == "progress"]
    assert [e["done"] for e in lines] == [11, 21, 31, 41, 51, 61, 71, 81, 91, 100]
    assert lines[0]["eta"] == "0:00:44" and lines[-1]["eta"] == "0:00:00"
    assert eta(1, None, 2.0) == "eta ?"


def test_an_unexpected_failure_is_one_line_that_points_at_the_traceback():
    from omnimigrate.cli.app import failure_of

    message, code = failure_of(RuntimeError("boom"))
    assert code is None and "\n" not in message
    assert message == "unexpected RuntimeError: boom (run with --log-level debug for the traceback)"
