"""``/apps``: apps, their runners (alive or not) and workflows with triggers and run counts."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from durablex.server.console.templating import client_of, render


async def apps_page(request: Request) -> Response:
    apps = await client_of(request).list_apps()
    return render(request, "apps.html", {"apps": apps}, section="apps")
