"""Soak figures: chapters 03-09's fault sequence against many real clients.

Run: ``.venv/bin/python bench/soak.py [--clients 200] [--cycles 3]``.

The sequence and its checks live in ``tests/soak.py`` (``tests/test_soak.py`` asserts on
them in ``make test``); this script prints the figures the issue asks for: clients,
messages published and delivered, memory after the warm-up cycle and after the last one
(allocated blocks and RSS), duration, background errors, frames lost to faults.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from soak import run_soak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="20 clients, 2 cycles")
    args = parser.parse_args()
    clients, cycles = (20, 2) if args.quick else (args.clients, args.cycles)
    result = asyncio.run(run_soak(clients, cycles))
    print(result.summary())
    per_cycle = ", ".join(f"{b} blocks / {r} KiB" for b, r in
                          zip(result.blocks, result.rss_kib, strict=True))
    print(f"memory after each cycle: {per_cycle}")
    if result.missing or result.server_errors:
        print("FAILED:", result.missing[:5], result.server_errors[:5])
        sys.exit(1)


if __name__ == "__main__":
    main()
