"""Close codes decide whether to retry: the close-code policy, as a table.

Module 07's hook reconnects after *every* close. That is right for an outage (the
server restarted, the network blinked) and wrong for the rest:

* **1000 from the server** means "we are done with you" (a logout, a finished job):
  reconnecting at once undoes what the server decided. -> ``DONE``
* **1008, 1009, 1002, 1003, 1007, 1010** say the *request* was wrong (a bad topic, a
  frame too big, a protocol error): the same request fails the same way, so retrying
  is a loop of refusals. -> ``GIVE_UP``
* **4401** (the application's "unauthorized", after HTTP 401) says the credential
  expired. That is not an outage: backing off and retrying with the same expired token
  is an infinite auth-failure loop. Refresh the credential, then connect. -> ``REFRESH``
* **4403** and other **4xxx** are the application's own refusals. -> ``GIVE_UP``
* **1001, 1005, 1006, 1011, 1012, 1013, 1014** are outages and restarts. -> ``RETRY``
  (with backoff; 1013 "try again later" asks for exactly that).

The decision is data (``ClosePolicy.rules``), so the Python client, the simulated
network and the browser page (``page/client.js``, compared by ``tests/test_page_rules``)
read one table. Two tables ship:

* ``MODULE_07`` -- the course's chapters 01-10: only 1008 gives up, everything else is
  retried (what the module's hook does, plus the 1008 fix of chapter 07);
* ``RECOMMENDED`` -- chapter 11's production policy, the list above.

No IO, no clock: a close code in, an action out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from .protocol import (
    ABNORMAL_CLOSURE,
    AUTH_EXPIRED,
    AUTH_FORBIDDEN,
    GOING_AWAY,
    INTERNAL_ERROR,
    MESSAGE_TOO_BIG,
    NORMAL_CLOSURE,
    POLICY_VIOLATION,
    SERVICE_RESTART,
    TRY_AGAIN_LATER,
)

__all__ = ["MODULE_07", "RECOMMENDED", "CloseAction", "ClosePolicy"]


class CloseAction(StrEnum):
    """What a client does after the server closed (or the connection died) with a code."""

    #: An outage: wait (backoff) and try again.
    RETRY = "retry"
    #: The request itself was refused: retrying repeats the refusal. Stop and tell the user.
    GIVE_UP = "give-up"
    #: The credential expired: get a fresh one, then connect at once (no backoff).
    REFRESH = "refresh"
    #: The server ended the session on purpose (1000): stop quietly; Reconnect is manual.
    DONE = "done"


def _check_code(code: object) -> int:
    if isinstance(code, bool) or not isinstance(code, int) or not 1000 <= code <= 4999:
        raise ValueError(f"a close code is an int in 1000..4999, got {code!r}")
    return code


@dataclass(frozen=True)
class ClosePolicy:
    """A close code -> ``CloseAction`` table: exact codes first, then the ranges.

    ``rules`` lists exact codes; ``application`` is the action for 4000-4999 codes not
    listed; ``default`` for every other code (unknown 1xxx, 3xxx, or no code at all).

    >>> RECOMMENDED.decide(1012), RECOMMENDED.decide(4401), RECOMMENDED.decide(1000)
    (<CloseAction.RETRY: 'retry'>, <CloseAction.REFRESH: 'refresh'>, <CloseAction.DONE: 'done'>)
    >>> MODULE_07.decide(1000)
    <CloseAction.RETRY: 'retry'>
    """

    name: str
    rules: Mapping[int, CloseAction] = field(default_factory=dict)
    application: CloseAction = CloseAction.GIVE_UP
    default: CloseAction = CloseAction.RETRY

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"ClosePolicy.name must be a non-empty str, got {self.name!r}")
        rules = {}
        for code, action in dict(self.rules).items():
            rules[_check_code(code)] = CloseAction(action)
        object.__setattr__(self, "rules", MappingProxyType(dict(sorted(rules.items()))))
        object.__setattr__(self, "application", CloseAction(self.application))
        object.__setattr__(self, "default", CloseAction(self.default))

    def decide(self, code: int | None) -> CloseAction:
        """The action after a close with ``code`` (``None``: no code at all -> ``default``)."""
        if code is None:
            return self.default
        action = self.rules.get(code)
        if action is not None:
            return action
        if 4000 <= code <= 4999:
            return self.application
        return self.default

    def codes(self, action: CloseAction) -> tuple[int, ...]:
        """The exact codes listed with ``action`` (for docs, and the page's mirror test)."""
        return tuple(code for code, a in self.rules.items() if a is action)

    def as_table(self) -> dict[str, object]:
        """The policy as plain JSON data: the browser page's copy is compared with it."""
        return {
            "name": self.name,
            "rules": {str(code): action.value for code, action in self.rules.items()},
            "application": self.application.value,
            "default": self.default.value,
        }

    def describe(self) -> str:
        """One stable line per action, for notebooks."""
        lines = []
        for action in CloseAction:
            codes = ", ".join(str(c) for c in self.codes(action))
            extra = []
            if self.application is action:
                extra.append("other 4xxx")
            if self.default is action:
                extra.append("anything else")
            what = ", ".join(x for x in (codes, *extra) if x)
            if what:
                lines.append(f"{action.value:>8}: {what}")
        return "\n".join(lines)


#: Chapters 01-10: Module 07's hook retries every close; chapter 07 adds "1008 gives up".
MODULE_07: Final = ClosePolicy(
    "module-07",
    {POLICY_VIOLATION: CloseAction.GIVE_UP},
    application=CloseAction.RETRY,
    default=CloseAction.RETRY,
)

#: Chapter 11: what production clients should do (see the module docstring).
RECOMMENDED: Final = ClosePolicy(
    "recommended",
    {
        NORMAL_CLOSURE: CloseAction.DONE,
        GOING_AWAY: CloseAction.RETRY,
        1002: CloseAction.GIVE_UP,  # protocol error
        1003: CloseAction.GIVE_UP,  # unsupported data
        1005: CloseAction.RETRY,  # no status received: nothing says the request was wrong
        ABNORMAL_CLOSURE: CloseAction.RETRY,
        1007: CloseAction.GIVE_UP,  # invalid payload data
        POLICY_VIOLATION: CloseAction.GIVE_UP,
        MESSAGE_TOO_BIG: CloseAction.GIVE_UP,
        1010: CloseAction.GIVE_UP,  # mandatory extension missing
        INTERNAL_ERROR: CloseAction.RETRY,
        SERVICE_RESTART: CloseAction.RETRY,
        TRY_AGAIN_LATER: CloseAction.RETRY,
        1014: CloseAction.RETRY,  # bad gateway: a proxy lost its upstream
        AUTH_EXPIRED: CloseAction.REFRESH,
        AUTH_FORBIDDEN: CloseAction.GIVE_UP,
    },
    application=CloseAction.GIVE_UP,
    default=CloseAction.RETRY,
)
