"""The flow graph drawn as inline SVG from a ``graph.Layout``; every user text is escaped."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from durablex.server.console.format import shorten
from durablex.server.console.graph import Layout, Node, edge_path

KIND_LABELS = {
    "run": "run",
    "sleep": "sleep",
    "sleep_until": "sleep until",
    "wait_for_event": "wait for event",
    "run_workflow": "child workflow",
    "emit": "emit",
}
ICON_KINDS = frozenset({"sleep", "sleep_until", "wait_for_event", "emit"})


def _rect(x: float, y: float, w: float, h: float, rx: float, cls: str = "shape") -> str:
    return (
        f'<rect class="{cls}" x="{x:.1f}" y="{y:.1f}" width="{w:.0f}" height="{h:.0f}"'
        f' rx="{rx:.0f}"/>'
    )


def _polygon(points: Sequence[tuple[float, float]]) -> str:
    return '<polygon class="shape" points="{}"/>'.format(
        " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
    )


def shape(node: Node) -> str:
    """The outline of a node: its form says its kind."""
    x, y, w, h = node.x - node.width / 2, node.y - node.height / 2, node.width, node.height
    if node.kind in ("sleep", "sleep_until"):
        return _rect(x, y, w, h, h / 2)
    if node.kind == "wait_for_event":
        d = 14.0
        return _polygon(
            [(x + d, y), (x + w - d, y), (x + w, y + h / 2), (x + w - d, y + h), (x + d, y + h),
             (x, y + h / 2)]
        )  # fmt: skip
    if node.kind == "emit":
        d = 16.0
        return _polygon(
            [(x, y), (x + w - d, y), (x + w, y + h / 2), (x + w - d, y + h), (x, y + h)]
        )
    if node.kind == "run_workflow":
        inner = f"M{x + 9:.1f},{y:.1f}v{h:.0f}M{x + w - 9:.1f},{y:.1f}v{h:.0f}"
        return _rect(x, y, w, h, 3) + f'<path class="inner" d="{inner}"/>'
    if node.kind == "group":
        return _rect(x + 6, y + 6, w, h, 6, "shape stack") + _rect(x, y, w, h, 6)
    return _rect(x, y, w, h, 6)


def icon(node: Node) -> str:
    """A small glyph at the left of sleeps, waits and emits."""
    x, y = node.x - node.width / 2 + 22, node.y
    if node.kind in ("sleep", "sleep_until"):
        return (
            f'<circle class="icon" cx="{x:.1f}" cy="{y:.1f}" r="8"/>'
            f'<path class="icon" d="M{x:.1f},{y - 5:.1f}V{y:.1f}H{x + 4:.1f}"/>'
        )
    if node.kind == "wait_for_event":
        return (
            f'<path class="icon" d="M{x - 7:.1f},{y - 5:.1f}h14v10h-14z'
            f'M{x - 7:.1f},{y - 5:.1f}l7,6l7,-6"/>'
        )
    if node.kind == "emit":
        return f'<path class="icon" d="M{x - 7:.1f},{y:.1f}h12m-5,-5l5,5l-5,5"/>'
    return ""


def render_svg(
    layout: Layout,
    step_href: Callable[[str], str],
    group_href: Callable[[tuple[str, ...]], str],
    selected: str | None = None,
) -> Markup:
    """The graph as an inline SVG element."""
    w, h = f"{layout.width:.0f}", f"{layout.height:.0f}"
    out: list[str] = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}"'
        f' viewBox="0 0 {w} {h}" role="img" aria-label="Flow graph of the steps">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7"'
        ' markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z"'
        ' class="arrowhead"/></marker></defs><g class="edges">',
    ]
    for edge in layout.edges:
        out.append(f'<path class="edge" d="{edge_path(edge.points)}" marker-end="url(#arrow)"/>')
    out.append('</g><g class="nodes">')
    out.extend(node_svg(node, step_href, group_href, selected) for node in layout.nodes)
    out.append("</g></svg>")
    return Markup("".join(out))


def node_svg(
    node: Node,
    step_href: Callable[[str], str],
    group_href: Callable[[tuple[str, ...]], str],
    selected: str | None = None,
) -> str:
    """One node as a link: a step opens its panel, a group leads to its steps in the list."""
    has_icon = node.kind in ICON_KINDS
    text_x = (
        node.x
        - node.width / 2
        + (40 if has_icon else 14)
        + (4 if node.kind == "run_workflow" else 0)
    )
    if node.is_group:
        first, last = node.members[0], node.members[-1]
        label = f"{len(node.members)} steps"
        detail = f"{shorten(first, 12)} … {shorten(last, 12)}"
        counts = ", ".join(f"{n} {s}" for s, n in sorted(node.counts.items()))
        title = f"{len(node.members)} steps from {first} to {last}: {counts}"
        attrs = f' data-step-group="{len(node.members)}" href="{escape(group_href(node.members))}"'
    else:
        step_id = node.members[0]
        label = shorten(step_id, 19 if has_icon else 23)
        detail = KIND_LABELS.get(node.kind, node.kind) + (
            f" · {node.detail}" if node.detail else ""
        )
        title = f"{step_id} ({KIND_LABELS.get(node.kind, node.kind)}, {node.status})"
        attrs = f' data-step-id="{escape(step_id)}" data-swap href="{escape(step_href(step_id))}"'
    classes = f"node kind-{node.kind} st-{node.status}"
    if selected is not None and not node.is_group and node.members[0] == selected:
        classes += " selected"
    return (
        f'<a class="{escape(classes)}"{attrs}><title>{escape(title)}</title>'
        f"{shape(node)}{icon(node)}"
        f'<text class="label" x="{text_x:.1f}" y="{node.y - 3:.1f}">{escape(label)}</text>'
        f'<text class="detail" x="{text_x:.1f}" y="{node.y + 13:.1f}">'
        f"{escape(shorten(detail, 28))}</text></a>"
    )
