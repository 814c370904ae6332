"""The engine's pre-flight frame (`engine/preflight.py`) with no platform: a platform's part is
a `Checks` that says what each key's answers mean; the frame opens one session, probes each
key in turn, decides, and asks which server the URL is only when a failure may mean another
platform's. Both platforms' checks run in it (tests/test_transport.py, tests/test_errors.py)."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from omnimigrate.engine.preflight import (
    INSTANCE,
    Finding,
    InstanceUnusable,
    Probe,
    diagnose,
    passed,
    preflight,
)
from omnimigrate.http.ratelimit import key_fingerprint
from tests.transport import MockSessions

URL = "https://instance.test"


async def nothing(request: web.BaseRequest) -> web.StreamResponse:
    raise AssertionError(f"the frame sent {request.path} itself")


class Scripted:
    """Checks whose answers are given per token, recording what the frame asked."""

    def __init__(self, answers: dict[str, list[Finding]], other: str | None = None) -> None:
        self.answers, self.other = answers, other
        self.probed: list[tuple[str, str, int]] = []  # (token, name, rate limit)
        self.asked = 0
        self.sessions: set[int] = set()

    def _answer(self, probe: Probe) -> list[Finding]:
        assert probe.url == URL and probe.timeout == 5.0
        self.sessions.add(id(probe.session))
        self.probed.append((probe.token.get_secret_value(), probe.name, probe.rate_limit))
        return self.answers[probe.token.get_secret_value()]

    async def preflight(self, probe: Probe) -> list[Finding]:
        return self._answer(probe)

    async def diagnose(self, probe: Probe) -> list[Finding]:
        return self._answer(probe)

    async def other_server(
        self, session: aiohttp.ClientSession, url: str, timeout: float
    ) -> str | None:
        assert url == URL and id(session) in self.sessions  # on the frame's one session
        self.asked += 1
        return self.other


OK = [Finding("reachable", True, URL), Finding("authenticated", True, "token accepted")]
KEYS = [SecretStr("k1"), SecretStr("k2"), SecretStr("k3")]
NAMES = ["A", "B", "C"]


async def test_every_key_is_probed_in_turn_on_one_session() -> None:
    checks, sessions = Scripted({"k1": OK, "k2": OK, "k3": OK}), MockSessions(nothing)
    await preflight(checks, URL, KEYS, NAMES, 5.0, sessions)
    assert checks.probed == [("k1", "A", 60), ("k2", "B", 60), ("k3", "C", 60)]
    assert sessions.opened == 1 and len(checks.sessions) == 1 and checks.asked == 0


async def test_the_first_failed_finding_stops_the_run_with_its_message() -> None:
    refused = Finding("authenticated", False, "refused the token in $B", foreign=True)
    checks = Scripted({"k1": OK, "k2": [OK[0], refused], "k3": OK})
    with pytest.raises(InstanceUnusable) as info:
        await preflight(checks, URL, KEYS, NAMES, 5.0, MockSessions(nothing))
    assert str(info.value) == "refused the token in $B"  # the other server was not another's
    assert info.value.configuration  # a token: fixed in the configuration (exit 2)
    assert [p[0] for p in checks.probed] == ["k1", "k2"] and checks.asked == 1


async def test_a_foreign_failure_names_the_other_platform_and_a_network_one_is_not_config() -> None:
    refused = Finding("authenticated", False, "refused the token in $A", foreign=True)
    checks = Scripted({"k1": [refused]}, other="it is a Lightdash server: add --platform")
    with pytest.raises(InstanceUnusable, match=r"^refused the token in \$A; it is a Lightdash "):
        await preflight(checks, URL, KEYS[:1], NAMES[:1], 5.0, MockSessions(nothing))
    gone = Finding("reachable", False, "did not answer", configuration=False)
    checks = Scripted({"k1": [gone]}, other="never asked")
    with pytest.raises(InstanceUnusable) as info:
        await preflight(checks, URL, KEYS[:1], NAMES[:1], 5.0, MockSessions(nothing))
    assert str(info.value) == "did not answer" and not info.value.configuration
    assert checks.asked == 0  # not foreign: no question to the URL


async def test_a_bug_in_a_platforms_checks_is_not_taken_for_the_servers_answer() -> None:
    class Broken(Scripted):
        async def preflight(self, probe: Probe) -> list[Finding]:
            raise AttributeError("'NoneType' object has no attribute 'uuid'")

    with pytest.raises(AttributeError, match="uuid"):
        await preflight(Broken({}), URL, KEYS[:1], NAMES[:1], 5.0, MockSessions(nothing))


async def test_doctor_collects_every_keys_findings_and_names_the_other_server_once() -> None:
    personal = Finding("key type", False, "personal access token", foreign=True)
    checks = Scripted({"k1": OK, "k2": [*OK, personal]}, other="it is a Lightdash server")
    found = await diagnose(checks, URL, KEYS[:2], NAMES[:2], 600, 5.0, MockSessions(nothing))
    one, two = key_fingerprint("k1"), key_fingerprint("k2")
    assert [(f.key, f.name, f.ok) for f in found] == [
        (one, "reachable", True), (one, "authenticated", True),
        (two, "reachable", True), (two, "authenticated", True), (two, "key type", False),
        (INSTANCE, "platform", False),
    ]  # fmt: skip
    assert found[-1].detail == "it is a Lightdash server" and checks.asked == 1
    assert [p[2] for p in checks.probed] == [600, 600]  # doctor's probes carry the client limit
    assert not passed(found) and passed(found[:2])


async def test_doctor_asks_nothing_more_when_the_failures_are_this_platforms() -> None:
    lesser = Finding("role", False, "organization role member")  # the server is ours
    checks = Scripted({"k1": [*OK, lesser]}, other="never asked")
    found = await diagnose(checks, URL, KEYS[:1], NAMES[:1], 60, 5.0, MockSessions(nothing))
    assert [f.name for f in found] == ["reachable", "authenticated", "role"]
    assert checks.asked == 0 and not passed(found)
    checks = Scripted({"k1": [Finding("reachable", False, "gone", foreign=True)]}, other=None)
    found = await diagnose(checks, URL, KEYS[:1], NAMES[:1], 60, 5.0, MockSessions(nothing))
    assert [f.name for f in found] == ["reachable"] and checks.asked == 1  # asked: ours after all
