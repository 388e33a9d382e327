"""The edges of a run's graph: which steps each new step directly followed.

Every step remembers its predecessors (``Step.after``). In one task, that is the step awaited
just before. Steps started by ``asyncio.gather`` or a ``TaskGroup`` run in child tasks; when the
parent calls its next step after they finish (the join), that step follows the last step of
every child branch. To know which task spawned which, a task factory records each task's
parent while a pass is tracking it; tasks outside passes are left alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


class Node:
    __slots__ = ("__weakref__", "children", "did_step", "done", "frontier")

    def __init__(self, frontier: list[str]) -> None:
        self.frontier = frontier
        self.children: list[Node] = []
        self.did_step = False
        self.done = False

    def active(self) -> bool:
        return self.did_step or any(child.active() for child in self.children)

    def effective(self) -> list[str]:
        joined = [child for child in self.children if child.done and child.active()]
        if joined:
            return _union(child.effective() for child in joined)
        return self.frontier


def _union(groups: Any) -> list[str]:
    merged: dict[str, None] = {}
    for group in groups:
        merged.update(dict.fromkeys(group))
    return list(merged)


# The node of every tracked task that has not ended; a task leaves it when it ends (a pass
# cancels its workflow and step tasks when it ends, so they do). A plain dict, not a
# WeakKeyDictionary: two lookups a step, and a weak reference made for each cost about 2 µs a
# step (sequential steps, docs/performance.md).
_nodes: dict[asyncio.Task[Any], Node] = {}


def _forget(task: asyncio.Task[Any]) -> None:
    node = _nodes.pop(task, None)
    if node is not None:
        node.done = True


def _tracking_factory(previous: Any) -> Any:
    def factory(
        loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
    ) -> asyncio.Task[Any]:
        if previous is not None:
            task: asyncio.Task[Any] = previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        parent = asyncio.current_task(loop)
        parent_node = _nodes.get(parent) if parent is not None else None
        if parent_node is not None:
            child = Node(list(parent_node.frontier))
            parent_node.children.append(child)
            _nodes[task] = child
            task.add_done_callback(_forget)
        return task

    factory.durablex_tracking = True  # type: ignore[attr-defined]
    return factory


def install(loop: asyncio.AbstractEventLoop) -> None:
    """Install the parent-recording task factory on ``loop`` (once; chains any previous one)."""
    current = loop.get_task_factory()
    if getattr(current, "durablex_tracking", False):
        return
    loop.set_task_factory(_tracking_factory(current))


def track_root(task: asyncio.Task[Any]) -> None:
    _nodes[task] = Node([])
    task.add_done_callback(_forget)


def before_step() -> list[str]:
    """The predecessors of a step about to start in the current task."""
    task = asyncio.current_task()
    node = _nodes.get(task) if task is not None else None
    if node is None:
        return []
    joined = [child for child in node.children if child.done]
    if not joined:
        return list(node.frontier)
    node.children = [child for child in node.children if not child.done]
    contributing = [child for child in joined if child.active()]
    if not contributing:
        return list(node.frontier)
    return _union(child.effective() for child in contributing)


def after_step(step_id: str) -> None:
    task = asyncio.current_task()
    node = _nodes.get(task) if task is not None else None
    if node is not None:
        node.frontier = [step_id]
        node.did_step = True
