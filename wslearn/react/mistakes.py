"""The module's mistakes as variants of the fixed hook (``/react?hook=no-cleanup`` ...).

Each variant is the shipped ``app/useWebSocket.tsx`` with a few exact text replacements,
so a variant can never drift from the fixed hook: if the fixed hook changes and a
replacement no longer applies, :func:`variant` raises (and the tests fail) instead of
serving a stale copy. The learner sees each variant at ``react/hooks/<name>.tsx``.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

__all__ = ["MISTAKES", "diff", "fixed_hook", "variant"]

_CLEANUP: Final = """    startTimer = setTimeout(connect, 0)
    return () => {
      unmounted = true
      clearTimeout(startTimer)
      clearTimeout(retryTimer)
      if (socket) detach(socket)
    }
"""
_GIVE_UP: Final = """      if (attempts.current >= MAX_ATTEMPTS) {
        setState("disconnected") // the toast offers Reconnect
        return
      }
"""
_PONG_TIMEOUT: Final = """      if (pongTimer === undefined) {
        const ws = socket
        pongTimer = setTimeout(() => lost(ws), PONG_TIMEOUT_MS) // silent server: give up on it
      }
"""
_DISPATCH: Final = "        handlers[message.type]?.(message)\n"
_DEPS: Final = "  }, [url, topicsKey, session, queryClient])\n"

#: name -> (what the module says about it, [(text of the fixed hook, replacement)]).
MISTAKES: Final[dict[str, tuple[str, list[tuple[str, str]]]]] = {
    "no-cleanup": (
        "mistake 1: the effect returns no cleanup, so the socket outlives the component",
        [(_CLEANUP, "    startTimer = setTimeout(connect, 0)\n"
                    "    // ❌ no cleanup: the socket and its timers outlive the component\n")],
    ),
    "no-max-attempts": (
        "mistake 4: reconnects forever, even when the server is down for good",
        [(_GIVE_UP, "      // ❌ no maximum: it never gives up and never shows the toast\n")],
    ),
    "ping-without-pong": (
        "mistake 3 half-fixed: it pings, but never notices that no pong comes back",
        [(_PONG_TIMEOUT, "      // ❌ no pong timeout: a silent server looks connected forever\n")],
    ),
    "if-else-dispatch": (
        "mistake 5: one if/else chain for every type, with a catch-all that refetches everything",
        [(_DISPATCH,
          "        // ❌ one growing if/else chain instead of a handler per type\n"
          '        if (message.type === "pong") handlers.pong(message)\n'
          '        else if (message.type === "proposal.deleted") '
          'handlers["proposal.deleted"](message)\n'
          "        else queryClient.invalidateQueries() // anything else: refresh everything\n")],
    ),
    "attempt-in-deps": (
        "the seed's 'fixed' reconnect snippet: the attempt counter is an effect dependency, "
        "so every change re-runs the effect (its cleanup closes the fresh socket)",
        [(_DEPS, "  }, [url, topicsKey, session, queryClient, attempt]) "
                 "// ❌ attempt: every change re-runs the effect\n")],
    ),
}


def fixed_hook() -> str:
    """The shipped, fixed ``useWebSocket.tsx``."""
    return resources.files(__package__).joinpath("app", "useWebSocket.tsx").read_text("utf-8")


def variant(name: str) -> str:
    """The fixed hook with mistake ``name`` put back (``KeyError`` for an unknown name)."""
    if name == "fixed":
        return fixed_hook()
    if name not in MISTAKES:
        known = ", ".join(["fixed", *MISTAKES])
        raise KeyError(f"no hook variant {name!r}; known: {known}")
    text = fixed_hook()
    for old, new in MISTAKES[name][1]:
        if text.count(old) != 1:
            raise RuntimeError(f"hook variant {name!r} no longer applies to useWebSocket.tsx")
        text = text.replace(old, new)
    header = f"// hook={name}: {MISTAKES[name][0]} (served read-only; edit src/ instead)\n"
    return header + text


def diff(name: str) -> str:
    """What mistake ``name`` changes in the fixed hook, as a unified diff."""
    import difflib

    fixed = fixed_hook().splitlines(keepends=True)
    broken = variant(name).splitlines(keepends=True)[1:]  # without the header line
    return "".join(difflib.unified_diff(fixed, broken, "app/useWebSocket.tsx",
                                        f"hooks/{name}.tsx", n=1))
