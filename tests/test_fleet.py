"""Distributed mode: three `serve` processes on one SQS queue back up four instances; one
worker is SIGKILLed mid-job. Every snapshot completes once, and no instance ever sees more
requests in a window than its limit. Restores the config does not allow, sent on the same
queue, are refused as run.failed and never touch their target."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.service.events import BackupRequested, RestoreRequested, parse_event
from omnimigrate.snapshot.catalog import Catalog
from tests.conftest import s3_client
from tests.test_service import make_queue, sqs_client

pytestmark = pytest.mark.slow  # workers are real processes on SQS, one SIGKILLed

LIMIT, PERIOD = 20, 2.0


@pytest.fixture
def fleet():
    fakes = []
    for i in range(4):
        scenario = generate(ScenarioSpec(documents=40, seed=100 + i))
        fake = FakeOmni(scenario.state, FakeSettings(rate_limit=LIMIT, period=PERIOD))
        fake.start_in_thread()
        fakes.append((fake, scenario.org_token))
    yield fakes
    for fake, _ in fakes:
        fake.stop_thread()
        assert [str(v) for v in fake.violations] == []


@pytest.fixture
def bystander():
    """An instance in the config that no event may restore into."""
    fake = FakeOmni(
        generate(ScenarioSpec(documents=5, seed=99)).state, FakeSettings(rate_limit=None)
    )
    fake.start_in_thread()
    yield fake
    fake.stop_thread()


@pytest.mark.slow
def test_three_workers_four_instances_one_killed(fleet, bystander, moto_endpoint, tmp_path):
    sqs = sqs_client(moto_endpoint)
    url = make_queue(sqs, "omnimigrate-fleet", max_receives=10)
    events_url = sqs.create_queue(QueueName="omnimigrate-fleet-events")["QueueUrl"]
    s3 = s3_client(moto_endpoint)
    s3.create_bucket(Bucket="omnimigrate-fleet")
    config = {
        "store": "s3://omnimigrate-fleet/dr", "rate_limit": LIMIT, "rate_period": PERIOD,
        "lock_ttl": 6, "cache_dir": str(tmp_path / "cache"), "retry_base_delay": 0.05,
        "instances": {f"i{n}": {"url": fake.url, "token_env": [f"TOKEN_{n}"]}
                      for n, (fake, _) in enumerate(fleet)}
                     | {"bystander": {"url": bystander.url, "token_env": ["TOKEN_0"]}},
        "service": {"queue": url, "visibility_timeout": 10, "retry_seconds": 1, "metrics_port": 0,
                    "sinks": [f"sqs:{events_url}"], "restore_targets": {"i3": {}}},
    }  # fmt: skip
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    env = {
        **os.environ, "OMNIMIGRATE_CONFIG": str(tmp_path / "config.yaml"),
        "AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
        **{f"TOKEN_{n}": token for n, (_, token) in enumerate(fleet)},
    }  # fmt: skip
    workers = [
        subprocess.Popen([sys.executable, "-m", "omnimigrate", "serve", "--port", "0"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(3)
    ]  # fmt: skip
    try:
        forbidden = [RestoreRequested(instance="i0", target="bystander"),
                     RestoreRequested(instance="i0", target="i3", options={"on_conflict": "overwrite"})]  # fmt: skip
        for event in [*forbidden, *(BackupRequested(instance=f"i{n}") for n in range(4))]:
            sqs.send_message(QueueUrl=url, MessageBody=event.model_dump_json())
        victim = wait_for_a_running_job(s3)
        os.kill(victim, signal.SIGKILL)
        catalog = fleet_catalog(moto_endpoint)
        deadline = time.monotonic() + 240
        while len(catalog.refs()) < 4:
            assert time.monotonic() < deadline, [r.instance for r in catalog.refs()]
            assert sum(w.poll() is None for w in workers) >= 2
            time.sleep(0.5)
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(30)
    refs = catalog.refs()
    assert sorted(r.instance for r in refs) == ["i0", "i1", "i2", "i3"]  # one each, none twice
    assert all(catalog.load(r).status == "complete" for r in refs)
    assert victim in {w.pid for w in workers}
    refusals = {e.run_id: e.error for e in published(sqs, events_url) if e.type == "run.failed"}
    assert "not a restore target" in refusals[forbidden[0].run_id]
    assert "allow_overwrite" in refusals[forbidden[1].run_id]
    assert bystander.log.records == []
    for fake, _ in fleet:
        assert [r for r in fake.log.records if r.status == 429] == []
        for key in {r.key for r in fake.log.records}:
            assert fake.log.max_in_window(PERIOD, key) <= LIMIT


def published(sqs, url: str) -> list:
    events = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        events += [e for m in batch for e in parse_event(m["Body"])]
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])  # fmt: skip
    return events


def fleet_catalog(endpoint: str) -> Catalog:
    from omnimigrate.snapshot.store import open_store

    return Catalog(open_store("s3://omnimigrate-fleet/dr", s3_client=s3_client(endpoint)))


def wait_for_a_running_job(s3) -> int:
    """The pid of a worker holding an instance's lock."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket="omnimigrate-fleet", Prefix="dr/locks/")
        for obj in listed.get("Contents", []):
            body = s3.get_object(Bucket="omnimigrate-fleet", Key=obj["Key"])["Body"].read()
            time.sleep(1.5)  # let it get well into the job
            return json.loads(body)["pid"]
        time.sleep(0.1)
    raise AssertionError("no worker took a job")
