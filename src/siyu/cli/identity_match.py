"""`siyu identity match`, `siyu identity review ...` and `siyu bench matching`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from siyu import identity
from siyu.cli.common import console, fail, options, print_json, runtime

review_app = typer.Typer(
    help="Probable matches waiting for a decision (accept merges, reject keeps apart).",
    no_args_is_help=True,
)


def match_command(
    accept: Annotated[
        float | None, typer.Option(help="merge at this match probability (default: tenant's)")
    ] = None,
    review: Annotated[
        float | None, typer.Option(help="queue for review from here (default: tenant's)")
    ] = None,
    dry_run: Annotated[bool, typer.Option(help="score and count, change nothing")] = False,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Probabilistic matching of all customer records: train, score, merge, queue."""
    rt = runtime()
    with rt.session() as session:
        report = identity.run_matching(
            session=session,
            tenant=rt.tenant(session, options.tenant),
            actor="cli",
            accept=accept,
            review=review,
            dry_run=dry_run,
        )
        if not dry_run:
            session.commit()
    if as_json:
        print_json(report)
        return
    table = Table("", "", title="probabilistic matching" + (" (dry run)" if dry_run else ""))
    for key, value in report.model_dump().items():
        if value is not None:
            table.add_row(key, str(value))
    console.print(table)


@review_app.command("list")
def review_list(
    status: Annotated[str, typer.Option(help="review | accepted | rejected | obsolete")] = "review",
    limit: Annotated[int, typer.Option()] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Proposed matches, most likely first, with both records side by side."""
    rt = runtime()
    with rt.session() as session:
        items = identity.list_review(
            session=session, tenant=rt.tenant(session, options.tenant), status=status, limit=limit
        )
    if as_json:
        print_json(items)
        return
    for item in items:
        table = Table(
            "field",
            f"{item.a.source}/{item.a.record_id}",
            f"{item.b.source}/{item.b.record_id}",
            "agreement",
            title=f"#{item.id}  p={item.probability:.4f}  ({item.weight:+.1f} bits, {item.rule})",
        )
        for field in sorted(set(item.a.fields) | set(item.b.fields)):
            table.add_row(field, item.a.fields.get(field, ""), item.b.fields.get(field, ""), "")
        for name, detail in item.comparisons.items():
            table.add_row(f"[dim]{name}[/dim]", "", "", f"{detail['level']} ({detail['bits']:+})")
        console.print(table)
    if not items:
        console.print(f"no matches in status {status}")


def _decide(link_id: int, *, accept: bool, reason: str | None, as_json: bool) -> None:
    rt = runtime()
    with rt.session() as session:
        try:
            decision = identity.decide_review(
                session=session,
                tenant=rt.tenant(session, options.tenant),
                link_id=link_id,
                accept=accept,
                actor="cli",
                reason=reason,
            )
        except identity.MatchError as error:
            fail(str(error))
            return
        session.commit()
    if as_json:
        print_json(decision)
    elif decision.merged:
        console.print(f"match #{link_id} {decision.status}: one person {decision.oneid_a}")
    else:
        console.print(
            f"match #{link_id} {decision.status}: {decision.oneid_a} and {decision.oneid_b}"
            " stay apart"
        )


@review_app.command("accept")
def review_accept(
    link_id: int,
    reason: Annotated[str | None, typer.Option(help="kept with the decision")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Accept a proposed match: the two records' persons merge (guards permitting)."""
    _decide(link_id, accept=True, reason=reason, as_json=as_json)


@review_app.command("reject")
def review_reject(
    link_id: int,
    reason: Annotated[str | None, typer.Option(help="kept with the decision")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Reject a match (or undo an accepted one): the records never join again."""
    _decide(link_id, accept=False, reason=reason, as_json=as_json)


def bench_matching(
    persons: Annotated[
        int, typer.Option(help="demo persons to generate (≈3 records each)")
    ] = 10_000,
    truth: Annotated[
        Path | None,
        typer.Option(help="truth.csv of the demo already in the store (--db); skips generating"),
    ] = None,
    out: Annotated[Path, typer.Option(help="JSON results")] = Path("bench-results/matching.json"),
    work_dir: Annotated[Path | None, typer.Option(help="keep data and database here")] = None,
) -> None:
    """Pairwise precision/recall/F1 against the demo's truth: strong identifiers alone,
    matching at several thresholds, and the applied merge."""
    from siyu.bench.matching import run_matching_bench
    from siyu.cli.bench import write_result

    result = run_matching_bench(
        persons=persons, truth=truth, database_url=options.database_url, work_dir=work_dir
    )
    table = Table(
        "", "threshold", "precision", "recall", "F1", "persons", title="siyu bench matching"
    )
    rows = [("strong identifiers", "-", result["strong_identifiers"])]
    rows += [("matching", str(t["threshold"]), t) for t in result["thresholds"]]
    rows.append(("applied", str(result["applied"]["threshold"]), result["applied"]))
    for label, threshold, score in rows:
        table.add_row(
            label,
            threshold,
            f"{score['precision']:.4f}",
            f"{score['recall']:.4f}",
            f"{score['f1']:.4f}",
            str(score["persons"]),
        )
    console.print(table)
    console.print(
        f"{result['customer_records']} customer records of {result['true_persons']} true persons;"
        f" {result['scored_pairs']} pairs scored in {result['score_seconds']} s;"
        f" applied in {result['applied']['seconds']} s"
        f" (merged {result['applied']['merged']}, review {result['applied']['review']},"
        f" blocked {result['applied']['blocked']})"
    )
    write_result(result, out)
