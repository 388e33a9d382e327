"""The flow graph of a run's steps: a layered layout of the recorded ``after`` edges (pure),
and its SVG drawing.

The layout is a small Sugiyama pipeline: long sequential chains and over-wide layers are
collapsed into group nodes (so a run of thousands of steps stays readable), every node gets a
layer (longest path from a source), edges spanning several layers get virtual nodes, layers
are ordered by barycentres to limit crossings, and x positions follow the parents so chains
stay straight, forks spread and joins centre below their branches.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, field

NODE_W = 200.0
NODE_H = 46.0
VIRTUAL_W = 14.0
H_GAP = 26.0
V_GAP = 38.0
MARGIN = 20.0

CHAIN_LIMIT = 12
"""Sequential chains longer than this are drawn as head, one group node, tail."""
CHAIN_KEEP = 3
WIDTH_LIMIT = 10
"""Layers wider than this keep their first nodes and group the rest."""
LAYER_PAGE = 120
"""Layers drawn per page of the graph."""

STATUS_PRIORITY = ("failed", "running", "waiting", "sleeping", "queued", "cancelled", "completed")


@dataclass(frozen=True, slots=True)
class StepNode:
    """What the layout needs of a step."""

    id: str
    kind: str
    status: str
    after: tuple[str, ...] = ()
    detail: str = ""


@dataclass(slots=True)
class Node:
    """A drawn node: one step, a group of steps, or a virtual bend point of a long edge."""

    key: int
    kind: str
    status: str
    members: tuple[str, ...]
    detail: str = ""
    layer: int = 0
    x: float = 0.0
    y: float = 0.0
    width: float = NODE_W
    height: float = NODE_H
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def step_id(self) -> str | None:
        return self.members[0] if self.kind not in ("group", "virtual") else None

    @property
    def is_group(self) -> bool:
        return self.kind == "group"


@dataclass(frozen=True, slots=True)
class Edge:
    source: int
    target: int
    points: tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class Layout:
    nodes: list[Node]
    edges: list[Edge]
    width: float
    height: float
    layer_count: int
    first_layer: int
    last_layer: int
    grouped_steps: int


def topological_order(steps: Sequence[StepNode]) -> list[int]:
    """Indexes of ``steps`` in an order where every step follows its predecessors; ties (and
    any edge that would close a cycle) keep the recorded order."""
    index = {s.id: i for i, s in enumerate(steps)}
    preds = [_preds(s, index, i) for i, s in enumerate(steps)]
    waiting = [len(p) for p in preds]
    succs: list[list[int]] = [[] for _ in steps]
    for i, ps in enumerate(preds):
        for p in ps:
            succs[p].append(i)
    ready = [i for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order: list[int] = []
    placed = [False] * len(steps)
    next_unplaced = 0
    while len(order) < len(steps):
        if not ready:  # a cycle: release the earliest unplaced step
            while placed[next_unplaced]:
                next_unplaced += 1
            heapq.heappush(ready, next_unplaced)
            waiting[next_unplaced] = 0
        i = heapq.heappop(ready)
        if placed[i]:
            continue
        placed[i] = True
        order.append(i)
        for s in succs[i]:
            waiting[s] -= 1
            if waiting[s] == 0 and not placed[s]:
                heapq.heappush(ready, s)
    return order


def _preds(step: StepNode, index: dict[str, int], own: int) -> list[int]:
    seen: list[int] = []
    for p in step.after:
        i = index.get(p)
        if i is not None and i != own and i not in seen:
            seen.append(i)
    return seen


def collapse_chains(
    steps: Sequence[StepNode],
    order: Sequence[int],
    limit: int = CHAIN_LIMIT,
    keep: int = CHAIN_KEEP,
) -> list[int]:
    """For each step, the index of the display group it belongs to: a sequential chain longer
    than ``limit`` keeps ``keep`` steps at each end and shares one group for the middle."""
    index = {s.id: i for i, s in enumerate(steps)}
    preds = [_preds(s, index, i) for i, s in enumerate(steps)]
    succs: list[list[int]] = [[] for _ in steps]
    for i, ps in enumerate(preds):
        for p in ps:
            succs[p].append(i)

    def continues(i: int) -> bool:
        return len(preds[i]) == 1 and len(succs[preds[i][0]]) == 1

    group = list(range(len(steps)))
    for head in order:
        if continues(head):
            continue
        chain = [head]
        while len(succs[chain[-1]]) == 1 and continues(succs[chain[-1]][0]):
            nxt = succs[chain[-1]][0]
            if nxt == head or len(chain) > len(steps):
                break
            chain.append(nxt)
        if len(chain) > limit:
            middle = chain[keep : len(chain) - keep]
            for i in middle:
                group[i] = middle[0]
    return group


def _dominant(counts: dict[str, int]) -> str:
    for status in STATUS_PRIORITY:
        if counts.get(status):
            return status
    return next(iter(counts), "completed")


def layout_graph(
    steps: Sequence[StepNode],
    *,
    chain_limit: int = CHAIN_LIMIT,
    chain_keep: int = CHAIN_KEEP,
    width_limit: int = WIDTH_LIMIT,
    layer_page: int = LAYER_PAGE,
    first_layer: int = 0,
) -> Layout:
    """Lay out ``steps`` (in recorded order) as a top-to-bottom layered graph."""
    if not steps:
        return Layout([], [], 2 * MARGIN, 2 * MARGIN, 0, 0, 0, 0)
    order = topological_order(steps)
    rank = {i: r for r, i in enumerate(order)}
    group_of = collapse_chains(steps, order, chain_limit, chain_keep)

    # Display nodes, in topological order of their first member.
    nodes: dict[int, Node] = {}
    for i in order:
        g = group_of[i]
        step = steps[i]
        node = nodes.get(g)
        if node is None:
            node = Node(key=g, kind=step.kind, status=step.status, members=(), detail=step.detail)
            nodes[g] = node
        node.members += (step.id,)
        node.counts[step.status] = node.counts.get(step.status, 0) + 1
    for node in nodes.values():
        if len(node.members) > 1:
            node.kind = "group"
            node.status = _dominant(node.counts)
            node.detail = f"{len(node.members)} steps"

    index = {s.id: i for i, s in enumerate(steps)}
    edges: set[tuple[int, int]] = set()
    for i, step in enumerate(steps):
        for p in _preds(step, index, i):
            a, b = group_of[p], group_of[i]
            if a != b and rank[p] < rank[i]:
                edges.add((a, b))

    keys = sorted(nodes, key=lambda k: rank[index[nodes[k].members[0]]])
    preds: dict[int, list[int]] = {k: [] for k in keys}
    for a, b in edges:
        preds[b].append(a)
    layer: dict[int, int] = {}
    for k in keys:
        layer[k] = max((layer[p] + 1 for p in preds[k] if p in layer), default=0)

    # Over-wide layers: keep the first nodes, merge the rest into one group per layer.
    by_layer: dict[int, list[int]] = {}
    for k in keys:
        by_layer.setdefault(layer[k], []).append(k)
    merged: dict[int, int] = {}
    for members in by_layer.values():
        if len(members) > width_limit:
            target = members[width_limit - 1]
            for k in members[width_limit:]:
                merged[k] = target
                t, n = nodes[target], nodes.pop(k)
                t.members += n.members
                for status, count in n.counts.items():
                    t.counts[status] = t.counts.get(status, 0) + count
            t = nodes[target]
            t.kind, t.status = "group", _dominant(t.counts)
            t.detail = f"{len(t.members)} steps"
    if merged:
        edges = {(merged.get(a, a), merged.get(b, b)) for a, b in edges}
        keys = [k for k in keys if k not in merged]
    grouped = sum(len(n.members) for n in nodes.values() if n.is_group)

    layer_count = max(layer[k] for k in keys) + 1
    first = max(0, min(first_layer, layer_count - 1))
    last = min(layer_count, first + layer_page)
    shown = [k for k in keys if first <= layer[k] < last]
    shown_set = set(shown)
    for k in shown:
        nodes[k].layer = layer[k] - first

    # Virtual nodes on edges that span layers.
    next_key = -1
    rows: list[list[Node]] = [[] for _ in range(last - first)]
    for k in shown:
        rows[nodes[k].layer].append(nodes[k])
    paths: list[tuple[int, int, list[Node]]] = []
    above: dict[int, list[int]] = {k: [] for k in shown}
    for a, b in sorted(edges, key=lambda e: (rank_of(nodes, e[0], rank, index), e[1])):
        if a not in shown_set or b not in shown_set:
            continue
        chain: list[Node] = [nodes[a]]
        for lay in range(nodes[a].layer + 1, nodes[b].layer):
            v = Node(key=next_key, kind="virtual", status="", members=(), layer=lay)
            v.width = VIRTUAL_W
            next_key -= 1
            rows[lay].append(v)
            above[v.key] = [chain[-1].key]
            chain.append(v)
        above[b].append(chain[-1].key)
        chain.append(nodes[b])
        paths.append((a, b, chain))

    _order_rows(rows, above)
    _place(rows, above)

    all_nodes = [n for row in rows for n in row]
    min_x = min(n.x - n.width / 2 for n in all_nodes)
    max_x = max(n.x + n.width / 2 for n in all_nodes)
    for n in all_nodes:
        n.x += MARGIN - min_x
        n.y = MARGIN + n.layer * (NODE_H + V_GAP) + NODE_H / 2
    drawn_edges = [Edge(a, b, _edge_points(chain)) for a, b, chain in paths]
    return Layout(
        nodes=[n for n in all_nodes if n.kind != "virtual"],
        edges=drawn_edges,
        width=max_x - min_x + 2 * MARGIN,
        height=2 * MARGIN + len(rows) * (NODE_H + V_GAP) - V_GAP,
        layer_count=layer_count,
        first_layer=first,
        last_layer=last,
        grouped_steps=grouped,
    )


def rank_of(nodes: dict[int, Node], key: int, rank: dict[int, int], index: dict[str, int]) -> int:
    node = nodes.get(key)
    return rank[index[node.members[0]]] if node and node.members else 0


def _order_rows(rows: list[list[Node]], above: dict[int, list[int]]) -> None:
    """Reorder each layer by the mean position of its parents (stable, so ties keep order)."""
    below: dict[int, list[int]] = {}
    for child, parents in above.items():
        for p in parents:
            below.setdefault(p, []).append(child)
    for sweep in range(3):
        downward = sweep % 2 == 0
        sequence = range(1, len(rows)) if downward else range(len(rows) - 2, -1, -1)
        for lay in sequence:
            ref = rows[lay - 1] if downward else rows[lay + 1]
            pos = {n.key: i for i, n in enumerate(ref)}
            keyed: list[tuple[float, int, Node]] = []
            for i, n in enumerate(rows[lay]):
                links = above.get(n.key, []) if downward else below.get(n.key, [])
                known = [pos[k] for k in links if k in pos]
                keyed.append((sum(known) / len(known) if known else float(i), i, n))
            keyed.sort(key=lambda t: (t[0], t[1]))
            rows[lay] = [n for _, _, n in keyed]


def _place(rows: list[list[Node]], above: dict[int, list[int]]) -> None:
    """x positions: each node wants the mean x of its parents; overlaps are pushed apart and
    the layer is shifted so it sits, on average, where it wants to be."""
    xs: dict[int, float] = {}
    for row in rows:
        desired: list[float | None] = []
        for n in row:
            parents = [xs[k] for k in above.get(n.key, []) if k in xs]
            desired.append(sum(parents) / len(parents) if parents else None)
        placed: list[float] = []
        for i, n in enumerate(row):
            want = desired[i]
            if i == 0:
                x = want if want is not None else 0.0
            else:
                prev = row[i - 1]
                low = placed[-1] + (prev.width + n.width) / 2 + H_GAP
                x = low if want is None else max(want, low)
            placed.append(x)
        wanted = [(p, d) for p, d in zip(placed, desired, strict=True) if d is not None]
        if wanted:
            shift = sum(d - p for p, d in wanted) / len(wanted)
            placed = [p + shift for p in placed]
        for n, x in zip(row, placed, strict=True):
            n.x = x
            xs[n.key] = x


def _edge_points(chain: list[Node]) -> tuple[tuple[float, float], ...]:
    points: list[tuple[float, float]] = [(chain[0].x, chain[0].y + chain[0].height / 2)]
    for v in chain[1:-1]:
        points.append((v.x, v.y - NODE_H / 2))
        points.append((v.x, v.y + NODE_H / 2))
    end = chain[-1]
    points.append((end.x, end.y - end.height / 2))
    return tuple(points)


def edge_path(points: Sequence[tuple[float, float]]) -> str:
    """An SVG path through ``points``: curves between layers, straight through virtual nodes."""
    (x0, y0), rest = points[0], points[1:]
    parts = [f"M{x0:.1f},{y0:.1f}"]
    for i, (x1, y1) in enumerate(rest):
        if i % 2 == 0:
            mid = (y0 + y1) / 2
            parts.append(f"C{x0:.1f},{mid:.1f} {x1:.1f},{mid:.1f} {x1:.1f},{y1:.1f}")
        else:
            parts.append(f"L{x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(parts)
