"""Chapter 11: ReconnectRules -- the reconnect rules production clients need after backoff.

Wrong ones are the bugs production clients ship (reset on open against a flapping server,
4401 retried with backoff or refreshed for ever, 1000 retried, uptime measured from the
wrong moment, limits off by one ...); right ones are written differently from the
solution (a lookup table, a dict of sets, the course's own RECOMMENDED table).
"""

from __future__ import annotations

from wslearn.close_policy import RECOMMENDED

from . import Case

REFUSED = {1002, 1003, 1007, 1008, 1009, 1010}


class Good:
    """The solution's shape."""

    def __init__(self, policy):
        self.policy = policy
        self.attempt = 0
        self.opened_at = None
        self.refreshed = False

    def opened(self, now):
        self.opened_at = now

    def stable(self, now):
        up = self.opened_at is not None and now - self.opened_at >= self.policy.min_uptime
        self.opened_at = None
        if up:
            self.attempt = 0
            self.refreshed = False

    def closed(self, code, now):
        self.stable(now)
        if code == 1000:
            return "done", 0.0
        if code == 4401:
            if self.refreshed:
                return "give-up", 0.0
            self.refreshed = True
            return "refresh", 0.0
        if code in REFUSED or 4000 <= code <= 4999:
            return "give-up", 0.0
        if self.attempt >= self.policy.max_attempts:
            return "give-up", 0.0
        self.attempt += 1
        return "retry", self.policy.delay(self.attempt)


class ResetsOnOpen(Good):
    """Module 07's hook: `ws.onopen = () => { attempt = 0 }` -- the flapping loop."""

    def opened(self, now):
        super().opened(now)
        self.attempt = 0


class Retries1008(Good):
    """Only 1000 and 4xxx are special: 1008 and the other refusals are retried."""

    def closed(self, code, now):
        if code in REFUSED:
            self.stable(now)
            return "retry", self.policy.delay(1)
        return super().closed(code, now)


class BacksOffOn4401(Good):
    """An expired token treated as an outage: the same token fails again and again."""

    def closed(self, code, now):
        if code == 4401:
            return super().closed(1006, now)
        return super().closed(code, now)


class RefreshesForever(Good):
    """Every 4401 refreshes: a server that refuses every fresh token is an endless loop."""

    def closed(self, code, now):
        if code == 4401:
            self.stable(now)
            return "refresh", 0.0
        return super().closed(code, now)


class Treats1000AsRetry(Good):
    """Module 07's hook: every close reconnects, 1000 too (the logout is undone)."""

    def closed(self, code, now):
        return super().closed(1006 if code == 1000 else code, now)


class NeverGivesUp(Good):
    """No limit: backoff capped at 30 s, for ever."""

    def closed(self, code, now):
        if code in (1001, 1005, 1006, 1011, 1012, 1013, 1014):
            self.stable(now)
            self.attempt += 1
            return "retry", min(30.0, 2.0 ** (self.attempt - 1))
        return super().closed(code, now)


class KeepsOpenTime(Good):
    """Uptime from an open that is long over: opened_at is never forgotten, so a failed
    connect after a long connection looks stable and resets the count."""

    def stable(self, now):
        up = self.opened_at is not None and now - self.opened_at >= self.policy.min_uptime
        if up:
            self.attempt = 0
            self.refreshed = False


class OneTooMany(Good):
    """`>` instead of `>=`: six retries before giving up."""

    def closed(self, code, now):
        if code in (1001, 1005, 1006, 1011, 1012, 1013, 1014) and (
                self.attempt == self.policy.max_attempts):
            self.stable(now)
            if self.attempt == self.policy.max_attempts:
                self.attempt += 1
                return "retry", self.policy.delay(self.policy.max_attempts)
        return super().closed(code, now)


class NeverResets(Good):
    """Counts failures for the page's lifetime: a long connection does not start over."""

    def stable(self, now):
        self.opened_at = None


class BuiltInNumbers(Good):
    """Module 07's numbers hard-coded: 5 attempts, 2 ** (k - 1), 5 s."""

    def closed(self, code, now):
        up = self.opened_at is not None and now - self.opened_at >= 5
        self.opened_at = None
        if up:
            self.attempt = 0
            self.refreshed = False
        if code in (1001, 1005, 1006, 1011, 1012, 1013, 1014) or 1015 <= code < 4000:
            if self.attempt >= 5:
                return "give-up", 0.0
            self.attempt += 1
            return "retry", min(30.0, 2.0 ** (self.attempt - 1))
        return super().closed(code, now)


class DoneAsGiveUp(Good):
    """1000 reported as a failure ("WebSocket unavailable") instead of a quiet end."""

    def closed(self, code, now):
        return ("give-up", 0.0) if code == 1000 else super().closed(code, now)


class GivesUpOnUnknown(Good):
    """Only the listed outage codes are retried: 3xxx and anything unknown give up."""

    def closed(self, code, now):
        if code not in (1000, 1001, 1005, 1006, 1011, 1012, 1013, 1014, 4401):
            self.stable(now)
            return "give-up", 0.0
        return super().closed(code, now)


class RefreshFlagSticks(Good):
    """The refresh flag is never cleared: the next expiry, an hour later, gives up."""

    def stable(self, now):
        up = self.opened_at is not None and now - self.opened_at >= self.policy.min_uptime
        self.opened_at = None
        if up:
            self.attempt = 0


class ReturnsDelayOnly(Good):
    """Returns the delay alone (None for "stop"): the driver cannot tell refresh from retry."""

    def closed(self, code, now):
        action, delay = super().closed(code, now)
        return delay if action == "retry" else None


# -- right, written differently -------------------------------------------------------------


class TableRules:
    """Right: a lookup dict for the codes, a separate uptime record, no helper method."""

    ACTIONS = {1000: "done", 4401: "refresh"} | dict.fromkeys(REFUSED, "give-up")

    def __init__(self, policy):
        self.policy = policy
        self.retries = 0
        self.up_since = None
        self.refresh_pending = False

    def opened(self, now):
        self.up_since = now

    def closed(self, code, now):
        since, self.up_since = self.up_since, None
        if since is not None and now >= since + self.policy.min_uptime:
            self.retries, self.refresh_pending = 0, False
        action = self.ACTIONS.get(code, "give-up" if code // 1000 == 4 else "retry")
        if action == "refresh":
            if self.refresh_pending:
                return ("give-up", 0)
            self.refresh_pending = True
        if action != "retry":
            return (action, 0)
        self.retries += 1
        if self.retries > self.policy.max_attempts:
            return ("give-up", 0)
        return ("retry", self.policy.delay(self.retries))


class CourseTable:
    """Right: the course's own table (RECOMMENDED.decide) and a list of open times."""

    def __init__(self, policy):
        self.policy = policy
        self.failed = []  # delays handed out in this outage
        self.opens = []
        self.proven = True

    def opened(self, now):
        self.opens.append(now)

    def closed(self, code, now):
        if self.opens and now - self.opens.pop() >= self.policy.min_uptime:
            self.failed.clear()
            self.proven = True
        self.opens.clear()
        action = RECOMMENDED.decide(code)
        if action == "refresh":
            if not self.proven:
                return ["give-up", 0.0]
            self.proven = False
            return [action, 0.0]
        if action != "retry" or len(self.failed) == self.policy.max_attempts:
            return ["give-up" if action == "retry" else action, 0.0]
        self.failed.append(self.policy.delay(len(self.failed) + 1))
        return [action, self.failed[-1]]


CASES = [
    Case("right-solution-shape", None, (Good,)),
    Case("right-lookup-table", None, (TableRules,)),
    Case("right-course-table", None, (CourseTable,)),
    Case("resets-on-open", "resets-on-open", (ResetsOnOpen,)),
    Case("retries-1008", "retries-refusal", (Retries1008,)),
    Case("backs-off-on-4401", "backs-off-on-4401", (BacksOffOn4401,)),
    Case("refreshes-forever", "refreshes-forever", (RefreshesForever,)),
    Case("treats-1000-as-retry", "retries-1000", (Treats1000AsRetry,)),
    Case("never-gives-up", "never-gives-up", (NeverGivesUp,)),
    Case("keeps-open-time", "uptime-wrong", (KeepsOpenTime,)),
    Case("one-retry-too-many", "off-by-one-limit", (OneTooMany,)),
    Case("never-resets", "no-reset", (NeverResets,)),
    Case("built-in-numbers", "ignores-policy", (BuiltInNumbers,)),
    Case("1000-as-give-up", "not-done", (DoneAsGiveUp,)),
    Case("gives-up-on-unknown-codes", "gives-up-on-outage", (GivesUpOnUnknown,)),
    Case("refresh-flag-sticks", "refresh-never-reset", (RefreshFlagSticks,)),
    Case("returns-delay-only", "bad-return", (ReturnsDelayOnly,)),
]
