"""The vocabulary check (``python -m devstack.checks.vocabulary``, part of ``make lint``): each
concept's words are typed in one module, its home, and read from there everywhere else.

It fails (exit 1, naming ``file:line``) on

(a) a set, list, tuple or frozenset literal (``Literal[...]`` included) holding two or more of one
    concept's status strings outside that concept's home: shipment statuses outside
    core/domain/shipments.py, order statuses outside core/domain/orders.py, return statuses outside
    core/domain/returns.py. A comparison such as ``status == "shipped"`` is fine; a collection
    typed out again is how two copies come to disagree. Use the enum and its sets instead.
(b) a workflow refusal mapped outside its homes: ``WorkflowUpdateFailedError`` named anywhere but
    the typed clients (workflows/order/client.py, workflows/returns/client.py), or a refusal
    (``ActionRefused`` and the exceptions those clients define for it) registered as an exception
    handler or caught and answered with 409 anywhere but api/http/errors.py.

tests/, bench/ and the migrations (core/migrations/versions/) are not checked.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SKIPPED = ("tests/", "bench/", "core/migrations/versions/", "devstack/checks/vocabulary.py")
"""Relative paths (prefixes) the check leaves alone: tests, benches, migrations, and this module
(for its fallback list below)."""

FALLBACK_SHIPMENT_STATUSES = [
    "reserved",
    "released",
    "accepted",
    "picked",
    "packed",
    "shipped",
    "in_transit",
    "delivered",
    "picked_up",
    "rerouted",
    "cancelled",
    "lost",
    "returned",
]
"""Used only if core.domain.shipments has no ShipmentStatus enum to read them from."""

CLIENT_HOMES = ("workflows/order/client.py", "workflows/returns/client.py")
"""Where a Temporal Update failure is read and turned into the clients' refusal exceptions."""
MAPPING_HOME = "api/http/errors.py"
"""Where a refusal becomes an HTTP answer (409)."""
UPDATE_FAILED = "WorkflowUpdateFailedError"
REFUSAL = "ActionRefused"
HANDLER_REGISTRATIONS = frozenset({"exception_handler", "add_exception_handler"})


@dataclass(frozen=True)
class Concept:
    """One concept's status words and the one module that may type them out."""

    name: str
    home: str
    enum: str
    values: frozenset[str]


@dataclass(frozen=True)
class Rules:
    concepts: tuple[Concept, ...]
    refusals: frozenset[str]
    """Exception names that stand for a workflow's refusal."""


@dataclass(frozen=True, order=True)
class Violation:
    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def _enum_values(module: str, enum: str) -> frozenset[str] | None:
    try:
        found = getattr(importlib.import_module(module), enum)
    except (ImportError, AttributeError):
        return None
    return frozenset(str(member.value) for member in found)


def concepts() -> tuple[Concept, ...]:
    """The status vocabularies, read from their enums."""
    out = []
    for name, module, enum in (
        ("shipment status", "core.domain.shipments", "ShipmentStatus"),
        ("order status", "core.domain.orders", "OrderStatus"),
        ("return status", "core.domain.returns", "ReturnStatus"),
    ):
        values = _enum_values(module, enum)
        if values is None and enum == "ShipmentStatus":
            values = frozenset(FALLBACK_SHIPMENT_STATUSES)
        if values is None:
            print(f"vocabulary: {module}.{enum} not found; {name}es not checked", file=sys.stderr)
            continue
        out.append(Concept(name, module.replace(".", "/") + ".py", enum, values))
    return tuple(out)


def refusal_names(root: Path) -> frozenset[str]:
    """``ActionRefused`` and the exceptions the typed clients define (a class whose base is an
    exception, or another of them)."""
    classes: dict[str, list[str]] = {}
    for rel in CLIENT_HOMES:
        path = root / rel
        if not path.exists():
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ClassDef):
                classes[node.name] = [n for b in node.bases if (n := _name(b))]
    found = {REFUSAL}
    grew = True
    while grew:
        grew = False
        for cls, bases in classes.items():
            if cls not in found and any(
                b in found or b.endswith(("Exception", "Error")) for b in bases
            ):
                found.add(cls)
                grew = True
    return frozenset(found)


def rules(root: Path) -> Rules:
    return Rules(concepts(), refusal_names(root))


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def sources(root: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        parts = rel.split("/")
        if any(p.startswith(".") or p == "__pycache__" or p.endswith(".egg-info") for p in parts):
            continue
        if rel.startswith(SKIPPED):
            continue
        yield rel, path


def _kind(node: ast.expr, parents: dict[ast.AST, ast.AST]) -> str:
    parent = parents.get(node)
    if (
        isinstance(node, ast.Tuple)
        and isinstance(parent, ast.Subscript)
        and _name(parent.value) == "Literal"
    ):
        return "Literal[...]"
    if isinstance(parent, ast.Call) and _name(parent.func) == "frozenset":
        return "frozenset"
    return {ast.Set: "set", ast.List: "list", ast.Tuple: "tuple"}[type(node)]


def _status_lists(rel: str, tree: ast.AST, rules: Rules) -> Iterator[Violation]:
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Set | ast.List | ast.Tuple):
            continue
        words = {e.value for e in node.elts if isinstance(e, ast.Constant)}
        hits = {
            c: sorted(w for w in words if isinstance(w, str) and w in c.values)
            for c in rules.concepts
        }
        # Some words belong to two concepts ("shipped", "cancelled", "in_transit"): a literal is
        # the vocabulary of the concept it holds most of (of each, on a tie).
        most = max((len(h) for h in hits.values()), default=0)
        leaders = [c for c, h in hits.items() if len(h) == most]
        if most < 2 or any(rel == c.home for c in leaders):
            continue
        for concept in leaders:
            yield Violation(
                rel,
                node.lineno,
                f"a {_kind(node, parents)} of {concept.name}es ({', '.join(hits[concept])}) "
                f"outside {concept.home}: read them from there ({concept.enum}, its sets, or a "
                "type defined there)",
            )


def _mentions_409(body: Iterable[ast.stmt]) -> bool:
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Constant) and type(node.value) is int and node.value == 409:
                return True
            if isinstance(node, ast.Name | ast.Attribute) and _name(node) == "HTTP_409_CONFLICT":
                return True
    return False


def _caught(handler: ast.ExceptHandler) -> list[str]:
    if handler.type is None:
        return []
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return [n for t in types if (n := _name(t))]


def _names_update_failed(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom | ast.Import):
        return any(a.name.rsplit(".", 1)[-1] == UPDATE_FAILED for a in node.names)
    return isinstance(node, ast.Name | ast.Attribute) and _name(node) == UPDATE_FAILED


def _refusal_mappings(rel: str, tree: ast.AST, rules: Rules) -> Iterator[Violation]:
    named: set[int] = set()
    for node in ast.walk(tree):
        if rel not in CLIENT_HOMES and _names_update_failed(node):
            line = getattr(node, "lineno", 0)
            if line not in named:
                named.add(line)
                yield Violation(
                    rel,
                    line,
                    f"{UPDATE_FAILED} outside the typed clients ({', '.join(CLIENT_HOMES)}): "
                    "call the workflow through its client, which turns refusals into exceptions",
                )
        if rel == MAPPING_HOME:
            continue
        if isinstance(node, ast.Call) and _name(node.func) in HANDLER_REGISTRATIONS:
            refused = [n for a in node.args[:1] if (n := _name(a)) in rules.refusals]
            if refused:
                yield Violation(
                    rel,
                    node.lineno,
                    f"{refused[0]} registered as an exception handler outside {MAPPING_HOME}",
                )
        if isinstance(node, ast.ExceptHandler) and _mentions_409(node.body):
            refused = [n for n in _caught(node) if n in rules.refusals]
            if refused:
                yield Violation(
                    rel,
                    node.lineno,
                    f"{', '.join(refused)} answered with 409 outside {MAPPING_HOME}: let it "
                    "through to the one mapping there",
                )


def check_source(rel: str, text: str, rules: Rules) -> list[Violation]:
    """The violations in one file, named by its path relative to the root."""
    tree = ast.parse(text, rel)
    return sorted({*_status_lists(rel, tree, rules), *_refusal_mappings(rel, tree, rules)})


def check(root: Path, rules_: Rules | None = None) -> list[Violation]:
    """Every violation under ``root``, in path and line order."""
    applied = rules_ if rules_ is not None else rules(root)
    found: list[Violation] = []
    for rel, path in sources(root):
        found += check_source(rel, path.read_text(), applied)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.checks.vocabulary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree to check")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    found = check(root)
    for violation in found:
        print(violation)
    if found:
        print(f"vocabulary: {len(found)} violation(s)", file=sys.stderr)
        return 1
    print("vocabulary: each concept's words live in their one home")
    return 0


if __name__ == "__main__":
    sys.exit(main())
