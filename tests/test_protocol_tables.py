"""The tables in ``wslearn.protocol`` are the single source of the wire protocol.

A scan of every module in ``wslearn/`` (its syntax tree, so docstrings and comments
may still *talk* about the protocol) fails on a literal that bypasses the tables:

* an error code sent to a peer (``ProtocolError("x", ...)``, ``{"error": "x"}``, an
  ``..._error(..., "x", ...)`` helper) that ``ERROR_CODES`` does not list;
* a second JSON encoder (``json.JSONEncoder(...)`` / ``json.dumps`` of a message);
* a topics query built by hand (a ``"topics="`` / ``"?topics="`` string);
* a close code written as a number in a call (``close(1008, ...)``) instead of its name.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from wslearn import protocol
from wslearn.protocol import (
    CLIENT_TYPES,
    CLOSE_CODE_NAMES,
    CONTROL_TYPES,
    ERROR_CODES,
    MessageKind,
    message_kind,
    topics_query,
)

PACKAGE = Path(protocol.__file__).parent
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "protocol.py")
#: The shape of an error code: lowercase words joined by "-".
CODE_RE = re.compile(r"[a-z]+(?:-[a-z0-9]+)+")
#: Close codes the course uses on the wire (RFC 6455 7.4.1 range).
CLOSE_RANGE = range(1000, 1016)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string constants that are docstrings (they may mention anything)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _str(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _violations(path: Path, root: Path = PACKAGE.parent) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = _docstrings(tree)
    where = path.relative_to(root)
    found: list[str] = []

    def report(node: ast.AST, what: str) -> None:
        found.append(f"{where}:{getattr(node, 'lineno', '?')}: {what}")

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            args = [*node.args, *(k.value for k in node.keywords)]
            # error codes sent to a peer
            if name == "ProtocolError" and node.args:
                code = _str(node.args[0])
                if code is not None and code not in ERROR_CODES:
                    report(node, f"error code {code!r} is not in protocol.ERROR_CODES")
            elif name.endswith("_error") or name == "error_message":
                for arg in args:
                    code = _str(arg)
                    if code is not None and CODE_RE.fullmatch(code) and code not in ERROR_CODES:
                        report(arg, f"error code {code!r} is not in protocol.ERROR_CODES")
            # one JSON encoder
            if name == "JSONEncoder":
                report(node, "a second JSON encoder: use protocol.encode")
            # close codes by name
            if name in {"close", "drop_all", "stop", "_discard", "Closed", "CloseRequested",
                        "ConnectionLost", "CloseSocket"}:
                for arg in args:
                    if (isinstance(arg, ast.Constant) and type(arg.value) is int
                            and arg.value in CLOSE_RANGE):
                        report(arg, f"close code {arg.value} as a number: use its protocol name")
        elif isinstance(node, ast.Dict):
            fields = {_str(k): v for k, v in zip(node.keys, node.values, strict=True) if k}
            is_error = "type" in fields and _str(fields["type"]) == "error"
            code = _str(fields["error"]) if "error" in fields else None
            if (code is not None and (is_error or CODE_RE.fullmatch(code))
                    and code not in ERROR_CODES):
                report(node, f"error code {code!r} is not in protocol.ERROR_CODES")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if (isinstance(default, ast.Constant) and type(default.value) is int
                        and default.value in CLOSE_RANGE):
                    report(default, f"close code {default.value} as a number: use its name")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) in docs:
                continue
            text = node.value  # prose (hints, messages) has spaces; a URL piece has none
            if re.search(r"(^|[?&])topics=", text) and not re.search(r"\s", text):
                report(node, "a topics query built by hand: use protocol.topics_query")
    return found


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_literal_bypasses_the_protocol_tables(path: Path) -> None:
    assert _violations(path) == []


def test_the_scan_catches_each_kind_of_bypass(tmp_path: Path) -> None:
    """The scan itself works (a scan that finds nothing proves nothing)."""
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import json\n"
        "ENC = json.JSONEncoder()\n"
        "def f(ws, writer, code=1006):\n"
        "    raise ProtocolError('made-up', 'x')\n"
        "def g(ws, writer):\n"
        "    ws.close(1008, 'bad')\n"
        "    _sse_error(writer, '', 400, 'not-listed', 'x')\n"
        "    url = 'ws://h/ws?topics=' + 'a'\n"
        "    return {'type': 'error', 'error': 'nope'}\n",
        encoding="utf-8",
    )
    found = _violations(bad, root=tmp_path)
    assert len(found) == 7, found
    for needle in ["JSON encoder", "close code 1006", "'made-up'", "close code 1008",
                   "'not-listed'", "topics query", "'nope'"]:
        assert any(needle in line for line in found), needle


def test_tables_agree_with_each_other() -> None:
    assert ERROR_CODES["unknown-type"].endswith("(" + ", ".join(sorted(CLIENT_TYPES)) + ")")
    assert str(protocol.MAX_TOPICS) in ERROR_CODES["too-many-topics"]
    assert not CONTROL_TYPES & CLIENT_TYPES  # what the server sends vs what it accepts
    assert set(CLOSE_CODE_NAMES) >= {protocol.NORMAL_CLOSURE, protocol.POLICY_VIOLATION}
    assert message_kind({"type": "welcome", "topics": []}) is MessageKind.CONTROL
    assert message_kind({"type": "error", "error": "bad-json"}) is MessageKind.ERROR
    assert message_kind({"type": "analysis.done", "topic": "a"}) is MessageKind.EVENT
    with pytest.raises(ValueError, match=r"add it to protocol\.ERROR_CODES"):
        protocol.error_message("made-up", "x")


def test_one_topics_query_everywhere() -> None:
    from wslearn import Client, SimNetwork

    assert topics_query(["a", "b"]) == "topics=a,b"
    assert topics_query(["Not A Topic"]) == "topics=Not%20A%20Topic"  # quoted, as sent
    net = SimNetwork()
    server = net.serve()
    assert server.url(topics=["a", "b"]) == "ws://sim/ws?" + topics_query(["a", "b"])
    assert server.url(topics=["Not A Topic"]).endswith("?" + topics_query(["Not A Topic"]))
    client = Client("ws://127.0.0.1:1/ws?x=1", topics=["a", "b"])
    assert client.url == "ws://127.0.0.1:1/ws?x=1&" + topics_query(["a", "b"])
