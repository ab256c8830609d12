"""Polling vs long poll vs push on a logical schedule: real traffic, deterministic numbers."""

from __future__ import annotations

import pytest

from tests.support import arun, with_key
from wslearn.lessons.polling import Schedule, http_get, run_workload
from wslearn.server import serve


def test_schedule_merges_events_before_polls_at_the_same_instant() -> None:
    s = Schedule((1.0, 2.0, 2.5), poll_every=2.0, until=4.0)
    assert s.polls() == (2.0, 4.0)
    assert s.steps() == [(1.0, "publish", 0), (2.0, "publish", 1), (2.0, "poll", 0),
                         (2.5, "publish", 2), (4.0, "poll", 1)]
    with pytest.raises(ValueError):
        Schedule((2.0, 1.0), 1.0, 3.0)
    with pytest.raises(ValueError):
        Schedule((1.0,), 0.0, 3.0)


def test_demo_workload_is_the_same_twice_and_polling_misses_changes() -> None:
    async def main() -> tuple[str, str, str, int]:
        # a fresh topic each time: version numbers (and so byte counts) start from 0
        with serve() as server:
            first = await run_workload(server, Schedule.demo())
        with serve() as server:
            second = await run_workload(server, Schedule.demo())
            return first.table(), second.table(), first.poll_log(), server.connection_count

    one, two, log, left = arun(main())
    assert one == two
    assert left == 0
    lines = {line.split()[0]: line.split() for line in one.splitlines()[2:]}
    assert lines["polling"][1:4] == ["4", lines["polling"][2], "4/10"]
    assert lines["push"][1] == "1" and lines["push"][3] == "10/10"
    assert lines["long-poll"][1] == "10" and lines["long-poll"][3] == "10/10"
    assert "t=  3.0s  poll  version=3   3 new changes, data of #2 only" in log


def test_counts_match_the_server_counters_and_the_picture_is_stable() -> None:
    async def main() -> None:
        with serve() as server:
            result = await run_workload(server, Schedule.busy(), ways=("polling", "push"))
            assert result["push"].seen == 20
            assert result["polling"].seen == 12
            # +1: run_workload reads a baseline version first (not counted)
            assert server.http_requests == result["polling"].requests + 1
            svg = result.picture().to_svg()
            assert svg == result.picture().to_svg() and svg.startswith("<svg")
            assert "12/20 changes seen" in repr(result.picture())
            reply = await http_get(server.host, server.port, with_key(server, "/api/topics/Bad"))
            assert reply.status == 400

    arun(main())


def test_unknown_way_is_rejected() -> None:
    async def main() -> None:
        with serve() as server, pytest.raises(ValueError, match="unknown way"):
            await run_workload(server, Schedule.demo(), ways=("smoke",))

    arun(main())


def test_sse_way_is_one_request_sees_everything_and_matches_the_server_counters() -> None:
    async def main() -> tuple[str, str]:
        tables = []
        for _ in range(2):  # a fresh topic each time: the same bytes twice
            with serve() as server:
                result = await run_workload(server, Schedule.busy(), ways=("sse", "long-poll"))
                sse = result["sse"]
                assert (sse.requests, sse.frames, sse.seen) == (1, 20, 20)
                assert sse.max_staleness == 0.0 and sse.bytes_down > 0
                # run_workload's uncounted baseline read saw version 0 of "prices": the same
                # bytes as a read of the unpublished topic "prizes" (same name length)
                baseline = (await http_get(server.host, server.port,
                                           with_key(server, "/api/topics/prizes"))).size
                assert server.http_requests == 1 + 1 + result["long-poll"].requests + 1
                assert server.http_bytes_sent == (baseline * 2 + sse.bytes_down
                                                  + result["long-poll"].bytes_down)
                assert "sse: 20/20 changes seen" in repr(result.picture("sse"))
                await server.until(lambda s: not s.app.state.hub.subscriptions())
                tables.append(result.table())
        return tables[0], tables[1]

    one, two = arun(main())
    assert one == two
    rows = {line.split()[0]: line.split() for line in one.splitlines()[2:]}
    assert list(rows) == ["long-poll", "sse"]
    assert rows["sse"][1] == "1" and rows["sse"][3] == "20/20"
    assert int(rows["sse"][2]) < int(rows["long-poll"][2])
