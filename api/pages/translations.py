"""The pages' languages, one gettext machinery for every audience: the staff pages (console,
dashboard, store and vendor portal) speak German or English as each user picks, the customer's
self-service page the order's language unless the customer picks the other; money and dates
are written that language's way.

The pages are written in English; every other language is one gettext catalogue per
**domain**, ``locale/<lang>/LC_MESSAGES/<domain>.po`` next to this module, read with babel and
compiled in memory at import (no ``.mo`` build step, nothing to forget after a fresh clone). A
language is offered as soon as its catalogue exists. Two domains (``DOMAINS``):

- ``staff`` (``STAFF``): the console, the dashboard and the portal, in the retailer's working
  words (``in_fulfilment`` is "in Abwicklung", a refusal is the workflow's own sentence);
- ``customer`` (``CUSTOMER``): the self-service page, in the shop's voice to its customers
  (``in_fulfilment`` is "wird verpackt"; refusals are put into customer words). Kept apart so
  that one English text can be said differently to a customer than to staff, each audience's
  wording is reviewed on its own (the customer's is the shop's public voice), and a language
  added for staff (Polish for a drop-ship vendor) is not offered to customers half-translated.

Which language a staff request gets: the ``oms_lang`` cookie (set by the switch in every page's
header), else the first of the browser's ``Accept-Language`` the pages speak, else German, the
language of the retailer's own staff (``DEFAULT_LANGUAGE``). The self-service page decides its
own way (``api.pages.self_service.language``).

Templates say ``{{ _("Orders") }}``, ``{{ _("Order %(id)s", id=order.order_id) }}`` (jinja2's
i18n extension, new-style: values are escaped and always ``%``-formatted, so a literal percent
sign is ``%%``); on staff pages codes such as statuses are put into words by ``{{
status|label("order status") }}`` (a ``pgettext`` context per vocabulary, read from its enum or
type in ``core.domain``, listed in ``VOCABULARIES``). Python code asks a request's ``Words``:
``words.gettext("logged out")``. ``N_("...")`` marks a text to be translated where it is shown,
``NP_("context", "...")`` one with a ``pgettext`` context (the customer's status words).

After changing a page's words: ``python -m api.pages.translations update`` brings every
catalogue of every domain up to date (new texts untranslated, unused ones dropped); translate
what it lists. ``check`` (and ``tests/unit/test_staff_translations.py``,
``tests/unit/test_customer_translations.py``) fails while any text is untranslated, or a
translation's placeholders differ from the English.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import quote
from zoneinfo import ZoneInfo

import holidays
from babel import Locale
from babel.dates import format_skeleton, format_time, get_datetime_format, get_day_names
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.numbers import format_decimal
from babel.support import NullTranslations, Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from starlette.requests import Request
from temporalio.client import WorkflowExecutionStatus

from activities.masterdata.calendar import WEEKDAYS
from activities.masterdata.rows import LocationRow
from activities.messaging.templates import BABEL_LOCALES, euro, local_date, local_datetime
from core.domain.inputs import Channel
from core.domain.orders import OrderStatus, Speed
from core.domain.payments import PaymentMethod
from core.domain.returns import REASON_LABELS, ReturnChannel, ReturnReason, ReturnStatus
from core.domain.shipments import LocationEventKind, ShipmentStatus

HERE = Path(__file__).resolve().parent
PAGES = HERE
LOCALE_DIR = HERE / "locale"
SOURCE_LANGUAGE = "en"
"""The language the pages are written in: it needs no catalogue."""
DEFAULT_LANGUAGE = "de"
"""For a browser that names no language the pages speak: the retailer's staff speak German."""
LANGUAGE_COOKIE = "oms_lang"
LANGUAGE_COOKIE_DAYS = 365
LOCAL_TZ = ZoneInfo("Europe/Berlin")
DayWidth = Literal["abbreviated", "narrow", "short", "wide"]

VOCABULARIES: dict[str, tuple[str, ...]] = {
    "order status": tuple(s.value for s in OrderStatus),
    "shipment status": tuple(s.value for s in ShipmentStatus),
    "return status": tuple(s.value for s in ReturnStatus),
    "return reason": get_args(ReturnReason),
    "return channel": get_args(ReturnChannel),
    "channel": get_args(Channel),
    "shipping speed": get_args(Speed),
    "payment method": get_args(PaymentMethod),
    "portal action": get_args(LocationEventKind),
    "location kind": get_args(LocationRow.model_fields["kind"].annotation),
    "workflow status": tuple(s.name.lower() for s in WorkflowExecutionStatus),
    # the payment ledger's words (core.db.schema.PaymentTransaction: kind, status)
    "payment": ("authorise", "capture", "void", "refund", "incoming"),
    "payment status": ("pending", "succeeded", "failed"),
}
"""The codes the pages show, per ``pgettext`` context: every one has its words in every
catalogue. English shows the code with spaces for underscores, unless ``ENGLISH`` says more."""
ENGLISH: dict[str, dict[str, str]] = {"return reason": REASON_LABELS}


def N_(message: str) -> str:  # gettext's name for "translate where it is shown"
    """Marks ``message`` for the catalogue; it is translated where it is shown."""
    return message


def NP_(context: str, message: str) -> str:  # with a context, as pgettext
    """Marks ``message`` for the catalogue under ``context`` (``pgettext``); translated where it
    is shown, with that context."""
    return message


@dataclass(frozen=True)
class Domain:
    """One catalogue per language for one audience's pages: where their texts are (templates,
    Python modules, relative to ``api/pages``) and which codes they put into words."""

    name: str
    """The catalogue's file name: ``locale/<lang>/LC_MESSAGES/<name>.po``."""
    project: str
    template_dirs: tuple[str, ...]
    python_sources: tuple[str, ...]
    """Folders (every ``*.py`` in them) or single modules."""
    vocabularies: dict[str, tuple[str, ...]]


STAFF = Domain(
    "staff",
    "OMS staff pages",
    ("templates/console", "templates/dashboard", "templates/portal"),
    ("console", "dashboard", "portal", "web_session.py"),
    VOCABULARIES,
)
CUSTOMER = Domain(
    "customer",
    "OMS self-service page",
    ("templates/self_service",),
    ("self_service",),
    {},  # the customer's words for codes are texts of their own (api.pages.self_service.words)
)
DOMAINS = {d.name: d for d in (STAFF, CUSTOMER)}
DOMAIN = STAFF.name
TEMPLATE_DIRS = STAFF.template_dirs
PYTHON_SOURCES = STAFF.python_sources


# ---- the catalogues --------------------------------------------------------------------------


def catalogue_path(lang: str, domain: Domain = STAFF) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{domain.name}.po"


def languages(domain: Domain = STAFF) -> tuple[str, ...]:
    """The source language, then every language with a catalogue, alphabetically."""
    found = sorted(p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{domain.name}.po"))
    return (SOURCE_LANGUAGE, *(lang for lang in found if lang != SOURCE_LANGUAGE))


LANGUAGES = languages(STAFF)
CUSTOMER_LANGUAGES = languages(CUSTOMER)


def read_catalogue(lang: str, domain: Domain = STAFF) -> Catalog:
    with catalogue_path(lang, domain).open("rb") as f:
        return read_po(f, locale=lang, domain=domain.name)


@cache
def _translations(lang: str, domain: str = DOMAIN) -> NullTranslations:
    """The language's catalogue compiled in memory (fuzzy entries left out, as gettext does)."""
    if lang == SOURCE_LANGUAGE or not catalogue_path(lang, DOMAINS[domain]).exists():
        return NullTranslations()
    compiled = BytesIO()
    write_mo(compiled, read_catalogue(lang, DOMAINS[domain]))
    compiled.seek(0)
    return Translations(compiled, domain=domain)


# ---- one request's words -----------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """The texts, money and dates of one language, from one domain's catalogue (the staff
    pages' unless told). Messages are ``%``-formatted with the given values, always (as
    jinja2's new-style gettext does), so ``%%`` is a percent sign."""

    lang: str
    domain: str = DOMAIN

    @property
    def translations(self) -> NullTranslations:
        return _translations(self.lang, self.domain)

    @property
    def locale(self) -> str:
        """babel's locale (``de_DE``, ``en_GB``), the e-mails' choice."""
        return BABEL_LOCALES.get(self.lang, self.lang)

    @property
    def name(self) -> str:
        """The language's name in itself: ``Deutsch``, ``English``."""
        return (Locale.parse(self.lang).get_display_name(self.lang) or self.lang).capitalize()

    def gettext(self, message: str, /, **values: Any) -> str:
        return str(self.translations.gettext(message)) % values

    def ngettext(self, singular: str, plural: str, n: int, /, **values: Any) -> str:
        return str(self.translations.ngettext(singular, plural, n)) % {"num": n, **values}

    def pgettext(self, context: str, message: str, /, **values: Any) -> str:
        return str(self.translations.pgettext(context, message)) % values

    def label(self, value: object, context: str) -> str:
        """A code of a vocabulary (``VOCABULARIES``) in words; an unknown code as it is."""
        code = "" if value is None else str(value)
        if not code:
            return ""
        said = str(self.translations.pgettext(context, code))
        if said != code:
            return said
        return ENGLISH.get(context, {}).get(code) or code.replace("_", " ")

    def money(self, cents: int) -> str:
        """``1.234,56 €`` (de), ``€1,234.56`` (en): the e-mails' format (babel)."""
        return euro(cents, self.lang)

    def number(self, value: float) -> str:
        return format_decimal(value, locale=self.locale)

    def when(self, value: datetime | None) -> str:
        """A moment in Berlin time: ``Do., 3. Dez., 14:05`` (de), ``Thu 3 Dec, 14:05`` (en)."""
        if value is None:
            return "–"
        day = format_skeleton("MMMEd", value, tzinfo=LOCAL_TZ, locale=self.locale)
        time = format_time(value, "HH:mm", tzinfo=LOCAL_TZ, locale=self.locale)
        return str(get_datetime_format("medium", locale=self.locale)).format(time, day)

    def long_date(self, value: object) -> str:
        """A calendar day the e-mails' way: ``3. Dezember 2026`` (de), ``3 December 2026``
        (en); anything that is no date as it is, nothing as nothing."""
        return "" if value is None or value == "" else local_date(value, self.lang)

    def long_when(self, value: datetime | None) -> str:
        """A moment the e-mails' way, in Berlin time: ``3. Dezember 2026, 14:05`` (de),
        ``3 December 2026, 14:05`` (en)."""
        return "–" if value is None else local_datetime(value, self.lang, LOCAL_TZ)

    def day(self, value: date | str | None) -> str:
        """A calendar day (or its ISO text): ``Do., 3. Dez. 2026``; anything else as it is."""
        if value is None or value == "":
            return ""
        if isinstance(value, datetime):
            value = value.date()
        if not isinstance(value, date):
            try:
                value = date.fromisoformat(str(value)[:10])
            except ValueError:
                return str(value)
        return format_skeleton("yMMMEd", value, locale=self.locale)

    def weekday(self, code: str, width: DayWidth = "wide") -> str:
        """``mon`` -> ``Montag`` / ``Monday`` (``WEEKDAYS`` codes); anything else as it is."""
        if code not in WEEKDAYS:
            return code
        return str(get_day_names(width, locale=self.locale)[WEEKDAYS.index(code)])

    def holiday(self, day: date, state: str, fallback: str) -> str:
        """A German public holiday's name in this language, where ``holidays`` has it."""
        if self.lang == SOURCE_LANGUAGE or self.lang not in _holiday_languages():
            return fallback
        return _holiday_names(state, day.year, self.lang).get(day, fallback)

    def switch(self, prefix: str, request: Request) -> list[tuple[str, str, str, bool]]:
        """The header's language switch: (code, its name, the link that picks it and comes
        back here, whether it is this one) per language."""
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        back = quote(here, safe="/")
        return [
            (lang, Words(lang).name, f"{prefix}/language/{lang}?back={back}", lang == self.lang)
            for lang in LANGUAGES
        ]


@cache
def _holiday_languages() -> frozenset[str]:
    return frozenset(holidays.Germany.supported_languages)


@cache
def _holiday_names(state: str, year: int, lang: str) -> dict[date, str]:
    return dict(holidays.Germany(subdiv=state or None, years=year, language=lang).items())


ENGLISH_WORDS = Words(SOURCE_LANGUAGE)


def from_accept_language(header: str, offered: Sequence[str] = LANGUAGES) -> str | None:
    """The first language of an ``Accept-Language`` header (by weight) the pages speak
    (``offered``: the staff pages' languages unless told)."""
    ranked: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().split("-")[0].lower()
        if primary and weight > 0:
            ranked.append((-weight, i, primary))
    return next((lang for _, _, lang in sorted(ranked) if lang in offered), None)


def language_of(request: Request) -> str:
    """The cookie's choice, else the browser's, else ``DEFAULT_LANGUAGE``."""
    chosen = request.cookies.get(LANGUAGE_COOKIE, "")
    if chosen in LANGUAGES:
        return chosen
    return from_accept_language(request.headers.get("accept-language", "")) or DEFAULT_LANGUAGE


def words_for(request: Request) -> Words:
    return Words(language_of(request))


def safe_back(back: str, fallback: str) -> str:
    """Where the switch returns to: a path of this site, never another site."""
    if not back.startswith("/") or back.startswith(("//", "/\\")) or any(c < " " for c in back):
        return fallback
    return back


# ---- jinja2 ---------------------------------------------------------------------------------


def _words(ctx: Context) -> Words:
    found = ctx.get("words")
    return found if isinstance(found, Words) else ENGLISH_WORDS


@pass_context
def _gettext(ctx: Context, message: str) -> str:
    return str(_words(ctx).translations.gettext(message))


@pass_context
def _ngettext(ctx: Context, singular: str, plural: str, n: int) -> str:
    return str(_words(ctx).translations.ngettext(singular, plural, n))


@pass_context
def _pgettext(ctx: Context, context: str, message: str) -> str:
    return str(_words(ctx).translations.pgettext(context, message))


@pass_context
def _npgettext(ctx: Context, context: str, singular: str, plural: str, n: int) -> str:
    return str(_words(ctx).translations.npgettext(context, singular, plural, n))


def install(env: Environment) -> None:
    """jinja2's i18n extension on ``env``, reading the ``words`` the page was rendered with
    (so one environment serves every domain), and the filters ``label``, ``euro``, ``when``,
    ``day``, ``long_date``, ``long_when``, ``weekday`` and ``number``."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _gettext, _ngettext, newstyle=True, pgettext=_pgettext, npgettext=_npgettext
    )
    env.filters["label"] = pass_context(lambda ctx, v, context: _words(ctx).label(v, context))
    env.filters["euro"] = pass_context(lambda ctx, cents: _words(ctx).money(cents))
    env.filters["when"] = pass_context(lambda ctx, v: _words(ctx).when(v))
    env.filters["day"] = pass_context(lambda ctx, v: _words(ctx).day(v))
    env.filters["long_date"] = pass_context(lambda ctx, v: _words(ctx).long_date(v))
    env.filters["long_when"] = pass_context(lambda ctx, v: _words(ctx).long_when(v))
    env.filters["weekday"] = pass_context(lambda ctx, v: _words(ctx).weekday(v))
    env.filters["number"] = pass_context(lambda ctx, v: _words(ctx).number(v))
    for domain in DOMAINS.values():  # compiled now: a broken catalogue stops the start
        for lang in languages(domain):
            _translations(lang, domain.name)


# ---- keeping the catalogues up to date --------------------------------------------------------

KEYWORDS = {
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    "N_": None,
    "NP_": ((1, "c"), 2),
}
JINJA_OPTIONS = {"trimmed": "true", "newstyle_gettext": "true"}
HEADERS = {
    "staff": """\
# The OMS staff pages (console, dashboard, portal) in {lang} ({name}).
# `python -m api.pages.translations update` adds what the pages say anew (msgstr "")
# and drops what they no longer say; translate every msgstr, keeping each %(placeholder)s.
# A msgctxt names the vocabulary a code belongs to (VOCABULARIES in translations.py).""",
    "customer": """\
# The customer's self-service page (/my/orders/...) in {lang} ({name}): the shop speaking to
# its customers, so plain and friendly words, no internal codes.
# `python -m api.pages.translations update` adds what the page says anew (msgstr "")
# and drops what it no longer says; translate every msgstr, keeping each %(placeholder)s.
# A msgctxt names what a word describes (api/pages/self_service/words.py).""",
}


def _sources(domain: Domain = STAFF) -> Iterator[tuple[Path, str, dict[str, str]]]:
    """Every file with texts of the domain's pages: (path, extraction method, its options)."""
    for folder in domain.template_dirs:
        for path in sorted((PAGES / folder).glob("*.html")):
            yield path, "jinja2.ext:babel_extract", JINJA_OPTIONS
    for source in domain.python_sources:
        if source.endswith(".py"):
            yield PAGES / source, "python", {}
            continue
        for path in sorted((PAGES / source).glob("*.py")):
            yield path, "python", {}


def _extracted(domain: Domain = STAFF) -> Iterator[tuple[str, str | tuple[str, ...], str | None]]:
    """(where, msgid or (singular, plural), context) of every text the domain's pages show."""
    for path, method, options in _sources(domain):
        where = path.relative_to(PAGES).as_posix()
        for _line, message, _comments, context in extract_from_file(
            method, path, keywords=KEYWORDS, options=options
        ):
            yield where, message, context
    for context, codes in domain.vocabularies.items():
        for code in codes:
            yield "VOCABULARIES", code, context


def template(domain: Domain = STAFF) -> Catalog:
    """Every text of the domain's pages, untranslated (what ``pybabel extract`` would write)."""
    catalog = Catalog(project=domain.project, domain=domain.name, fuzzy=False)
    for where, message, context in _extracted(domain):
        catalog.add(message, locations=[(where, 0)], context=context)
    return catalog


def update(langs: Iterable[str], domain: Domain = STAFF) -> dict[str, list[str]]:
    """Bring each of the domain's catalogues up to date with its pages; per language, what is
    untranslated."""
    fresh = template(domain)
    todo: dict[str, list[str]] = {}
    for lang in langs:
        path = catalogue_path(lang, domain)
        if path.exists():
            catalog = read_catalogue(lang, domain)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            catalog = Catalog(locale=lang, domain=domain.name, project=domain.project)
        catalog.update(fresh, no_fuzzy_matching=True, update_creation_date=False)
        catalog.obsolete.clear()
        catalog.fuzzy = False
        catalog.header_comment = HEADERS[domain.name].format(lang=lang, name=Words(lang).name)
        catalog.version, catalog.msgid_bugs_address = "1", ""
        catalog.last_translator = catalog.language_team = "OMS"
        with path.open("wb") as f:
            write_po(f, catalog, width=100, no_location=True, sort_output=True)
        todo[lang] = untranslated(catalog)
    _translations.cache_clear()
    return todo


def _key(message: str | Sequence[str], context: str | None) -> str:
    text = message if isinstance(message, str) else message[0]
    return f"{context} | {text}" if context else text


def untranslated(catalog: Catalog) -> list[str]:
    return sorted(
        _key(m.id, m.context)
        for m in catalog
        if m.id and (m.fuzzy or not m.string or (isinstance(m.string, tuple) and not all(m.string)))
    )


def problems(lang: str, domain: Domain = STAFF) -> list[str]:
    """Why the language's catalogue of the domain is not complete: texts missing,
    untranslated or fuzzy, and translations whose placeholders differ from the English."""
    catalog = read_catalogue(lang, domain)
    wanted = {_key(m.id, m.context) for m in template(domain) if m.id}
    have = {_key(m.id, m.context) for m in catalog if m.id}
    found = [f"missing: {k}" for k in sorted(wanted - have)]
    found += [f"untranslated: {k}" for k in untranslated(catalog) if k in wanted]
    for message, errors in catalog.check():
        found += [f"wrong: {_key(message.id, message.context)}: {e}" for e in errors]
    return found


def unused(lang: str, domain: Domain = STAFF) -> list[str]:
    """Texts the language's catalogue has and the domain's pages no longer show (``update``
    drops them)."""
    wanted = {_key(m.id, m.context) for m in template(domain) if m.id}
    have = {_key(m.id, m.context) for m in read_catalogue(lang, domain) if m.id}
    return sorted(have - wanted)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.pages.translations")
    parser.add_argument("command", choices=["update", "check"])
    parser.add_argument(
        "langs", nargs="*", help="default: every catalogue there is (of each domain)"
    )
    parser.add_argument(
        "--domain",
        choices=sorted(DOMAINS),
        action="append",
        help="staff pages or the customer's page; default: both",
    )
    args = parser.parse_intermixed_args(argv)
    domains = [DOMAINS[name] for name in args.domain or DOMAINS]
    bad = False
    for domain in domains:
        langs = args.langs or [lang for lang in languages(domain) if lang != SOURCE_LANGUAGE]
        if args.command == "update":
            for lang, todo in update(langs, domain).items():
                where = catalogue_path(lang, domain).relative_to(PAGES.parent.parent)
                print(f"{where}: {len(todo)} to translate")
                for key in todo:
                    print(f"  {key}")
            continue
        for lang in langs:
            found = problems(lang, domain)
            bad = bad or bool(found)
            for problem in found:
                print(f"{domain.name} {lang}: {problem}")
            for key in unused(lang, domain):
                print(f"{domain.name} {lang}: no longer used (update drops it): {key}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
