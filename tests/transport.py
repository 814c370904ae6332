"""A test transport for the session seam (`omnimigrate.http.sessions`), as httpx's
`MockTransport` is for httpx: `MockSessions(handler)` is a session factory whose sessions
hand every request to `handler(request) -> response`, an aiohttp low-level server handler,
through an in-memory pipe. No socket is opened and no name resolved, so a request to
`https://omni.test` reaches the handler only through the factory it was given; one that
bypassed it would fail to resolve."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.client_proto import ResponseHandler

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


class _Pipe(asyncio.Transport):
    """One direction of an in-memory connection: what is written arrives at `peer`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, peer: asyncio.Protocol) -> None:
        super().__init__()
        self._loop, self._peer, self._closing = loop, peer, False
        self.other: _Pipe | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._closing:
            self._loop.call_soon(self._peer.data_received, bytes(data))

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def can_write_eof(self) -> bool:
        return False

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._loop.call_soon(self._peer.connection_lost, None)
        if self.other is not None:
            self.other.close()

    def abort(self) -> None:
        self.close()

    # flow control: the pipe hands each write straight to its peer and buffers nothing,
    # so there is no reading to pause or resume
    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 0), "sockname": ("127.0.0.1", 0)}.get(name, default)


class MemoryConnector(aiohttp.BaseConnector):
    """Each connection is a pair of pipes between the client and `handler`'s server."""

    allowed_protocol_schema_set = frozenset({"http", "https"})

    def __init__(self, handler: Handler) -> None:
        super().__init__(force_close=True)
        self._server = web.Server(handler)

    async def _create_connection(self, req: Any, traces: Any, timeout: Any) -> ResponseHandler:
        client: ResponseHandler = self._factory()
        server = self._server()
        to_server, to_client = _Pipe(self._loop, server), _Pipe(self._loop, client)
        to_server.other, to_client.other = to_client, to_server
        client.connection_made(to_server)
        server.connection_made(to_client)
        return client


class MockSessions:
    """A session factory for tests; `requests` lists every request any of its sessions sent,
    as `METHOD HOST/PATH?QUERY`."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[str] = []
        self.opened = 0

    async def _record(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.host}{request.path_qs}")
        return await self._handler(request)

    def __call__(self) -> aiohttp.ClientSession:
        self.opened += 1
        return aiohttp.ClientSession(connector=MemoryConnector(self._record))
