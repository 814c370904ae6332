"""Service mode over real protocols: SQS and S3 on moto's server, Omni on two fakes."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import boto3
import pytest
from pydantic import SecretStr

from omnimigrate.config import InstanceConfig, ReplicationRule, ServiceConfig, Settings
from omnimigrate.engine.restore import open_snapshot
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.verifying import verify
from omnimigrate.service.event_queue import SqsQueue
from omnimigrate.service.events import (
    BackupRequested,
    BadEvent,
    RestoreCompleted,
    SnapshotCompleted,
    StoreBucket,
    parse_event,
)
from omnimigrate.service.http import service_app
from omnimigrate.service.metrics import Metrics
from omnimigrate.service.sinks import Publisher
from omnimigrate.service.worker import Worker
from tests.conftest import client_for, local_server


class Capture:
    def __init__(self) -> None:
        self.events: list = []

    async def publish(self, event) -> None:
        self.events.append(event)


def sqs_client(endpoint: str):
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip


def make_queue(sqs, name: str, max_receives: int = 3) -> str:
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)})
    return sqs.create_queue(
        QueueName=name, Attributes={"RedrivePolicy": policy, "VisibilityTimeout": "30"}
    )["QueueUrl"]


async def wait_for(predicate, seconds: float = 120) -> None:
    for _ in range(int(seconds * 10)):
        if predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("timed out")


@pytest.mark.slow
async def test_backup_event_on_sqs_backs_up_replicates_into_standby_and_verifies(
    start_fake, make_s3_store, moto_endpoint, tmp_path
):
    scenario = generate(ScenarioSpec(documents=40, seed=89))
    spare = standby(scenario.state)
    source = await start_fake(scenario.state)
    target = await start_fake(spare.state)
    sqs = sqs_client(moto_endpoint)
    url = make_queue(sqs, "omnimigrate-jobs")
    store = make_s3_store("moto")
    settings = Settings(
        rate_limit=100_000, cache_dir=tmp_path, retry_base_delay=0.01,
        instances={"src": InstanceConfig(url=source.url, token_env=["SRC"]),
                   "dst": InstanceConfig(url=target.url, token_env=["DST"])},
        service=ServiceConfig(queue=url, retry_seconds=0.2,
                              replication=[ReplicationRule(source="src", target="dst", options={"models": True})]),
    )  # fmt: skip
    tokens = {source.url: scenario.org_token, target.url: spare.org_token}
    capture, metrics = Capture(), Metrics()
    worker = Worker(settings, store, SqsQueue(sqs, url, wait_seconds=1), Publisher([capture]), metrics,
                    tokens=lambda inst: [SecretStr(tokens[inst.url])])  # fmt: skip
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    app = service_app(metrics, lambda: worker.ready)
    try:
        async with local_server(app) as base, aiohttp.ClientSession() as http:
            sqs.send_message(
                QueueUrl=url, MessageBody=BackupRequested(instance="src").model_dump_json()
            )
            await wait_for(lambda: any(isinstance(e, RestoreCompleted) for e in capture.events))
            for path in ("/healthz", "/readyz"):
                async with http.get(f"{base}{path}") as resp:
                    assert resp.status == 200
            async with http.get(f"{base}/metrics") as resp:
                exposition = await resp.text()
    finally:
        stop.set()
        await task

    kinds = [e.type for e in capture.events]
    assert kinds == ["snapshot.completed", "restore.completed"]
    completed = capture.events[0]
    snap = open_snapshot(store, completed.snapshot_id, "src")
    async with client_for(target, spare.org_token) as c:
        report = await verify(snap.source, [c], models=True)
    assert report.ok, {k: t.differences[:3] for k, t in report.types.items()}
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"  # fmt: skip

    samples = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    assert samples['omnimigrate_backup_last_successful_timestamp{instance="src"}'] == pytest.approx(
        snap_manifest_time(store, completed), abs=1
    )
    src_requests = sum(
        v
        for k, v in samples.items()
        if k.startswith("omnimigrate_requests_total{") and 'instance="src"' in k
    )
    assert src_requests == len(source.log.records)
    assert (
        samples['omnimigrate_items_total{instance="src",outcome="captured",type="document"}'] == 40
    )
    assert samples.get('omnimigrate_rate_limited_total{instance="src"}', 0) == 0
    assert samples['omnimigrate_snapshot_bytes{instance="src"}'] > 0
    assert samples['omnimigrate_jobs{state="succeeded"}'] == 2
    assert samples['omnimigrate_items_total{instance="dst",outcome="done",type="restore"}'] > 100


def snap_manifest_time(store, event) -> float:
    from omnimigrate.snapshot.catalog import Catalog

    catalog = Catalog(store)
    return catalog.load(catalog.resolve(event.snapshot_id, "src")).finished_at.timestamp()


@pytest.mark.slow
async def test_a_job_that_keeps_failing_ends_in_the_dead_letter_queue(
    moto_endpoint, make_s3_store, tmp_path
):
    sqs = sqs_client(moto_endpoint)
    url = make_queue(sqs, "omnimigrate-failing", max_receives=2)
    settings = Settings(
        cache_dir=tmp_path,
        instances={"nowhere": InstanceConfig(url="http://127.0.0.1:1", token_env=["NO_SUCH_VAR"])},
        service=ServiceConfig(queue=url, retry_seconds=0),
    )
    capture = Capture()
    worker = Worker(
        settings,
        make_s3_store("moto"),
        SqsQueue(sqs, url, wait_seconds=1),
        Publisher([capture]),
        Metrics(),
    )
    sqs.send_message(
        QueueUrl=url, MessageBody=BackupRequested(instance="nowhere").model_dump_json()
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    dlq = sqs.get_queue_url(QueueName="omnimigrate-failing-dlq")["QueueUrl"]

    def dead() -> bool:
        attrs = sqs.get_queue_attributes(
            QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return attrs["Attributes"]["ApproximateNumberOfMessages"] == "1"

    try:
        await wait_for(dead, 60)
    finally:
        stop.set()
        await task
    failures = [e for e in capture.events if e.type == "run.failed"]
    assert len(failures) == 2 and "NO_SUCH_VAR is not set" in failures[0].error


def s3_record(bucket: str, key: str) -> dict:
    return {
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": bucket}, "object": {"key": key}},
    }


def test_s3_notifications_of_the_store_and_sns_envelopes_become_snapshot_completed():
    manifest = "dr/prod/snapshots/acme/20261123T020000.000000Z/manifest.json"
    records = [
        s3_record("acme-dr", manifest),
        s3_record("acme-dr", "dr/prod/blobs/ab/abcd"),  # not a manifest
        s3_record("someone-else", manifest),  # another bucket
        s3_record("acme-dr", "dr/staging/snapshots/acme/20261123T020000.000000Z/manifest.json"),
    ]
    body = json.dumps({"Records": records})
    events = parse_event(body, StoreBucket("acme-dr", "dr/prod"))
    assert events == [SnapshotCompleted(instance="acme", snapshot_id="20261123T020000.000000Z",
                                        run_id=events[0].run_id, at=events[0].at)]  # fmt: skip
    assert parse_event(body) == []  # a store that is not on S3 takes no S3 notification
    wrapped = parse_event(
        json.dumps({"Message": BackupRequested(instance="acme").model_dump_json()})
    )
    assert wrapped[0].type == "backup.requested"
    with pytest.raises(BadEvent, match="not an omnimigrate event"):
        parse_event('{"type": "backup.exploded"}')
