"""Each failure is one line that says what happened and what to do; tokens never leak."""

from __future__ import annotations

import functools
import io
import json
import socket

import pytest
from aiohttp import web
from pydantic import SecretStr

from omnimigrate.engine.platform import InstanceUnusable
from omnimigrate.engine.preflight import preflight
from omnimigrate.errors import ApiStatusError, AuthError, NotFound, TransportError
from omnimigrate.http.retry import RetryPolicy
from omnimigrate.http.sessions import open_session
from omnimigrate.logging import configure_logging
from omnimigrate.platforms.lightdash.client import LightdashClient
from omnimigrate.platforms.lightdash.preflight import LightdashChecks
from omnimigrate.platforms.omni.client import OmniClient
from tests.conftest import FAST_RETRY, client_for, local_server

ONE_TRY = RetryPolicy(attempts=1)
lightdash_preflight = functools.partial(preflight, LightdashChecks())


def _one_line(err: Exception) -> str:
    text = str(err)
    assert "\n" not in text and len(text) < 400
    return text


async def test_bad_token(start_fake, scenario):
    fake = await start_fake(scenario.state)
    async with client_for(fake, "not-a-real-token") as client:
        with pytest.raises(AuthError) as info:
            await client.list_labels()
    text = _one_line(info.value)
    assert "HTTP 401" in text and "create a new API key" in text and "not-a-real-token" not in text


async def test_personal_token_on_export(start_fake, scenario):
    fake = await start_fake(scenario.state)
    doc = next(d for d in scenario.state.documents.values() if not d.deleted)
    async with client_for(fake, scenario.personal_token) as client:
        with pytest.raises(AuthError) as info:
            await client.export_document(doc.identifier)
    text = _one_line(info.value)
    assert "HTTP 403" in text and "organization API key, not a personal access token" in text


async def test_unreachable_host():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the request: nothing listens
    async with OmniClient(
        f"http://127.0.0.1:{port}", "t0ken", retry=RetryPolicy(attempts=2, base_delay=0.01)
    ) as c:
        with pytest.raises(TransportError) as info:
            await c.list_labels()
    text = _one_line(info.value)
    assert "cannot connect" in text and "check the instance URL" in text


async def test_non_json_body(aiohttp_html_server):
    async with OmniClient(aiohttp_html_server, "t0ken", retry=ONE_TRY) as client:
        with pytest.raises(Exception) as info:
            await client.list_labels()
    text = _one_line(info.value)
    assert "not JSON (text/html)" in text and "may not be an instance of Omni" in text


async def test_non_json_body_names_lightdash(aiohttp_html_server):
    """The shared transport's guess names the platform its client speaks for."""
    async with LightdashClient(aiohttp_html_server, "t0ken", retry=ONE_TRY) as client:
        with pytest.raises(ApiStatusError) as info:
            await client.version()
    text = _one_line(info.value)
    assert "may not be an instance of Lightdash" in text and "Omni" not in text


async def test_not_found(start_fake, scenario):
    fake = await start_fake(scenario.state)
    async with client_for(fake, scenario.org_token) as client:
        with pytest.raises(NotFound) as info:
            await client.get_schedule("00000000-0000-4000-8000-000000000000")
    text = _one_line(info.value)
    assert "HTTP 404" in text and "Schedule" in text and "does not exist on this instance" in text
    assert "GET /api/v1/schedules/{scheduleId}" in text


async def test_logs_one_json_event_per_request_and_never_the_token(start_fake, scenario):
    stream = io.StringIO()
    redactor = configure_logging(level="debug", fmt="json", stream=stream)
    redactor.add(scenario.org_token)
    try:
        fake = await start_fake(scenario.state)
        async with client_for(fake, scenario.org_token, retry=FAST_RETRY) as client:
            await client.list_labels()
            with pytest.raises(NotFound):
                await client.get_label("missing label")  # a 404: logged at debug, as a probe
            assert scenario.org_token not in repr(client) + repr(client.transport)
    finally:
        configure_logging(level="warning", fmt="json")
    text = stream.getvalue()
    events = [json.loads(line) for line in text.splitlines()]
    requests = [e for e in events if e["event"] == "omni.request"]
    assert len(requests) == 2
    assert {k for k in requests[0]} >= {
        "method",
        "route",
        "status",
        "latency_ms",
        "attempt",
        "rate_limit_wait_ms",
    }
    assert requests[1]["route"] == "/api/v1/labels/{name}" and requests[1]["status"] == 404
    assert scenario.org_token not in text


@pytest.fixture
async def lightdash_without_projects_list():
    """A server whose `GET /api/v1/org/projects` answers Lightdash's envelope around no list."""

    async def projects(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "results": {"projects": "none"}})

    app = web.Application()
    app.router.add_get("/api/v1/org/projects", projects)
    async with local_server(app) as url:
        yield url


async def test_lightdash_preflight_names_a_bad_answer(lightdash_without_projects_list):
    with pytest.raises(InstanceUnusable) as info:
        await lightdash_preflight(
            lightdash_without_projects_list, [SecretStr("t")], ["T"], 5.0, open_session
        )
    assert "did not answer as Lightdash's API does" in _one_line(info.value)


async def test_lightdash_preflight_lets_a_bug_of_ours_through(
    lightdash_without_projects_list, monkeypatch
):
    """Our own AttributeError is a bug to see with its traceback, not the server's fault."""

    async def broken(self: LightdashClient) -> None:
        raise AttributeError("'NoneType' object has no attribute 'uuid'")

    monkeypatch.setattr(LightdashClient, "projects", broken)
    with pytest.raises(AttributeError, match="no attribute 'uuid'"):
        await lightdash_preflight(
            lightdash_without_projects_list, [SecretStr("t")], ["T"], 5.0, open_session
        )


def test_redactor_masks_secrets_anywhere():
    from omnimigrate.logging import Redactor

    r = Redactor(["s3cr3t-value"])
    event = r(
        None,
        "info",
        {
            "event": "x s3cr3t-value y",
            "headers": {"Authorization": "Bearer abc"},
            "webhook_token": "zzz",
            "detail": "sent Bearer abc.def",
        },
    )
    assert event == {
        "event": "x *** y",
        "headers": {"Authorization": "***"},
        "webhook_token": "***",
        "detail": "sent Bearer ***",
    }


@pytest.fixture
async def aiohttp_html_server():
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text="<html><body>Sign in</body></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/api/v1/labels", handler)
    app.router.add_get("/api/v1/health", handler)
    async with local_server(app) as url:
        yield url
