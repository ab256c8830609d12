"""One test body, two servers: the real ``Server`` on 127.0.0.1 port 0 and ``SimServer``.

Issue 15's server rules (resume, flapping, tokens) must behave the same on both, so the
tests are written once against a ``Rig``: ``rig.server`` (either handle), ``rig.connect(url)``
(a real ``websockets`` client, or the in-memory dialer) and ``rig.publish`` / ``rig.call``
(the real handle's methods block for a thread hop: they run off the client's loop there).
The simulated body runs under ``run_virtual``, so its clock is virtual (a 30 s token
lifetime costs nothing); the real one under ``arun`` with real seconds.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from support import arun
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from wslearn.clock import run_virtual
from wslearn.server import serve
from wslearn.server_handle import ServerHandle
from wslearn.simnet import SimNetwork
from wslearn.transport import ConnectionLost, Transport

KINDS = ("real", "sim")


class Peer:
    """One client connection, real or in memory, with the few calls the tests need."""

    def __init__(self, real: ClientConnection | None = None,
                 sim: Transport | None = None) -> None:
        self.real, self.sim = real, sim

    async def recv(self, timeout: float = 5.0) -> str:
        if self.real is not None:
            data = await asyncio.wait_for(self.real.recv(), timeout)
        else:
            assert self.sim is not None
            data = await asyncio.wait_for(self.sim.recv(), timeout)
        return data if isinstance(data, str) else data.decode()

    async def recv_json(self, timeout: float = 5.0) -> dict[str, Any]:
        return json.loads(await self.recv(timeout))  # type: ignore[no-any-return]

    async def send(self, data: str | dict[str, Any]) -> None:
        text = data if isinstance(data, str) else json.dumps(data)
        if self.real is not None:
            await self.real.send(text)
        else:
            assert self.sim is not None
            await self.sim.send(text)

    async def quiet(self, seconds: float = 0.3) -> bool:
        """True if nothing arrives for ``seconds`` (and the connection did not end)."""
        try:
            await self.recv(seconds)
        except TimeoutError:
            return True
        return False

    async def closed(self, timeout: float = 10.0) -> tuple[int | None, str | None]:
        """Read until the connection ends; its close code and reason (frames before it
        are dropped). ``(None, None)``: no close frame."""
        try:
            while True:
                await self.recv(timeout)
        except ConnectionClosed as exc:
            rcvd = exc.rcvd
            return (rcvd.code, rcvd.reason) if rcvd else (None, None)
        except ConnectionLost as exc:
            return exc.code, exc.reason

    async def close(self) -> None:
        if self.real is not None:
            await self.real.close()
        else:
            assert self.sim is not None
            await self.sim.close()


@dataclass
class Rig:
    kind: str
    server: ServerHandle
    network: SimNetwork | None = None

    async def connect(self, url: str, **options: Any) -> Peer:
        if self.network is not None:
            return Peer(sim=await self.network.dialer(url))
        return Peer(real=await connect(url, open_timeout=10, close_timeout=1, **options))

    async def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """A handle method: off-loop for the real server (it waits for its thread)."""
        if self.network is None:
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)

    async def publish(self, topic: str, type: str = "e", **fields: Any) -> int:
        return int(await self.call(self.server.publish, topic, type, **fields))  # type: ignore[attr-defined]

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)  # virtual under the simulation


def param(url: str, **params: str) -> str:
    """``url`` plus query parameters, written as given (``resume=a:1`` stays readable)."""
    for name, value in params.items():
        url += ("&" if "?" in url else "?") + f"{name}={value}"
    return url


def run(kind: str, body: Callable[[Rig], Awaitable[None]], **server_options: Any) -> None:
    """Run ``body`` against a fresh server of ``kind`` (stopped afterwards, leak-checked)."""
    if kind == "real":
        with serve(**server_options) as server:
            arun(body(Rig(kind, server)), timeout=60)
        return

    async def main() -> None:
        network = SimNetwork()
        server = network.serve(**server_options)
        try:
            await body(Rig(kind, server, network))
        finally:
            server.stop()
            await asyncio.sleep(0)

    run_virtual(main, strict=True)
