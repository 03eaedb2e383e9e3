"""The `siyu` command."""

from __future__ import annotations

from typing import Annotated

import typer

from siyu.cli import admin, bench, demo, identity_match
from siyu.cli import clv as clv_cli
from siyu.cli import compute as compute_cli
from siyu.cli import experiment as experiment_cli
from siyu.cli import ingest as ingest_cli
from siyu.cli import journeys as journeys_cli
from siyu.cli import loyalty as loyalty_cli
from siyu.cli import person as person_cli
from siyu.cli import rebuild as rebuild_cli
from siyu.cli import report as report_cli
from siyu.cli.audience import audience_app
from siyu.cli.common import options
from siyu.cli.tags import tag_app
from siyu.cli.users import user_app

app = typer.Typer(
    name="siyu",
    help="siyu (私域): customer data, OneID, profiles for a brand's private domain.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def main(
    db: Annotated[
        str | None, typer.Option("--db", help="store URL (default SIYU_DATABASE_URL or ./siyu.db)")
    ] = None,
    tenant: Annotated[str | None, typer.Option(help="tenant name (default: default)")] = None,
) -> None:
    """Global options."""
    options.database_url = db
    options.tenant = tenant


app.command("ingest")(ingest_cli.ingest_command)
app.add_typer(ingest_cli.quarantine_app, name="quarantine")
app.add_typer(ingest_cli.export_app, name="export")
person_cli.identity_app.command("rebuild")(rebuild_cli.rebuild_command)
app.add_typer(person_cli.identity_app, name="identity")
person_cli.identity_app.command("match")(identity_match.match_command)
person_cli.identity_app.add_typer(identity_match.review_app, name="review")
app.add_typer(person_cli.person_app, name="person")
app.add_typer(admin.apikey_app, name="apikey")
app.command("serve")(admin.serve)
app.command("migrate")(admin.migrate)
app.command("demo")(demo.demo)
app.add_typer(bench.bench_app, name="bench")
app.add_typer(experiment_cli.experiment_app, name="experiment")
app.command("compute")(compute_cli.compute_command)
app.command("report")(report_cli.report_command)
app.command("import-retail")(report_cli.import_retail_command)
app.add_typer(journeys_cli.journey_app, name="journey")
app.add_typer(journeys_cli.channel_app, name="channel")
app.command("worker")(journeys_cli.worker)
app.add_typer(clv_cli.clv_app, name="clv")
app.add_typer(loyalty_cli.loyalty_app, name="loyalty")
bench.bench_app.command("matching")(identity_match.bench_matching)
app.add_typer(tag_app, name="tag")
app.add_typer(tag_app, name="tags", help="Same as `siyu tag`.")
app.add_typer(audience_app, name="audience")
app.add_typer(user_app, name="user")
