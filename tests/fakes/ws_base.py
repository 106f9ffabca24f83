"""What both fake WebSocket venues share: a loopback server's lifecycle, the counters
tests read, and waiting for subscriptions without sleeping."""

from __future__ import annotations

import asyncio
from typing import Any, Self

from websockets.asyncio.server import Server, ServerConnection, serve


class FakeWsServer:
    path = "/"

    def __init__(self) -> None:
        self.url = ""
        self.silent = False
        self.connections = 0
        self.subscriptions = 0
        self.sent = 0
        self.close_codes: list[int | None] = []  # what each client said when it left
        self._server: Server | None = None
        self._subscribed = asyncio.Condition()
        self._closed = asyncio.Condition()

    async def _handle(self, ws: ServerConnection) -> None:
        raise NotImplementedError

    def _serve_options(self) -> dict[str, Any]:
        """Extra ``serve`` options (e.g. a handshake check)."""
        return {}

    async def _serve(self, ws: ServerConnection) -> None:
        try:
            await self._handle(ws)
        finally:
            async with self._closed:
                rcvd = ws.protocol.close_rcvd
                self.close_codes.append(rcvd.code if rcvd else None)
                self._closed.notify_all()

    async def start(self) -> str:
        self._server = await serve(
            self._serve, "127.0.0.1", 0, ping_interval=None, **self._serve_options()
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}{self.path}"
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def wait_closed(self, n: int) -> None:
        async with self._closed:
            await self._closed.wait_for(lambda: len(self.close_codes) >= n)

    async def wait_subscriptions(self, n: int) -> None:
        async with self._subscribed:
            await self._subscribed.wait_for(lambda: self.subscriptions >= n)
