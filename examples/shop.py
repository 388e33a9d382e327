"""An order workflow that uses every kind of step.

Run it with ``durablex dev examples/shop.py``, then, in another terminal::

    durablex send order.created --data '{"order_id": 42, "amount": 250, "items": ["book", "pen"]}'
    durablex send order.approved --data '{"order_id": 42, "by": "alice"}'
    durablex runs
    durablex show <run id>
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from datetime import UTC, datetime, timedelta

import durablex

app = durablex.App("shop")

APPROVAL_THRESHOLD = 100


def charge_card(order_id: int, amount: int) -> dict[str, object]:
    """Stands in for a payment API: a plain function, so it runs in a worker thread."""
    time.sleep(0.05)
    token = hashlib.sha256(f"{order_id}:{amount}".encode()).hexdigest()[:12]
    return {"charge_id": f"ch_{token}", "amount": amount}


async def reserve(item: str) -> dict[str, object]:
    await asyncio.sleep(0.02)
    return {"item": item, "reserved": True}


@app.workflow("order.process", on="order.created", retries=3, backoff="1s")
async def process_order(ctx: durablex.Context) -> dict[str, object]:
    order = ctx.data
    order_id = order["order_id"]

    checked = await ctx.step.run(
        "validate",
        {"order_id": order_id, "amount": order["amount"], "items": order.get("items", [])},
        lambda o: {"ok": o["amount"] > 0 and bool(o["items"]), "items": len(o["items"])},
    )
    if not checked["ok"]:
        return {"order_id": order_id, "status": "rejected"}

    # Independent steps run together: one pass starts them all.
    reservations = await asyncio.gather(
        *(
            ctx.step.run(f"reserve-{item}", lambda item=item: reserve(item))
            for item in order["items"]
        )
    )

    verdict = await ctx.step.run_workflow(
        "fraud-check", name="fraud.check", data={"order_id": order_id, "amount": order["amount"]}
    )
    if verdict["risk"] == "high":
        await ctx.step.emit("flag", name="order.flagged", data={"order_id": order_id})
        return {"order_id": order_id, "status": "flagged"}

    if order["amount"] > APPROVAL_THRESHOLD:
        approval = await ctx.step.wait_for_event(
            "await-approval", event="order.approved", timeout="1h", match={"order_id": order_id}
        )
        if approval is None:
            return {"order_id": order_id, "status": "expired"}

    charge = await ctx.step.run("charge", lambda: charge_card(order_id, order["amount"]))
    await ctx.step.sleep("wait-for-settlement", "3s")
    ship_at = await ctx.step.run(
        "plan-shipping", lambda: (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    )
    await ctx.step.sleep_until("hold-until-pickup", ship_at)
    shipment = await ctx.step.run(
        "ship", {"charge": charge}, lambda inp: {"tracking": "TRK" + inp["charge"]["charge_id"][3:]}
    )
    await ctx.step.emit("notify", name="order.shipped", data={"order_id": order_id, **shipment})
    return {
        "order_id": order_id,
        "status": "shipped",
        "reserved": len(reservations),
        "charge": charge,
        "shipment": shipment,
    }


@app.workflow("fraud.check", retries=1)
async def fraud_check(ctx: durablex.Context) -> dict[str, str]:
    score = await ctx.step.run("score", lambda: (ctx.data["amount"] * 7) % 100)
    return {"risk": "high" if score > 95 else "low"}


@app.workflow("customer.notify", on="order.shipped")
async def notify_customer(ctx: durablex.Context) -> dict[str, object]:
    sent = await ctx.step.run(
        "send-email", lambda: {"to": f"customer-{ctx.data['order_id']}", "sent": True}
    )
    return sent
