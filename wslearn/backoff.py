"""The reconnect schedule: exponential backoff with an attempt limit and optional jitter.

The seed's schedule is 1 s, 2 s, 4 s, 8 s, 16 s and then give up (5 attempts).
Why each knob exists:

* **factor** -- waiting longer after each failure keeps a struggling server from
  being hammered; a fixed 1 s retry is a DDoS on your own server (seed mistake 4).
* **cap** -- the wait never grows past ``cap`` seconds, so a long outage does not turn
  into hour-long silences (the seed's ``Math.min(..., 30000)``).
* **max_attempts** -- after that many failures the client stops and tells the user
  ("WebSocket unavailable") instead of retrying forever. ``None`` means "forever";
  it exists only to *demonstrate* that mistake.
* **min_uptime** -- how long a connection must stay up before the attempt counter
  resets. Module 07 resets on every open (``0``, the default of chapters 01-10). Against
  a *flapping* server -- one that accepts and drops at once -- that resets the counter
  on every flap, so the client reconnects in a tight 1 s loop for ever. Resetting only
  after ``min_uptime`` seconds up (partysocket's and reconnecting-websocket's
  ``minUptime``, 5 s there) lets the backoff grow and the attempt limit end it
  (chapter 11).
* **jitter** -- when a server restarts, every client lost its connection at the same
  moment; without jitter they all come back at the same moments too (the
  "thundering herd"). The formulas are those of the AWS Architecture Blog post
  "Exponential Backoff and Jitter" (Marc Brooker, 2015):

  - ``"none"``:  ``d = min(cap, base * factor**(k-1))`` (the seed)
  - ``"full"``:  ``uniform(0, d)``
  - ``"equal"``: ``d/2 + uniform(0, d/2)``

Jitter draws from ``random.Random(seed)``, never from the global generator, so the
same seed gives the same schedule on every run (the course's outputs must be stable).

The policy is an immutable value: no IO, no sleeping, no clock. Whoever runs it
(``ConnectionMachine``) decides *when* an attempt happens.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal, get_args

Jitter = Literal["none", "full", "equal"]
JITTERS: tuple[str, ...] = get_args(Jitter)

#: Jittered delays are rounded to this many decimals (milliseconds): timelines print them.
_DECIMALS = 3


@dataclass(frozen=True)
class BackoffPolicy:
    """How long to wait before reconnect attempt 1, 2, ... and when to give up.

    >>> BackoffPolicy().delays()
    [1.0, 2.0, 4.0, 8.0, 16.0]
    >>> BackoffPolicy().total()
    31.0
    """

    base: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    max_attempts: int | None = 5
    jitter: Jitter = "none"
    seed: int | None = None
    min_uptime: float = 0.0
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("base", "factor", "cap"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise TypeError(f"BackoffPolicy.{name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"BackoffPolicy.{name} must be finite, got {value!r}")
        if self.base <= 0:
            raise ValueError(f"BackoffPolicy.base must be > 0 seconds, got {self.base!r}")
        if self.factor < 1:
            raise ValueError(
                f"BackoffPolicy.factor must be >= 1 (delays never shrink), got {self.factor!r}"
            )
        uptime = self.min_uptime
        if isinstance(uptime, bool) or not isinstance(uptime, int | float) or not (
            0 <= uptime < math.inf
        ):
            raise ValueError(
                f"BackoffPolicy.min_uptime must be a number of seconds >= 0, got {uptime!r}"
            )
        if self.cap < self.base:
            raise ValueError(
                f"BackoffPolicy.cap ({self.cap!r}) must be >= base ({self.base!r})"
            )
        if self.max_attempts is not None and (
            isinstance(self.max_attempts, bool)
            or not isinstance(self.max_attempts, int)
            or self.max_attempts < 1
        ):
            raise ValueError(
                "BackoffPolicy.max_attempts must be an int >= 1, or None for 'forever' "
                f"(the seed's mistake 4), got {self.max_attempts!r}"
            )
        if self.jitter not in JITTERS:
            raise ValueError(
                f"BackoffPolicy.jitter must be one of {JITTERS}, got {self.jitter!r}"
            )
        seed = self.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"BackoffPolicy.seed must be an int or None, got {self.seed!r}")
        object.__setattr__(self, "_rng", self.rng())

    # -- the schedule ---------------------------------------------------------------

    def rng(self) -> random.Random:
        """A fresh generator seeded with ``seed`` (a new, unpredictable one if ``seed`` is None).

        ``ConnectionMachine`` keeps one per machine, so the first outage follows
        ``delays()`` exactly and later outages continue the same seeded sequence.
        """
        return random.Random(self.seed)

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay before ``attempt``: ``min(cap, base * factor**(attempt-1))``."""
        self._check_attempt(attempt)
        try:
            raw = self.base * self.factor ** (attempt - 1)
        except OverflowError:  # factor**k overflowed a float: it is "huge", so the cap wins
            return float(self.cap)
        return float(min(self.cap, raw))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before reconnect ``attempt`` (1-based).

        Without jitter this is a pure function of ``attempt``. With jitter it draws one
        number from ``rng`` (default: this policy's own seeded generator -- so repeated
        calls differ; use ``delays()`` for a repeatable list).
        """
        ceiling = self.ceiling(attempt)
        if self.jitter == "none":
            return ceiling
        gen = self._rng if rng is None else rng
        if self.jitter == "full":
            value = gen.uniform(0.0, ceiling)
        else:  # "equal"
            value = ceiling / 2 + gen.uniform(0.0, ceiling / 2)
        return round(value, _DECIMALS)

    def delays(self, rng: random.Random | None = None) -> list[float]:
        """The whole schedule of one outage, attempt 1..max_attempts.

        With jitter and no ``rng``, a fresh ``Random(seed)`` is used: the same seed lists
        the same schedule every time (with ``seed=None`` every call differs).
        """
        if self.max_attempts is None:
            raise ValueError(
                "max_attempts=None retries forever: the schedule has no end to list; "
                "use iter_delays() and stop yourself"
            )
        gen = self.rng() if rng is None else rng
        return [self.delay(k, gen) for k in range(1, self.max_attempts + 1)]

    def iter_delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """Delays for attempt 1, 2, ... (endless if ``max_attempts`` is None)."""
        gen = self.rng() if rng is None else rng
        k = 1
        while self.max_attempts is None or k <= self.max_attempts:
            yield self.delay(k, gen)
            k += 1

    def total(self) -> float:
        """Seconds from the first failure to the last attempt (31.0 for the seed's schedule).

        With jitter this is the total of ``delays()`` (so it depends on ``seed``).
        """
        return round(sum(self.delays()), 9)

    # -- when to stop (the give-up rule: ConnectionMachine and the page follow it) -----

    def gives_up_after(self, attempt: int) -> bool:
        """True when ``attempt`` was the last one allowed: its failure means "unavailable".

        Attempt 0 (the connect you asked for) is never the last one.
        """
        return self.max_attempts is not None and attempt >= self.max_attempts

    def resets_at_open(self) -> bool:
        """True when an open resets the attempt counter at once (Module 07: ``min_uptime`` 0).

        Otherwise the counter resets only once the connection stayed up ``min_uptime``
        seconds; a connection lost before that continues the count (the flapping guard).
        Which close codes end retrying is the other give-up rule: ``wslearn.close_policy``.
        """
        return self.min_uptime == 0

    def describe(self) -> str:
        """One stable line for notebooks: ``1s, 2s, 4s, 8s, 16s (5 attempts, no jitter)``."""
        if self.max_attempts is None:
            head = ", ".join(f"{self.ceiling(k):g}s" for k in range(1, 6)) + ", ... forever"
            return f"{head} (no limit, jitter: {self.jitter}{self._uptime_note()})"
        if self.jitter == "none":
            head = ", ".join(f"{d:g}s" for d in self.delays())
            return f"{head} ({self.max_attempts} attempts, no jitter{self._uptime_note()})"
        ceilings = ", ".join(f"{self.ceiling(k):g}s" for k in range(1, self.max_attempts + 1))
        jitter = f"{self.jitter} jitter, seed {self.seed}"
        return f"up to {ceilings} ({self.max_attempts} attempts, {jitter}{self._uptime_note()})"

    def _uptime_note(self) -> str:
        return "" if self.resets_at_open() else f", reset after {self.min_uptime:g}s up"

    def _check_attempt(self, attempt: int) -> None:
        if isinstance(attempt, bool) or not isinstance(attempt, int):
            raise TypeError(f"attempt must be an int, got {attempt!r}")
        if attempt < 1:
            raise ValueError(f"attempt numbers start at 1, got {attempt}")
        if self.max_attempts is not None and attempt > self.max_attempts:
            raise ValueError(
                f"attempt {attempt} is past max_attempts={self.max_attempts}: "
                "the client gives up instead of waiting"
            )
