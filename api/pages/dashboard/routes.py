"""The live operations dashboard at ``/dashboard`` (customer service or operations keys).

Charts are inline SVG drawn here, on the server: no JavaScript build, no CDN. The page polls
``/dashboard/data`` every few seconds with a few lines of inline JS; the answer carries the
numbers (for scripts and tests) and the panels rendered again by the same template, which the
page swaps in. Polling rather than server-sent events: nothing held open per viewer, and a
proxy or a sleeping laptop cannot leave a stale stream behind. Words, money and numbers are in
the viewer's language (``api.pages.translations``).
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup
from sqlmodel import Session

from api import deps
from api.pages.console.routes import AgentDep, page
from api.pages.dashboard.data import NOT_GOING_AHEAD, Dashboard, dashboard
from api.pages.translations import ENGLISH_WORDS, Words, words_for
from api.pages.web_session import TEMPLATES
from core.db.engine import get_engine
from core.domain.orders import OrderStatus
from core.settings import Settings

router = APIRouter(prefix="/dashboard", tags=["dashboard"], include_in_schema=False)
REFRESH_S = 3
PALETTE = [
    "#0b5cad",
    "#1a7f37",
    "#b54708",
    "#6941c6",
    "#b42318",
    "#0e7490",
    "#667085",
    "#a15c07",
    "#3538cd",
    "#c11574",
]
BAD, GOOD, WAITING, UNDERWAY = "#b42318", "#1a7f37", "#b54708", "#0b5cad"
STATUS_COLOURS: dict[str, str] = {
    **{s.value: UNDERWAY for s in OrderStatus},
    **{s.value: BAD for s in NOT_GOING_AHEAD - {OrderStatus.ON_HOLD}},
    OrderStatus.ON_HOLD.value: WAITING,
    OrderStatus.AWAITING_PAYMENT.value: WAITING,
    OrderStatus.COMPLETED.value: GOOD,
}
"""A status is drawn by what it means, the same colour whatever its rank: ended unsold red,
completed green, waiting for someone amber, underway blue (as the console's badges)."""
SettingsDep = Annotated[Settings, Depends(deps.settings)]


def bar_chart(
    items: list[tuple[str, str, float, str]],
    width: int = 420,
    max_value: float | None = None,
    colours: list[str] | None = None,
    empty: str = "nothing yet",
) -> Markup:
    """Horizontal bars: (key, label, value, text shown at the bar's end), drawn as inline SVG
    (``data-label`` is the key, whatever the language); ``colours`` per bar, else the palette
    in turn; ``empty`` is said when there is no bar."""
    row, label_w = 24, 150
    top = max_value or max((v for _, _, v, _ in items), default=0) or 1
    height = max(row * len(items), row)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" preserveAspectRatio="xMinYMin meet" role="img" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    if not items:
        parts.append(f'<text x="0" y="16" class="muted">{escape(empty)}</text>')
    for i, (key, label, value, text) in enumerate(items):
        y = i * row
        w = max((width - label_w - 70) * min(value / top, 1.0), 1 if value else 0)
        parts.append(
            f'<g data-label="{escape(key)}"><text x="0" y="{y + 16}">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="3" '
            f'fill="{colours[i] if colours else PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" class="value">{escape(text)}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def donut(items: list[tuple[str, float]], size: int = 140) -> Markup:
    """Shares of a whole as a ring, one arc per item (stroke-dasharray on circles)."""
    total = sum(v for _, v in items)
    r, c = size / 2 - 14, size / 2
    circ = 2 * 3.14159265 * r
    parts = [
        f'<svg class="donut" viewBox="0 0 {size} {size}" width="{size}" height="{size}" '
        f'role="img" xmlns="http://www.w3.org/2000/svg">'
        f'<circle cx="{c}" cy="{c}" r="{r:.1f}" fill="none" stroke="#eef1f5" '
        f'stroke-width="22"/>'
    ]
    offset = 0.0
    for i, (_, value) in enumerate(items):
        if not total or not value:
            continue
        arc = circ * value / total
        parts.append(
            f'<circle cx="{c}" cy="{c}" r="{r:.1f}" fill="none" '
            f'stroke="{PALETTE[i % len(PALETTE)]}" stroke-width="22" '
            f'stroke-dasharray="{arc:.2f} {circ - arc:.2f}" '
            f'stroke-dashoffset="{-offset:.2f}" transform="rotate(-90 {c} {c})"/>'
        )
        offset += arc
    parts.append(
        f'<text x="{c}" y="{c + 6}" text-anchor="middle" class="big">{int(total)}</text></svg>'
    )
    return Markup("".join(parts))


def _ranked(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def charts(d: Dashboard, words: Words = ENGLISH_WORDS) -> dict[str, Markup]:
    statuses, channels = _ranked(d.by_status), _ranked(d.by_channel)
    empty = words.gettext("nothing yet")
    return {
        "status": bar_chart(
            [(k, words.label(k, "order status"), v, str(v)) for k, v in statuses],
            colours=[STATUS_COLOURS.get(k, UNDERWAY) for k, _ in statuses],
            empty=empty,
        ),
        "channel": donut([(k, v) for k, v in channels]),
        "capacity": bar_chart(
            [
                (
                    loc.location_id,
                    loc.location_id,
                    loc.use_pct,
                    words.gettext(
                        "%(used)s %% · %(open)s open",
                        used=words.number(loc.use_pct),
                        open=loc.backlog_units,
                    ),
                )
                for loc in d.locations
            ],
            width=520,
            max_value=100,
            empty=empty,
        ),
    }


def _read(url: str) -> Dashboard:
    with Session(get_engine(url, readonly=True)) as s:
        return dashboard(s)


def _panels(request: Request, d: Dashboard) -> str:
    words = words_for(request)
    return TEMPLATES.get_template("dashboard/panels.html").render(
        request=request,
        words=words,
        d=d,
        charts=charts(d, words),
        palette=PALETTE,
        channels=_ranked(d.by_channel),
    )


@router.get("")
async def dashboard_page(request: Request, who: AgentDep, settings: SettingsDep) -> Response:
    d = await run_in_threadpool(_read, settings.database_url)
    return page(
        request,
        settings,
        who,
        "dashboard/page.html",
        nav="dashboard",
        panels=Markup(_panels(request, d)),
        refresh_s=REFRESH_S,
    )


@router.get("/data")
async def dashboard_data(request: Request, who: AgentDep, settings: SettingsDep) -> JSONResponse:
    """The numbers as JSON, with the panels rendered for the page to swap in."""
    d = await run_in_threadpool(_read, settings.database_url)
    return JSONResponse(
        {**d.as_json(), "html": _panels(request, d)}, headers={"Cache-Control": "no-store"}
    )
