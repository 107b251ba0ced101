"""The order's money, as the workflow knows it: what was authorised, captured, voided,
received and refunded, in cents. Pure state, so the arithmetic is testable on its own."""

from __future__ import annotations

from pydantic import BaseModel


class Money(BaseModel):
    authorisation_id: str = ""
    authorised: int = 0
    captured: int = 0
    voided: int = 0
    received: int = 0  # bank transfers and cash
    refunded_bank: int = 0  # paid back out of what was received
    refunded_card: int = 0  # paid back against captures

    @property
    def open_authorisation(self) -> int:
        """Authorised but neither captured nor voided: what a cancel must give back."""
        return self.authorised - self.captured - self.voided

    @property
    def held(self) -> int:
        """Money received by transfer or in cash that we have not paid back."""
        return self.received - self.refunded_bank

    @property
    def refundable(self) -> int:
        """Everything the customer has paid us and not had back."""
        return self.held + self.captured - self.refunded_card

    def book_refund(self, amount: int) -> None:
        """A refund comes out of received money first, then out of captures."""
        from_bank = min(amount, self.held)
        self.refunded_bank += from_bank
        self.refunded_card += amount - from_bank
