"""Staff download of an order's invoice and credit-note PDFs.

Who may download is who may read the order (``ORDER_READERS``), under the same location rule
(``visible_order``): a store's or vendor's key gets only documents of orders routed to it, any
other is 404 like an unknown order. The customer downloads the same bytes from the self-service
page with the order's signed token (``api.pages.self_service``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from sqlmodel import Session

from api import deps
from api.http.errors import API_ERRORS
from api.http.security import ORDER_READERS
from api.routes.orders import visible_order
from api.services.invoices import pdf_response, stored_pdf

router = APIRouter(tags=["orders"], responses=API_ERRORS)


@router.get(
    "/orders/{order_id}/invoices/{number}.pdf",
    dependencies=ORDER_READERS,
    summary="An invoice or credit note of the order (PDF; a location key: orders routed to it)",
    response_class=Response,
    responses={
        200: {
            "description": "the PDF as issued",
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                "Content-Disposition": {
                    "description": 'attachment; filename="<number>.pdf"',
                    "schema": {"type": "string"},
                }
            },
        },
    },
)
def download_invoice(
    order_id: str, number: str, request: Request, s: Annotated[Session, Depends(deps.db)]
) -> Response:
    visible_order(s, request, order_id)
    row, pdf = stored_pdf(s, order_id, number)
    if row is None:
        raise HTTPException(404, detail=f"invoice {number} is not one of order {order_id}'s")
    if pdf is None:
        raise HTTPException(404, detail=f"invoice {number} has no PDF yet")
    return pdf_response(row.number, pdf)
