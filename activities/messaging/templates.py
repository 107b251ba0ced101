"""Renders e-mails from jinja2 templates (plain text and HTML, German and English).

Templates live in ``activities/messaging/templates/email`` (or ``OMS_EMAIL_TEMPLATE_DIR``),
one set per e-mail: ``<name>.<locale>.subject.txt``, ``<name>.<locale>.txt`` and optionally
``<name>.<locale>.html`` (without it, the text is set in the HTML layout ``_text.html``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

DEFAULT_DIR = Path(__file__).resolve().parent / "templates" / "email"


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
    return Environment(
        loader=FileSystemLoader([directory, str(DEFAULT_DIR)]),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        keep_trailing_newline=False,
    )


def render(
    template: str, locale: str, context: dict[str, Any], directory: str | None = None
) -> RenderedEmail:
    """Render one e-mail; a missing variable is an error, not an empty string."""
    env = _env(directory or str(DEFAULT_DIR))
    ctx = {"euro": euro, **context}
    subject = env.get_template(f"{template}.{locale}.subject.txt").render(ctx).strip()
    text = env.get_template(f"{template}.{locale}.txt").render(ctx)
    html_name = f"{template}.{locale}.html"
    if html_name in env.list_templates(extensions=["html"]):
        html = env.get_template(html_name).render(ctx)
    else:  # no hand-made HTML: the text, paragraph by paragraph, in the house layout
        html = env.get_template("_text.html").render(ctx, subject=subject, text=text)
    return RenderedEmail(subject=subject, text=text, html=html)


def euro(cents: int) -> str:
    """12345 -> '123,45 €' (German notation, used in both locales for the EUR shop)."""
    return f"{cents // 100:,}".replace(",", ".") + f",{cents % 100:02d} €"
