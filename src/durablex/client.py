"""Clients for code outside workflows: ``AsyncClient``, and ``Client`` as a thin blocking layer.

``Client`` runs an ``AsyncClient`` on a private event loop in a background thread, so there is
one implementation of every operation.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from durablex.app import check_name
from durablex.core.clock import Clock
from durablex.core.durations import parse_seconds
from durablex.core.ids import new_id
from durablex.core.serialization import DEFAULT_MAX_BYTES, encode
from durablex.errors import RunCancelledError, RunFailedError, RunNotFoundError
from durablex.records import RUN_STATUSES, TERMINAL_STATUSES, AppInfo, Event, Run, SendResult
from durablex.store.base import EventPage, NewEvent, RunFilter, RunPage, Store
from durablex.store.notify import RunEnd
from durablex.store.rows import load
from durablex.store.url import open_store

T = TypeVar("T")

MAX_LIST_LIMIT = 1000
STATUS_POLL = 0.5


def check_run_id(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"run_id must be a str, got {type(value).__name__} {value!r}")
    if not value or len(value) > 255:
        raise ValueError(f"run_id must be a non-empty string of at most 255 chars, got {value!r}")
    return value


def check_limit(value: object, *, maximum: int = MAX_LIST_LIMIT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"limit must be an int between 1 and {maximum}, got {value!r}")
    if not 1 <= value <= maximum:
        raise ValueError(f"limit must be between 1 and {maximum}, got {value!r}")
    return value


def check_status(value: object) -> str | None:
    if value is None:
        return None
    if value not in RUN_STATUSES:
        raise ValueError(f"unknown run status {value!r}; expected one of {', '.join(RUN_STATUSES)}")
    return str(value)


class RunHandle:
    """A started run: its id, its status, and its result when it ends (blocking)."""

    def __init__(self, client: Client, run_id: str, _started_at_mark: int | None = None) -> None:
        self._client = client
        self.run_id = run_id
        self._started_at_mark = _started_at_mark

    def __repr__(self) -> str:
        return f"{type(self).__name__}(run_id={self.run_id!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunHandle) and other.run_id == self.run_id

    def __hash__(self) -> int:
        return hash(self.run_id)

    def status(self) -> str:
        return self._client._call(self._client._async.handle(self.run_id).status())

    def result(self, timeout: object = None) -> Any:
        """The run's output once it completes; raises RunFailedError, RunCancelledError, or
        TimeoutError after ``timeout`` seconds."""
        handle = AsyncRunHandle(self._client._async, self.run_id, self._started_at_mark)
        return self._client._call(handle.result(timeout))


class AsyncRunHandle(RunHandle):
    """The handle an ``AsyncClient`` returns: ``status()`` and ``result()`` are coroutines."""

    def __init__(
        self, client: AsyncClient, run_id: str, _started_at_mark: int | None = None
    ) -> None:
        self._async_client = client
        self.run_id = run_id
        self._started_at_mark = _started_at_mark

    async def status(self) -> str:  # type: ignore[override]
        run = await self._async_client.get_run(self.run_id, with_steps=False)
        return run.status

    async def result(self, timeout: object = None) -> Any:
        seconds = parse_seconds(timeout, what="result timeout")
        end = await self._async_client._await_end(
            self.run_id, seconds, self._started_at_mark, in_memory=True
        )
        if isinstance(end, RunEnd):
            status, output, error = end.status, load(end.output), load(end.error)
        else:
            status, output, error = end.status, end.output, end.error
        if status == "completed":
            return output
        if status == "cancelled":
            raise RunCancelledError(run_id=self.run_id)
        raise RunFailedError(run_id=self.run_id, error=error)


class AsyncClient:
    """Send events, start runs, read and control them, from async code."""

    def __init__(
        self,
        db: object = None,
        *,
        clock: Clock | None = None,
        max_payload_bytes: int = DEFAULT_MAX_BYTES,
        _inline: bool | None = None,
    ) -> None:
        # None: commit on a worker thread, or on the event loop when a runner runs on it
        self._store: Store = open_store(db, clock=clock, inline=_inline)
        self._max_payload_bytes = max_payload_bytes
        self._opened = False
        self._open_lock: asyncio.Lock | None = None

    @property
    def url(self) -> str:
        return self._store.url

    async def __aenter__(self) -> AsyncClient:
        await self._ensure_open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._opened:
            self._opened = False
            await self._store.close()

    async def _ensure_open(self) -> Store:
        if not self._opened:
            if self._open_lock is None:
                self._open_lock = asyncio.Lock()
            async with self._open_lock:
                if not self._opened:
                    await self._store.open()
                    self._store.listen_for(work=False, terminal=True)
                    self._opened = True
        return self._store

    # -- writes --------------------------------------------------------------------------

    async def send(
        self, name: str, data: Any = None, *, app: str | None = None, id: str | None = None
    ) -> SendResult:
        """Accept one event: start the runs it triggers and resume the runs waiting for it."""
        event_name = check_name(name, what="event name")
        if app is not None:
            check_name(app, what="app")
        event_id = check_name(id, what="event id") if id is not None else new_id()
        payload = encode(data, what="event data", max_bytes=self._max_payload_bytes)
        store = await self._ensure_open()
        return await store.send_event(NewEvent(event_id, event_name, payload, app))

    async def start(
        self, workflow: str, data: Any = None, *, app: str | None = None
    ) -> AsyncRunHandle:
        """Start a run of ``workflow`` with ``data`` as its input."""
        name = check_name(workflow, what="workflow name")
        if app is not None:
            check_name(app, what="app")
        payload = encode(data, what="run input", max_bytes=self._max_payload_bytes)
        store = await self._ensure_open()
        mark = store.change_mark()
        run_id = await store.start_run(app, name, payload)
        return AsyncRunHandle(self, run_id, mark)

    async def cancel(self, run_id: str) -> bool:
        """Cancel a run, its parked waits, its running steps and its children.

        Returns False when the run had already ended."""
        store = await self._ensure_open()
        try:
            return await store.cancel_run(check_run_id(run_id))
        except LookupError:
            raise RunNotFoundError(run_id=run_id) from None

    async def rerun(self, run_id: str) -> AsyncRunHandle:
        """Start a new run of the same workflow with the same input."""
        run = await self.get_run(run_id, with_steps=False)
        store = await self._ensure_open()
        payload = encode(run.input, what="run input", max_bytes=self._max_payload_bytes)
        new_run = await store.start_run(run.app, run.workflow, payload, rerun_of=run.id)
        return AsyncRunHandle(self, new_run)

    async def resume(self, run_id: str) -> AsyncRunHandle:
        """Continue a failed run from its failed step, keeping every completed step."""
        store = await self._ensure_open()
        try:
            await store.resume_run(check_run_id(run_id))
        except LookupError:
            raise RunNotFoundError(run_id=run_id) from None
        return AsyncRunHandle(self, run_id)

    # -- reads ---------------------------------------------------------------------------

    def handle(self, run_id: str) -> AsyncRunHandle:
        return AsyncRunHandle(self, check_run_id(run_id))

    async def get_run(self, run_id: str, *, with_steps: bool = True) -> Run:
        store = await self._ensure_open()
        run = await store.get_run(check_run_id(run_id), with_steps=with_steps)
        if run is None:
            raise RunNotFoundError(run_id=run_id)
        return run

    async def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        app: str | None = None,
        limit: int = 100,
    ) -> list[Run]:
        page = await self.list_runs_page(
            RunFilter(status=check_status(status), workflow=workflow, app=app),
            limit=limit,
        )
        return page.runs

    async def list_runs_page(
        self, filt: RunFilter, *, limit: int = 100, cursor: str | None = None
    ) -> RunPage:
        check_status(filt.status)
        store = await self._ensure_open()
        return await store.list_runs(filt, check_limit(limit), cursor)

    async def list_events(
        self,
        *,
        name: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        search: str | None = None,
    ) -> EventPage:
        store = await self._ensure_open()
        return await store.list_events(name, check_limit(limit), cursor, search)

    async def get_event(self, event_id: str) -> Event | None:
        store = await self._ensure_open()
        return await store.get_event(event_id)

    async def resumed_by_event(self, event_id: str) -> list[str]:
        """The runs whose wait the event resolved (at most 1,000)."""
        store = await self._ensure_open()
        return await store.resumed_by_event(event_id)

    async def list_apps(self) -> list[AppInfo]:
        """Apps with their workflows (triggers, run counts by status) and runners."""
        store = await self._ensure_open()
        return await store.list_apps()

    async def wait(self, run_id: str, timeout: float | None) -> Run:
        """Wait until the run is terminal and return it without its steps (TimeoutError after
        ``timeout`` seconds)."""
        end = await self._await_end(run_id, timeout, None, in_memory=False)
        assert isinstance(end, Run)
        return end

    async def _await_end(
        self, run_id: str, timeout: float | None, unchanged_since: int | None, *, in_memory: bool
    ) -> Run | RunEnd:
        """``wait``; with ``in_memory``, the end as a store of this process committed it when
        a notice brings it (no read of the run), else the run read back.

        ``unchanged_since``: this store's change mark from before the run was started. While
        the mark is the same, no notice or poll has told of any run ending since, so the run
        has not ended: the first read waits for the first change (a round trip is a start, one
        wait and no read)."""
        store = await self._ensure_open()
        watch = store.watch_end(run_id) if in_memory else None
        try:
            loop = asyncio.get_running_loop()
            deadline = None if timeout is None else loop.time() + timeout
            ended = watch is not None and watch.end is not None  # a final end remembered
            if not ended and unchanged_since is not None and store.change_mark() == unchanged_since:
                first = STATUS_POLL if timeout is None else timeout
                await store.wait_for_change(min(first, STATUS_POLL))
            while True:
                if watch is not None and watch.end is not None:
                    return watch.end
                run = await store.get_run(run_id, with_steps=False)
                if run is None:
                    raise RunNotFoundError(run_id=run_id)
                if run.status in TERMINAL_STATUSES:
                    return run
                remaining = STATUS_POLL if deadline is None else deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(
                        f"run {run_id} is still {run.status} after {timeout} seconds"
                    )
                # any notice means a re-read: a point read on this loop, cheaper than filtering
                await store.wait_for_change(min(remaining, STATUS_POLL))
        finally:
            if watch is not None:
                watch.close()


class Client:
    """Blocking client with the methods of ``AsyncClient``."""

    def __init__(
        self,
        db: object = None,
        *,
        clock: Clock | None = None,
        max_payload_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._async = AsyncClient(
            db, clock=clock, max_payload_bytes=max_payload_bytes, _inline=True
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="durablex-client", daemon=True
        )
        self._thread.start()
        self._closed = False

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()

    @property
    def url(self) -> str:
        return self._async.url

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            asyncio.run_coroutine_threadsafe(self._async.aclose(), self._loop).result()
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._closed:
            coro.close()
            raise RuntimeError("the client is closed")
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result()

    def send(
        self, name: str, data: Any = None, *, app: str | None = None, id: str | None = None
    ) -> SendResult:
        return self._call(self._async.send(name, data, app=app, id=id))

    def start(self, workflow: str, data: Any = None, *, app: str | None = None) -> RunHandle:
        handle = self._call(self._async.start(workflow, data, app=app))
        return RunHandle(self, handle.run_id, handle._started_at_mark)

    def get_run(self, run_id: str) -> Run:
        return self._call(self._async.get_run(run_id))

    def list_runs(
        self,
        *,
        status: str | None = None,
        workflow: str | None = None,
        app: str | None = None,
        limit: int = 100,
    ) -> list[Run]:
        return self._call(
            self._async.list_runs(status=status, workflow=workflow, app=app, limit=limit)
        )

    def list_events(
        self,
        *,
        name: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        search: str | None = None,
    ) -> EventPage:
        return self._call(
            self._async.list_events(name=name, limit=limit, cursor=cursor, search=search)
        )

    def get_event(self, event_id: str) -> Event | None:
        return self._call(self._async.get_event(event_id))

    def cancel(self, run_id: str) -> bool:
        return self._call(self._async.cancel(run_id))

    def rerun(self, run_id: str) -> RunHandle:
        return RunHandle(self, self._call(self._async.rerun(run_id)).run_id)

    def resume(self, run_id: str) -> RunHandle:
        return RunHandle(self, self._call(self._async.resume(run_id)).run_id)

    def handle(self, run_id: str) -> RunHandle:
        return RunHandle(self, check_run_id(run_id))
