"""What the server-rendered staff pages share: signed session and flash cookies, form tokens,
PRG redirects, the jinja2 environment with its filters, and each user's language (German or
English: ``api.pages.translations``, with the catalogues next to it).

There is no server-side session state: cookies are HMAC-signed under ``OMS_SESSION_SECRET``
(``api.http.auth_keys.Signer``), each kind under its own purpose, so a flash never passes as a login
and a portal login never opens the console. Each area (portal, console) is one ``WebArea``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from api.http.auth_keys import Signer
from api.http.idempotency import install_template_global
from api.pages import translations
from api.pages.translations import LANGUAGE_COOKIE, LANGUAGES, words_for
from api.pages.translations import LOCAL_TZ as LOCAL_TZ  # where staff pages keep time
from core.settings import Settings

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")
STATIC_DIR = Path(__file__).resolve().parent / "static"
MAX_FORM_BYTES = 16_384


def _overdue(value: datetime | None) -> bool:
    return value is not None and value < datetime.now(UTC)


translations.install(TEMPLATES.env)  # {{ _("...") }}, |label, |euro, |when, |day per language
TEMPLATES.env.tests["overdue"] = _overdue
install_template_global(TEMPLATES.env)  # {{ idem_field() }}: a fresh key in every posted form


class WebError(Exception):
    """A refusal shown on an error page with its HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def field_errors(exc: ValidationError | RequestValidationError) -> str:
    """Validation errors as one line naming each field."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'] if p != 'body')}: {e['msg']}" for e in exc.errors()
    )


@dataclass(frozen=True)
class WebArea:
    """One area of staff pages: its cookies, the path they are sent to, its signer purposes."""

    purpose: str  # "portal" -> purposes "portal-session", "portal-flash", "portal-csrf"
    session_cookie: str
    flash_cookie: str
    path: str

    def signer(self, settings: Settings, kind: str) -> Signer:
        return Signer(settings.session_secret, f"{self.purpose}-{kind}")

    def session(self, request: Request, settings: Settings) -> dict[str, Any] | None:
        """The session payload if the cookie is genuine and young enough."""
        return self.signer(settings, "session").unsign(
            request.cookies.get(self.session_cookie), settings.portal_session_hours * 3600
        )

    def csrf(self, settings: Settings, session: dict[str, Any]) -> str:
        """The form token bound to this session's nonce."""
        return self.signer(settings, "csrf").mac(str(session.get("n", "")))

    def log_in(self, resp: Response, settings: Settings, payload: dict[str, Any]) -> None:
        resp.set_cookie(
            self.session_cookie,
            self.signer(settings, "session").sign(payload),
            max_age=settings.portal_session_hours * 3600,
            path=self.path,
            httponly=True,
            samesite="lax",
            secure=settings.base_url.startswith("https"),
        )

    def log_out(self, resp: Response) -> None:
        resp.delete_cookie(self.session_cookie, path=self.path)

    def page(
        self, request: Request, settings: Settings, template: str, status: int = 200, **context: Any
    ) -> Response:
        """A template in the user's language with the pending flash message (consumed), never
        cached."""
        flash = self.signer(settings, "flash").unsign(request.cookies.get(self.flash_cookie), 120)
        words = words_for(request)
        resp = TEMPLATES.TemplateResponse(
            request, template, {"flash": flash, "words": words, **context}, status_code=status
        )
        resp.headers["Cache-Control"] = "no-store"
        resp.headers["Content-Language"] = words.lang
        if request.cookies.get(self.flash_cookie):
            resp.delete_cookie(self.flash_cookie, path=self.path)
        return resp

    def redirect(self, settings: Settings, to: str, ok: bool, message: str) -> RedirectResponse:
        """Post/redirect/get with a signed flash message for the next page."""
        resp = RedirectResponse(to, status_code=303)
        resp.set_cookie(
            self.flash_cookie,
            self.signer(settings, "flash").sign({"ok": ok, "m": message[:500]}),
            max_age=120,
            path=self.path,
            httponly=True,
            samesite="lax",
            secure=settings.base_url.startswith("https"),
        )
        return resp


def switch_language(settings: Settings, lang: str, back: str, home: str) -> RedirectResponse:
    """The header's language switch: remember ``lang`` (a year, on every staff page) and go
    back to the page it was picked on. A language the pages do not speak changes nothing."""
    resp = RedirectResponse(translations.safe_back(back, home), status_code=303)
    resp.headers["Cache-Control"] = "no-store"
    if lang in LANGUAGES:
        resp.set_cookie(
            LANGUAGE_COOKIE,
            lang,
            max_age=translations.LANGUAGE_COOKIE_DAYS * 86_400,
            path="/",
            httponly=True,
            samesite="lax",
            secure=settings.base_url.startswith("https"),
        )
    return resp


async def read_form(request: Request, csrf: str | None, max_fields: int = 20) -> dict[str, str]:
    """The posted HTML form; with a session, its form token must match (no cross-site posts)."""
    words = words_for(request)
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        raise WebError(415, words.gettext("send the form as application/x-www-form-urlencoded"))
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise WebError(413, words.gettext("form too large"))
    try:
        form = dict(
            parse_qsl(
                body.decode("utf-8", "replace"),
                keep_blank_values=True,
                max_num_fields=max_fields + 1,  # the form's idempotency key (FORM_FIELD) on top
            )
        )
    except ValueError as exc:
        message = words.gettext("form has more than %(n)s fields", n=max_fields)
        raise WebError(413, message) from exc
    if csrf is not None and not hmac.compare_digest(form.get("csrf", "").encode(), csrf.encode()):
        raise WebError(
            403, words.gettext("the form is stale or from elsewhere: reload the page and try again")
        )
    return form
