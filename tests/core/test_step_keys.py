"""Property tests for the keys a pass gives step ids (``RunPass._key_for``): the dedupe rule
that numbers repeated ids ``id:2``, ``id:3``, ... in call order.

Replay depends on these keys: the same calls in the same order must give the same keys in
every pass, a later call must never change the key of an earlier one, and no two calls of one
pass may share a key, whatever ids the workflow uses (including ids that look numbered).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from durablex.app import WorkflowSpec
from durablex.core.clock import ManualClock
from durablex.runtime.execution import RunPass
from durablex.store.base import ClaimedRun


class WarningSink:
    """The one store call ``_key_for`` makes: record the warnings."""

    def __init__(self) -> None:
        self.warnings: list[str] = []

    def add_warning_nowait(self, run_id: str, fence: int, warning: str) -> Future[None]:
        self.warnings.append(warning)
        done: Future[None] = Future()
        done.set_result(None)
        return done


async def _never(ctx: Any) -> None:
    raise AssertionError("not called")


def keys_for(ids: list[str], warnings: tuple[str, ...] = ()) -> tuple[list[str], WarningSink]:
    sink = WarningSink()
    run_pass = RunPass(
        store=sink,  # type: ignore[arg-type]
        claimed=ClaimedRun(
            id="run",
            app="a",
            workflow="w",
            fence=1,
            input=None,
            event_id="e",
            event_name="durablex/workflow.invoked",
            event_ts_us=0,
            parent_run_id=None,
            warnings=warnings,
            created_at_us=0,
        ),
        spec=WorkflowSpec("a", "w", _never, (), 0, 1000.0, 1000.0),
        rows=[],
        clock=ManualClock(0),
        executor=EXECUTOR,
        max_payload_bytes=1 << 20,
    )
    return [run_pass._key_for(step_id) for step_id in ids], sink


EXECUTOR = ThreadPoolExecutor(1)
# few distinct ids, some of which look like generated keys, so that collisions are likely
step_ids = st.lists(
    st.sampled_from(["a", "b", "a:2", "a:3", "b:2", "a:2:2", "x:1", ":", "a:"]), max_size=30
)
any_ids = st.lists(st.text(min_size=1, max_size=8), max_size=30)


@given(st.one_of(step_ids, any_ids))
def test_keys_are_unique_and_name_their_id(ids: list[str]) -> None:
    keys, _ = keys_for(ids)
    assert len(set(keys)) == len(keys)
    for step_id, key in zip(ids, keys, strict=True):
        assert key == step_id or key.startswith(step_id + ":")
        suffix = key[len(step_id) + 1 :]
        assert key == step_id or (suffix.isdigit() and int(suffix) >= 2)


@given(st.one_of(step_ids, any_ids))
def test_the_same_calls_give_the_same_keys_in_every_pass(ids: list[str]) -> None:
    assert keys_for(ids)[0] == keys_for(ids)[0]


@given(st.one_of(step_ids, any_ids), st.one_of(step_ids, any_ids))
def test_later_calls_never_change_earlier_keys(ids: list[str], more: list[str]) -> None:
    assert keys_for(ids + more)[0][: len(ids)] == keys_for(ids)[0]


@given(st.one_of(step_ids, any_ids))
def test_the_first_call_of_an_id_keeps_it_unless_taken(ids: list[str]) -> None:
    keys, _ = keys_for(ids)
    taken: set[str] = set()
    seen: set[str] = set()
    for step_id, key in zip(ids, keys, strict=True):
        if step_id not in seen and step_id not in taken:
            assert key == step_id
        seen.add(step_id)
        taken.add(key)


@given(st.one_of(step_ids, any_ids))
def test_one_true_warning_per_repeated_or_colliding_id(ids: list[str]) -> None:
    keys, sink = keys_for(ids)
    repeated = {step_id for step_id in ids if ids.count(step_id) > 1}
    # ids whose first call found their own name taken by an earlier repeated step's key
    collided = {
        s for i, (s, k) in enumerate(zip(ids, keys, strict=True)) if s not in ids[:i] and k != s
    }
    said_repeated = [w for w in sink.warnings if "was used more than once" in w]
    said_collided = [w for w in sink.warnings if "is also the key of a repeated step" in w]
    assert len(said_repeated) == len(repeated) and len(said_collided) == len(collided)
    assert all(any(repr(r) in w for w in said_repeated) for r in repeated)
    assert all(any(repr(c) in w for w in said_collided) for c in collided)
    assert len(sink.warnings) == len(repeated) + len(collided)
    # a warning already stored with the run is not written again by a later pass
    _, again = keys_for(ids, warnings=tuple(sink.warnings))
    assert again.warnings == []


def test_numbering_follows_call_order() -> None:
    assert keys_for(["a", "a", "a", "b", "a"])[0] == ["a", "a:2", "a:3", "b", "a:4"]
    # a user id that looks numbered does not collide with a generated key, in either order
    assert keys_for(["a:2", "a", "a"])[0] == ["a:2", "a", "a:3"]
    assert keys_for(["a", "a", "a:2"])[0] == ["a", "a:2", "a:2:2"]
