"""The pure parts of the console: graph layout, timeline layout, formatting."""

from __future__ import annotations

from durablex.server.console import format as fmt
from durablex.server.console import graph, timeline
from durablex.server.console.graph import StepNode, layout_graph


def chain(n: int, prefix: str = "s") -> list[StepNode]:
    return [
        StepNode(f"{prefix}{i}", "run", "completed", (f"{prefix}{i - 1}",) if i else ())
        for i in range(n)
    ]


def by_id(layout: graph.Layout) -> dict[str, graph.Node]:
    return {n.step_id: n for n in layout.nodes if n.step_id is not None}


def test_topological_order_puts_predecessors_first_and_survives_cycles() -> None:
    steps = [StepNode("b", "run", "completed", ("a",)), StepNode("a", "run", "completed")]
    assert graph.topological_order(steps) == [1, 0]
    cyclic = [StepNode("x", "run", "completed", ("y",)), StepNode("y", "run", "completed", ("x",))]
    assert sorted(graph.topological_order(cyclic)) == [0, 1]


def test_sequential_steps_form_one_straight_column() -> None:
    layout = layout_graph(chain(5))
    nodes = by_id(layout)
    assert {round(n.x) for n in nodes.values()} == {round(nodes["s0"].x)}
    assert [nodes[f"s{i}"].layer for i in range(5)] == [0, 1, 2, 3, 4]
    assert len(layout.edges) == 4
    assert layout.grouped_steps == 0


def test_fork_spreads_symmetrically_and_join_centres_below() -> None:
    steps = [
        StepNode("start", "run", "completed"),
        StepNode("left", "run", "completed", ("start",)),
        StepNode("nap", "sleep", "completed", ("start",)),
        StepNode("right", "run", "completed", ("start",)),
        StepNode("join", "run", "completed", ("left", "nap", "right")),
    ]
    nodes = by_id(layout_graph(steps))
    xs = sorted(nodes[k].x for k in ("left", "nap", "right"))
    assert xs[0] < xs[1] < xs[2]
    assert abs((xs[0] + xs[2]) / 2 - nodes["start"].x) < 1
    assert abs(nodes["join"].x - nodes["start"].x) < 1
    assert nodes["nap"].layer == 1 and nodes["join"].layer == 2
    # no two nodes of a layer overlap
    assert xs[1] - xs[0] >= graph.NODE_W and xs[2] - xs[1] >= graph.NODE_W


def test_an_edge_spanning_layers_bends_through_virtual_points() -> None:
    steps = [
        StepNode("a", "run", "completed"),
        StepNode("long1", "run", "completed", ("a",)),
        StepNode("long2", "run", "completed", ("long1",)),
        StepNode("short", "run", "completed", ("a",)),
        StepNode("join", "run", "completed", ("long2", "short")),
    ]
    layout = layout_graph(steps)
    nodes = by_id(layout)
    edge = next(
        e for e in layout.edges if (e.source, e.target) == (nodes["short"].key, nodes["join"].key)
    )
    assert len(edge.points) == 4  # bottom of short, through one virtual node, top of join
    path = graph.edge_path(edge.points)
    assert path.startswith("M") and "C" in path and "L" in path


def test_long_chains_collapse_into_a_group_with_head_and_tail() -> None:
    layout = layout_graph(chain(40))
    groups = [n for n in layout.nodes if n.is_group]
    assert len(groups) == 1
    assert groups[0].members == tuple(f"s{i}" for i in range(3, 37))
    assert layout.grouped_steps == 34
    assert len(layout.nodes) == 7


def test_wide_layers_keep_their_first_nodes_and_group_the_rest() -> None:
    steps = [StepNode("root", "run", "completed")]
    steps += [StepNode(f"p{i}", "run", "completed", ("root",)) for i in range(100)]
    steps.append(StepNode("end", "run", "failed", tuple(f"p{i}" for i in range(100))))
    layout = layout_graph(steps)
    layer1 = [n for n in layout.nodes if n.layer == 1]
    assert len(layer1) == graph.WIDTH_LIMIT
    group = next(n for n in layer1 if n.is_group)
    assert len(group.members) == 100 - graph.WIDTH_LIMIT + 1
    assert by_id(layout)["end"].status == "failed"


def test_a_deep_graph_is_paged_by_layers() -> None:
    steps: list[StepNode] = []
    prev: tuple[str, ...] = ()
    for i in range(300):  # fork/join pairs: nothing collapses
        a, b, j = f"a{i}", f"b{i}", f"j{i}"
        steps += [
            StepNode(a, "run", "completed", prev),
            StepNode(b, "run", "completed", prev),
            StepNode(j, "run", "completed", (a, b)),
        ]
        prev = (j,)
    first = layout_graph(steps)
    assert first.layer_count == 600
    assert (first.first_layer, first.last_layer) == (0, graph.LAYER_PAGE)
    assert max(n.layer for n in first.nodes) == graph.LAYER_PAGE - 1
    last = layout_graph(steps, first_layer=590)
    assert (last.first_layer, last.last_layer) == (590, 600)


def test_a_2000_step_graph_stays_small() -> None:
    steps = chain(1200)
    steps += [StepNode(f"p{i}", "run", "completed", ("s1199",)) for i in range(800)]
    layout = layout_graph(steps)
    assert len(layout.nodes) <= 20
    assert layout.width < 3000 and layout.height < 2000


def test_empty_graph() -> None:
    assert layout_graph([]).nodes == []


def test_tick_steps_are_round() -> None:
    assert timeline.tick_step(0.7) == 0.1
    assert timeline.tick_step(5.3) == 1
    assert timeline.tick_step(400) == 60
    assert timeline.tick_label(0) == "0"
    assert timeline.tick_label(0.25) == "+250ms"
    assert timeline.tick_label(150) == "+2m 30s"


def test_timeline_rows_share_one_axis_and_show_attempts_and_waits() -> None:
    steps = [
        timeline.TimelineStep("a", "run", "completed", 0.0, 1.0),
        timeline.TimelineStep("b", "run", "completed", 1.0, 3.0),
        timeline.TimelineStep("c", "run", "completed", 1.0, 2.0),
        timeline.TimelineStep(
            "retry",
            "run",
            "completed",
            3.0,
            6.0,
            attempts=(timeline.Span(3.0, 3.5, True), timeline.Span(5.0, 6.0)),
        ),
        timeline.TimelineStep("nap", "sleep", "sleeping", 6.0, None, wake=10.0),
    ]
    layout = timeline.layout_timeline(steps, 10.0, now=7.0)
    rows = {r.step_id: r for r in layout.rows}
    scale = timeline.PLOT_W / 10.0
    b, c = rows["b"].segments[0], rows["c"].segments[0]
    assert b.x == c.x  # parallel steps overlap
    assert abs(b.width - 2 * scale) < 1e-6
    classes = [s.cls for s in rows["retry"].segments]
    assert classes == ["span", "attempt failed", "attempt st-completed"]
    nap = [s.cls for s in rows["nap"].segments]
    assert nap == ["wait st-sleeping", "planned"]
    assert layout.now_x is not None
    assert len({r.y for r in layout.rows}) == len(steps)


def test_zero_length_steps_stay_visible() -> None:
    layout = timeline.layout_timeline(
        [timeline.TimelineStep("emit", "emit", "completed", 1.0, 1.0)], 2.0
    )
    assert layout.rows[0].segments[0].width == timeline.MIN_BAR


def test_formatting() -> None:
    assert fmt.format_duration(0.0004) == "400µs"
    assert fmt.format_duration(0.25) == "250ms"
    assert fmt.format_duration(3.5) == "3.50s"
    assert fmt.format_duration(125) == "2m 05s"
    assert fmt.format_duration(7300) == "2h 01m"
    assert fmt.shorten("abcdefghij", 5) == "ab…ij"
    big = fmt.payload({"x": "y" * 20_000})
    assert big.cut and len(big.text) == fmt.PAYLOAD_LIMIT and big.size > 20_000
    assert not fmt.payload({"x": 1}).cut
    assert fmt.preview("z" * 500).endswith("…")
    assert fmt.error_summary({"type": "ValueError", "message": "bad"}) == "ValueError: bad"
