"""The parts of ``websockets`` the server leans on beyond its documented asyncio API.

pyproject pins ``websockets>=17,<18`` for them. If a release moves any of these, this
test fails loudly, naming what to re-check in ``wslearn/server_socket.py`` -- before a learner
meets a server that silently stopped holding frames or reading its head timeout.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import websockets
from websockets.asyncio.connection import Connection
from websockets.asyncio.server import Server as WSServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.protocol import Protocol


def test_pinned_major_version() -> None:
    major = int(version("websockets").split(".")[0])
    assert major == 17, (
        f"websockets {websockets.__version__}: wslearn.server was checked against 17.x; "
        "re-check wslearn/server_socket.py (HeldTransport, ServerSocket, SocketChannel), "
        "then move the pin in pyproject.toml"
    )


def test_the_hooks_the_server_uses_exist() -> None:
    params = inspect.signature(serve).parameters
    for name in ("create_connection", "process_request", "process_response", "open_timeout",
                 "close_timeout", "ping_interval", "ping_timeout", "server_header"):
        assert name in params, f"serve() lost {name}="
    close = inspect.signature(WSServer.close).parameters
    assert "code" in close and "reason" in close, "Server.close(code=, reason=) changed"
    # HeldTransport: websockets must keep writing every frame through .transport, which
    # connection_made stores (pongs and close frames included).
    assert "self.transport = transport" in inspect.getsource(Connection.connection_made)
    assert "self.transport.write(" in inspect.getsource(Connection.send_data)
    # SocketChannel.send_nowait: the sans-IO protocol's public write path.
    for name in ("send_text", "send_binary", "data_to_send"):
        assert callable(getattr(Protocol, name)), f"Protocol.{name} is gone"
    # drop_all/stop shorten a connection's closing handshake by setting this attribute.
    assert "self.close_timeout = close_timeout" in inspect.getsource(Connection.__init__)
    assert issubclass(ServerConnection, Connection)
