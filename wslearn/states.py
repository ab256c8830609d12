"""The five states a client connection can be in.

The seed names four (``connecting -> connected -> reconnecting -> disconnected``);
wslearn adds ``closed`` because "the user closed it on purpose" and "we gave up
after 5 failed attempts" need different reactions: only the second one shows a
"WebSocket unavailable" message and a Reconnect button, and only the first one
must *never* reconnect (the seed's reconnect example gets this wrong: its cleanup
``close()`` fires ``onclose``, which schedules a reconnect after unmount).

This module is pure data: no IO.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """A connection state. It is a ``str``, so ``client.state == "connected"`` works."""

    #: An attempt to open a socket is in flight (the first one, or after ``reconnect()``).
    CONNECTING = "connecting"
    #: The socket is open; messages flow; the heartbeat (if any) runs.
    CONNECTED = "connected"
    #: The connection was lost; a backoff timer or a retry attempt is pending.
    RECONNECTING = "reconnecting"
    #: Not connected and nothing pending: before ``connect()``, or after the last
    #: attempt failed ("WebSocket unavailable"). ``reconnect()`` starts over.
    DISCONNECTED = "disconnected"
    #: Closed on purpose by ``close()``. Final: nothing ever reopens it.
    CLOSED = "closed"


def as_state(value: str | State) -> State:
    """Turn ``"connected"`` into ``State.CONNECTED`` with an error that lists the choices."""
    if isinstance(value, State):
        return value
    try:
        return State(value)
    except ValueError:
        choices = ", ".join(repr(s.value) for s in State)
        raise ValueError(f"unknown state {value!r}; expected one of {choices}") from None
