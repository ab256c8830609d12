"""The application heartbeat: a ``{"type": "ping"}`` every ``interval`` seconds and a
deadline for the ``{"type": "pong"}``.

Why an *application* heartbeat when WebSocket has protocol-level ping/pong frames
(and ``websockets`` sends them for you)? Browsers expose no API to send a ping
frame or to see a pong, so a browser app that wants to detect a dead connection has
to send its own ping message -- exactly what the seed does. The Python client
turns ``websockets``' own keepalive off (``ping_interval=None``) so the course can
show what the application heartbeat does and does not catch.

Why a *pong timeout*: a half-open connection (server frozen, NAT entry expired,
cable pulled) raises no error and fires no ``onclose``; sending into it succeeds
because the bytes only reach a kernel buffer. The only evidence of life is an
answer. The seed's heartbeat sends pings every 30 s but never checks for a pong,
so it never notices anything -- ``HeartbeatPolicy.like_seed()`` reproduces that.

With ``check_pong=True`` a dead connection is detected at most
``interval + timeout`` seconds after its last pong: the next ping goes out at most
``interval`` seconds after the last answer and then waits ``timeout`` for its pong.

The schedule is measured from the last pong (a ping goes out ``interval`` seconds
after the previous pong arrived), not a free-running ``setInterval``: a slow pong
then never overlaps the next ping.

This module is a value object; ``ConnectionMachine`` runs it. No IO.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class HeartbeatPolicy:
    """Ping every ``interval`` s; a pong later than ``timeout`` s means the connection is dead.

    >>> HeartbeatPolicy().detection_bound()
    40.0
    """

    interval: float = 30.0
    timeout: float = 10.0
    #: False reproduces the seed's bug: pings are sent, pongs are never awaited.
    check_pong: bool = True

    def __post_init__(self) -> None:
        for name in ("interval", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"HeartbeatPolicy.{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value <= 0:
                raise ValueError(
                    f"HeartbeatPolicy.{name} must be a finite number of seconds > 0, "
                    f"got {value!r}"
                )
        if not isinstance(self.check_pong, bool):
            raise TypeError(f"HeartbeatPolicy.check_pong must be a bool, got {self.check_pong!r}")

    @classmethod
    def like_seed(cls, interval: float = 30.0) -> HeartbeatPolicy:
        """The seed's heartbeat: a ping every ``interval`` s and no pong check (a bug)."""
        return cls(interval=interval, check_pong=False)

    def detection_bound(self) -> float:
        """The longest a dead connection can go unnoticed (``inf`` without pong checks)."""
        if not self.check_pong:
            return math.inf
        return float(self.interval + self.timeout)

    def describe(self) -> str:
        """One stable line for notebooks."""
        if not self.check_pong:
            return f"ping every {self.interval:g}s, pong never checked (Module 07's bug)"
        return f"ping every {self.interval:g}s, pong within {self.timeout:g}s"
