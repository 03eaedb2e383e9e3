"""`siyu loyalty coupon ...` and `siyu loyalty reward ...` (the points mall)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import typer

from siyu import loyalty
from siyu.cli.common import console
from siyu.cli.loyalty_common import AsJson, Program, do, show

coupon_app = typer.Typer(help="Coupon templates and coupons.", no_args_is_help=True)
reward_app = typer.Typer(help="The points mall.", no_args_is_help=True)


@coupon_app.command("template")
def coupon_template(
    code: str,
    name: Annotated[str, typer.Option()],
    rules: Annotated[str, typer.Option(help="CouponRules as JSON text")],
    stock: Annotated[int | None, typer.Option()] = None,
    per_person: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Define a coupon template."""
    parsed = loyalty.CouponRules.model_validate_json(rules)
    do(lambda s, t: loyalty.create_coupon_template(
        session=s, tenant=t, code=code, name=name, rules=parsed, stock=stock,
        per_person_limit=per_person))  # fmt: skip
    console.print(f"coupon template {code} created")


@coupon_app.command("issue")
def coupon_issue(
    template: str, oneid: str, key: Annotated[str, typer.Option()], as_json: AsJson = False
) -> None:
    """Issue a coupon to a person (once per key)."""
    view = do(lambda s, t: loyalty.issue_coupon(
        session=s, tenant=t, template=template, oneid=oneid, key=key, via="cli"))  # fmt: skip
    show(view, as_json, "coupon")


@coupon_app.command("redeem")
def coupon_redeem(
    code: str,
    order: Annotated[str, typer.Option(help="order reference, e.g. order:pos/O1")],
    amount: Annotated[Decimal, typer.Option(help="order amount in yuan")],
    source: Annotated[str, typer.Option(help="channel")],
    as_json: AsJson = False,
) -> None:
    """Redeem (核销) a coupon against an order."""
    view = do(lambda s, t: loyalty.redeem_coupon(
        session=s, tenant=t, code=code, order_ref=order, amount=amount, source=source))  # fmt: skip
    show(view, as_json, "coupon")


@coupon_app.command("list")
def coupon_list(oneid: str, as_json: AsJson = False) -> None:
    """A person's coupons."""
    rows = do(lambda s, t: loyalty.person_coupons(session=s, tenant=t, oneid=oneid), write=False)
    show(rows, as_json, "coupons")


@coupon_app.command("report")
def coupon_report(template: str, as_json: AsJson = False) -> None:
    """Issued, redeemed and attributed revenue of a template."""
    view = do(lambda s, t: loyalty.coupon_report(session=s, tenant=t, template=template),
               write=False)  # fmt: skip
    show(view, as_json, "coupon report")


@reward_app.command("create")
def reward_create(
    code: str,
    name: Annotated[str, typer.Option()],
    points: Annotated[int, typer.Option()],
    cash: Annotated[Decimal, typer.Option()] = Decimal(0),
    stock: Annotated[int | None, typer.Option()] = None,
    per_person: Annotated[int | None, typer.Option()] = None,
    coupon_template: Annotated[str | None, typer.Option()] = None,
    program: Program = "main",
) -> None:
    """Add a reward to the points mall."""
    do(lambda s, t: loyalty.create_reward(
        session=s, tenant=t, program=program, code=code, name=name, points=points, cash=cash,
        stock=stock, per_person_limit=per_person, coupon_template=coupon_template))  # fmt: skip
    console.print(f"reward {code} created")


@reward_app.command("list")
def reward_list(program: Program = "main", as_json: AsJson = False) -> None:
    """The mall's rewards and their stock."""
    rows = do(lambda s, t: loyalty.list_rewards(session=s, tenant=t, program=program),
               write=False)  # fmt: skip
    show(rows, as_json, "rewards")


@reward_app.command("redeem")
def reward_redeem(
    oneid: str,
    reward: str,
    key: Annotated[str, typer.Option()],
    quantity: Annotated[int, typer.Option()] = 1,
    program: Program = "main",
    as_json: AsJson = False,
) -> None:
    """Exchange points for a reward (once per key)."""
    view = do(lambda s, t: loyalty.redeem_reward(
        session=s, tenant=t, program=program, oneid=oneid, reward=reward, key=key,
        quantity=quantity))  # fmt: skip
    show(view, as_json, "mall order")


@reward_app.command("cancel")
def reward_cancel(
    key: str, reason: Annotated[str, typer.Option()], program: Program = "main"
) -> None:
    """Cancel a mall order: points back, stock released."""
    view = do(lambda s, t: loyalty.cancel_reward_order(
        session=s, tenant=t, program=program, key=key, reason=reason, actor="cli"))  # fmt: skip
    console.print(f"mall order {view.key} is {view.status}")
