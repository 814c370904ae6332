"""Service mode over real protocols: SQS and S3 on moto's server, Omni on two fakes."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import aiohttp
import boto3
import pytest
from aiohttp import web
from pydantic import SecretStr

from omnimigrate.config import (
    InstanceConfig,
    ReplicationRule,
    RestoreTarget,
    ServiceConfig,
    Settings,
)
from omnimigrate.engine.drill import DrillReport
from omnimigrate.engine.restore import open_snapshot
from omnimigrate.http.sessions import open_session
from omnimigrate.platforms.omni.fake.scenario import ScenarioSpec, generate, standby
from omnimigrate.platforms.omni.options import OmniVerifyOptions
from omnimigrate.platforms.omni.phases import verify
from omnimigrate.service.event_queue import MemoryQueue, SqsQueue
from omnimigrate.service.events import (
    BackupRequested,
    BadEvent,
    DrillCompleted,
    DrillRequested,
    RestoreCompleted,
    SnapshotCompleted,
    StoreBucket,
    parse_event,
)
from omnimigrate.service.http import events_app, service_app
from omnimigrate.service.metrics import Metrics
from omnimigrate.service.policy import EventGate, Refused
from omnimigrate.service.sinks import Publisher, WebhookSink
from omnimigrate.service.worker import Worker
from omnimigrate.snapshot.store import LocalStore
from tests.conftest import client_for, local_server, samples_of


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
        report = await verify(snap.source, [c], OmniVerifyOptions(models=True))
    assert report.ok, {k: t.differences[:3] for k, t in report.types.items()}
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"]["ApproximateNumberOfMessages"] == "0"  # fmt: skip

    samples = samples_of(exposition)
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


class Hook:
    """A Slack-style webhook on loopback: the event bodies it received, and a wait for a type."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.texts: list[str] = []
        self._arrived: dict[str, asyncio.Event] = {}

    def app(self) -> web.Application:
        async def receive(request: web.Request) -> web.Response:
            body = await request.json()
            self.texts.append(body["text"])
            self.bodies.append(body["event"])
            self._seen(body["event"]["type"]).set()
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/hook", receive)
        return app

    def _seen(self, kind: str) -> asyncio.Event:
        return self._arrived.setdefault(kind, asyncio.Event())

    async def first(self, kind: str) -> dict:
        await asyncio.wait_for(self._seen(kind).wait(), 120)
        return next(b for b in self.bodies if b["type"] == kind)


async def test_a_drill_requested_over_http_runs_publishes_its_figures_and_sets_the_gauges(
    start_fake, tmp_path
):
    scenario = generate(ScenarioSpec(documents=12, seed=151))
    spare = standby(scenario.state)
    source = await start_fake(scenario.state)
    target = await start_fake(spare.state)
    refused = next(d for d in scenario.state.documents.values() if "exportRefusal" in d.settings)
    store = LocalStore(tmp_path / "store")
    settings = Settings(
        rate_limit=100_000, cache_dir=tmp_path / "cache", retry_base_delay=0.01,
        instances={"src": InstanceConfig(url=source.url, token_env=["SRC"]),
                   "standby": InstanceConfig(url=target.url, token_env=["STANDBY"])},
        service=ServiceConfig(retry_seconds=0.2, restore_targets={
            # the export the source refuses: blocked on every drill, and known
            "standby": RestoreTarget(accept_blocked=[f"*:{refused.identifier}*"])}),
    )  # fmt: skip
    tokens = {source.url: scenario.org_token, target.url: spare.org_token}
    hook, metrics, queue, token = Hook(), Metrics(), MemoryQueue(), "drill-test-token"
    async with local_server(hook.app()) as hook_url:
        publisher = Publisher([WebhookSink(f"{hook_url}/hook", open_session)])
        worker = Worker(settings, store, queue, publisher, metrics,
                        tokens=lambda inst: [SecretStr(tokens[inst.url])])  # fmt: skip
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        events = events_app(worker.gate, queue, publisher, SecretStr(token))
        try:
            async with (
                local_server(events) as events_url,
                local_server(service_app(metrics, lambda: worker.ready)) as metrics_url,
                aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
            ):

                async def post(event) -> tuple[int, dict]:
                    body = event.model_dump_json()
                    async with http.post(f"{events_url}/events", data=body) as resp:
                        return resp.status, await resp.json()

                assert await post(BackupRequested(instance="src")) == (202, {"queued": 1})
                snapshot = await hook.first("snapshot.completed")
                status, answer = await post(DrillRequested(instance="src", target="src"))
                assert status == 403 and "not a restore target" in answer["detail"]
                writes = len(target.log.writes())
                drill = DrillRequested(
                    instance="src", target="standby", options={"on_conflict": "skip"}
                )
                assert await post(drill) == (202, {"queued": 1})
                body = await hook.first("drill.completed")
                async with http.get(f"{metrics_url}/metrics") as resp:
                    samples = samples_of(await resp.text())
        finally:
            stop.set()
            await task

    (refusal,) = [b for b in hook.bodies if b["type"] == "run.failed"]
    assert refusal["job"] == "drill.requested" and refusal["error"].startswith("refused: ")
    assert writes == 0 and len(target.log.writes()) > 0  # the refused drill wrote nothing
    (key,) = [k for k in store.list("snapshots/src/") if k.endswith("/drill.json")]
    folder = key.removesuffix("/drill.json")  # beside the snapshot drilled
    assert folder.startswith(f"snapshots/src/{snapshot['snapshot_id']}/drills/")
    assert store.exists(f"{folder}/drill.html")
    report = DrillReport.model_validate_json(store.get(key))
    assert body == {
        "type": "drill.completed", "instance": "src", "snapshot_id": snapshot["snapshot_id"],
        "run_id": drill.run_id, "at": body["at"], "target": "standby",
        "drill_id": report.drill_id, "passed": True, "evidence": f"{store.url}/{folder}",
        "fidelity": {kind: 100.0 for kind in report.fidelity}, "fidelity_percent": 100.0,
        "rpo_seconds": report.rpo_seconds, "rto_seconds": report.restore.wall_seconds,
        "rto_estimate_seconds": report.restore.estimate_seconds,
        "new_content_issues": 0, "blocked": len(report.blocked), "blocked_unacknowledged": 0,
    }  # fmt: skip
    assert hook.texts[-1] == (
        f"omnimigrate drill.completed: src snapshot {snapshot['snapshot_id']} into standby: "
        "passed, fidelity 100.00 %, 0 new content issues"
    )
    assert {"documents", "folders"} <= report.fidelity.keys() and report.blocked
    assert report.rpo_seconds > 0 and report.restore.estimate_requests > 0
    assert report.content.checked > 0

    pair = 'instance="src",target="standby"'
    assert {name: samples[f"omnimigrate_drill_{name}{{{pair}}}"] for name in (
        "fidelity_percent", "rpo_seconds", "rto_seconds", "rto_estimate_seconds",
        "new_content_issues", "blocked_unacknowledged", "passed", "last_timestamp",
    )} == {
        "fidelity_percent": 100.0, "rpo_seconds": body["rpo_seconds"],
        "rto_seconds": body["rto_seconds"], "rto_estimate_seconds": body["rto_estimate_seconds"],
        "new_content_issues": 0, "blocked_unacknowledged": 0, "passed": 1.0,
        "last_timestamp": report.finished_at.timestamp(),
    }  # fmt: skip
    per_type = {
        name.split('type="')[1].rstrip('"}'): value
        for name, value in samples.items()
        if name.startswith(f"omnimigrate_drill_type_fidelity_percent{{{pair},")
    }
    assert per_type == body["fidelity"]


def test_a_drill_event_is_refused_what_a_restore_event_is(
    tmp_path,
):
    settings = Settings(
        instances={"prod": InstanceConfig(url="https://a.omniapp.co", token_env=["P"]),
                   "standby": InstanceConfig(url="https://b.omniapp.co", token_env=["S"]),
                   "ld": InstanceConfig(url="https://c.lightdash.cloud", token_env=["L"],
                                        platform="lightdash")},
        service=ServiceConfig(restore_targets={"standby": RestoreTarget(), "ld": RestoreTarget()}),
    )  # fmt: skip
    gate = EventGate(settings, LocalStore(tmp_path))
    gate.check(DrillRequested(instance="prod", target="standby", options={"models": True}))
    gate.check(DrillRequested(instance="prod", target="ld"))  # Lightdash has content checks too
    refusals = {
        "drill.requested option model_map cannot come from an event": DrillRequested(
            instance="prod", target="standby", options={"model_map": {"a": "b"}}
        ),
        "on_conflict: overwrite into 'standby' is not allowed": DrillRequested(
            instance="prod", target="standby", options={"on_conflict": "overwrite"}
        ),
    }
    for reason, event in refusals.items():
        with pytest.raises(Refused, match=re.escape(reason)):
            gate.check(event)


def test_the_readme_documents_every_field_of_drill_completed():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    block = readme.split("publishes `drill.completed` (a test keeps this", 1)[1]
    example = json.loads(block.split("```json\n", 1)[1].split("```", 1)[0])
    assert example.keys() == DrillCompleted.model_fields.keys()
    assert DrillCompleted.model_validate(example).fidelity_percent == 100.0
