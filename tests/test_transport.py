"""The session seam: every client, pre-flight, `doctor` and sink sends through the factory it
is handed. The hosts below do not resolve, so a request that bypassed the factory would fail
instead of reaching the test transport."""

from __future__ import annotations

import json

import pytest
from aiohttp import web
from click.testing import CliRunner
from pydantic import SecretStr

from omnimigrate.cli import with_commands
from omnimigrate.cli.doctor import diagnose
from omnimigrate.config import InstanceConfig
from omnimigrate.engine.platform import InstanceUnusable
from omnimigrate.engine.preflight import preflight
from omnimigrate.http.retry import RetryPolicy
from omnimigrate.platforms.lightdash.platform import client_pool as ld_pool
from omnimigrate.platforms.lightdash.preflight import LightdashChecks
from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.pool import client_pool
from omnimigrate.platforms.omni.preflight import OmniChecks
from omnimigrate.service.events import SnapshotCompleted
from omnimigrate.service.sinks import WebhookSink
from tests.transport import MockSessions

OMNI, LIGHTDASH = "https://omni.test", "https://lightdash.test"
ONCE = RetryPolicy(attempts=1)


async def omni(request: web.BaseRequest) -> web.StreamResponse:
    """Just enough of Omni for a pre-flight and `doctor`: a token `bad` is refused."""
    if request.headers.get("Authorization") == "Bearer bad":
        return web.json_response({"detail": "invalid key"}, status=401)
    if request.path == "/api/v1/labels":
        return web.json_response({"labels": [{"name": "Finance"}]})
    if request.path == "/api/scim/v2/Users":
        return web.json_response({"Resources": [], "totalResults": 0})
    return web.json_response({"detail": "no such route"}, status=404)


async def lightdash(request: web.BaseRequest) -> web.StreamResponse:
    def ok(results: object) -> web.StreamResponse:
        return web.json_response({"status": "ok", "results": results})

    if request.path == "/api/v1/health":
        return ok({"version": "0.2100.0"})
    if request.headers.get("Authorization") != "ApiKey good":
        return web.json_response({"status": "error", "error": {"message": "no"}}, status=401)
    if request.path == "/api/v1/org/projects":
        return ok([{"projectUuid": "p-1", "name": "Staging"}])
    if request.path == "/api/v1/user":
        return ok({"userUuid": "u-1", "email": "admin@example.com", "role": "admin"})
    return web.json_response({"status": "error"}, status=404)


async def test_a_client_opens_its_own_session_from_the_factory() -> None:
    sessions = MockSessions(omni)
    async with OmniClient(OMNI, "k1", sessions=sessions, retry=ONCE) as client:
        labels = await client.list_labels()
    assert [label.name for label in labels] == ["Finance"]
    assert sessions.requests == ["GET omni.test/api/v1/labels"] and sessions.opened == 1


async def test_a_pool_shares_one_session_of_the_factory_between_its_keys() -> None:
    sessions = MockSessions(omni)
    keys = [SecretStr("k1"), SecretStr("k2")]
    async with client_pool(OMNI, keys, rate_limit=10_000, sessions=sessions) as clients:
        for client in clients:
            await client.list_labels()
    assert sessions.opened == 1 and len(sessions.requests) == 2
    seen = MockSessions(lightdash)
    async with ld_pool(LIGHTDASH, [SecretStr("good")], rate_limit=10_000, sessions=seen) as cs:
        assert [p.name for p in await cs[0].projects()] == ["Staging"]
    assert seen.requests == ["GET lightdash.test/api/v1/org/projects"]


async def test_omni_preflight_sends_through_the_factory() -> None:
    sessions = MockSessions(omni)
    await preflight(OmniChecks(), OMNI, [SecretStr("k1")], ["OMNI_TOKEN"], 5.0, sessions)
    assert sessions.requests == ["GET omni.test/api/scim/v2/Users?count=1"]
    with pytest.raises(InstanceUnusable, match=r"refused the token in \$OMNI_TOKEN"):
        await preflight(OmniChecks(), OMNI, [SecretStr("bad")], ["OMNI_TOKEN"], 5.0, sessions)
    # refused, it asks the same transport whether the URL is a Lightdash
    assert sessions.requests[-1] == "GET omni.test/api/v1/health"


async def test_an_omni_preflight_pointed_at_a_lightdash_names_the_platform() -> None:
    sessions = MockSessions(lightdash)
    with pytest.raises(InstanceUnusable, match=r"it is a Lightdash \(0.2100.0\) server"):
        await preflight(OmniChecks(), LIGHTDASH, [SecretStr("k1")], ["OMNI_TOKEN"], 5.0, sessions)


async def test_lightdash_preflight_sends_through_the_factory() -> None:
    sessions = MockSessions(lightdash)
    staging = LightdashChecks("Staging")
    await preflight(staging, LIGHTDASH, [SecretStr("good")], ["LD"], 5.0, sessions)
    assert sessions.requests == ["GET lightdash.test/api/v1/org/projects"]
    with pytest.raises(InstanceUnusable, match=r"refused the token in \$LD \(401"):
        await preflight(LightdashChecks(), LIGHTDASH, [SecretStr("bad")], ["LD"], 5.0, sessions)
    assert sessions.requests[-1] == "GET lightdash.test/api/v1/health"


async def test_doctor_checks_every_key_through_the_factory() -> None:
    sessions = MockSessions(omni)
    inst = InstanceConfig(url=OMNI, token_env=["A", "B"])
    checks = await diagnose(inst, [SecretStr("k1"), SecretStr("bad")], 60_000, 5.0, sessions)
    failed = [(c.name, c.detail) for c in checks if not c.ok]
    assert len(failed) == 1 and failed[0][0] == "authenticated" and "invalid key" in failed[0][1]
    assert sessions.requests == [
        "GET omni.test/api/v1/labels",
        "GET omni.test/api/scim/v2/Users?count=1",
        "GET omni.test/api/v1/labels",
        "GET omni.test/api/v1/health",  # a key failed: is it the other platform?
    ]
    seen = MockSessions(lightdash)
    inst = InstanceConfig(url=LIGHTDASH, token_env=["LD"], platform="lightdash")
    checks = await diagnose(inst, [SecretStr("good")], 60_000, 5.0, seen)
    assert all(c.ok for c in checks) and seen.requests == [
        "GET lightdash.test/api/v1/user",
        "GET lightdash.test/api/v1/org/projects",
    ]


def test_the_cli_hands_its_factory_down_to_doctor(monkeypatch: pytest.MonkeyPatch) -> None:
    sessions = MockSessions(omni)
    monkeypatch.setenv("OMNI_SOURCE_TOKEN", "k1")
    shown = CliRunner().invoke(
        with_commands(), ["doctor", "--source", OMNI, "--rate-limit", "60000"], obj=sessions
    )
    assert shown.exit_code == 0, shown.output
    assert "organization API key" in shown.output
    assert sessions.requests == [
        "GET omni.test/api/v1/labels",
        "GET omni.test/api/scim/v2/Users?count=1",
    ]


async def test_a_webhook_sink_posts_through_the_factory() -> None:
    posted: list[dict[str, object]] = []

    async def hook(request: web.BaseRequest) -> web.StreamResponse:
        posted.append(json.loads(await request.read()))
        return web.Response(status=204)

    sessions = MockSessions(hook)
    await WebhookSink("https://hooks.test/events", sessions).publish(
        SnapshotCompleted(instance="prod", snapshot_id="s-1")
    )
    assert sessions.requests == ["POST hooks.test/events"]
    assert posted[0]["text"] == "omnimigrate snapshot.completed: prod snapshot s-1"
