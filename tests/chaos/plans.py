"""The random plans of ``chaos`` runs, shared by the driver and by the runner processes that
start runs beside themselves (``chaos_app.py --beside-until``), and the total a plan implies."""

from __future__ import annotations

import random
from typing import Any


def make_plan(rng: random.Random, *, top: bool) -> list[dict[str, Any]]:
    kinds = ["step", "par", "sleep", "retry", "emit"] + (["wait", "child"] if top else [])
    weights = [5, 2, 2, 1, 1] + ([3, 1] if top else [])
    plan: list[dict[str, Any]] = []
    for _ in range(rng.randint(2, 6) if top else rng.randint(1, 3)):
        kind = rng.choices(kinds, weights)[0]
        if kind == "step":
            plan.append({"op": "step", "v": rng.randint(1, 99), "ms": rng.choice([0, 0, 5, 40])})
        elif kind == "par":
            op: dict[str, Any] = {
                "op": "par",
                "vs": [rng.randint(1, 99) for _ in range(rng.randint(2, 5))],
                "ms": rng.choice([0, 10, 30]),
            }
            if rng.random() < 0.3:
                op["nap"] = rng.randint(10, 400)
            plan.append(op)
        elif kind == "sleep":
            plan.append({"op": "sleep", "ms": rng.choice([0, 20, 100, 300, 800])})
        elif kind == "retry":
            plan.append(
                {
                    "op": "retry",
                    "v": rng.randint(1, 99),
                    "fails": rng.randint(1, 2),
                    "how": rng.choice(["after", "exc"]),
                }
            )
        elif kind == "emit":
            plan.append({"op": "emit", "v": rng.randint(1, 99)})
        elif kind == "wait":
            plan.append({"op": "wait", "timeout_ms": rng.randint(300, 2500)})
        else:
            plan.append({"op": "child", "plan": make_plan(rng, top=False)})
    return plan


def plan_total(plan: list[dict[str, Any]]) -> int:
    total = 0
    for op in plan:
        if op["op"] in ("step", "retry"):
            total += op["v"]
        elif op["op"] == "par":
            total += sum(op["vs"])
        elif op["op"] == "child":
            total += plan_total(op["plan"])
    return total
