"""The vocabulary check (devstack/checks/vocabulary.py, in ``make lint``) fails naming file:line
on a status list or a refusal-to-409 mapping outside its one home, and passes a clean tree.
Each test writes a small synthetic tree into a temporary directory and checks that."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.domain.orders import OrderStatus
from core.domain.returns import ReturnStatus
from core.domain.shipments import ShipmentStatus
from devstack.checks import vocabulary
from devstack.checks.vocabulary import Violation, check

ROOT = Path(__file__).resolve().parents[2]

CLIENT = """
from temporalio.client import WorkflowUpdateFailedError


class OrderRefused(Exception):
    pass


class OrderClosed(OrderRefused):
    pass


async def cancel(handle):
    try:
        return await handle.execute_update("cancel")
    except WorkflowUpdateFailedError as exc:
        raise OrderRefused(str(exc)) from exc
"""

ERRORS = """
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from workflows.order.client import OrderRefused


def install(app: FastAPI) -> None:
    @app.exception_handler(OrderRefused)
    async def _refused(request, exc):
        return JSONResponse({"detail": str(exc)}, status_code=409)
"""

GOOD_ROUTE = """
from core.domain.shipments import OPEN, ShipmentStatus


def movable(status: str) -> bool:
    return status in OPEN or status == "shipped"


def late(status: str) -> bool:
    return status == ShipmentStatus.IN_TRANSIT


CODES = ("A1", "B2")  # strings, but no status words
RISK = ["accept", "review"]
"""


def tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A small source tree with the typed client and the one 409 mapping in their homes."""
    base = {"workflows/order/client.py": CLIENT, "api/http/errors.py": ERRORS, **files}
    for rel, text in base.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).removeprefix("\n"))
    return tmp_path


def lines(found: list[Violation]) -> list[str]:
    return [f"{v.path}:{v.line}" for v in found]


def test_a_clean_tree_passes(tmp_path: Path) -> None:
    root = tree(tmp_path, {"api/routes/orders.py": GOOD_ROUTE})
    assert check(root) == []


def test_statuses_are_read_from_the_enums() -> None:
    by_name = {c.enum: c for c in vocabulary.concepts()}
    assert by_name["ShipmentStatus"].values == {s.value for s in ShipmentStatus}
    assert by_name["OrderStatus"].values == {s.value for s in OrderStatus}
    assert by_name["ReturnStatus"].values == {s.value for s in ReturnStatus}
    assert by_name["ShipmentStatus"].values >= set(vocabulary.FALLBACK_SHIPMENT_STATUSES)


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ('MOVABLE = {"reserved", "released", "accepted"}\n', "set"),
        ('MOVABLE = ["reserved", "released"]\n', "list"),
        ('MOVABLE = ("picked", "packed")\n', "tuple"),
        ('MOVABLE = frozenset({"reserved", "released"})\n', "frozenset"),
        ('def moving(s): return s in ("shipped", "in_transit")\n', "tuple"),
        ('Event = Literal["accepted", "picked"]\n', "Literal[...]"),
    ],
)
def test_a_shipment_status_list_outside_its_home_fails(
    tmp_path: Path, source: str, kind: str
) -> None:
    root = tree(tmp_path, {"workflows/ops/location_outage.py": "x = 1\n\n" + source})
    [found] = check(root)
    assert found.path == "workflows/ops/location_outage.py"
    assert found.line == 3
    assert f"a {kind} of shipment statuses" in found.message
    assert "core/domain/shipments.py" in found.message


def test_order_and_return_status_lists_fail_outside_their_homes(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "api/pages/dashboard/data.py": 'DONE = ("completed", "rejected", "failed")\n',
            "activities/returns/requests.py": 'x = 1\nOPEN = ["requested", "label_issued"]\n',
        },
    )
    found = check(root)
    assert lines(found) == ["activities/returns/requests.py:2", "api/pages/dashboard/data.py:1"]
    assert "return statuses (label_issued, requested)" in found[0].message
    assert "order statuses (completed, failed, rejected)" in found[1].message


def test_each_concept_may_list_its_own_statuses_at_home(tmp_path: Path) -> None:
    root = tree(
        tmp_path,
        {
            "core/domain/shipments.py": 'OPEN = ("reserved", "released", "rejected", "shipped")\n',
            "core/domain/orders.py": 'DONE = {"completed", "cancelled"}\n',
            "core/domain/returns.py": 'OPEN = ["requested", "received"]\n',
        },
    )
    assert check(root) == []


def test_a_literal_belongs_to_the_concept_it_holds_most_of(tmp_path: Path) -> None:
    """ "shipped" and "rejected" are order statuses too; a list of shipment events is still a
    shipment list, named once."""
    root = tree(
        tmp_path, {"api/routes/webhooks.py": 'E = ("accepted", "picked", "rejected", "shipped")\n'}
    )
    [found] = check(root)
    assert "shipment statuses" in found.message


def test_one_status_word_in_a_collection_is_fine(tmp_path: Path) -> None:
    root = tree(tmp_path, {"activities/stock/reservations.py": 'LIVE = ("active", "shipped")\n'})
    assert check(root) == []


def test_tests_benches_and_migrations_are_not_checked(tmp_path: Path) -> None:
    listing = 'S = ("reserved", "released")\n'
    root = tree(
        tmp_path,
        {
            "tests/unit/test_x.py": listing,
            "bench/load.py": listing,
            "core/migrations/versions/0001_x.py": listing,
        },
    )
    assert check(root) == []


def test_update_failed_error_outside_the_clients_fails(tmp_path: Path) -> None:
    route = """
    from fastapi import HTTPException
    from temporalio.client import WorkflowUpdateFailedError


    async def cancel(handle):
        try:
            await handle.execute_update("cancel")
        except WorkflowUpdateFailedError as exc:
            raise HTTPException(409, str(exc)) from exc
    """
    root = tree(tmp_path, {"api/routes/customer_service.py": route})
    found = check(root)
    assert lines(found) == ["api/routes/customer_service.py:2", "api/routes/customer_service.py:8"]
    assert all("WorkflowUpdateFailedError outside the typed clients" in v.message for v in found)


@pytest.mark.parametrize(
    "answer",
    [
        "raise HTTPException(409, exc.reason) from exc",
        "raise HTTPException(status_code=409, detail=exc.reason) from exc",
        "raise PortalError(409, exc.reason) from exc",
        "return JSONResponse({}, status_code=status.HTTP_409_CONFLICT)",
    ],
)
def test_a_refusal_answered_with_409_outside_errors_fails(tmp_path: Path, answer: str) -> None:
    page = f"""
    from workflows.order.client import OrderClient, OrderRefused


    async def confirm(client: OrderClient):
        try:
            await client.confirm_pickup()
        except OrderRefused as exc:
            {answer}
    """
    root = tree(tmp_path, {"api/pages/portal/routes.py": page})
    [found] = check(root)
    assert str(found).startswith("api/pages/portal/routes.py:7: OrderRefused answered with 409")
    assert "api/http/errors.py" in found.message


def test_action_refused_and_subclassed_refusals_count(tmp_path: Path) -> None:
    page = """
    from workflows.order import client


    async def act(c):
        try:
            await c.modify()
        except (ValueError, client.OrderClosed):
            raise Refused(409, "closed")
        except ActionRefused:
            raise Refused(409, "no")
    """
    root = tree(tmp_path, {"api/pages/self_service/routes.py": page})
    assert lines(check(root)) == [
        "api/pages/self_service/routes.py:7",
        "api/pages/self_service/routes.py:9",
    ]


def test_registering_a_refusal_handler_outside_errors_fails(tmp_path: Path) -> None:
    app = """
    from workflows.order.client import OrderRefused


    def create_app(app):
        app.add_exception_handler(OrderRefused, lambda request, exc: None)
    """
    root = tree(tmp_path, {"api/app.py": app})
    [found] = check(root)
    assert str(found).startswith("api/app.py:5: OrderRefused registered as an exception handler")


def test_a_refusal_shown_without_409_is_the_pages_own_business(tmp_path: Path) -> None:
    page = """
    from workflows.order.client import OrderRefused


    async def act(c):
        try:
            await c.modify()
        except OrderRefused as exc:
            return render("refused.html", reason=exc.reason)
    """
    root = tree(tmp_path, {"api/pages/console/routes.py": page})
    assert check(root) == []


def test_the_command_exits_1_naming_file_and_line_and_0_when_clean(tmp_path: Path) -> None:
    root = tree(tmp_path, {"routing/bad.py": 'S = ["lost", "returned"]\n'})
    command = [sys.executable, "-m", "devstack.checks.vocabulary", "--root", str(root)]
    bad = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert bad.stdout.startswith("routing/bad.py:1: a list of shipment statuses (lost, returned)")
    (root / "routing/bad.py").write_text('S = "lost"\n')
    good = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stdout + good.stderr


def test_make_lint_runs_the_check() -> None:
    lint = (ROOT / "Makefile").read_text().split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "-m devstack.checks.vocabulary" in lint
