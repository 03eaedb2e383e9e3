"""`siyu apikey ...`, `siyu serve`, `siyu migrate`."""

from __future__ import annotations

from typing import Annotated

import typer

from siyu import tenants
from siyu.cli.common import console, fail, options, print_json, runtime

apikey_app = typer.Typer(help="API keys (stored hashed; shown once).", no_args_is_help=True)


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="what the key is for")] = "default",
    role: Annotated[str, typer.Option(help=", ".join(tenants.ROLES))] = "admin",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create an API key for the tenant; the key is printed once."""
    rt = runtime()
    with rt.session() as session:
        try:
            created = tenants.create_api_key(
                session=session,
                tenant_id=rt.tenant(session, options.tenant).id,
                name=name,
                role=role,
            )
        except ValueError as error:
            fail(str(error), 2)
            return
        session.commit()
    if as_json:
        print_json(created)
    else:
        console.print(f"API key (shown once, keep it safe): [bold]{created.key}[/bold]")


@apikey_app.command("revoke")
def apikey_revoke(key_id: int) -> None:
    """Revoke an API key by id."""
    rt = runtime()
    with rt.session() as session:
        ok = tenants.revoke_api_key(
            session=session, tenant_id=rt.tenant(session, options.tenant).id, key_id=key_id
        )
        session.commit()
    if not ok:
        fail(f"no API key {key_id}")
    console.print(f"revoked key {key_id}")


def serve(
    host: Annotated[str | None, typer.Option(help="default SIYU_API_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default SIYU_API_PORT")] = None,
) -> None:
    """Serve the console (at /) and the REST API (OpenAPI at /docs)."""
    import uvicorn

    from siyu.api import create_app

    rt = runtime()
    bind_host = host or rt.settings.api_host
    bind_port = port or rt.settings.api_port
    console.print(f"siyu console on http://{bind_host}:{bind_port}/  (API docs: /docs)")
    # No access log: request lines carry search terms (phones, names) — no PII in logs.
    uvicorn.run(create_app(rt), host=bind_host, port=bind_port, access_log=False)


def migrate() -> None:
    """Bring the store's schema up to date (also done automatically on first use)."""
    runtime()
    console.print("schema is up to date")
