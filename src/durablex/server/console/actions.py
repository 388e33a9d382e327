"""The run actions (cancel, rerun, resume): CSRF-checked POSTs, confirmed first.

With JavaScript the form asks ``confirm()`` and posts ``confirmed=1``; without it the first
post answers with a confirmation page whose form posts again with ``confirmed=1``.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from durablex.errors import DurablexError, RunNotFoundError
from durablex.server.console.templating import client_of, error_page, render
from durablex.server.errors import ApiError
from durablex.server.security import verify_csrf

ACTIONS = {
    "cancel": (
        "Cancel this run?",
        "Its parked waits, running steps and child runs are cancelled too. This cannot be undone.",
        "Yes, cancel the run",
    ),
    "rerun": (
        "Rerun this run?",
        "A new run of the same workflow starts with the same input.",
        "Yes, start a new run",
    ),
    "resume": (
        "Resume this run?",
        "The run continues from its failed step; completed steps are kept.",
        "Yes, resume the run",
    ),
}


def run_url(run_id: str, done: str | None = None) -> str:
    return f"/runs/{quote(run_id, safe='')}" + (f"?done={done}" if done else "")


async def run_action(request: Request) -> Response:
    run_id = request.path_params["run_id"]
    action = request.path_params["action"]
    if action not in ACTIONS:
        return error_page(request, 404, "Unknown action", f"There is no action {action!r}.")
    form = await request.form()
    try:
        verify_csrf(request, form)
    except ApiError as exc:
        return error_page(request, exc.status, "Request refused", exc.message)
    client = client_of(request)
    try:
        run = await client.get_run(run_id, with_steps=False)
    except (RunNotFoundError, ValueError, TypeError):
        return error_page(request, 404, "Run not found", f"There is no run with id {run_id}.")
    if form.get("confirmed") != "1":
        title, text, button = ACTIONS[action]
        context = {"run": run, "action": action, "title": title, "text": text, "button": button}
        return render(request, "confirm.html", context, section="runs")
    try:
        if action == "cancel":
            changed = await client.cancel(run.id)
            target = run_url(run.id, "cancelled" if changed else "already-ended")
        elif action == "rerun":
            handle = await client.rerun(run.id)
            target = run_url(handle.run_id, "rerun")
        else:
            await client.resume(run.id)
            target = run_url(run.id, "resumed")
    except (DurablexError, ValueError, TypeError, LookupError) as exc:
        return error_page(request, 409, f"Could not {action} the run", str(exc))
    return RedirectResponse(target, status_code=303)


async def action_get(request: Request) -> Response:
    """A GET on an action URL (a reload after a post): back to the run."""
    return RedirectResponse(run_url(request.path_params["run_id"]), status_code=303)
