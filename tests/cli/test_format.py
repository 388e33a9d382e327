"""Terminal rendering: the graph as an indented tree, tables, and colours only where wanted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from click.testing import CliRunner

from durablex.cli.format import format_run, format_runs, graph, table
from durablex.records import Run, Step

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def step(step_id: str, *after: str, kind: str = "run", status: str = "completed") -> Step:
    return Step(
        id=step_id,
        kind=kind,
        status=status,
        attempts=1,
        input=None,
        output=None,
        error=None,
        started_at=T0,
        ended_at=T0 + timedelta(milliseconds=12),
        after=list(after),
    )


def run(*steps: Step, status: str = "completed") -> Run:
    return Run(
        id="01RUN",
        workflow="order",
        app="shop",
        status=status,
        input={"a": 1},
        output={"ok": True},
        error=None,
        parent_run_id=None,
        warnings=["step id 'x' was used more than once"],
        created_at=T0,
        ended_at=T0 + timedelta(seconds=3),
        steps=list(steps),
    )


def test_a_sequential_chain_stays_flat() -> None:
    steps = [step("s0")] + [step(f"s{n}", f"s{n - 1}") for n in range(1, 50)]
    assert all(not line.startswith(" ") for line in click.unstyle(graph(steps)).splitlines())


def test_forks_indent_and_joins_come_back() -> None:
    steps = [
        step("validate"),
        step("charge", "validate"),
        step("reserve", "validate"),
        step("reserve-2", "reserve"),
        step("a", "reserve-2"),
        step("b", "reserve-2"),
        step("ab", "a", "b"),
        step("ship", "charge", "ab", kind="sleep"),
    ]
    assert click.unstyle(graph(steps)).splitlines() == [
        "validate [run, completed]",
        "  charge [run, completed]",
        "  reserve [run, completed]",
        "  reserve-2 [run, completed]",
        "    a [run, completed]",
        "    b [run, completed]",
        "  ab [run, completed]  (after a, b)",
        "ship [sleep, completed]  (after charge, ab)",
    ]


def test_parallel_first_steps_are_roots() -> None:
    steps = [step("user"), step("prefs"), step("merge", "user", "prefs")]
    assert click.unstyle(graph(steps)).splitlines()[0] == "user [run, completed]"
    assert (
        click.unstyle(graph(steps)).splitlines()[2] == "merge [run, completed]  (after user, prefs)"
    )


def test_format_run_has_header_steps_table_and_graph() -> None:
    text = click.unstyle(format_run(run(step("a"), step("b", "a", kind="sleep"))))
    assert "status    completed" in text
    assert "warning   step id 'x' was used more than once" in text
    header = next(line for line in text.splitlines() if line.startswith("STEP"))
    assert header.split() == ["STEP", "KIND", "STATUS", "ATTEMPTS", "STARTED", "DURATION"]
    assert any(line.split()[:4] == ["b", "sleep", "completed", "1"] for line in text.splitlines())
    assert "12.0ms" in text
    assert text.rstrip().endswith("graph\na [run, completed]\nb [sleep, completed]")


def test_tables_align_on_plain_text_and_colour_statuses() -> None:
    rows = [["r1", "failed", "x"], ["r22", "completed", "y"]]
    styled = table(
        ["RUN", "STATUS", "WHAT"], rows, {1: lambda raw, cell: click.style(cell, fg="red")}
    )
    plain = click.unstyle(styled).splitlines()
    assert plain == ["RUN  STATUS     WHAT", "r1   failed     x", "r22  completed  y"]
    assert "\x1b[31m" in styled


def test_colour_only_on_a_terminal_and_never_with_no_color() -> None:
    listing = format_runs([run(status="failed")])
    assert "\x1b[" in listing

    @click.command()
    def show() -> None:
        from durablex.cli.output import echo

        echo(listing)

    assert "\x1b[" in CliRunner().invoke(show, color=True).output
    assert "\x1b[" not in CliRunner().invoke(show, color=False).output
    no_color = CliRunner(env={"NO_COLOR": "1"}).invoke(show, color=True).output
    assert "\x1b[" not in no_color and "failed" in no_color
