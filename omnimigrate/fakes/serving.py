"""What every fake instance shares: serving its aiohttp application on loopback (on the
caller's event loop, or from a thread with its own loop for callers that block, such as a CLI
run under test), its request log, and the violations its conformance check found."""

from __future__ import annotations

import asyncio
import threading
from abc import ABC, abstractmethod
from typing import Any

from aiohttp import web

from omnimigrate.fakes.openapi_check import Violation
from omnimigrate.fakes.policies import RequestLog, RequestRecord


class Served(ABC):
    """A base for fakes: subclasses build `app()` and set `settings` (with its `clock`),
    `log` and `conformance`; `url` is set once serving."""

    url = ""
    _runner: web.AppRunner | None = None
    _label = "fake"
    settings: Any
    log: RequestLog
    conformance: Any

    @property
    def violations(self) -> list[Violation]:
        return self.conformance.violations if self.conformance else []

    def _record(
        self, key: str, request: web.Request, route: str, status: int, fault: str | None
    ) -> None:
        self.log.records.append(
            RequestRecord(
                self.settings.clock(), key, request.method, route, status, fault, request.path
            )
        )

    @abstractmethod
    def app(self) -> web.Application:
        """The fake's application: its routes behind its pipeline."""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]  # aiohttp types _server as any AbstractServer; a TCPSite has sockets
        self.url = f"http://{host}:{sock.getsockname()[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a background thread with its own loop. Stop with `stop_thread`."""
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start(host, port))
            started.set()
            loop.run_forever()
            loop.run_until_complete(self.stop())
            loop.close()

        self._thread = threading.Thread(target=run, name=self._label, daemon=True)
        self._thread_loop = loop
        self._thread.start()
        if not started.wait(30):
            raise RuntimeError(f"the {self._label} did not start within 30 s")
        return self.url

    def stop_thread(self) -> None:
        self._thread_loop.call_soon_threadsafe(self._thread_loop.stop)
        self._thread.join(30)
