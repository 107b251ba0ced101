"""The order's money, as the workflow knows it: what was authorised, captured, voided,
received and refunded, in cents. Pure state, so the arithmetic is testable on its own."""

from __future__ import annotations

from pydantic import BaseModel


class Money(BaseModel):
    authorisation_id: str = ""
    authorised: int = 0
    captured: int = 0
    voided: int = 0
    received: int = 0
    refunded: int = 0

    @property
    def open_authorisation(self) -> int:
        """Authorised but neither captured nor voided: what a cancel must give back."""
        return self.authorised - self.captured - self.voided

    @property
    def held(self) -> int:
        """Money we hold from bank transfers and have not paid back."""
        return self.received - self.refunded
