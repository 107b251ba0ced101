"""Renders e-mails from jinja2 templates (plain text and HTML, German and English).

Templates live in ``activities/messaging/templates/email`` (or ``OMS_EMAIL_TEMPLATE_DIR``),
one set per e-mail: ``<name>.<locale>.subject.txt``, ``<name>.<locale>.txt`` and optionally
``<name>.<locale>.html`` (without it, the text is set in the HTML layout ``_text.html``).
Amounts (``euro(cents)``) and dates (``value|date``) are written the customer's way, by babel:
``1.234,56 €`` and ``3. Dezember 2026`` in German, ``€1,234.56`` and ``3 December 2026`` in
English. Reasons arrive as codes (``core.domain.reasons``) and are put into words by
``_reasons.<locale>.txt``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from decimal import Decimal
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date, format_time
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context

DEFAULT_DIR = Path(__file__).resolve().parent / "templates" / "email"
BABEL_LOCALES = {"de": "de_DE", "en": "en_GB"}
"""The customer's ``locale`` -> babel's: British English writes a date day first, as a
European customer expects (``3 December 2026``)."""


@dataclass(frozen=True)
class Attachment:
    """A file that goes with an e-mail (an invoice PDF)."""

    filename: str
    content: bytes
    mime: str = "application/pdf"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    attachments: tuple[Attachment, ...] = ()


@lru_cache(maxsize=4)
def _env(directory: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader([directory, str(DEFAULT_DIR)]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )
    env.filters["date"] = _date_filter
    return env


def render(
    template: str, locale: str, context: dict[str, Any], directory: str | None = None
) -> RenderedEmail:
    """Render one e-mail; a missing variable is an error, not an empty string."""
    env = _env(directory or str(DEFAULT_DIR))
    ctx = {**context, "locale": locale, "euro": partial(euro, locale=locale)}
    subject = env.get_template(f"{template}.{locale}.subject.txt").render(ctx).strip()
    text = env.get_template(f"{template}.{locale}.txt").render(ctx)
    html_name = f"{template}.{locale}.html"
    if html_name in env.list_templates(extensions=["html"]):
        html = env.get_template(html_name).render(ctx)
    else:  # no hand-made HTML: the text, paragraph by paragraph, in the house layout
        html = env.get_template("_text.html").render(ctx, subject=subject, text=text)
    return RenderedEmail(subject=subject, text=text, html=html)


def euro(cents: int, locale: str = "de") -> str:
    """12345 -> '123,45 €' (de) or '€123.45' (en). A plain space rather than babel's no-break
    space, so a mail's text reads and searches like it looks."""
    amount = format_currency(Decimal(cents) / 100, "EUR", locale=BABEL_LOCALES.get(locale, locale))
    return amount.replace("\xa0", " ")


def local_date(value: object, locale: str = "de") -> str:
    """An ISO date or datetime (as a workflow passes it) -> '3. Dezember 2026' (de) or
    '3 December 2026' (en); anything that is no date is shown as it is."""
    if isinstance(value, datetime):
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
    return format_date(day, "long", locale=BABEL_LOCALES.get(locale, locale))


def local_datetime(value: datetime, locale: str = "de", tz: tzinfo | None = None) -> str:
    """A moment in the customer's words, in ``tz`` (the shop's time zone):
    '12. März 2026, 14:05' (de) or '12 March 2026, 14:05' (en)."""
    babel_locale = BABEL_LOCALES.get(locale, locale)
    local = value.astimezone(tz)
    glue = Locale.parse(babel_locale).datetime_formats["medium"]
    return str(glue).format(
        format_time(local, "short", locale=babel_locale),
        format_date(local.date(), "long", locale=babel_locale),
    )


@pass_context
def _date_filter(ctx: Context, value: object) -> str:
    """``{{ deadline|date }}`` in the locale of the mail being rendered."""
    return local_date(value, str(ctx.get("locale", "de")))
