"""Ops API of outbound-event subscribers: who receives order events as signed webhooks.

The secret is returned once, when the subscription is created; listings never show it.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, Field, HttpUrl
from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from api import deps
from api.http.errors import API_ERRORS
from api.http.security import OPERATIONS
from core.db.engine import session_scope
from core.db.schema import OutboundDelivery, WebhookSubscription
from core.domain.inputs import InputModel
from core.settings import Settings

router = APIRouter(
    prefix="/ops/subscriptions",
    tags=["outbound events"],
    dependencies=OPERATIONS,
    responses=API_ERRORS,
)

EventPattern = Annotated[str, Field(min_length=1, max_length=200)]


class SubscriptionCreate(InputModel):
    url: HttpUrl = Field(description="http(s) URL the events are posted to")
    event_types: list[EventPattern] = Field(
        default=["*"],
        min_length=1,
        description="glob patterns of event types: '*', 'shipped_*', 'completed'",
    )
    secret: str | None = Field(
        default=None,
        min_length=16,
        max_length=200,
        description="HMAC key of X-OMS-Signature; generated if left out",
    )
    active: bool = True
    label: str = Field(default="", max_length=200)


class SubscriptionView(BaseModel):
    id: int
    url: str
    event_types: list[str]
    active: bool
    label: str
    created_at: datetime
    deliveries: dict[str, int] = Field(default={}, description="count by status")


class SubscriptionCreated(SubscriptionView):
    secret: str = Field(description="shown only now: keep it to verify signatures")


class DeliveryView(BaseModel):
    id: int
    event_id: int
    event_key: str
    event_type: str
    order_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str
    delivered_at: datetime | None


def _view(s: Session, sub: WebhookSubscription) -> SubscriptionView:
    counts = s.exec(
        select(OutboundDelivery.status, func.count())
        .where(OutboundDelivery.subscription_id == sub.id)
        .group_by(col(OutboundDelivery.status))
    ).all()
    return SubscriptionView.model_validate(
        {**sub.model_dump(), "deliveries": {status: n for status, n in counts}}
    )


def _get(s: Session, subscription_id: int) -> WebhookSubscription:
    sub = s.get(WebhookSubscription, subscription_id)
    if sub is None:
        raise HTTPException(404, detail=f"subscription {subscription_id} not found")
    return sub


@router.post(
    "",
    response_model=SubscriptionCreated,
    status_code=201,
    summary="Subscribe a URL to order events",
)
def create_subscription(
    body: SubscriptionCreate, settings: Annotated[Settings, Depends(deps.settings)]
) -> SubscriptionCreated:
    with session_scope(settings.database_url) as s:
        sub = WebhookSubscription(
            url=str(body.url),
            event_types=body.event_types,
            secret=body.secret or secrets.token_urlsafe(32),
            active=body.active,
            label=body.label,
        )
        s.add(sub)
        s.flush()
        return SubscriptionCreated(**_view(s, sub).model_dump(), secret=sub.secret)


@router.get("", response_model=list[SubscriptionView], summary="All subscriptions")
def list_subscriptions(s: Annotated[Session, Depends(deps.db)]) -> list[SubscriptionView]:
    subs = s.exec(select(WebhookSubscription).order_by(col(WebhookSubscription.id))).all()
    return [_view(s, sub) for sub in subs]


@router.get(
    "/{subscription_id}",
    response_model=SubscriptionView,
    summary="One subscription with its deliveries counted by status",
)
def get_subscription(
    subscription_id: deps.DbId, s: Annotated[Session, Depends(deps.db)]
) -> SubscriptionView:
    return _view(s, _get(s, subscription_id))


@router.get(
    "/{subscription_id}/deliveries",
    response_model=list[DeliveryView],
    summary="Deliveries of a subscription, newest first (e.g. the failed ones)",
)
def list_deliveries(
    subscription_id: deps.DbId,
    s: Annotated[Session, Depends(deps.db)],
    status: Annotated[Literal["pending", "delivered", "failed"] | None, Query()] = None,
    order_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryView]:
    _get(s, subscription_id)
    q = select(OutboundDelivery).where(OutboundDelivery.subscription_id == subscription_id)
    if status is not None:
        q = q.where(OutboundDelivery.status == status)
    if order_id is not None:
        q = q.where(OutboundDelivery.order_id == order_id)
    rows = s.exec(q.order_by(col(OutboundDelivery.id).desc()).limit(limit)).all()
    return [DeliveryView.model_validate(d, from_attributes=True) for d in rows]


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/retry",
    response_model=DeliveryView,
    summary="Try a failed delivery again (after the subscriber is fixed)",
)
def retry_delivery(
    subscription_id: deps.DbId,
    delivery_id: deps.DbId,
    settings: Annotated[Settings, Depends(deps.settings)],
) -> DeliveryView:
    """Back to pending with fresh attempts; the next dispatch run posts it (same delivery id,
    so a receiver that got it after all dedupes it)."""
    with session_scope(settings.database_url) as s:
        delivery = s.get(OutboundDelivery, delivery_id)
        if delivery is None or delivery.subscription_id != subscription_id:
            raise HTTPException(404, detail=f"delivery {delivery_id} not found")
        if delivery.status != "failed":
            raise HTTPException(
                409,
                detail=f"delivery {delivery_id} is {delivery.status}, only a failed one is retried",
            )
        delivery.status, delivery.attempts = "pending", 0
        delivery.next_attempt_at = datetime.now(UTC)
        s.add(delivery)
        return DeliveryView.model_validate(delivery, from_attributes=True)


@router.delete(
    "/{subscription_id}",
    status_code=204,
    summary="Remove a subscription and its deliveries (nothing more is sent)",
)
def delete_subscription(
    subscription_id: deps.DbId, settings: Annotated[Settings, Depends(deps.settings)]
) -> Response:
    with session_scope(settings.database_url) as s:
        sub = _get(s, subscription_id)
        s.exec(
            delete(OutboundDelivery).where(col(OutboundDelivery.subscription_id) == subscription_id)
        )
        s.delete(sub)
    return Response(status_code=204)
