"""Event sinks over real protocols (SQS and SNS on moto's server, a webhook on loopback) and
metrics pushed to a Pushgateway by a one-shot backup."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest
from aiohttp import web

from omnimigrate.http.sessions import open_session
from omnimigrate.service.events import RunFailed, SnapshotCompleted, parse_event
from omnimigrate.service.sinks import Publisher, SnsSink, SqsSink, WebhookSink
from tests.conftest import local_server
from tests.test_backup_cli import env_for, served  # noqa: F401  (the fixture)
from tests.test_cli import run
from tests.test_restore_cli import pair  # noqa: F401  (the fixture)


def aws(kind: str, endpoint: str):
    return boto3.client(kind, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")  # fmt: skip


@pytest.mark.slow
async def test_events_reach_sqs_sns_and_a_slack_style_webhook(moto_endpoint):
    sqs, sns = aws("sqs", moto_endpoint), aws("sns", moto_endpoint)
    direct = sqs.create_queue(QueueName="events-direct")["QueueUrl"]
    via_sns = sqs.create_queue(QueueName="events-via-sns")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=via_sns, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = sns.create_topic(Name="omnimigrate-events")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    received: list[dict] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    event = RunFailed(instance="prod", snapshot_id="s1", job="backup.requested", error="HTTP 503")
    async with local_server(app) as base:
        publisher = Publisher([
            SqsSink(sqs, direct), SnsSink(sns, topic), WebhookSink(f"{base}/hook", open_session),
            WebhookSink("http://127.0.0.1:1/closed", open_session),  # an outage must not fail the run
        ])  # fmt: skip
        await publisher.publish(event)
    for url in (direct, via_sns):
        body = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]["Body"]
        assert parse_event(body) == [event]
    assert received[0]["text"] == "omnimigrate run.failed: prod snapshot s1: HTTP 503"
    assert received[0]["event"]["run_id"] == event.run_id
    assert SnapshotCompleted(instance="prod").run_id != event.run_id


@contextmanager
def pushgateway() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """A stand-in Pushgateway on loopback: yields its URL and the (path, body) pushes."""
    pushed: list[tuple[str, str]] = []

    class Gateway(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            pushed.append(
                (self.path, self.rfile.read(int(self.headers["Content-Length"])).decode())
            )
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", pushed
    finally:
        server.shutdown()


def gateway_config(tmp_path, url: str):
    config = tmp_path / "config.yaml"
    config.write_text(json.dumps({"service": {"pushgateway": url}}))
    return str(config)


def test_a_one_shot_backup_pushes_its_metrics(served, tmp_path):  # noqa: F811
    fake, scenario = served(12, seed=97)
    with pushgateway() as (url, pushed):
        result = run("--config", gateway_config(tmp_path, url), "backup", "--source", fake.url, "--store",
                     str(tmp_path / "s"), "--rate-limit", "100000", env=env_for(scenario, tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    ((path, body),) = pushed
    assert path == "/metrics/job/omnimigrate-backup"
    assert "omnimigrate_backup_last_successful_timestamp" in body
    assert (
        f'omnimigrate_items_total{{instance="127.0.0.1-{fake.url.rsplit(":", 1)[1]}",outcome="captured",type="document"}} 12.0'
        in body
    )


@pytest.mark.slow
def test_a_one_shot_restore_pushes_its_metrics(pair, tmp_path):  # noqa: F811
    _, target, env = pair(10, seed=98)
    with pushgateway() as (url, pushed):
        result = run("--config", gateway_config(tmp_path, url), "restore", "--target", target.url,
                     "--rate-limit", "100000", env=env)  # fmt: skip
    assert result.returncode == 3, result.stderr[-2000:]  # the unexportable document
    ((path, body),) = pushed
    assert path == "/metrics/job/omnimigrate-restore"
    writes = len(target.log.writes())
    assert (
        f'omnimigrate_items_total{{instance="127.0.0.1-{target.url.rsplit(":", 1)[1]}",outcome="done",type="restore"}}'
        in body
    )
    requests = sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("omnimigrate_requests_total{")
    )
    preflight = 1  # one request per key before the restore, outside its metrics
    assert requests + preflight == len(target.log.records) and writes > 0
