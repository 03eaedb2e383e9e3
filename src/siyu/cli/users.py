"""`siyu user ...`: console users of the tenant (passwords are prompted, stored hashed)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from siyu import tenants, users
from siyu.cli.common import console, fail, options, print_json, runtime

user_app = typer.Typer(help="Console users: sign-in, roles, language.", no_args_is_help=True)


@user_app.command("create")
def user_create(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Option(help=", ".join(tenants.ROLES))] = "operator",
    staff_id: Annotated[str | None, typer.Option(help="a guide's code (导购)")] = None,
    name: Annotated[str, typer.Option(help="display name")] = "",
    locale: Annotated[str, typer.Option(help="zh-CN or en")] = "zh-CN",
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)
    ] = "",
) -> None:
    """Add a console user."""
    rt = runtime()
    with rt.session() as session:
        try:
            created = users.create_user(
                session=session,
                tenant=rt.tenant(session, options.tenant),
                username=username,
                password=password,
                role=role,
                display_name=name,
                staff_id=staff_id,
                locale=locale,
            )
        except users.UserError as error:
            fail(str(error))
            return
        session.commit()
    console.print(f"user {created.username} ({created.role}) created")


@user_app.command("list")
def user_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """The tenant's console users."""
    rt = runtime()
    with rt.session() as session:
        found = users.list_users(session=session, tenant=rt.tenant(session, options.tenant))
    if as_json:
        print_json(found)
        return
    table = Table("user", "name", "role", "staff_id", "language", "active")
    for user in found:
        table.add_row(
            user.username,
            user.display_name,
            user.role,
            user.staff_id or "",
            user.locale,
            "yes" if user.active else "no",
        )
    console.print(table)


@user_app.command("set")
def user_set(
    username: Annotated[str, typer.Argument()],
    role: Annotated[str | None, typer.Option()] = None,
    active: Annotated[bool | None, typer.Option("--active/--disabled")] = None,
    new_password: Annotated[bool, typer.Option("--password", help="prompt for a new one")] = False,
) -> None:
    """Change a user's role, disable or enable them, or set a new password."""
    password = (
        typer.prompt("new password", hide_input=True, confirmation_prompt=True)
        if new_password
        else None
    )
    rt = runtime()
    with rt.session() as session:
        try:
            changed = users.update_user(
                session=session,
                tenant=rt.tenant(session, options.tenant),
                username=username,
                role=role,
                active=active,
                password=password,
            )
        except users.UserError as error:
            fail(str(error))
            return
        session.commit()
    console.print(f"user {changed.username}: {changed.role}, active={changed.active}")
