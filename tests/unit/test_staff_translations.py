"""The staff pages' languages without a server: every text the console, dashboard and portal
show is in every catalogue (translated, placeholders kept), no template shows words that do
not go through the catalogue, money and dates are written each language's way (babel), and the
language is picked from the cookie, then the browser's ``Accept-Language``, then German."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from jinja2 import Environment
from starlette.requests import Request

from api.pages import translations
from api.pages.translations import (
    DEFAULT_LANGUAGE,
    LANGUAGE_COOKIE,
    LANGUAGES,
    SOURCE_LANGUAGE,
    VOCABULARIES,
    Words,
    from_accept_language,
    language_of,
    safe_back,
)
from api.pages.web_session import TEMPLATES
from core.domain.orders import OrderStatus
from core.domain.shipments import ShipmentStatus

PAGES = translations.PAGES
TEMPLATE_FILES = sorted(
    p for folder in translations.TEMPLATE_DIRS for p in (PAGES / folder).glob("*.html")
)
TRANSLATED = [lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE]
DE, EN = Words("de"), Words("en")

NOT_WORDS = {"OMS", "kg", "cm", "DHL", "DPD", "GLS", "Hermes", "UPS", "Spedition", "TS", "wide"}
"""What a template may show outside the catalogue: the name of the system, units, carriers'
names (proper nouns), the example SKU ``TS-0000``; and ``wide``, the dashboard's CSS class
(a block's text to the check, never shown)."""
SHOWN_ATTRIBUTES = {"placeholder", "aria-label", "title", "alt"}


def test_german_is_offered_and_english_needs_no_catalogue() -> None:
    assert LANGUAGES[0] == SOURCE_LANGUAGE == "en"
    assert "de" in TRANSLATED and DEFAULT_LANGUAGE == "de"


@pytest.mark.parametrize("lang", TRANSLATED)
def test_every_text_of_the_pages_is_translated(lang: str) -> None:
    """Extracts every text the templates and page modules show (as ``pybabel extract`` would)
    plus every code of the vocabularies, and finds each translated in the catalogue. Fix with
    ``python -m api.pages.translations update``, then translate what it lists."""
    assert translations.problems(lang) == []


def test_the_extraction_sees_every_template_and_the_page_modules() -> None:
    """A broken extraction would make the check above pass on nothing."""
    where = {loc for m in translations.template() for loc, _ in m.locations}
    assert {f.relative_to(PAGES).as_posix() for f in TEMPLATE_FILES} - where == set()
    for module in ("console/routes.py", "console/views.py", "portal/routes.py", "web_session.py"):
        assert module in where, module
    assert len(translations.template()) > 300


def test_every_status_has_its_words() -> None:
    """Order and shipment statuses come from their enums: a status added there is untranslated
    (and fails the test above) until the catalogue has it."""
    assert set(VOCABULARIES["order status"]) == {s.value for s in OrderStatus}
    assert set(VOCABULARIES["shipment status"]) == {s.value for s in ShipmentStatus}
    for status in OrderStatus:
        said = DE.label(status.value, "order status")
        assert said and said != status.value.replace("_", " "), status
    assert DE.label("in_fulfilment", "order status") == "in Abwicklung"
    assert EN.label("in_fulfilment", "order status") == "in fulfilment"
    assert EN.label("changed_mind", "return reason") == "changed my mind"
    assert DE.label("picked", "shipment status") == "kommissioniert"
    assert DE.label("no_such_code", "order status") == "no such code"


class _Shown(HTMLParser):
    """The text a template shows outside ``{{ }}`` and ``{% %}``: text nodes and the attributes
    people read, with each Jinja expression replaced by a blank."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style")
        self.found += [v or "" for k, v in attrs if k in SHOWN_ATTRIBUTES]

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.found.append(data)


def _bare_words(source: str) -> list[str]:
    env = Environment(extensions=["jinja2.ext.i18n"])
    text = "".join(
        value if token == "data" else " "
        for _, token, value in env.lex(source)
        if token in ("data", "variable_begin", "block_begin")
    )
    shown = _Shown()
    shown.feed(text)
    words = re.findall(r"[^\W\d_]{2,}", " ".join(shown.found))
    return [w for w in words if w not in NOT_WORDS]


@pytest.mark.parametrize("template", TEMPLATE_FILES, ids=lambda p: p.relative_to(PAGES).as_posix())
def test_no_template_shows_words_outside_the_catalogue(template: Path) -> None:
    """Text typed straight into a template (not in ``{{ _("...") }}``) would never be
    translated: there is none."""
    assert _bare_words(template.read_text()) == []


def test_the_bare_word_check_finds_bare_words() -> None:
    assert _bare_words('<h1>Orders</h1><input placeholder="city">') == ["Orders", "city"]
    assert _bare_words('<h1>{{ _("Orders") }}</h1><input placeholder="{{ _(\'city\') }}">') == []


def test_money_and_dates_per_language() -> None:
    assert DE.money(123456) == "1.234,56 €" and EN.money(123456) == "€1,234.56"
    moment = datetime(2026, 12, 3, 13, 5, tzinfo=UTC)  # 14:05 in Berlin
    assert DE.when(moment) == "Do., 3. Dez., 14:05"
    assert EN.when(moment) == "Thu 3 Dec, 14:05"
    assert DE.when(None) == EN.when(None) == "–"
    assert DE.day(date(2026, 12, 24)) == "Do., 24. Dez. 2026"
    assert EN.day("2026-12-24") == "Thu, 24 Dec 2026" and EN.day("soon") == "soon"
    assert (DE.weekday("mon"), EN.weekday("sat")) == ("Montag", "Saturday")
    assert (DE.number(45.5), EN.number(45.5)) == ("45,5", "45.5")
    assert DE.holiday(date(2026, 10, 3), "HE", "German Unity Day") == "Tag der Deutschen Einheit"
    assert EN.holiday(date(2026, 10, 3), "HE", "German Unity Day") == "German Unity Day"


def test_messages_take_their_values_and_plurals() -> None:
    assert DE.gettext("logged in: %(who)s", who="Petra") == "angemeldet: Petra"
    assert EN.gettext("logged in: %(who)s", who="Petra") == "logged in: Petra"
    assert DE.ngettext("%(num)s unit", "%(num)s units", 3) == "3 Stück"
    assert EN.ngettext("%(num)s unit", "%(num)s units", 1) == "1 unit"
    assert DE.pgettext("action", "cancel lines") == "Teilstornierung"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("de-DE,de;q=0.9,en-US;q=0.8,en;q=0.7", "de"),
        ("en-GB,en;q=0.9,de;q=0.8", "en"),
        ("pl-PL,pl;q=0.9,en;q=0.5", "en"),  # a Polish vendor: English before German
        ("fr;q=0.9, de;q=0.1, en;q=0.5", "en"),  # by weight, not by order
        ("en;q=0, de", "de"),  # q=0: not wanted
        ("pl, fr", None),
        ("", None),
        ("de;q=abc, en", "en"),
    ],
)
def test_accept_language(header: str, expected: str | None) -> None:
    assert from_accept_language(header) == expected


def _request(cookie: str = "", accept: str = "", path: str = "/console") -> Request:
    headers = [(b"accept-language", accept.encode())] if accept else []
    if cookie:
        headers.append((b"cookie", f"{LANGUAGE_COOKIE}={cookie}".encode()))
    return Request({"type": "http", "method": "GET", "path": path, "query_string": b"q=a b",
                    "headers": headers})  # fmt: skip


def test_the_cookie_then_the_browser_then_german() -> None:
    assert language_of(_request()) == "de"  # no header: the retailer's language
    assert language_of(_request(accept="pl")) == "de"
    assert language_of(_request(accept="en-US,en")) == "en"
    assert language_of(_request(cookie="de", accept="en-US,en")) == "de"  # the user's choice
    assert language_of(_request(cookie="xx", accept="en")) == "en"  # a stray cookie: ignored


def test_the_switch_links_back_here_and_only_here() -> None:
    links = DE.switch("/portal", _request(path="/portal/returns"))
    assert [(code, name, on) for code, name, _, on in links] == [
        ("en", "English", False),
        ("de", "Deutsch", True),
    ]
    assert links[0][2] == "/portal/language/en?back=/portal/returns%3Fq%3Da%20b"
    assert safe_back("/console/orders/A-1?x=1", "/console") == "/console/orders/A-1?x=1"
    for elsewhere in ("https://evil.example", "//evil.example", "/\\evil.example", "console", ""):
        assert safe_back(elsewhere, "/console") == "/console", elsewhere


def test_a_page_renders_in_each_language() -> None:
    page = TEMPLATES.get_template("console/login.html")
    for words, title, text in (
        (DE, "Anmelden", "Geben Sie Ihren API-Schlüssel"),
        (EN, "Log in", "Enter your customer-service or operations API key."),
    ):
        html = page.render(request=_request(), words=words, agent=None, flash=None)
        assert f'<html lang="{words.lang}">' in html
        assert f"<h1>{title}</h1>" in html and text in html
        assert 'aria-current="true">' + words.name + "</a>" in html
