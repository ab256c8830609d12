"""wslearn: learn real-time WebSocket client patterns by breaking a real server.

The public names are imported lazily (PEP 562), so ``import wslearn`` is cheap and a
notebook that only needs the server never pays for ipywidgets. See ``docs/design.md``
for the layers; the short version:

- ``serve()`` runs the course's topic server in a background thread of your kernel;
- ``Client`` is the Python twin of the seed's ``useWebSocket`` hook;
- the pure pieces (``BackoffPolicy``, ``ConnectionMachine``, ``Dispatcher``,
  ``QueryCache`` ...) hold the logic and can be stepped by hand;
- ``check()`` / ``hint()`` run the exercise checkers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # server side (the FastAPI analogy)
    "App": "wslearn.app",
    "Router": "wslearn.app",
    "Channel": "wslearn.app",
    "WebSocket": "wslearn.app",
    "WebSocketDisconnect": "wslearn.app",
    "topic_app": "wslearn.topics",
    "TopicHub": "wslearn.topics",
    "serve": "wslearn.server",
    "Server": "wslearn.server",
    "ConnectionInfo": "wslearn.server_handle",
    # the pure client core
    "BackoffPolicy": "wslearn.backoff",
    "State": "wslearn.states",
    "HeartbeatPolicy": "wslearn.heartbeat",
    "ConnectionMachine": "wslearn.machine",
    # chapter 11: what production clients need after backoff
    "ClosePolicy": "wslearn.close_policy",
    "CloseAction": "wslearn.close_policy",
    "ResumeCursor": "wslearn.resume",
    "ReplayBuffer": "wslearn.resume",
    "SendQueue": "wslearn.send_queue",
    "SendQueueFull": "wslearn.send_queue",
    "TokenIssuer": "wslearn.auth",
    "show_libraries": "wslearn.libraries",
    "Dispatcher": "wslearn.dispatch",
    "Subscriptions": "wslearn.subscriptions",
    "QueryCache": "wslearn.cache",
    "Timeline": "wslearn.timeline",
    "Entry": "wslearn.timeline",
    "RealClock": "wslearn.clock",
    "SpedUpClock": "wslearn.clock",
    "VirtualClock": "wslearn.clock",
    "run_virtual": "wslearn.clock",
    "VirtualDeadlock": "wslearn.clock",
    "VirtualTimeLimit": "wslearn.clock",
    # drivers
    "Client": "wslearn.client",
    "Frame": "wslearn.client",
    "SimNetwork": "wslearn.simnet",
    "SimServer": "wslearn.simnet",
    "ConnectFailed": "wslearn.transport",
    "ConnectionLost": "wslearn.transport",
    "websocket_dialer": "wslearn.transport",
    # pictures
    "bar_chart": "wslearn.charts",
    "histogram": "wslearn.charts",
    # course tooling
    "leftovers": "wslearn.audit",
    "until": "wslearn.waiting",
    "check": "wslearn.checks",
    "hint": "wslearn.checks",
}

#: Submodules exposed as attributes (``wslearn.progress()`` shows the progress table,
#: ``wslearn.progress.record(...)`` records a result).
_SUBMODULES = frozenset({"progress", "widgets", "page"})

__all__ = [  # literal, so tools read it; tests/test_typing.py checks it lists every lazy name
    "App",
    "BackoffPolicy",
    "Channel",
    "Client",
    "CloseAction",
    "ClosePolicy",
    "ConnectFailed",
    "ConnectionInfo",
    "ConnectionLost",
    "ConnectionMachine",
    "Dispatcher",
    "Entry",
    "Frame",
    "HeartbeatPolicy",
    "QueryCache",
    "RealClock",
    "ReplayBuffer",
    "ResumeCursor",
    "Router",
    "SendQueue",
    "SendQueueFull",
    "Server",
    "SimNetwork",
    "SimServer",
    "SpedUpClock",
    "State",
    "Subscriptions",
    "Timeline",
    "TokenIssuer",
    "TopicHub",
    "VirtualClock",
    "VirtualDeadlock",
    "VirtualTimeLimit",
    "WebSocket",
    "WebSocketDisconnect",
    "bar_chart",
    "check",
    "hint",
    "histogram",
    "leftovers",
    "page",
    "progress",
    "run_virtual",
    "serve",
    "show_libraries",
    "topic_app",
    "until",
    "websocket_dialer",
    "widgets",
]

if TYPE_CHECKING:  # the lazy names, for type checkers and IDEs (as websockets does)
    from . import page, progress, widgets
    from .app import App, Channel, Router, WebSocket, WebSocketDisconnect
    from .audit import leftovers
    from .auth import TokenIssuer
    from .backoff import BackoffPolicy
    from .cache import QueryCache
    from .charts import bar_chart, histogram
    from .checks import check, hint
    from .client import Client, Frame
    from .clock import (
        RealClock,
        SpedUpClock,
        VirtualClock,
        VirtualDeadlock,
        VirtualTimeLimit,
        run_virtual,
    )
    from .close_policy import CloseAction, ClosePolicy
    from .dispatch import Dispatcher
    from .heartbeat import HeartbeatPolicy
    from .libraries import show_libraries
    from .machine import ConnectionMachine
    from .resume import ReplayBuffer, ResumeCursor
    from .send_queue import SendQueue, SendQueueFull
    from .server import Server, serve
    from .server_handle import ConnectionInfo
    from .simnet import SimNetwork, SimServer
    from .states import State
    from .subscriptions import Subscriptions
    from .timeline import Entry, Timeline
    from .topics import TopicHub, topic_app
    from .transport import ConnectFailed, ConnectionLost, websocket_dialer
    from .waiting import until


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"wslearn.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wslearn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_SUBMODULES])
