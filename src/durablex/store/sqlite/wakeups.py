"""Wake-ups between processes that share one SQLite file, over Unix datagram sockets.

Within a process, stores on one database wake each other through ``notify.Hub``. Across
processes, a store used to learn of another's commit only by polling ``PRAGMA data_version``
every 10 ms, so a run started by a web process waited up to 10 ms before a runner process
looked, and its caller up to 10 ms more before it saw the run end (the latency workload with the
runner in its own process: p50 12 ms, against 2.7 ms in one process; docs/performance.md).

Each open store binds a datagram socket in a directory private to the user and to the database
(``<tmp>/durablex-<uid>/<hash of the database path>/<pid>-<token>``). A commit that made work
due or ended runs sends its notices, as a few bytes of JSON, to the sockets of the other
processes; a store that receives them wakes its waiters at once. The polling stays as it was:
a datagram only ever makes a waiter wake sooner, and a lost, refused or malformed one changes
nothing else. Where Unix sockets or a private directory are not available, the store simply
keeps polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import logging
import os
import secrets
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from durablex.store.notify import UNNAMED_RUNS, Notices

log = logging.getLogger("durablex.store.sqlite")

# The peers' sockets are listed again at most this often (a new process's commits still wake
# the others through polling until then).
PEERS_REFRESH = 0.5
# At most this many ended runs are named in one datagram; more are sent as "some ended".
MAX_NAMED_RUNS = 100
MAX_DATAGRAM = 8192
# Work made due is told to the other processes at most once in this window: the first notice
# at once, the others of the window together at its end. Told at every commit, a client's burst
# of starts woke two runner processes for each of its commits; their claims then fought the
# client and each other for SQLite's write lock, and fanout with two runner processes fell from
# 14,700-17,800 to 11,900-15,600 steps/s; with 2 ms it is 15,100-17,400, and the latency round
# trip stays 2.3-2.5 ms (5 ms: 5.3-5.7 ms). Ends of runs are told at once.
WORK_COALESCE = 0.002


def socket_dir(db_path: Path) -> Path:
    """The directory of the wake-up sockets of one database, for the current user."""
    key = hashlib.sha256(str(db_path.resolve()).encode()).hexdigest()[:20]
    return Path(tempfile.gettempdir()) / f"durablex-{os.getuid()}" / key


def _private_dir(path: Path) -> bool:
    """Create ``path`` (and its parent) as directories only this user can enter; False if
    either exists as something else (a file, a symlink, another user's directory)."""
    for directory in (path.parent, path):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=0o700)
        info = directory.lstat()
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        if info.st_mode & 0o077:
            return False
    return True


def encode_notices(notices: Notices) -> bytes:
    ended = sorted(notices.terminal)
    return orjson.dumps(
        {"w": notices.work_due, "t": ended[:MAX_NAMED_RUNS], "more": len(ended) > MAX_NAMED_RUNS}
    )


def decode_notices(data: bytes) -> Notices | None:
    """The notices of a datagram, or None if it is not one of ours."""
    try:
        message = orjson.loads(data)
        ended = message["t"]
        if not isinstance(ended, list) or not all(isinstance(r, str) for r in ended):
            return None
        terminal = set(ended) | ({UNNAMED_RUNS} if message.get("more") else set())
        return Notices(work_due=bool(message["w"]), terminal=terminal)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None


class Wakeups:
    """One store's socket: it receives the other processes' notices and sends its own."""

    def __init__(self, db_path: Path) -> None:
        self.directory = socket_dir(db_path)
        self._sock: socket.socket | None = None
        self._name = ""
        self._pid_prefix = f"{os.getpid()}-"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._peers: list[str] = []
        self._peers_read_at = float("-inf")
        self._work_sent_at = float("-inf")
        self._held_work = False

    @property
    def active(self) -> bool:
        return self._sock is not None

    def open(self, loop: asyncio.AbstractEventLoop, deliver: Callable[[Notices], None]) -> None:
        """Bind this store's socket and hand what arrives to ``deliver`` on ``loop``; without
        Unix sockets, a private directory or a selector loop, do nothing (polling remains)."""
        if not hasattr(socket, "AF_UNIX"):
            return
        name = f"{self._pid_prefix}{secrets.token_hex(4)}"
        sock = None
        bound = False
        try:
            if not _private_dir(self.directory):
                log.info("no wake-up sockets: %s is not a private directory", self.directory)
                return
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            sock.setblocking(False)
            sock.bind(str(self.directory / name))
            bound = True
            loop.add_reader(sock.fileno(), self._receive, sock, deliver)
        except (OSError, NotImplementedError) as exc:
            log.info("no wake-up sockets for %s: %s", self.directory, exc)
            if sock is not None:
                sock.close()
            if bound:
                self._unlink(name)
            return
        self._sock, self._name, self._loop = sock, name, loop

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(sock.fileno())
        sock.close()
        self._unlink(self._name)
        with contextlib.suppress(OSError):
            self.directory.rmdir()  # the last store of this database here: leave nothing behind

    def send(self, notices: Notices) -> None:
        """Tell the other processes' stores on this database what a commit changed. Work made
        due is told at most once per WORK_COALESCE: the first at once, the rest together at the
        end of that window (see the constant)."""
        if self._sock is None or not notices.wanted:
            return
        now = time.monotonic()
        if not notices.terminal:
            if self._held_work:
                return  # told with the others of this window, at its end
            wait = self._work_sent_at + WORK_COALESCE - now
            if wait > 0:
                assert self._loop is not None  # set with the socket
                self._held_work = True
                self._loop.call_later(wait, self._send_held)
                return
        if notices.work_due:  # this one tells of work too: nothing is held back any more
            self._work_sent_at = now
            self._held_work = False
        self._send(notices)

    def _send_held(self) -> None:
        if self._held_work:
            self._held_work = False
            self._work_sent_at = time.monotonic()
            self._send(Notices(work_due=True))

    def _send(self, notices: Notices) -> None:
        sock = self._sock
        peers = self._current_peers()
        if sock is None or not peers:
            return  # alone on this database: nothing to encode
        data = encode_notices(notices)
        for peer in list(peers):
            try:
                sock.sendto(data, str(self.directory / peer))
            except BlockingIOError:
                pass  # its queue is full: it is awake already, or will poll
            except OSError as exc:
                if exc.errno in (errno.ECONNREFUSED, errno.ENOENT):
                    # nobody reads it any more (a process that died): forget it
                    self._peers.remove(peer)
                    if exc.errno == errno.ECONNREFUSED:
                        self._unlink(peer)

    def _current_peers(self) -> list[str]:
        now = time.monotonic()
        if now - self._peers_read_at >= PEERS_REFRESH:
            self._peers_read_at = now
            try:
                names = os.listdir(self.directory)
            except OSError:
                names = []
            self._peers = [n for n in names if not n.startswith(self._pid_prefix)]
        return self._peers

    def _receive(self, sock: socket.socket, deliver: Callable[[Notices], None]) -> None:
        merged = Notices()
        for _ in range(64):
            try:
                data = sock.recv(MAX_DATAGRAM)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                return
            notices = decode_notices(data)
            if notices is not None:
                merged.merge(notices)
        if merged.wanted:
            deliver(merged)

    def _unlink(self, name: str) -> None:
        with contextlib.suppress(OSError):
            (self.directory / name).unlink()
