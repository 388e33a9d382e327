"""Wake-ups from other processes: LISTEN on the database's channel, reconnecting when cut off.

Every batch that makes work due or ends runs sends one NOTIFY in its own transaction (delivered
on commit, never before). Payloads are ``token|w|id,id,...``: the sending store's token (a store
ignores its own notices, which its process already delivered in-process), whether work may be
due, and the runs that ended. Notices are only hints: everything is in the tables, and runners
and clients also poll, so a notice lost while the connection was down costs latency, not
correctness. After a reconnect the listener reports "something changed" once.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from durablex.store.notify import UNNAMED_RUNS, Listener, Notices
from durablex.store.postgres.connection import PgConfig, connect

log = logging.getLogger("durablex.store.postgres")


def parse_payload(payload: str) -> tuple[str, Notices] | None:
    try:
        token, work, ids = payload.split("|", 2)
    except ValueError:
        return None
    terminal = {run_id for run_id in ids.split(",") if run_id}
    return token, Notices(work_due=work == "1", terminal=terminal)


class NotifyListener:
    """A background task holding a LISTEN connection and feeding one store's ``Listener``."""

    def __init__(self, config: PgConfig, token: str, inbox: Listener) -> None:
        self._config = config
        self._token = token
        self._inbox = inbox
        self._task: asyncio.Task[None] | None = None
        self._conn: Any = None
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="durablex-listen")
        # the first connection is made before open() returns, so no notice sent after it is lost
        ready = asyncio.ensure_future(self.connected.wait())
        done, _ = await asyncio.wait(
            [ready, self._task], timeout=10, return_when=asyncio.FIRST_COMPLETED
        )
        ready.cancel()
        if self._task in done:
            self._task.result()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._conn is not None:
            conn, self._conn = self._conn, None
            try:
                await conn.close()
            except Exception:
                log.debug("closing the LISTEN connection failed", exc_info=True)

    async def _run(self) -> None:
        delay = 0.05
        first = True
        while True:
            try:
                self._conn = await connect(self._config)
                await self._conn.execute(f'LISTEN "{self._config.channel}"')
                self.connected.set()
                if not first:
                    # notices sent while we were away are lost: say that anything may have changed
                    self._inbox.deliver(Notices(work_due=True, terminal={UNNAMED_RUNS}))
                first = False
                delay = 0.05
                async for notify in self._conn.notifies():
                    parsed = parse_payload(notify.payload)
                    if parsed is None or parsed[0] == self._token:
                        continue
                    self._inbox.deliver(parsed[1])
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if isinstance(exc, psycopg.Error | OSError) or "connect" in str(exc):
                    log.debug("durablex: LISTEN connection lost (%s); reconnecting", exc)
                else:
                    log.exception("durablex: LISTEN loop failed; reconnecting")
            self.connected.clear()
            conn, self._conn = self._conn, None
            if conn is not None:
                try:
                    await conn.close()
                except Exception:
                    log.debug("closing the LISTEN connection failed", exc_info=True)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)
