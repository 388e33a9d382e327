"""Summarise a py-spy ``--format raw`` (collapsed stacks) file: top functions by self and by
total time, as % of samples. ``python -m bench.spy_summary FILE [--top 10] [--only durablex]``

Record one with, e.g.:
    py-spy record -r 250 --nonblocking -f raw --full-filenames -o seq.txt -- \
        python -m bench.worker seq --params '{"N": 5000}' --durability full
"""

from __future__ import annotations

import argparse
import re
from collections import Counter

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short(frame: str) -> str:
    m = FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m["file"]
    for marker in ("/src/", "/lib/python3", "/site-packages/", "/work/main/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "/lib/python3":
                path = "stdlib/" + path.split("/", 1)[1]
            break
    return f"{m['func']} ({path}:{m['line']})" if m["line"] else f"{m['func']} ({path})"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("file")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--only", default=None, help="total-time table: only frames containing this")
    p.add_argument(
        "--by-function",
        action="store_true",
        help="merge the lines of one function (file:line becomes its hottest line)",
    )
    args = p.parse_args()
    self_t: Counter[str] = Counter()
    total_t: Counter[str] = Counter()
    n = 0
    with open(args.file) as fh:
        lines = fh.read().splitlines()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack or not count.isdigit():
            continue  # a sample whose frame text held a line break: py-spy split it in two
        c = int(count)
        frames = [
            short(f)
            for f in stack.split(";")
            if f and not f.startswith("process ") and not f.startswith("thread ")
        ]
        if args.by_function:
            frames = [re.sub(r":\d+\)$", ")", f) for f in frames]
        if not frames:
            continue
        n += c
        self_t[frames[-1]] += c
        for f in set(frames):
            total_t[f] += c
    print(f"{n} samples\n\nTop by self time:")
    for f, c in self_t.most_common(args.top):
        print(f"  {100 * c / n:5.1f}%  {f}")
    print("\nTop by total (inclusive) time" + (f" [{args.only}]" if args.only else "") + ":")
    shown = 0
    for f, c in total_t.most_common():
        if args.only and args.only not in f:
            continue
        print(f"  {100 * c / n:5.1f}%  {f}")
        shown += 1
        if shown >= args.top * 2:
            break


if __name__ == "__main__":
    main()
