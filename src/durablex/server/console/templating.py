"""The console's Jinja2 environment (autoescaping everything) and the helpers every page uses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

from durablex.client import AsyncClient
from durablex.server.console import format as fmt
from durablex.server.security import csrf_token

FRAGMENT_HEADER = "x-durablex-fragment"

_env = Environment(
    loader=PackageLoader("durablex.server.console", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(
    time=fmt.format_time,
    iso=fmt.iso,
    size=fmt.format_size,
    preview=fmt.preview,
    shorten=fmt.shorten,
    error_summary=fmt.error_summary,
    counts=fmt.status_counts_sorted,
)
_env.globals.update(
    duration=fmt.duration,
    ago=fmt.ago,
    payload=fmt.payload,
    STATUSES=fmt.STATUS_ORDER,
    TERMINAL=fmt.TERMINAL,
)
_env.globals["m"] = _env.get_template("macros.html").module
templates = Jinja2Templates(env=_env)


def client_of(request: Request) -> AsyncClient:
    client: AsyncClient = request.app.state.client
    return client


def is_fragment(request: Request) -> bool:
    """A JS refresh or navigation asking for the live part of the page only."""
    return request.headers.get(FRAGMENT_HEADER) == "1"


def query(base: Mapping[str, Any], **changes: Any) -> str:
    """``?``-query of ``base`` with ``changes`` (a None value drops the key)."""
    merged = {**base, **changes}
    pairs = [(k, str(v)) for k, v in merged.items() if v is not None and v != ""]
    return "?" + urlencode(pairs) if pairs else "?"


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    section: str = "",
) -> Response:
    """Render ``name`` (its ``live`` block alone for a fragment request)."""
    now = datetime.now(UTC)
    full = {"section": section, "now": now, "csrf": csrf_token(request), **context}
    headers = {"cache-control": "no-store", "vary": FRAGMENT_HEADER}
    if is_fragment(request):
        template = _env.get_template(name)
        ctx = template.new_context({"request": request, **full})
        body = "".join(template.blocks["live"](ctx))
        return HTMLResponse(body, status_code=status, headers=headers)
    return templates.TemplateResponse(request, name, full, status_code=status, headers=headers)


def error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", {"title": title, "message": message}, status=status)
