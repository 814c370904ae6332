"""`omnimigrate serve` as a process, over real HTTP: POST /events is off without a token,
needs the bearer token when on, refuses what the config does not allow (and then touches no
instance), limits bodies, takes only its own store's S3 notifications, and never logs the
token. The store is on moto's S3 server, the instances are fakes."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.service.events import BackupRequested, RestoreRequested
from tests.conftest import s3_client

pytestmark = pytest.mark.slow  # a real `serve` process, waited on over HTTP

BUCKET = "serve-security"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, body: bytes | None = None, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    method = "GET" if body is None else "POST"
    request = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        text = exc.read()
        return exc.code, json.loads(text) if text.startswith(b"{") else {"text": text.decode()}


@dataclass
class Served:
    metrics: str
    events: str
    token: str
    log: Path
    proc: subprocess.Popen
    fakes: dict[str, FakeOmni] = field(default_factory=dict)

    def event(self, event, token: str | None = "right") -> tuple[int, dict]:
        body = event if isinstance(event, bytes) else event.model_dump_json().encode()
        return call(f"{self.events}/events", body, self.token if token == "right" else token)

    def metric(self, line: str) -> float:
        with urllib.request.urlopen(f"{self.metrics}/metrics", timeout=5) as resp:
            for row in resp.read().decode().splitlines():
                if row.startswith(line + " "):
                    return float(row.rsplit(" ", 1)[1])
        return 0.0


def start_serve(tmp: Path, moto: str, token: str | None, fakes: dict, tokens: dict) -> Served:
    config = {
        "store": f"s3://{BUCKET}/dr", "cache_dir": str(tmp / "cache"), "rate_limit": 100_000,
        "log_level": "debug", "log_format": "json",
        "instances": {n: {"url": f.url, "token_env": [f"{n.upper()}_TOKEN"]} for n, f in fakes.items()},
        "service": {"queue": "memory", "metrics_port": free_port(), "events_port": free_port(),
                    "restore_targets": {"standby": {}}},
    }  # fmt: skip
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    env = {
        **os.environ, "OMNIMIGRATE_CONFIG": str(tmp / "config.yaml"), "PYTHONUNBUFFERED": "1",
        "AWS_ENDPOINT_URL": moto, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        **{f"{n.upper()}_TOKEN": t for n, t in tokens.items()},
    }  # fmt: skip
    env.pop("OMNIMIGRATE_EVENTS_TOKEN", None)
    if token is not None:
        env["OMNIMIGRATE_EVENTS_TOKEN"] = token
    log = tmp / "serve.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "omnimigrate", "serve"],
        env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb"),
    )  # fmt: skip
    svc = config["service"]
    served = Served(f"http://127.0.0.1:{svc['metrics_port']}",
                    f"http://127.0.0.1:{svc['events_port']}", token or "", log, proc, fakes)  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            if call(f"{served.metrics}/healthz")[0] == 200:
                return served
        except OSError:
            pass
        assert proc.poll() is None, log.read_text()[-2000:]
        assert time.monotonic() < deadline, "serve did not start"
        time.sleep(0.2)


def wait_for(served: Served, condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, served.log.read_text()[-3000:]
        time.sleep(0.05)


def stop(served: Served) -> None:
    served.proc.terminate()
    served.proc.wait(30)
    assert served.proc.returncode == 0, served.log.read_text()[-2000:]


@pytest.fixture(scope="module")
def instances():
    """prod with content; standby and other: empty spares with prod's people and models."""
    scenario = generate(ScenarioSpec(documents=10, seed=131))
    spares = {"standby": standby(scenario.state), "other": standby(scenario.state)}
    fakes = {"prod": FakeOmni(scenario.state, FakeSettings(rate_limit=None))}
    fakes |= {n: FakeOmni(s.state, FakeSettings(rate_limit=None)) for n, s in spares.items()}
    for fake in fakes.values():
        fake.start_in_thread()
    tokens = {"prod": scenario.org_token} | {n: s.org_token for n, s in spares.items()}
    yield fakes, tokens
    for fake in fakes.values():
        fake.stop_thread()
        assert [str(v) for v in fake.violations] == []


@pytest.fixture(scope="module")
def served(instances, moto_endpoint, tmp_path_factory):
    s3_client(moto_endpoint).create_bucket(Bucket=BUCKET)
    fakes, tokens = instances
    token = secrets.token_urlsafe(24)
    served = start_serve(tmp_path_factory.mktemp("serve"), moto_endpoint, token, fakes, tokens)
    yield served
    stop(served)


@pytest.mark.slow
def test_without_a_token_events_are_off_and_nothing_is_queued(instances, moto_endpoint, tmp_path):
    s3_client(moto_endpoint).create_bucket(Bucket=BUCKET)
    fakes, tokens = instances
    before = {n: len(f.log.records) for n, f in fakes.items()}
    served = start_serve(tmp_path, moto_endpoint, None, fakes, tokens)
    try:
        body = BackupRequested(instance="prod").model_dump_json().encode()
        status, answer = call(f"{served.metrics}/events", body)
        assert status == 404 and "OMNIMIGRATE_EVENTS_TOKEN" in answer["detail"]
        with pytest.raises(urllib.error.URLError):  # no events listener at all
            call(f"{served.events}/events", body, "anything")
        # without the events port, no route can queue a job: nothing ran, and the service
        # stops (finishing any job it had taken) with the instances untouched
        assert served.metric('omnimigrate_jobs{state="running"}') == 0
    finally:
        stop(served)
    assert {n: len(f.log.records) for n, f in fakes.items()} == before


def test_a_missing_or_wrong_bearer_gets_401_and_the_right_one_202(served):
    backup = BackupRequested(instance="prod")
    assert served.event(backup, token=None)[0] == 401
    assert served.event(backup, token="not-" + served.token)[0] == 401
    assert served.event(backup, token=served.token.upper())[0] == 401
    status, answer = served.event(backup)
    assert (status, answer) == (202, {"queued": 1})
    wait_for(served, lambda: served.metric('omnimigrate_jobs{state="succeeded"}') >= 1)
    assert served.metric('omnimigrate_backup_last_successful_timestamp{instance="prod"}') > 0


def test_a_restore_into_an_unlisted_target_is_refused_and_touches_nothing(served):
    other = served.fakes["other"]
    before = len(other.log.records)
    status, answer = served.event(RestoreRequested(instance="prod", target="other"))
    assert status == 403 and "not a restore target" in answer["detail"]
    assert "service.restore_targets" in answer["detail"]
    # one queue, first in first out: once a later job of the same instance has run, the refused
    # restore would have run before it
    succeeded = served.metric('omnimigrate_jobs{state="succeeded"}')
    assert served.event(BackupRequested(instance="prod"))[0] == 202
    wait_for(served, lambda: served.metric('omnimigrate_jobs{state="succeeded"}') > succeeded)
    assert len(other.log.records) == before == 0


def test_restore_options_are_allow_listed_per_target(served):
    overwrite = RestoreRequested(
        instance="prod", target="standby", options={"on_conflict": "overwrite"}
    )
    status, answer = served.event(overwrite)
    assert status == 403 and "allow_overwrite" in answer["detail"]
    deleted = RestoreRequested(instance="prod", target="standby", options={"include_deleted": True})
    assert "allow_include_deleted" in served.event(deleted)[1]["detail"]
    users = RestoreRequested(
        instance="prod", target="standby", options={"create_missing_users": True}
    )
    status, answer = served.event(users)
    assert status == 403 and "create_missing_users cannot come from an event" in answer["detail"]
    trashed = RestoreRequested(instance="prod", target="standby", options={"trashed": "bin"})
    detail = served.event(trashed)[1]["detail"]
    assert "trashed" in detail and "allowed:" not in detail  # an event may set it, validated
    typo = RestoreRequested(instance="prod", target="standby", options={"on_conflict": "clobber"})
    assert "on_conflict" in served.event(typo)[1]["detail"]
    assert served.fakes["standby"].log.writes() == []


@pytest.mark.slow
def test_an_allowed_restore_runs(served):
    backed_up = 'omnimigrate_backup_last_successful_timestamp{instance="prod"}'
    wait_for(served, lambda: served.metric(backed_up) > 0, seconds=90)
    done = served.metric('omnimigrate_jobs{state="succeeded"}')
    restore = RestoreRequested(instance="prod", target="standby", options={"models": True})
    assert served.event(restore)[0] == 202
    wait_for(served, lambda: served.metric('omnimigrate_jobs{state="succeeded"}') > done, 90)
    restored = 'omnimigrate_items_total{instance="standby",outcome="done",type="restore"}'
    assert served.metric(restored) > 20 and served.fakes["standby"].log.writes()


def test_an_oversized_body_gets_413(served):
    padded = json.dumps({"type": "backup.requested", "instance": "prod", "pad": "x" * 70_000})
    assert served.event(padded.encode())[0] == 413


def test_only_the_stores_own_s3_notifications_are_taken(served):
    def notification(bucket: str, key: str) -> bytes:
        record = {
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": bucket}, "object": {"key": key}},
        }
        return json.dumps({"Records": [record]}).encode()

    manifest = "dr/snapshots/prod/20261201T000000.000000Z/manifest.json"
    assert served.event(notification("someone-else", manifest)) == (202, {"queued": 0})
    assert served.event(notification(BUCKET, "elsewhere/" + manifest)) == (202, {"queued": 0})
    assert served.event(notification(BUCKET, manifest)) == (202, {"queued": 1})
    assert "events.notification_ignored" in served.log.read_text()


def test_the_token_appears_in_no_log_line(served):
    assert served.event(BackupRequested(instance="nowhere"))[0] == 403
    assert served.event(b"not json")[0] == 400
    wait_for(served, lambda: '"events.refused"' in served.log.read_text())
    lines = served.log.read_text().splitlines()
    assert len(lines) > 10  # debug logging of the whole module's traffic
    assert [line for line in lines if served.token in line] == []
    assert any('"events.refused"' in line for line in lines)
