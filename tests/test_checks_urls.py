"""Simulation and reality agree on URLs: every query the real server rejects, the simulated
network rejects the same way (a checker that passes in virtual time must not fail live)."""

from __future__ import annotations

import asyncio

import pytest

from wslearn.clock import run_virtual
from wslearn.server import serve
from wslearn.simnet import SimNetwork
from wslearn.transport import ConnectFailed, ConnectionLost, websocket_dialer

QUERIES = ["topics=news, alerts", "topics=news,alerts", "topics=news%2Calerts", "topics=a%20b",
           "topics=", "topics=a,,b", "topics=bad!", "topics=news\talerts", "topics=ålerts",
           "topics=news&topics=alerts"]


async def _outcome(dial, url: str) -> str:
    try:
        transport = await dial(url)
    except ConnectFailed as exc:
        return f"refused: {exc.reason}"
    try:
        return f"open: {await transport.recv()}"
    except ConnectionLost as exc:
        return f"closed {exc.code}: {exc.reason}"
    finally:
        await transport.close()


def _real(queries: list[str]) -> list[str]:
    server = serve()
    try:
        base = server.url()

        async def main() -> list[str]:
            dial = websocket_dialer(open_timeout=5.0, close_timeout=2.0)
            return [await _outcome(dial, f"{base}?{q}") for q in queries]

        return asyncio.run(main())
    finally:
        server.stop()


def _sim(queries: list[str]) -> list[str]:
    async def main() -> list[str]:
        net = SimNetwork()
        server = net.serve()
        try:
            return [await _outcome(net.dialer, f"{server.url()}?{q}") for q in queries]
        finally:
            server.stop()

    return run_virtual(main())


def test_simulated_network_parses_urls_like_the_real_server() -> None:
    real, sim = _real(QUERIES), _sim(QUERIES)
    assert sim == real, "\n".join(f"{q!r}: real {r} / sim {s}"
                                  for q, r, s in zip(QUERIES, real, sim, strict=True) if r != s)
    assert real[0] == "refused: handshake failed"  # the space breaks the request line


def test_not_a_websocket_url_is_a_value_error_in_both_worlds() -> None:
    async def main() -> None:
        with pytest.raises(ValueError, match="not a websocket URL"):
            await SimNetwork().dialer("http://sim/ws")

    run_virtual(main())
