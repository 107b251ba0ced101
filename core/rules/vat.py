"""VAT arithmetic on gross prices, in cents, and the split of an order-level discount.

German retail prices are gross (VAT included). The rule used here, per line:

    gross = unit gross x quantity - the line's share of any order discount
    VAT   = round(gross x rate / (100 + rate)), half up to the cent (away from zero)
    net   = gross - VAT

It is the rounding of each line on its own that §14 UStG and the German tax authorities accept
for gross-price invoices (the "Zeilenrundung"; UStAE 14.5 (19) allows the tax to be computed per
line). Because net is *derived* (gross minus VAT), ``net + VAT == gross`` holds exactly for every
line, and the totals per rate are plain integer sums of the lines, so ``net + VAT == gross``
holds exactly per rate and for the document too: there is no "rounding difference" line, and the
gross the customer paid is the gross on the invoice to the cent. (The VAT per rate may differ by
a few cents from ``round(net total x rate)``; EN 16931 tolerates that, and the document states
what was actually charged.)

Arithmetic is exact (``fractions.Fraction``), so a rate given as float percent (settings
``vat_rates``: ``{"standard": 19.0, "reduced": 7.0}``) is read through its decimal text and
never through binary floating point.

Pure: no I/O, no database, so the workflow, the documents and the tests share one rule.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

Rate = Decimal
"""A VAT rate in percent (19, 7, 0), as an exact decimal."""


def rate_of(rate: float | int | str | Decimal) -> Rate:
    """An exact rate from settings' float percent (19.0 -> Decimal('19')): via its text, so
    0.1-style binary noise never reaches the cents."""
    value = Decimal(str(rate)).normalize()
    if value < 0 or value >= 100:
        raise ValueError(f"VAT rate {rate!r} is not a percentage in [0, 100)")
    return value + 0  # normalize() may give exponent notation (1E+1); +0 keeps it plain


def rate_for(vat_class: str, rates: Mapping[str, float]) -> Rate:
    """The rate of a catalogue VAT class (``standard``/``reduced``/``zero``) from settings;
    an unknown class is an error rather than a silent 0 %."""
    try:
        return rate_of(rates[vat_class])
    except KeyError:
        raise ValueError(f"unknown VAT class {vat_class!r} (known: {sorted(rates)})") from None


def round_half_up(value: Fraction) -> int:
    """Commercial rounding to an integer: halves go away from zero (0.5 -> 1, -0.5 -> -1), so a
    credit note's amounts mirror the invoice's."""
    if value < 0:
        return -round_half_up(-value)
    return math.floor(value + Fraction(1, 2))


def vat_in_gross(gross_cents: int, rate: Rate) -> int:
    """The VAT contained in a gross amount: round(gross x rate / (100 + rate)), half up."""
    r = Fraction(rate)
    return round_half_up(Fraction(gross_cents) * r / (100 + r))


@dataclass(frozen=True)
class GrossLine:
    """A line as sold: gross unit price, quantity, rate, and its share of an order discount."""

    unit_gross_cents: int
    quantity: int
    rate: Rate
    discount_cents: int = 0

    @property
    def gross_cents(self) -> int:
        return self.unit_gross_cents * self.quantity - self.discount_cents


@dataclass(frozen=True)
class LineTax:
    """One line's amounts; ``net_cents + vat_cents == gross_cents`` always."""

    rate: Rate
    gross_cents: int
    net_cents: int
    vat_cents: int


@dataclass(frozen=True)
class RateTotal:
    """The sums of the lines of one rate, as §14 UStG wants them shown (net and VAT per rate)."""

    rate: Rate
    net_cents: int
    vat_cents: int
    gross_cents: int


@dataclass(frozen=True)
class VatBreakdown:
    """Lines, per-rate totals (rates descending: 19 % before 7 % before 0 %) and the document
    totals; every total is an integer sum of the lines, so nothing needs reconciling."""

    lines: tuple[LineTax, ...]
    rates: tuple[RateTotal, ...]

    @property
    def gross_cents(self) -> int:
        return sum(t.gross_cents for t in self.rates)

    @property
    def net_cents(self) -> int:
        return sum(t.net_cents for t in self.rates)

    @property
    def vat_cents(self) -> int:
        return sum(t.vat_cents for t in self.rates)


def line_tax(line: GrossLine) -> LineTax:
    """Net and VAT of one line (see the module docstring for the rule)."""
    if line.quantity < 0:
        raise ValueError("quantity must not be negative")
    gross = line.gross_cents
    vat = vat_in_gross(gross, line.rate)
    return LineTax(rate=line.rate, gross_cents=gross, net_cents=gross - vat, vat_cents=vat)


def breakdown(lines: Iterable[GrossLine]) -> VatBreakdown:
    """Per-line amounts and their sums per rate."""
    taxed = tuple(line_tax(ln) for ln in lines)
    sums: dict[Rate, list[int]] = {}
    for t in taxed:
        acc = sums.setdefault(t.rate, [0, 0, 0])
        acc[0] += t.net_cents
        acc[1] += t.vat_cents
        acc[2] += t.gross_cents
    rates = tuple(
        RateTotal(rate=r, net_cents=n, vat_cents=v, gross_cents=g)
        for r, (n, v, g) in sorted(sums.items(), key=lambda kv: kv[0], reverse=True)
    )
    return VatBreakdown(lines=taxed, rates=rates)


STANDARD = Decimal(19)
"""The German standard rate: the fallback when there are no goods to follow."""


def main_rate(lines: Iterable[GrossLine]) -> Rate:
    """The rate of the larger share of the goods. An ancillary service such as shipping
    (Nebenleistung) follows the main service's rate; with goods at two rates, the rate of the
    larger share by value (ties: the higher rate) is the simple rule used here."""
    share: dict[Rate, int] = {}
    for ln in lines:
        share[ln.rate] = share.get(ln.rate, 0) + ln.gross_cents
    if not share:
        return STANDARD
    return max(sorted(share, reverse=True), key=lambda rate: share[rate])


def allocate(total_cents: int, weights: Sequence[int]) -> list[int]:
    """Split ``total_cents`` over ``weights`` to the cent by largest remainder.

    Each share is ``floor(total x w / sum(w))``; the cents left over (fewer than the number of
    lines) go one each to the largest remainders, ties to the lower index, so the result is
    deterministic and every share is within one cent of its exact proportion. Shares are never
    negative and add up to ``total_cents`` exactly; if the total is at most the sum of the
    weights (a discount no larger than the goods), no share exceeds its weight, so no line goes
    below zero.
    """
    if total_cents < 0:
        raise ValueError("total must not be negative")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    whole = sum(weights)
    if whole == 0:
        if total_cents == 0:
            return [0] * len(weights)
        raise ValueError("cannot allocate an amount over weights that are all zero")
    shares, remainders = [], []
    for w in weights:
        q, r = divmod(total_cents * w, whole)
        shares.append(q)
        remainders.append(r)
    left = total_cents - sum(shares)
    for i in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:left]:
        shares[i] += 1
    return shares


def with_discount(lines: Sequence[GrossLine], discount_cents: int) -> list[GrossLine]:
    """The lines with an order-level discount allocated over them by gross value (``allocate``),
    so each line's VAT is computed on what was actually paid for it."""
    if discount_cents > sum(ln.gross_cents for ln in lines):
        raise ValueError("discount is larger than the goods")
    shares = allocate(discount_cents, [ln.gross_cents for ln in lines])
    return [
        GrossLine(ln.unit_gross_cents, ln.quantity, ln.rate, ln.discount_cents + share)
        for ln, share in zip(lines, shares, strict=True)
    ]
