"""Mutation testing for the checkers: a checker is as strong as the wrong programs it fails.

Why: a hand-written list of wrong programs only covers the bugs somebody thought of. A
mutant is the solution with one small, typical change -- a boundary flipped, a reset
removed, an ``await`` dropped, ``return`` for ``continue`` -- and a checker that passes a
mutant passes a wrong program. ``make mutants`` runs every checker against every mutant of
its solution and reports, per exercise, how many were killed; a survivor is either a gap
to close with a new scenario or *equivalent* (behaves exactly like the solution), and
then it is listed with one line saying why in ``tests/mutants/equivalent.txt``.

Only the learner's part is mutated: the lines between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` of the solution notebook (the same source ``build`` makes the
exercise from). Every mutant has a stable key (exercise, function, operator, change,
the original line), so the reviewed list survives edits elsewhere in the notebook.

Usage::

    python -m wslearn.checks.mutation                 # every exercise, 2 worker processes
    python -m wslearn.checks.mutation backoff client  # some exercises
    python -m wslearn.checks.mutation --list backoff  # the mutants, not run
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "Mutant",
    "Outcome",
    "equivalents",
    "learner_objects",
    "mutants",
    "run_mutant",
]

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"

#: Comparison flips: boundaries and negations.
_COMPARE: dict[type[ast.cmpop], list[type[ast.cmpop]]] = {
    ast.Lt: [ast.LtE, ast.GtE],
    ast.LtE: [ast.Lt, ast.Gt],
    ast.Gt: [ast.GtE, ast.LtE],
    ast.GtE: [ast.Gt, ast.Lt],
    ast.Eq: [ast.NotEq],
    ast.NotEq: [ast.Eq],
    ast.Is: [ast.IsNot],
    ast.IsNot: [ast.Is],
    ast.In: [ast.NotIn],
    ast.NotIn: [ast.In],
}
_BINOP: dict[type[ast.operator], list[type[ast.operator]]] = {
    ast.Add: [ast.Sub],
    ast.Sub: [ast.Add],
    ast.Mult: [ast.Div],
    ast.Div: [ast.Mult],
    ast.Pow: [ast.Mult],
    ast.FloorDiv: [ast.Div],
}
_SYMBOL = {
    ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=",
    ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.Add: "+",
    ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**", ast.FloorDiv: "//",
    ast.And: "and", ast.Or: "or",
}
#: Exception classes swapped for a plausible wrong one (and always for BaseException).
_EXCEPTIONS = {
    "ConnectionError": "OSError",
    "Exception": "ValueError",
    "TimeoutError": "asyncio.CancelledError",
    "ValueError": "TypeError",
    "KeyError": "LookupError",
    "asyncio.CancelledError": "Exception",
}
_NAMES = {"min": "max", "max": "min", "True": "False", "False": "True"}


@dataclass(frozen=True)
class Mutant:
    """One small change to the learner's part of a solution."""

    exercise: str
    cell: int
    key: str
    source: str  # the whole mutated cell

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True)
class Outcome:
    key: str
    killed: bool
    status: str
    kind: str | None
    seconds: float


# -- finding the learner's part -------------------------------------------------------


def _solution_lines(source: str) -> set[int]:
    """1-based line numbers strictly inside BEGIN/END SOLUTION blocks."""
    inside, lines = False, set()
    for number, line in enumerate(source.splitlines(), 1):
        text = line.strip()
        if text == BEGIN:
            inside = True
        elif text == END:
            inside = False
        elif inside:
            lines.add(number)
    return lines


def _notebook(exercise: str, root: Path) -> Path:
    from . import EXERCISES

    name = EXERCISES.resolve(exercise)
    return root / "solutions" / f"{EXERCISES.get(name).notebook}.ipynb"


def _cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


# -- the operators ---------------------------------------------------------------------


def _qualname(tree: ast.AST, target: ast.AST) -> str:
    """``LiveClient._run`` for a node inside that method (``<module>`` otherwise)."""
    best = "<module>"

    def visit(node: ast.AST, prefix: list[str]) -> None:
        nonlocal best
        for child in ast.iter_child_nodes(node):
            names = prefix
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [*prefix, child.name]
            if child is target:
                best = ".".join(names) or "<module>"
                return
            visit(child, names)

    visit(tree, [])
    return best


def _is_docstring(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    parent = parents.get(node)
    return isinstance(parent, ast.Expr) and isinstance(
        parents.get(parent), ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module
    )


def _in_loop(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    current = parents.get(node)
    while current is not None and not isinstance(current, ast.FunctionDef |
                                                  ast.AsyncFunctionDef):
        if isinstance(current, ast.For | ast.While | ast.AsyncFor):
            return True
        current = parents.get(current)
    return False


def _edits(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> Iterator[tuple[str, str, Any]]:
    """(operator, change, apply) for each mutation of ``node``; ``apply(copy)`` returns
    the replacement node (or mutates it in place and returns it)."""
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            for new in _COMPARE.get(type(op), []):
                def flip(n: ast.Compare, i: int = i, new: type = new) -> ast.AST:
                    n.ops[i] = new()
                    return n
                yield "compare", f"{_SYMBOL[type(op)]} -> {_SYMBOL[new]}", flip
    elif isinstance(node, ast.BinOp):
        for new_binop in _BINOP.get(type(node.op), []):
            def swap(n: ast.BinOp, new: type = new_binop) -> ast.AST:
                n.op = new()
                return n
            yield "arithmetic", f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[new_binop]}", swap
    elif isinstance(node, ast.BoolOp):
        new_op: type[ast.boolop] = ast.Or if isinstance(node.op, ast.And) else ast.And
        def boolop(n: ast.BoolOp, new_op: type = new_op) -> ast.AST:
            n.op = new_op()
            return n
        yield "boolean", f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[new_op]}", boolop
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "boolean", "drop `not`", lambda n: n.operand
    elif isinstance(node, ast.Constant) and not isinstance(node.value, bool):
        value = node.value
        if isinstance(value, int | float) and not isinstance(parents.get(node), ast.UnaryOp):
            for delta in (1, -1):
                new_value = value + delta
                def const(n: ast.Constant, v: Any = new_value) -> ast.AST:
                    n.value = v
                    return n
                yield "constant", f"{value!r} -> {new_value!r}", const
        elif (isinstance(value, str) and value and not _is_docstring(node, parents)
              and not isinstance(parents.get(node), ast.JoinedStr)):
            def text(n: ast.Constant) -> ast.AST:
                n.value = value[:-1] + ("X" if value[-1:] != "X" else "Y")
                return n
            yield "constant", f"{value!r} changed", text
    elif isinstance(node, ast.Name) and node.id in _NAMES:
        new_id = _NAMES[node.id]
        def rename(n: ast.Name, new_id: str = new_id) -> ast.AST:
            n.id = new_id
            return n
        yield "name", f"{node.id} -> {new_id}", rename
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        yield "constant", f"{node.value} -> {not node.value}", lambda n: ast.Constant(
            not n.value)
    if isinstance(node, ast.Await):
        yield "await", "drop `await`", lambda n: n.value
    if isinstance(node, ast.If | ast.While) and not (
        isinstance(node.test, ast.Constant) and node.test.value is True
    ):
        def negate(n: ast.If) -> ast.AST:
            n.test = ast.UnaryOp(ast.Not(), n.test)
            return n
        yield "condition", "negate the condition", negate
    if isinstance(node, ast.ExceptHandler) and node.type is not None:
        name = ast.unparse(node.type)
        for new_class in dict.fromkeys(["BaseException", _EXCEPTIONS.get(name, "")]):
            if new_class and new_class != name:
                def catch(n: ast.ExceptHandler, new: str = new_class) -> ast.AST:
                    n.type = ast.parse(new, mode="eval").body
                    return n
                yield "exception", f"except {name} -> except {new_class}", catch
    if isinstance(node, ast.Return) and _in_loop(node, parents):
        yield "flow", "return -> continue", lambda n: ast.Continue()
    if isinstance(node, ast.Continue | ast.Break):
        yield "flow", f"{type(node).__name__.lower()} -> return", lambda n: ast.Return()
    if isinstance(node, ast.Call):
        for i in range(len(node.args)):
            def drop(n: ast.Call, i: int = i) -> ast.AST:
                del n.args[i]
                return n
            yield "argument", f"drop argument {i + 1} of {ast.unparse(node.func)}()", drop
        for i, kw in enumerate(node.keywords):
            def dropkw(n: ast.Call, i: int = i) -> ast.AST:
                del n.keywords[i]
                return n
            yield "argument", f"drop {kw.arg}= of {ast.unparse(node.func)}()", dropkw
    if isinstance(node, ast.stmt) and not isinstance(node, ast.Pass):
        yield "statement", "remove the statement", lambda n: ast.Pass()
    if isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Add | ast.Sub):
        def plain(n: ast.AugAssign) -> ast.AST:
            return ast.Assign([n.target], n.value, lineno=n.lineno)
        yield "statement", "`+=` -> `=`", plain


def _cell_mutants(exercise: str, index: int, source: str) -> Iterator[Mutant]:
    lines = _solution_lines(source)
    if not lines:
        return
    tree = ast.parse(source)
    text = source.splitlines()
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    nodes = list(ast.walk(tree))
    seen: dict[str, int] = {}
    # Source order (not ast.walk's breadth-first order), so "#2" means the second one down.
    order = sorted(range(len(nodes)), key=lambda i: (getattr(nodes[i], "lineno", 0),
                                                     getattr(nodes[i], "col_offset", 0), i))
    for position in order:
        node = nodes[position]
        line = getattr(node, "lineno", None)
        if line is None or line not in lines:
            continue
        for operator, change, apply in _edits(node, parents):
            clone = copy.deepcopy(tree)
            target = list(ast.walk(clone))[position]
            replacement = apply(target)
            if replacement is not target and not _replace(clone, target, replacement):
                continue
            ast.fix_missing_locations(clone)
            try:
                mutated = ast.unparse(clone)
                compile(mutated, "<mutant>", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
            except (SyntaxError, ValueError):
                continue
            where = _qualname(tree, node)
            code = text[line - 1].split("  #")[0].strip()
            base = f"{exercise}: {where}: {operator}: {change} @ {code}"
            seen[base] = seen.get(base, 0) + 1
            key = base if seen[base] == 1 else f"{base} #{seen[base]}"
            yield Mutant(exercise, index, key, mutated)


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> bool:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
                return True
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is old:
                        value[i] = new
                        return True
    return False


def mutants(exercise: str, root: Path | None = None) -> list[Mutant]:
    """Every mutant of ``exercise``'s solution, in source order, with unique keys."""
    from ..build import course_root

    folder = root or course_root()
    found: list[Mutant] = []
    for index, source in enumerate(_cells(_notebook(exercise, folder))):
        found.extend(_cell_mutants(exercise, index, source))
    return found


# -- running -------------------------------------------------------------------------------


def learner_objects(exercise: str, root: Path | None = None,
                    replace: tuple[int, str] | None = None) -> tuple[Any, ...]:
    """Run the solution notebook's code cells up to its check cell (``replace`` = (cell
    index, source) swaps one cell) and return the objects the check cell passes."""
    from ..build import course_root

    folder = root or course_root()
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for index, source in enumerate(_cells(_notebook(exercise, folder))):
        if replace is not None and index == replace[0]:
            source = replace[1]
        tree = ast.parse(source)
        call = tree.body[-1] if tree.body else None
        if (isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
                and ast.unparse(call.value.func).endswith("check")):
            args = call.value.args[1:]
            return tuple(eval(compile(ast.Expression(a), "<check>", "eval"), namespace)
                         for a in args)
        exec(compile(source, f"<{exercise} cell {index}>", "exec"), namespace)
    raise LookupError(f"solutions for {exercise} have no wslearn.check(...) cell")


def run_mutant(mutant: Mutant, root: Path | None = None, deadline: float = 2.0) -> Outcome:
    """Check one mutant under virtual time only (the real-server rerun adds nothing here)."""
    from . import check

    started = time.perf_counter()
    try:
        objects = learner_objects(mutant.exercise, root, (mutant.cell, mutant.source))
    except Exception as exc:  # the mutant does not even define its objects: killed
        return Outcome(mutant.key, True, "broken", type(exc).__name__,
                       time.perf_counter() - started)
    result = check(mutant.exercise, *objects, real=False, record=False, deadline=deadline)
    return Outcome(mutant.key, result.status != "pass", result.status, result.hint_kind,
                   time.perf_counter() - started)


def equivalents(path: Path) -> dict[str, str]:
    """The reviewed list: ``key  # why it behaves exactly like the solution``."""
    found: dict[str, str] = {}
    if not path.exists():
        return found
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, why = line.partition("  # ")
        found[key.strip()] = why.strip()
    return found


def _work_one(job: tuple[Mutant, str]) -> Outcome:
    mutant, root = job
    os.environ.setdefault("WSLEARN_HOME", os.path.join(root, "build", "wslearn-home"))
    return run_mutant(mutant, Path(root))


def main(argv: list[str] | None = None) -> int:
    from ..build import course_root
    from . import EXERCISES

    parser = argparse.ArgumentParser(prog="python -m wslearn.checks.mutation",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("exercises", nargs="*", help="default: all")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--equivalent", default="tests/mutants/equivalent.txt")
    parser.add_argument("--target", type=float, default=95.0,
                        help="percent of non-equivalent mutants to kill (default 95)")
    args = parser.parse_args(argv)
    root = course_root()
    names = [EXERCISES.resolve(n) for n in args.exercises] or EXERCISES.names()
    listed = equivalents(root / args.equivalent)
    everything = {n: mutants(n, root) for n in names}
    if args.list:
        for name in names:
            for m in everything[name]:
                print(m.key)
        return 0
    todo = [m for n in names for m in everything[n]]
    print(f"{len(todo)} mutants in {len(names)} exercises, {args.jobs} workers", flush=True)
    outcomes: dict[str, Outcome] = {}
    started = time.perf_counter()
    # multiprocessing.Pool, not ProcessPoolExecutor: the latter can deadlock in 3.11 when
    # workers are recycled; recycling matters here (a mutant may leave a stuck thread).
    with multiprocessing.get_context("spawn").Pool(args.jobs, maxtasksperchild=20) as pool:
        jobs = [(m, str(root)) for m in todo]
        for done, outcome in enumerate(pool.imap_unordered(_work_one, jobs), 1):
            outcomes[outcome.key] = outcome
            if done % 25 == 0 or done == len(todo):
                print(f"  {done}/{len(todo)} run ({time.perf_counter() - started:.0f} s)",
                      flush=True)
    failed = False
    print(f"\n{'exercise':<14}{'mutants':>8}{'killed':>8}{'survived':>9}{'equivalent':>11}"
          f"{'score':>8}")
    survivors_report = []
    for name in names:
        ms = everything[name]
        killed = [m for m in ms if outcomes[m.key].killed]
        alive = [m for m in ms if not outcomes[m.key].killed]
        equivalent = [m for m in alive if m.key in listed]
        unexplained = [m for m in alive if m.key not in listed]
        relevant = len(ms) - len(equivalent)
        score = 100.0 * len(killed) / relevant if relevant else 100.0
        print(f"{name:<14}{len(ms):>8}{len(killed):>8}{len(alive):>9}{len(equivalent):>11}"
              f"{score:>7.1f}%")
        failed |= score < args.target or bool(unexplained)
        survivors_report.extend(unexplained)
        stale = [m.key for m in killed if m.key in listed]
        for key in stale:
            print(f"  listed as equivalent but killed (remove it from the list): {key}")
    if survivors_report:
        print("\nsurvivors not in the reviewed list (add a scenario, or list them with why):")
        for m in survivors_report:
            print(f"  {m.key}")
    known = {m.key for ms in everything.values() for m in ms}
    for key in listed:
        if key.split(":", 1)[0] in names and key not in known:
            print(f"  listed but no such mutant any more: {key}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
