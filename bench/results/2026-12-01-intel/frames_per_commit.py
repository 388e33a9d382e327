"""How many WAL frames (pages) each of the seq floor's commits writes:
``PYTHONPATH=src:. python bench/results/2026-12-01-intel/frames_per_commit.py [STEPS]``.

Commits STEPS (default 300) step records of one run as ``bench.raw.step_floor`` does (ids s0,
s1, ...), with automatic checkpoints off, then reads the frame headers of the WAL file: the
number of frames of each commit, and the tables their pages belong to (``dbstat``).
"""

import collections
import struct
import sys
import tempfile
from pathlib import Path

import orjson
from bench import raw

from durablex.store.rows import StepRow
from durablex.store.sqlite import writes


def main(steps: int) -> None:
    path = Path(tempfile.mkdtemp()) / "frames.db"
    conn = raw.store_file(path)
    run_id = raw.running_run(conn)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    for i in range(steps):
        row = StepRow(
            step_id=f"s{i}",
            seq=i + 1,
            kind="run",
            status="completed",
            attempts=1,
            output=orjson.dumps({"i": i}),
            started_at_us=1,
            ended_at_us=2,
        )
        raw.engine_tx(conn, writes.record_step, run_id, 1, row, None, None)
    owner = dict(conn.execute("SELECT pageno, name FROM dbstat").fetchall())
    data = Path(f"{path}-wal").read_bytes()
    page_size = struct.unpack(">I", data[8:12])[0]
    commits: list[list[int]] = []
    frames: list[int] = []
    offset = 32
    while offset + 24 + page_size <= len(data):
        page, commit_size = struct.unpack(">II", data[offset : offset + 8])
        if page == 0:
            break
        frames.append(page)
        if commit_size:
            commits.append(frames)
            frames = []
        offset += 24 + page_size
    sizes = collections.Counter(len(c) for c in commits)
    print(f"{len(commits)} commits; frames per commit: {dict(sorted(sizes.items()))}")
    print(f"mean {sum(len(c) for c in commits) / len(commits):.2f} frames per commit")
    tables = collections.Counter(owner.get(page, f"page {page}") for c in commits for page in c)
    print(f"pages written, by table: {dict(tables)}")
    conn.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
