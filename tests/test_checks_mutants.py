"""A fixed sample of mutants every checker must keep killing (the full run is `make mutants`).

Each mutant is the solution with one small change that a learner really makes -- a reset
removed, a boundary flipped, a cleanup that does not close cleanly, a parameter ignored --
so a weakened checker fails CI here, without the minutes the full harness takes. The keys
are those of ``python -m wslearn.checks.mutation --list``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from wslearn.checks.mutation import equivalents, mutants, run_mutant

ROOT = Path(__file__).resolve().parent.parent

SAMPLE = [
    "cleanup: LiveFeed.unmount: statement: remove the statement @ await self._ws.close()",
    "backoff: keep_connected: constant: 0 -> 1 @ attempt = 0",
    "backoff: keep_connected: statement: remove the statement @ attempt = 0 #2",
    "max_attempts: keep_connected: compare: > -> >= @ if attempt > MAX_ATTEMPTS:",
    "heartbeat: heartbeat: statement: remove the statement @ pong.clear()",
    "heartbeat: heartbeat: exception: except TimeoutError -> except BaseException @ "
    "except TimeoutError:",
    "topics: TopicSet.subscribe: statement: `+=` -> `=` @ self.topics += new",
    "handlers: MessageRouter.on: statement: remove the statement @ return register",
    "invalidation: on_push: statement: remove the statement @ "
    'cache.remove((topic, message["id"]))',
    "client: LiveClient._run: statement: remove the statement @ attempt = 0 #2",
    "client: LiveClient._run: argument: drop argument 1 of self.cache.invalidate() @ "
    "self.cache.invalidate((topic,))",
    "client: LiveClient._session: argument: drop interval= of heartbeat() @ "
    "beat = asyncio.create_task(heartbeat(ws, pong, interval=self.interval,",
    "production: ReconnectRules.closed: statement: remove the statement @ self.opened_at = None",
    "production: ReconnectRules.closed: statement: remove the statement @ self.refreshed = False",
    "production: ReconnectRules.closed: compare: >= -> > @ stable = self.opened_at is not None "
    "and now - self.opened_at >= self.policy.min_uptime",
    "production: ReconnectRules.closed: compare: >= -> > @ "
    "if self.attempt >= self.policy.max_attempts:",
]


def _find(key: str):
    exercise = key.split(":", 1)[0]
    found = {m.key: m for m in mutants(exercise, ROOT)}
    assert key in found, f"no such mutant any more: {key!r} (see --list)"
    return found[key]


@pytest.mark.parametrize("key", SAMPLE, ids=lambda k: k.split(" @ ")[0])
def test_checker_kills_mutant(key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WSLEARN_HOME", str(tmp_path))
    outcome = run_mutant(_find(key), ROOT)
    assert outcome.killed, f"the checker passes this wrong program: {key}"


def test_reviewed_equivalents_name_real_mutants_and_say_why() -> None:
    listed = equivalents(ROOT / "tests" / "mutants" / "equivalent.txt")
    assert listed
    by_exercise: dict[str, set[str]] = {}
    for key, why in listed.items():
        exercise = key.split(":", 1)[0]
        if exercise not in by_exercise:
            by_exercise[exercise] = {m.key for m in mutants(exercise, ROOT)}
        assert key in by_exercise[exercise], f"listed, but no such mutant: {key!r}"
        assert len(why) > 20, f"say why it is equivalent: {key!r}"
