"""The UCI Online Retail data (UK gift shop, 2010-12 to 2011-12) as canonical records.

Rules (the tests' independent figures follow them): rows without a CustomerID (guests) are
left out; each customer becomes a `web` customer record; an invoice becomes a completed GBP
order of its lines with quantity > 0 and price > 0 (line amount = quantity × price, rounded
half up to the penny); an invoice starting with `C` is a cancellation and becomes a refund of
its amount against that customer's latest order at or before it that shares a stock code,
else their latest order; a cancellation with no earlier order is left out. Naive times are
UK wall time: import into a tenant whose zone is Europe/London.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import IO, Any

import orjson
import pyarrow.parquet as pq

PENNY = Decimal("0.01")


@dataclass
class RetailSummary:
    customers: int = 0
    orders: int = 0
    refunds: int = 0
    skipped_guest_rows: int = 0
    skipped_cancellations: int = 0


def _invoices(path: Path, limit: int | None) -> Iterator[list[dict[str, Any]]]:
    """Rows grouped by invoice (the file is ordered by time, then invoice)."""
    current: list[dict[str, Any]] = []
    seen = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=50_000):
        for row in batch.to_pylist():
            if limit is not None and seen >= limit:
                break
            seen += 1
            if current and row["InvoiceNo"] != current[0]["InvoiceNo"]:
                yield current
                current = []
            current.append(row)
    if current:
        yield current


def convert_online_retail(*, parquet: Path, out: Path, limit: int | None = None) -> RetailSummary:
    """Write the first `limit` rows (all by default) as canonical JSONL to `out`."""
    summary = RetailSummary()
    known: set[str] = set()
    history: dict[str, list[tuple[str, str, set[str]]]] = defaultdict(list)
    with out.open("wb") as handle:
        for rows in _invoices(parquet, limit):
            if rows[0]["CustomerID"] is None:
                summary.skipped_guest_rows += len(rows)
                continue
            customer = str(int(rows[0]["CustomerID"]))
            if customer not in known:
                known.add(customer)
                _write(handle, _customer(customer, rows[0]))
                summary.customers += 1
            invoice = str(rows[0]["InvoiceNo"])
            at = rows[0]["InvoiceDate"].isoformat()
            if invoice.startswith("C"):
                refund = _refund(invoice, at, rows, history[customer])
                if refund is None:
                    summary.skipped_cancellations += 1
                else:
                    _write(handle, refund)
                    summary.refunds += 1
                continue
            order = _order(invoice, customer, at, rows)
            if order is not None:
                _write(handle, order)
                history[customer].append((invoice, at, {str(r["StockCode"]) for r in rows}))
                summary.orders += 1
    return summary


def _amount(row: dict[str, Any]) -> Decimal:
    price = Decimal(str(row["UnitPrice"]))
    return (price * abs(int(row["Quantity"]))).quantize(PENNY, rounding=ROUND_HALF_UP)


def _customer(customer: str, row: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "customer",
        "source": "web",
        "external_id": customer,
        "attributes": {"country": row["Country"]},
    }


def _order(
    invoice: str, customer: str, at: str, rows: list[dict[str, Any]]
) -> dict[str, Any] | None:
    lines = [r for r in rows if r["Quantity"] > 0 and r["UnitPrice"] > 0]
    if not lines:
        return None
    items = [
        {
            "sku": str(r["StockCode"]),
            "product_name": r["Description"],
            "quantity": int(r["Quantity"]),
            "amount": str(_amount(r)),
        }
        for r in lines
    ]
    total = sum((_amount(r) for r in lines), Decimal("0.00"))
    return {
        "kind": "order",
        "source": "web",
        "order_id": invoice,
        "customer_ref": {"external_id": customer},
        "status": "completed",
        "created_at": at,
        "currency": "GBP",
        "total_amount": str(total),
        "paid_amount": str(total),
        "items": items,
    }


def _refund(
    invoice: str, at: str, rows: list[dict[str, Any]], earlier: list[tuple[str, str, set[str]]]
) -> dict[str, Any] | None:
    candidates = [entry for entry in earlier if entry[1] <= at]
    if not candidates:
        return None
    codes = {str(r["StockCode"]) for r in rows}
    sharing = [entry for entry in candidates if entry[2] & codes]
    target = (sharing or candidates)[-1][0]
    return {
        "kind": "refund",
        "source": "web",
        "refund_id": invoice,
        "order_id": target,
        "amount": str(sum((_amount(r) for r in rows), Decimal("0.00"))),
        "created_at": at,
    }


def _write(handle: IO[bytes], record: dict[str, Any]) -> None:
    handle.write(orjson.dumps(record) + b"\n")
