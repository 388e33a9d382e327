"""The timeline of a run's steps: one row per step on a time axis shared by the whole run
(pure layout), and its SVG drawing.

Times are seconds since the run's origin. Rows are paged, the axis is not, so every page
compares with the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from durablex.server.console.format import format_duration, shorten

LABEL_W = 230.0
PLOT_W = 860.0
ROW_H = 26.0
AXIS_H = 30.0
PAD = 12.0
MIN_BAR = 2.0
ROW_PAGE = 200

WAIT_KINDS = frozenset({"sleep", "sleep_until", "wait_for_event"})
_TICK_STEPS: tuple[float, ...] = (
    *(m * 10.0**e for e in range(-6, 0) for m in (1, 2, 5)),
    1, 2, 5, 10, 15, 30,
    60, 120, 300, 600, 900, 1800,
    3600, 7200, 10800, 21600, 43200,
    86400, 172800, 604800, 1209600, 2592000, 7776000, 31536000,
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Span:
    """One attempt of a step (or the whole wait of a sleep or wait)."""

    start: float
    end: float | None
    failed: bool = False


@dataclass(frozen=True, slots=True)
class TimelineStep:
    id: str
    kind: str
    status: str
    start: float | None
    end: float | None
    wake: float | None = None
    attempts: tuple[Span, ...] = ()


@dataclass(frozen=True, slots=True)
class Segment:
    x: float
    width: float
    cls: str
    title: str


@dataclass(frozen=True, slots=True)
class Row:
    step_id: str
    kind: str
    status: str
    y: float
    segments: tuple[Segment, ...]
    detail: str


@dataclass(frozen=True, slots=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True, slots=True)
class TimelineLayout:
    rows: list[Row]
    ticks: list[Tick]
    width: float
    height: float
    span: float
    now_x: float | None


def tick_step(span: float, target: int = 8) -> float:
    """A round interval (1, 2 or 5 times a power of ten below a second; then whole seconds,
    minutes, hours and days) giving at most ``target`` ticks over ``span`` seconds."""
    for step in _TICK_STEPS:
        if span / step <= target:
            return step
    return span / target


def tick_label(t: float) -> str:
    """``+250ms``, ``+1.5s``, ``+2m 30s``, ``+1d 6h``."""
    if t <= 0:
        return "0"
    if t < 1:
        return f"+{t * 1000:.6g}ms"
    if t < 60:
        return f"+{t:.6g}s"
    parts: list[str] = []
    rest = round(t)
    for unit, name in ((86400, "d"), (3600, "h"), (60, "m"), (1, "s")):
        if rest >= unit:
            parts.append(f"{rest // unit}{name}")
            rest %= unit
    return "+" + " ".join(parts)


def layout_timeline(
    steps: Sequence[TimelineStep],
    span: float,
    *,
    now: float | None = None,
    plot_width: float = PLOT_W,
) -> TimelineLayout:
    """Rows for ``steps`` over ``[0, span]`` seconds; ``now`` (while the run lives) ends the
    bars of unfinished steps and draws a marker."""
    span = max(span, 1e-3)
    scale = plot_width / span
    x0 = LABEL_W

    def at(t: float) -> float:
        return x0 + min(max(t, 0.0), span) * scale

    def seg(start: float, end: float, cls: str, title: str) -> Segment:
        left, right = at(start), at(end)
        return Segment(left, max(MIN_BAR, right - left), cls, title)

    rows: list[Row] = []
    for i, step in enumerate(steps):
        y = AXIS_H + i * ROW_H
        segments: list[Segment] = []
        open_end = step.end if step.end is not None else now
        if step.start is not None:
            if step.kind in WAIT_KINDS:
                stop = open_end if open_end is not None else step.start
                took = format_duration(stop - step.start)
                segments.append(seg(step.start, stop, f"wait st-{step.status}", f"waited {took}"))
                if step.end is None and step.wake is not None and step.wake > stop:
                    left = format_duration(step.wake - stop)
                    segments.append(seg(stop, step.wake, "planned", f"wakes in {left}"))
            else:
                stop = open_end if open_end is not None else step.start
                if len(step.attempts) > 1:
                    segments.append(seg(step.start, stop, "span", "between attempts"))
                attempts = step.attempts or (Span(step.start, step.end, step.status == "failed"),)
                for n, attempt in enumerate(attempts, 1):
                    end = attempt.end if attempt.end is not None else (now or attempt.start)
                    cls = "attempt failed" if attempt.failed else f"attempt st-{step.status}"
                    if attempt.end is None and not attempt.failed:
                        cls = f"attempt st-{step.status}"
                    took = format_duration(end - attempt.start)
                    outcome = (
                        "failed" if attempt.failed else ("running" if attempt.end is None else "ok")
                    )
                    segments.append(seg(attempt.start, end, cls, f"attempt {n}: {took}, {outcome}"))
        elapsed = (
            (open_end - step.start) if step.start is not None and open_end is not None else None
        )
        detail = format_duration(elapsed) if elapsed is not None else "not started"
        rows.append(Row(step.id, step.kind, step.status, y, tuple(segments), detail))

    step_len = tick_step(span)
    ticks: list[Tick] = []
    n = 0
    while n * step_len <= span * 1.0001 and n < 1000:
        ticks.append(Tick(at(n * step_len), tick_label(n * step_len)))
        n += 1
    return TimelineLayout(
        rows=rows,
        ticks=ticks,
        width=x0 + plot_width + 64,
        height=AXIS_H + len(steps) * ROW_H + PAD,
        span=span,
        now_x=at(now) if now is not None and 0 <= now <= span else None,
    )


_PATTERNS = (
    "<defs>"
    + "".join(
        f'<pattern id="hatch-{name}" width="6" height="6" patternUnits="userSpaceOnUse"'
        f' patternTransform="rotate(45)"><rect class="hatch-{name}-bg" width="6" height="6"/>'
        f'<line class="hatch-{name}-line" x1="0" y1="0" x2="0" y2="6"/></pattern>'
        for name in ("sleep", "wait")
    )
    + "</defs>"
)


def render_svg(
    layout: TimelineLayout, step_href: Callable[[str], str], selected: str | None = None
) -> Markup:
    """The timeline as an inline SVG element."""
    w, h = f"{layout.width:.0f}", f"{layout.height:.0f}"
    top, bottom = AXIS_H - 6, layout.height - PAD
    out = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}"'
        f' viewBox="0 0 {w} {h}" role="img" aria-label="Timeline of the steps">{_PATTERNS}'
        '<g class="axis">'
    ]
    for tick in layout.ticks:
        out.append(
            f'<line class="tick" x1="{tick.x:.1f}" y1="{top:.1f}" x2="{tick.x:.1f}"'
            f' y2="{bottom:.1f}"/><text class="tick-label" x="{tick.x:.1f}" y="{top - 6:.1f}">'
            f"{escape(tick.label)}</text>"
        )
    out.append('</g><g class="rows">')
    for i, row in enumerate(layout.rows):
        out.append(_row(row, i, layout.width, step_href, selected))
    out.append("</g>")
    if layout.now_x is not None:
        out.append(
            f'<line class="now" x1="{layout.now_x:.1f}" y1="{top:.1f}" x2="{layout.now_x:.1f}"'
            f' y2="{bottom:.1f}"/>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def _row(
    row: Row, index: int, width: float, step_href: Callable[[str], str], selected: str | None
) -> str:
    classes = f"tl-row kind-{row.kind} st-{row.status}" + (" alt" if index % 2 else "")
    if row.step_id == selected:
        classes += " selected"
    parts = [
        f'<a class="{escape(classes)}" data-step-id="{escape(row.step_id)}" data-swap'
        f' href="{escape(step_href(row.step_id))}">'
        f"<title>{escape(row.step_id)} ({escape(row.kind)}, {escape(row.status)},"
        f" {escape(row.detail)})</title>"
        f'<rect class="row-bg" x="0" y="{row.y:.1f}" width="{width:.0f}" height="{ROW_H:.0f}"/>'
        f'<text class="row-label" x="{PAD:.0f}" y="{row.y + ROW_H / 2 + 4:.1f}">'
        f"{escape(shorten(row.step_id, 30))}</text>"
    ]
    for s in row.segments:
        thin = s.cls == "span"
        y = row.y + (ROW_H / 2 - 1 if thin else 5)
        h = 2 if thin else ROW_H - 10
        parts.append(
            f'<rect class="seg {escape(s.cls)}" x="{s.x:.1f}" y="{y:.1f}" width="{s.width:.1f}"'
            f' height="{h:.0f}" rx="{0 if thin else 3}"><title>{escape(s.title)}</title></rect>'
        )
    if row.segments:
        end = max(s.x + s.width for s in row.segments)
        start = min(s.x for s in row.segments)
        y = row.y + ROW_H / 2 + 4
        if end + 56 < width:
            parts.append(f'<text class="bar-label" x="{end + 6:.1f}" y="{y:.1f}">')
        else:
            parts.append(f'<text class="bar-label end" x="{start - 6:.1f}" y="{y:.1f}">')
        parts.append(f"{escape(row.detail)}</text>")
    parts.append("</a>")
    return "".join(parts)
