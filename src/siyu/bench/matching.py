"""Probabilistic matching against the demo's ground truth: pairwise precision, recall, F1.

Customer records are the unit: a pair of records is predicted to match when they share a
OneID, and truly matches when truth.csv gives them the same person. Measured for strong
identifiers alone (the store as imported), for matching at several acceptance thresholds
(simulated: clusters of persons joined while their pooled match probability reaches the
threshold, as a run does), and for the real run at the tenant's threshold through the
identity machinery (guards, replays).
"""

from __future__ import annotations

import csv
import tempfile
import time
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from siyu import identity, ingest
from siyu.bench.ingest import machine
from siyu.demo.generator import generate_demo
from siyu.identity.matching.decide import cluster, person_pairs
from siyu.identity.matching.graph import components
from siyu.store import open_store
from siyu.tenants import get_tenant

THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)
Ref = tuple[str, str]  # (source, external_id) of a customer record


@dataclass(frozen=True)
class Pairwise:
    precision: float
    recall: float
    f1: float
    persons: int  # distinct predicted persons

    def row(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "persons": self.persons,
        }


def pairwise(predicted: Mapping[Ref, Hashable], truth: Mapping[Ref, str]) -> Pairwise:
    """Pairwise scores of a partition of records against the true persons."""
    refs = [ref for ref in predicted if ref in truth]
    both = Counter((predicted[r], truth[r]) for r in refs)
    mine = Counter(predicted[r] for r in refs)
    real = Counter(truth[r] for r in refs)
    true_pos, pred_pos, real_pos = (
        _pairs(both.values()),
        _pairs(mine.values()),
        _pairs(real.values()),
    )
    precision = true_pos / pred_pos if pred_pos else 1.0
    recall = true_pos / real_pos if real_pos else 1.0
    f1 = 2 * true_pos / (pred_pos + real_pos) if pred_pos + real_pos else 1.0
    return Pairwise(precision, recall, f1, len(mine))


def _pairs(sizes: Iterable[int]) -> int:
    return sum(n * (n - 1) // 2 for n in sizes)


def read_truth(path: Path) -> dict[Ref, str]:
    """Customer records' true persons from a truth.csv (kind,source,record_id,person)."""
    with path.open(newline="", encoding="utf-8") as handle:
        return {
            (row["source"], row["record_id"]): row["person"]
            for row in csv.DictReader(handle)
            if row["kind"] == "customer"
        }


def joined(base: Mapping[Ref, str], pairs: Sequence[tuple[str, str]]) -> dict[Ref, str]:
    """The partition after joining the persons of every pair."""
    root = components(pairs)
    return {ref: root.get(oneid, oneid) for ref, oneid in base.items()}


def run_matching_bench(
    *,
    persons: int,
    truth: Path | None,
    database_url: str | None,
    work_dir: Path | None,
    seed: int = 7,
    thresholds: Sequence[float] = THRESHOLDS,
) -> dict[str, Any]:
    """Score the demo brand (generated and imported here unless `truth` is given for the
    store at `database_url`), then evaluate strong identifiers alone, thresholds, and the
    real merge at the tenant's accept threshold."""
    base = work_dir or Path(tempfile.mkdtemp(prefix="siyu-bench-matching-"))
    base.mkdir(parents=True, exist_ok=True)
    url = database_url or f"sqlite:///{base / 'bench.db'}"
    store = open_store(url)
    result: dict[str, Any] = {"benchmark": "matching", "store": url.split(":")[0]}
    try:
        with store.session() as session:
            tenant = get_tenant(session=session, name="default")
            if truth is None:
                started = time.perf_counter()
                files = generate_demo(out_dir=base / "data", persons=persons, seed=seed)
                ingest.ingest_files(session=session, tenant=tenant, paths=[files.customers])
                result["import_seconds"] = round(time.perf_counter() - started, 2)
                truth = files.truth
                result["persons"] = persons
            true_persons = read_truth(truth)
            strong = _customer_partition(session, tenant)
            result["customer_records"] = len(strong)
            result["true_persons"] = len(set(true_persons.values()))
            result["strong_identifiers"] = pairwise(strong, true_persons).row()
            started = time.perf_counter()
            scored = identity.score_customer_records(session=session, tenant=tenant)
            result["score_seconds"] = round(time.perf_counter() - started, 2)
            result["candidate_pairs"] = scored.candidates
            result["scored_pairs"] = scored.pairs.num_rows
            by_person = person_pairs(scored)
            result["person_pairs"] = len(by_person.oneid_a)
            result["thresholds"] = []
            for threshold in thresholds:
                joins = cluster(
                    by_person, scored.partial, scored.model.prior, accept=threshold
                ).merges
                chosen = [(by_person.oneid_a[m.pair], by_person.oneid_b[m.pair]) for m in joins]
                score = pairwise(joined(strong, chosen), true_persons)
                result["thresholds"].append({"threshold": threshold, **score.row()})
            started = time.perf_counter()
            report = identity.run_matching(session=session, tenant=tenant, actor="bench")
            session.commit()
            result["applied"] = {
                "threshold": tenant.settings.identity.matching.accept_probability,
                **pairwise(_customer_partition(session, tenant), true_persons).row(),
                "merged": report.merged,
                "blocked": report.blocked,
                "review": report.review,
                "seconds": round(time.perf_counter() - started, 2),
            }
    finally:
        store.dispose()
    result["work_dir"] = str(base)
    result["machine"] = machine()
    return result


def _customer_partition(session: Any, tenant: Any) -> dict[Ref, str]:
    return {
        (source, record_id): oneid
        for kind, source, record_id, oneid in identity.iter_identity_map(
            session=session, tenant=tenant
        )
        if kind == "customer"
    }
