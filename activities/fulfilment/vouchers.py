"""Compensation for a broken promise: vouchers the shop redeems at checkout."""

from __future__ import annotations

from datetime import datetime

from temporalio import activity

from core.db.engine import session_scope
from core.db.schema import Voucher
from core.settings import Settings


class CompensationActivities:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url

    @activity.defn
    def issue_voucher(
        self, order_id: str, code: str, value_cents: int, valid_until: datetime
    ) -> str:
        """Create the voucher once; a retry finds it by its code."""
        with session_scope(self.url) as s:
            if s.get(Voucher, code) is None:
                s.add(
                    Voucher(
                        code=code,
                        order_id=order_id,
                        value_cents=value_cents,
                        valid_until=valid_until,
                    )
                )
        return code
