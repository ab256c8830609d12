"""Checker for exercise 12: the learner's ``useWebSocket`` hook in TSX, in a real browser.

``wslearn.check("react_hook", HOOK)`` -- ``HOOK`` is the hook's TSX source (a str) or the
path of a ``.tsx`` file. The hook runs inside the React lab's proposals app (React 19
development build, StrictMode, TanStack Query 5) in Debian's chromium, against a real
in-kernel server, under the same faults as the Python exercises: a StrictMode mount,
mount/unmount toggles, an outage with a return, a server down for good, a silent
(frozen) server, pushes, an unmount during a backoff wait.

The clock: the hook file's ``setTimeout``/``setInterval`` are bound to a virtual clock
of the page (``clock=virtual``, see ``wslearn/react/loader.js``); the checker fires the
hook's timers in order and lets the real network settle in between. Timelines are
therefore exact logical seconds (attempts at +1, +3, +7, +15 s), whatever the machine's
load, while React, TanStack Query and the sockets stay real.
"""

from __future__ import annotations

import contextlib
import re
import traceback
from pathlib import Path
from typing import Any

from ._hints import hint_for, register
from ._result import CheckResult, Row

NAME = "react_hook"
NOTEBOOK = "12_react_hook"

HINTS = {
    "syntax": "The page could not transpile your TSX (the row names the line). Fix the "
    "syntax in HOOK; type annotations are fine, they are stripped.",
    "raises": "Your hook threw while React ran it (the row names the line): look at that "
    "line; `socket` may be null there.",
    "no-export": "The file must `export function useWebSocket(url: string, topics: string[])` "
    "returning `{ state, attempt, maxAttempts, reconnect }`.",
    "no-connect": "Nothing connected: the effect must create `new WebSocket(...)` (the "
    "skeleton does it on the next tick with `setTimeout(connect, 0)`).",
    "strictmode-double": "StrictMode mounts, unmounts and mounts again: without a cleanup "
    "the first socket stays open, so the server sees two. Return a cleanup from the effect "
    "that clears the start timer and closes the socket.",
    "no-cleanup": "Unmounting left connections open on the server: the effect's cleanup "
    "must close the socket (`ws.close()`) and clear every timer it started.",
    "no-reconnect": "When the server dropped the connection nothing reconnected: onclose "
    "must schedule `setTimeout(connect, backoffDelay(attempt))`.",
    "wrong-schedule": "The reconnect attempts came at other times than +1, +3, +7, +15 s: "
    "attempt n waits backoffDelay(n) = 1000 * 2 ** (n - 1) ms after the previous failure.",
    "no-reset": "After a successful reconnect the next outage must start at 1 s again: set "
    "the attempt counter (a ref, not state) back to 0 in onopen.",
    "no-refetch-after-reconnect": "Events published while the socket was down are lost: on "
    "a REconnect (an open after an earlier open), call `queryClient.invalidateQueries({ "
    "queryKey: [\"proposals\"] })`.",
    "effect-rerun": "Every attempt came at once, with no wait: something the effect depends "
    "on changes on every attempt (an `attempt` state in the dependency array), so React "
    "runs the cleanup -- which clears the backoff timer -- and the effect again. Keep the "
    "counter in a ref (`attempts.current`); state is only for what the banner shows.",
    "no-max-attempts": "It kept retrying after 5 attempts: when the counter reaches "
    "MAX_ATTEMPTS, set the state to \"disconnected\" and stop (the toast offers Reconnect).",
    "no-give-up": "After the 5th failed attempt the state must be \"disconnected\", so the "
    "page shows the \"WebSocket unavailable\" toast with its Reconnect button.",
    "no-manual-reconnect": "Reconnect did not connect: reconnect() must reset the counter and "
    "start a fresh connection (bump a `session` state that is an effect dependency).",
    "no-pong-timeout": "A silent server looked connected forever: after each ping start a "
    "PONG_TIMEOUT_MS timer that the pong handler clears; when it fires, treat the socket "
    "as lost (close it, schedule a reconnect).",
    "no-heartbeat": "No ping was sent: `setInterval(ping, PING_EVERY_MS)` once the socket is "
    "open (and clear it in the cleanup and on close).",
    "no-invalidate": "A push did not refetch: the \"proposal.updated\" handler must call "
    "`queryClient.invalidateQueries({ queryKey: [\"proposals\"] })` (v5: the object form).",
    "refetch-storm": "Refetches happened without a push (on welcome or pong): dispatch by "
    "type with a handlers map, and let unknown types do nothing -- not an if/else chain "
    "whose last `else` invalidates everything.",
    "reconnect-after-unmount": "It reconnected after the component unmounted: the cleanup "
    "must clear the pending reconnect timer and make onclose do nothing afterwards.",
    "no-browser": "Install Debian's chromium and the playwright package (see the row).",
}

STEPS = [
    "Read the skeleton top to bottom: connect() opens the socket, lost() decides what happens "
    "when it ends, the effect's return value is the cleanup.",
    "backoffDelay(n) is 1000 * 2 ** (n - 1) ms, capped at 30 000. lost(): if the counter is at "
    "MAX_ATTEMPTS set \"disconnected\" and return; else add 1 and setTimeout(connect, delay).",
    "onopen: counter back to 0, state \"connected\", and if the socket had been open before, "
    "invalidateQueries({ queryKey: [\"proposals\"] }) -- the events missed while away.",
    "The cleanup: `unmounted = true`, clearTimeout(startTimer), clearTimeout(retryTimer), and "
    "detach(socket) if there is one. Keep the counter in a ref: state in the dependencies "
    "would re-run the effect on every reset.",
    "Compare with the fixed hook the lab ships: wslearn/react/app/useWebSocket.tsx.",
]

register(NAME, NOTEBOOK, HINTS, STEPS)

STUB = re.compile(r"^\s*raise NotImplementedError\s*$", re.MULTILINE)
#: nbgrader's markers and the exercise's ``# TODO:`` lines: not TSX, blanked (the line
#: numbers of the learner's cell stay the same).
MARKERS = re.compile(r"^[ \t]*(### (BEGIN|END) SOLUTION|# TODO:.*)[ \t]*$", re.MULTILINE)


def _source(hook: Any) -> str:
    if isinstance(hook, Path) or (isinstance(hook, str) and hook.endswith(".tsx")
                                  and "\n" not in hook):
        return Path(hook).read_text("utf-8")
    if not isinstance(hook, str):
        raise TypeError(f"pass the hook's TSX source (a str) or a .tsx path, got "
                        f"{type(hook).__name__}")
    return hook


# -- timelines ----------------------------------------------------------------------------


def _fmt(t: float) -> str:
    return f"{t:+g} s"


def attempts(events: list[dict[str, Any]], after: float = -1.0, socket_after: int = 0
             ) -> list[tuple[float, str]]:
    """(time, outcome) of every socket the hook created after ``after``/``socket_after``."""
    outcome: dict[int, str] = {}
    for e in events:
        sid = e["socket"]
        if e["kind"] == "open":
            outcome[sid] = "open"
        elif e["kind"] == "close" and outcome.get(sid) != "open":
            outcome.setdefault(sid, "failed")
    found = []
    for e in events:
        if e["kind"] == "connect" and e["t"] >= after and e["socket"] > socket_after:
            found.append((float(e["t"]), outcome.get(e["socket"], "pending")))
    return found


def timeline(items: list[tuple[float, str]], t0: float) -> str:
    return "\n".join(f"{_fmt(round(t - t0, 3))} connect: {what}" for t, what in items)


class _Failed(Exception):
    def __init__(self, kind: str, detail: str, expected: str = "", actual: str = "") -> None:
        super().__init__(detail)
        self.kind, self.detail, self.expected, self.actual = kind, detail, expected, actual


# -- scenarios ------------------------------------------------------------------------------


class _Run:
    """One browser session: a page per scenario against a fresh server."""

    def __init__(self, browser: Any, source: str) -> None:
        self.browser = browser
        self.source = source

    def page(self, mounted: bool = True) -> tuple[Any, Any]:
        from ..react import ReactLab

        lab = ReactLab(shipped=True).start()
        lab.add_hook("learner", self.source)
        page = self.browser.new_page()
        try:
            page.goto(lab.url(hook="learner", mounted=mounted) + "&clock=virtual")
            self._errors(page)
        except BaseException:
            page.close()
            lab.stop()
            raise
        return lab, page

    @staticmethod
    def _errors(page: Any) -> None:
        errors = page.errors()
        if not errors:
            return
        e = errors[0]
        where = f"HOOK line {e['line']}" if e.get("line") and "learner" in str(e.get("file")) \
            else str(e.get("file") or "the page")
        kind = "syntax" if not page.js("() => window.wslearn.ready") else "raises"
        message = str(e["message"])
        if "does not provide an export named 'useWebSocket'" in message:
            kind = "no-export"
        raise _Failed(kind, f"{where}: {message}")

    def connected(self, page: Any, lab: Any, until: float = 1.0) -> None:
        page.run_until(until, stop=lambda p: p.state() == "connected")
        self._errors(page)
        if page.state() != "connected":
            raise _Failed("no-connect", f"the banner shows {page.state()!r}, not 'connected'",
                          "connected", str(page.state()))


def _strict_mount(run: _Run, lab: Any, page: Any) -> tuple[str, str]:
    run.connected(page, lab)
    page.run_until(2)
    page.wait_for(lambda: lab.server.connection_count >= 1, 5, "a connection")
    page.run_until(page.now() + 0.5)
    opened = list(attempts(page.events()))
    gets = lab.store.fetches["list"]
    expected = "+0 s connect: open\nserver: 1 open connection(s), 1 GET /api/proposals"
    actual = timeline(opened, 0) + (f"\nserver: {lab.server.connection_count} open "
                                    f"connection(s), {gets} GET /api/proposals")
    if lab.server.connection_count != 1 or len(opened) != 1:
        raise _Failed("strictmode-double", "StrictMode mounted the effect twice and "
                      f"{len(opened)} sockets were created", expected, actual)
    if gets != 1:
        raise _Failed("refetch-storm", "the list was fetched again without any push "
                      "(a message other than a push invalidated it)", expected, actual)
    return expected, actual


def _toggles(run: _Run, lab: Any, page: Any) -> tuple[str, str]:
    for i in range(10):
        page.click("#toggle")
        if i % 2 == 0:  # now mounted
            run.connected(page, lab, page.now() + 1)
        page.run_until(page.now() + 1)
    with contextlib.suppress(TimeoutError):
        page.wait_for(lambda: lab.server.connection_count == 0, 5, "zero connections")
    n = lab.server.connection_count
    expected = "after 10 toggles (5 mounts): 0 open connection(s)"
    actual = f"after 10 toggles (5 mounts): {n} open connection(s)"
    if n:
        raise _Failed("no-cleanup", f"{n} connection(s) stayed open after unmounting",
                      expected, actual)
    return expected, actual


def _schedule_kind(got: list[tuple[float, str]], t0: float) -> str:
    """``effect-rerun`` when several attempts came with no wait at all (the effect re-ran)."""
    if len(got) > 1 and all(round(t - t0, 3) == 0 for t, _ in got):
        return "effect-rerun"
    return "wrong-schedule"


def _last_socket(page: Any) -> int:
    return max((e["socket"] for e in page.events()), default=0)


def _outage(run: _Run, lab: Any, page: Any) -> tuple[str, str]:
    run.connected(page, lab)
    last = _last_socket(page)
    before = lab.store.fetches["list"]
    lab.server.refuse()
    lab.server.drop_all()
    t0 = page.now()
    lab.store.put(2, title="Changed while you were away")  # missed: nobody is subscribed
    page.run_until(t0 + 10)
    lab.server.accept_again()
    page.run_until(t0 + 40, stop=lambda p: p.state() == "connected")
    run._errors(page)
    got = attempts(page.events(), socket_after=last)
    expected = timeline([(t0 + 1, "failed"), (t0 + 3, "failed"), (t0 + 7, "failed"),
                         (t0 + 15, "open")], t0)
    actual = timeline(got, t0) or "(no reconnect attempt)"
    if not got:
        raise _Failed("no-reconnect", "the server dropped the connection and nothing "
                      "reconnected within 40 s", expected, actual)
    if actual != expected:
        raise _Failed(_schedule_kind(got, t0), "reconnect attempts at the wrong times",
                      expected, actual)
    page.run_until(page.now() + 0.5)
    try:
        page.wait_for(lambda: lab.store.fetches["list"] > before, 3, "a refetch")
        page.page.wait_for_selector("text=Changed while you were away", timeout=3000)
    except Exception:
        raise _Failed("no-refetch-after-reconnect", "reconnected, but the list was not "
                      "refetched: the change made during the outage never shows",
                      expected + "\nthen GET /api/proposals (refetch)",
                      actual + "\nno refetch") from None
    return expected + "\nthen GET /api/proposals (refetch)", \
        actual + "\nthen GET /api/proposals (refetch)"


def _reset(run: _Run, lab: Any, page: Any) -> tuple[str, str]:
    run.connected(page, lab)
    lab.server.refuse()
    lab.server.drop_all()
    t0 = page.now()
    page.run_until(t0 + 2)  # attempt 1 fails at +1
    lab.server.accept_again()
    page.run_until(t0 + 10, stop=lambda p: p.state() == "connected")
    t1 = page.now()
    last = _last_socket(page)
    lab.server.drop_all()  # a second outage, short
    page.run_until(t1 + 10, stop=lambda p: p.state() == "connected"
                   and len(attempts(p.events(), socket_after=last)) > 0)
    got = attempts(page.events(), socket_after=last)
    expected = timeline([(t1 + 1, "open")], t1)
    actual = timeline(got, t1) or "(no reconnect attempt)"
    if actual != expected:
        kind = "no-reconnect" if not got else "no-reset"
        raise _Failed(kind, "after a successful reconnect, a new outage must start the "
                      "schedule again at 1 s", "second outage:\n" + expected,
                      "second outage:\n" + actual)
    return "second outage:\n" + expected, "second outage:\n" + actual


def _down_for_good(run: _Run, lab: Any, page: Any) -> tuple[str, str]:
    run.connected(page, lab)
    last = _last_socket(page)
    lab.server.refuse()
    lab.server.drop_all()
    t0 = page.now()
    page.run_until(t0 + 60, stop=lambda p: p.state() == "disconnected")
    page.run_until(t0 + 120, stop=lambda p: len(attempts(p.events(), socket_after=last)) > 5)
    got = attempts(page.events(), socket_after=last)
    exp_items = [(t0 + d, "failed") for d in (1, 3, 7, 15, 31)]
    expected = timeline(exp_items, t0) + "\nstate: disconnected (toast + Reconnect)"
    toast = " (toast + Reconnect)" if page.js("() => !!document.querySelector('#reconnect')") \
        else ""
    actual = timeline(got, t0) + f"\nstate: {page.state()}{toast}"
    if len(got) > 5:
        raise _Failed("no-max-attempts", f"{len(got)} attempts within 120 s; at most 5",
                      expected, actual)
    if timeline(got, t0) != timeline(exp_items, t0):
        raise _Failed(_schedule_kind(got, t0) if got else "no-reconnect",
                      "attempts at the wrong times", expected, actual)
    if page.state() != "disconnected" or not page.js("() => !!document.querySelector("
                                                      "'#reconnect')"):
        raise _Failed("no-give-up", "after the 5th failed attempt the state must be "
                      "'disconnected' (the toast with Reconnect shows then)", expected, actual)
    lab.server.accept_again()
    page.click("#reconnect")
    page.run_until(page.now() + 2, stop=lambda p: p.state() == "connected")
    if page.state() != "connected":
        raise _Failed("no-manual-reconnect", "Reconnect was clicked, the server was back, "
                      f"but the state is {page.state()!r}", expected + "\nReconnect: connected",
                      actual + f"\nReconnect: {page.state()}")
    return expected + "\nReconnect: connected", actual + "\nReconnect: connected"


def _silent(run: _Run, lab: Any, page: Any) -> tuple[str, str]:
    run.connected(page, lab)
    t_open = max(e["t"] for e in page.events() if e["kind"] == "open")
    last = max(e["socket"] for e in page.events())
    lab.server.freeze()
    try:
        page.run_until(t_open + 60, stop=lambda p: len(attempts(p.events(),
                                                                socket_after=last)) > 0)
        events = page.events()
    finally:
        lab.server.thaw()
    pings = [e["t"] for e in events if e["kind"] == "send" and e.get("type") == "ping"]
    got = attempts(events, socket_after=last)
    expected = "+30 s ping (no pong: server frozen)\n+41 s connect (after 40 s: gave up, +1 s)"
    ping_line = f"{_fmt(pings[0] - t_open)} ping" if pings else "no ping"
    retry = (f"{_fmt(got[0][0] - t_open)} connect" if got else "no reconnect within 60 s")
    actual = f"{ping_line}\n{retry}"
    if not pings:
        raise _Failed("no-heartbeat", "no ping within 60 s of connecting", expected, actual)
    if not got:
        raise _Failed("no-pong-timeout", "the server stopped answering; 60 s later the hook "
                      "still trusted the connection", expected, actual)
    if round(pings[0] - t_open, 3) != 30 or round(got[0][0] - t_open, 3) != 41:
        raise _Failed("no-pong-timeout", "ping every 30 s, give up 10 s after an unanswered "
                      "ping, retry 1 s later", expected, actual)
    return expected, expected


def _push(run: _Run, lab: Any, page: Any) -> tuple[str, str]:
    run.connected(page, lab)
    page.page.click("#proposals li:nth-child(2) button")
    page.page.wait_for_selector("#detail")
    page.run_until(page.now() + 0.5)
    base = dict(lab.store.fetches)
    lab.update(2, votes=99)
    with contextlib.suppress(Exception):
        page.page.wait_for_selector("#detail >> text=99", timeout=5000)
    page.run_until(page.now() + 0.5)
    after_push = dict(lab.store.fetches)
    page.run_until(page.now() + 35)  # one ping and its pong
    after_pong = dict(lab.store.fetches)

    def d(a: dict[str, int], b: dict[str, int]) -> str:
        return (f"list +{a.get('list', 0) - b.get('list', 0)}, "
                f"detail +{a.get('detail', 0) - b.get('detail', 0)}")

    expected = "push proposal.updated: list +1, detail +1\nping/pong: list +0, detail +0"
    actual = f"push proposal.updated: {d(after_push, base)}\nping/pong: {d(after_pong, after_push)}"
    if after_push == base:
        raise _Failed("no-invalidate", "the push did not make the page refetch", expected,
                      actual)
    if actual != expected:
        raise _Failed("refetch-storm", "refetches that no push asked for", expected, actual)
    return expected, actual


def _unmount_in_backoff(run: _Run, lab: Any, page: Any) -> tuple[str, str]:
    run.connected(page, lab)
    lab.server.refuse()
    lab.server.drop_all()
    t0 = page.now()
    page.run_until(t0 + 1.5)  # attempt 1 failed at +1; waiting 2 s for attempt 2
    page.click("#toggle")
    t_unmount = page.now()
    page.run_until(t0 + 60)
    lab.server.accept_again()
    late = attempts(page.events(), after=t_unmount + 0.001)
    with contextlib.suppress(TimeoutError):
        page.wait_for(lambda: lab.server.connection_count == 0, 3, "zero connections")
    expected = "unmounted at +1.5 s: 0 connect(s) after it; server: 0 open"
    actual = (f"unmounted at +1.5 s: {len(late)} connect(s) after it; server: "
              f"{lab.server.connection_count} open")
    if late or lab.server.connection_count:
        raise _Failed("reconnect-after-unmount", "the hook kept reconnecting after the "
                      "component unmounted", expected, actual)
    return expected, actual


SCENARIOS = [
    ("StrictMode mount: one socket, one GET", True, _strict_mount),
    ("10 mount/unmount toggles leave 0 open", False, _toggles),
    ("server drops, back at +10 s: attempts +1, +3, +7, +15 s, then refetch", True, _outage),
    ("attempts start over after a success", True, _reset),
    ("server down for good: 5 attempts, 'disconnected', Reconnect", True, _down_for_good),
    ("silent server: ping at 30 s, gives up 10 s later", True, _silent),
    ("push -> invalidate -> one refetch (none per pong)", True, _push),
    ("unmount during a backoff wait: nothing reconnects", True, _unmount_in_backoff),
]


def _scenario(run: _Run, name: str, mounted: bool, fn: Any) -> Row:
    lab = page = None
    try:
        lab, page = run.page(mounted)
        expected, actual = fn(run, lab, page)
        run._errors(page)
        return Row(name, "pass", "", expected, actual)
    except _Failed as exc:
        return Row(name, "fail", exc.detail, exc.expected, exc.actual, exc.kind)
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return Row(name, "fail", f"the checker could not run this scenario: "
                   f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                   f"({where.name}:{where.lineno})", kind="checker-error")
    finally:
        if page is not None:
            page.close()
        if lab is not None:
            lab.stop()


def run(objects: tuple[Any, ...], *, real: bool = True, only: list[str] | None = None,
        **options: Any) -> CheckResult:
    """Run every scenario in one browser session; never raises."""
    from ..react.driver import browser_problem, in_browser

    result = CheckResult(NAME)
    if len(objects) != 1:
        result.rows.append(Row("your code", "fail", "pass your hook: "
                               'wslearn.check("react_hook", HOOK)', kind="no-export"))
        return _finish(result)
    try:
        source = _source(objects[0])
    except (OSError, TypeError) as exc:
        result.rows.append(Row("your code", "fail", str(exc), kind="no-export"))
        return _finish(result)
    source = MARKERS.sub("", source)
    if STUB.search(source):
        result.rows.append(Row("your code", "not implemented", "not implemented yet: replace "
                               "the `# TODO` / `raise NotImplementedError` lines in HOOK with "
                               "TypeScript"))
        return _finish(result)
    problem = browser_problem()
    if problem is not None:
        result.rows.append(Row("a browser to run the hook in", "fail", problem,
                               kind="no-browser"))
        return _finish(result)
    chosen = [s for s in SCENARIOS if only is None or s[0] in only]

    def session(browser: Any) -> list[Row]:
        r = _Run(browser, source)
        rows: list[Row] = []
        for name, mounted, fn in chosen:
            row = _scenario(r, name, mounted, fn)
            rows.append(row)
            if row.kind in ("syntax", "no-export"):  # nothing else can run
                rows += [Row(n, "skip", "not run: the hook does not load") for n, _, _ in
                         chosen[len(rows):]]
                break
        return rows

    result.rows += in_browser(session)
    return _finish(result)


def _finish(result: CheckResult) -> CheckResult:
    statuses = [r.status for r in result.rows]
    if "fail" in statuses:
        result.status = "fail"
        first = result.failures[0]
        result.hint_kind = first.kind
        result.hint = hint_for(NAME, first.kind)
    elif "not implemented" in statuses:
        result.status = "not implemented"
        result.note = "Write your hook in the HOOK cell above and run this cell again."
    else:
        result.status = "pass"
    return result


class _ReactExercise:
    """What ``wslearn.checks.check`` needs: a name, a notebook and its own ``run``; and,
    like every manifest (``_runner.Exercise``), the hint texts ``hint_for`` and
    ``wslearn.hint`` read from it and the learner's objects."""

    name = NAME
    notebook = NOTEBOOK
    scenarios = SCENARIOS
    objects = ("HOOK",)
    hints = HINTS
    steps = STEPS

    @staticmethod
    def run(objects: tuple[Any, ...], **options: Any) -> CheckResult:
        return run(objects, **options)


EXERCISE = _ReactExercise()
