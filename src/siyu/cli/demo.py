"""`siyu demo`: generate a demo brand, import it, serve the API."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from siyu.cli.common import console, options, runtime
from siyu.runtime import Runtime


def demo(
    persons: Annotated[int, typer.Option(help="how many people the brand has")] = 20_000,
    seed: Annotated[int, typer.Option(help="same seed, same brand")] = 7,
    out: Annotated[Path, typer.Option(help="where the canonical files go")] = Path("demo-data"),
    serve: Annotated[bool, typer.Option(help="serve the API afterwards")] = True,
    worker: Annotated[bool, typer.Option(help="run a journey worker while serving")] = True,
    port: Annotated[int, typer.Option()] = 8000,
) -> None:
    """Generate a cosmetics brand (Tmall, JD, Douyin, mini-program, 30 stores), import it."""
    from siyu.demo.service import run_demo

    rt = runtime()
    with rt.session() as session:
        result = run_demo(
            session=session,
            tenant=rt.tenant(session, options.tenant),
            out_dir=out,
            persons=persons,
            seed=seed,
            engine_dir=Path(rt.settings.engine_dir),
            on_step=lambda message: console.print(f"• {message}"),
        )
    console.print(
        f"imported {result.report.accepted} records "
        f"({result.report.quarantined} quarantined) into {result.report.new_persons} persons "
        f"in {result.seconds:.1f} s; ground truth: {result.files.truth}"
    )
    table = Table("OneID", "name", "sources", title="a few persons to look at")
    for person in result.sample:
        table.add_row(person.oneid, person.name or "", ", ".join(person.sources))
    console.print(table)
    users = Table("user", "role", "password", title="console sign-in (tenant: default)")
    for username, role, password in result.console_users:
        users.add_row(username, role, password)
    console.print(users)
    console.print(f"API key: [bold]{result.api_key}[/bold]")
    console.print(
        f"try: curl -H 'Authorization: Bearer {result.api_key}' "
        f"http://127.0.0.1:{port}/api/v1/persons/{result.sample[0].oneid}"
        if result.sample
        else ""
    )
    if serve:
        import uvicorn

        from siyu.api import create_app

        console.print(
            f"console: [bold]http://127.0.0.1:{port}/[/bold]  (API docs: /docs; Ctrl-C stops)"
        )
        with _worker_thread(rt, enabled=worker):
            uvicorn.run(create_app(rt), host="127.0.0.1", port=port, access_log=False)


@contextmanager
def _worker_thread(rt: Runtime, *, enabled: bool) -> Iterator[None]:
    """A journey worker beside the API, so journeys started in the demo run."""
    if not enabled:
        yield
        return
    from siyu import channels, journeys

    stop = threading.Event()
    adapters = channels.Adapters()
    thread = threading.Thread(
        target=journeys.run_worker,
        kwargs={
            "store": rt.store,
            "ports": journeys.wired_ports(),
            "adapters": adapters,
            "stop": stop,
        },
        daemon=True,
    )
    thread.start()
    console.print("journey worker running")
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=10)
        adapters.close()
