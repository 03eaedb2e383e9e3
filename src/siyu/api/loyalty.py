"""REST API for membership: thin handlers, each calling one loyalty service function.

Loyalty errors map to HTTP statuses in one place (`loyalty_error`): not found → 404,
refused for stock/limits/balance → 409, anything else invalid → 422.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from siyu import loyalty
from siyu.api.deps import CallerDep, SessionDep, WriterDep
from siyu.records.schemas import OrderItem

router = APIRouter(prefix="/api/v1/loyalty", tags=["loyalty"])
Member = "/programs/{program}/members/{oneid}"


class ProgramIn(BaseModel):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")
    name: str
    settings: loyalty.ProgramSettings = Field(default_factory=loyalty.ProgramSettings)


class EnrolIn(BaseModel):
    oneid: str
    card_no: str | None = None


class AdjustIn(BaseModel):
    points: int
    reason: str = Field(min_length=1)
    key: str | None = None


class RedeemIn(BaseModel):
    points: int = Field(gt=0)
    key: str = Field(min_length=1, max_length=160)
    reason: str | None = None


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1)


class TierIn(BaseModel):
    tier: str
    reason: str = Field(min_length=1)
    locked_until: datetime | None = None


class TemplateIn(BaseModel):
    code: str
    name: str
    rules: loyalty.CouponRules
    stock: int | None = Field(default=None, ge=0)
    per_person_limit: int | None = Field(default=None, ge=1)


class IssueIn(BaseModel):
    template: str
    oneid: str
    key: str = Field(min_length=1, max_length=160)


class CouponRedeemIn(BaseModel):
    order_ref: str
    amount: Decimal = Field(ge=0, decimal_places=2)
    source: str
    items: list[OrderItem] = Field(default_factory=list)
    oneid: str | None = None


class RewardIn(BaseModel):
    code: str
    name: str
    points: int = Field(ge=0)
    cash: Decimal = Field(default=Decimal(0), ge=0, decimal_places=2)
    stock: int | None = Field(default=None, ge=0)
    per_person_limit: int | None = Field(default=None, ge=1)
    coupon_template: str | None = None


class RewardRedeemIn(BaseModel):
    oneid: str
    reward: str
    key: str = Field(min_length=1, max_length=160)
    quantity: int = Field(default=1, ge=1)


def loyalty_error(_request: Request, error: Exception) -> JSONResponse:
    """Loyalty errors as HTTP answers with the service's message."""
    code = 422
    if isinstance(error, loyalty.NotFoundError):
        code = 404
    elif isinstance(error, loyalty.InsufficientPointsError | loyalty.LimitError):
        code = 409
    return JSONResponse({"detail": str(error)}, code)


def install(app: FastAPI) -> None:
    """Mount the loyalty routes and their error mapping on the app."""
    app.include_router(router)
    app.add_exception_handler(loyalty.LoyaltyError, loyalty_error)


@router.get("/programs")
def list_programs(session: SessionDep, caller: CallerDep) -> list[loyalty.ProgramView]:
    """The tenant's programs with their settings."""
    return loyalty.program_views(session=session, tenant=caller.tenant)


@router.get("/programs/{program}")
def get_program(session: SessionDep, caller: CallerDep, program: str) -> loyalty.ProgramView:
    """One program with its settings (404 if the tenant has none by that code)."""
    return loyalty.get_program_view(session=session, tenant=caller.tenant, code=program)


@router.post("/programs", status_code=201)
def create_program(session: SessionDep, caller: WriterDep, body: ProgramIn) -> loyalty.ProgramView:
    """Create a program (rules as data: earning, expiry, refunds, tiers)."""
    view = loyalty.create_program(
        session=session, tenant=caller.tenant, code=body.code, name=body.name,
        settings=body.settings,
    )  # fmt: skip
    session.commit()
    return view


@router.put("/programs/{program}/settings")
def update_program(
    session: SessionDep, caller: WriterDep, program: str, settings: loyalty.ProgramSettings
) -> loyalty.ProgramView:
    """Replace a program's settings as a whole."""
    view = loyalty.update_program(
        session=session, tenant=caller.tenant, code=program, settings=settings
    )
    session.commit()
    return view


@router.post("/programs/{program}/members", status_code=201)
def enrol(
    session: SessionDep, caller: WriterDep, program: str, body: EnrolIn
) -> loyalty.MemberView:
    """Enrol a person (入会); enrolling again returns the membership."""
    view = loyalty.enrol_member(
        session=session, tenant=caller.tenant, program=program, oneid=body.oneid, via="api",
        card_no=body.card_no,
    )  # fmt: skip
    session.commit()
    return view


@router.get(Member)
def get_member(
    session: SessionDep, caller: CallerDep, program: str, oneid: str
) -> loyalty.MemberView:
    """Card, balance (from the lots), tier and what is needed to keep/reach a tier."""
    return loyalty.get_member(session=session, tenant=caller.tenant, program=program, oneid=oneid)


@router.get(Member + "/entries")
def member_entries(
    session: SessionDep,
    caller: CallerDep,
    program: str,
    oneid: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[loyalty.EntryView]:
    """The points journal, newest first."""
    return loyalty.member_history(
        session=session, tenant=caller.tenant, program=program, oneid=oneid, limit=limit
    )


@router.get(Member + "/tier-changes")
def tier_changes(
    session: SessionDep, caller: CallerDep, program: str, oneid: str
) -> list[loyalty.TierChangeView]:
    """Tier history."""
    return loyalty.tier_history(session=session, tenant=caller.tenant, program=program, oneid=oneid)


@router.post(Member + "/adjustments", status_code=201)
def adjust(
    session: SessionDep, caller: WriterDep, program: str, oneid: str, body: AdjustIn
) -> loyalty.OpResult:
    """A manual adjustment; the reason and the API key's role are recorded."""
    result = loyalty.adjust_points(
        session=session, tenant=caller.tenant, program=program, oneid=oneid, points=body.points,
        reason=body.reason, actor=f"api:{caller.role}", key=body.key,
    )  # fmt: skip
    session.commit()
    return result


@router.post(Member + "/redemptions", status_code=201)
def redeem(
    session: SessionDep, caller: WriterDep, program: str, oneid: str, body: RedeemIn
) -> loyalty.OpResult:
    """Spend points atomically, once per key (a retry answers the first result)."""
    result = loyalty.redeem_points(
        session=session, tenant=caller.tenant, program=program, oneid=oneid, points=body.points,
        key=body.key, reason=body.reason, actor=f"api:{caller.role}",
    )  # fmt: skip
    session.commit()
    return result


@router.post(Member + "/redemptions/{key}/cancel")
def cancel_redemption(
    session: SessionDep, caller: WriterDep, program: str, oneid: str, key: str, body: ReasonIn
) -> loyalty.OpResult:
    """Give a redemption's points back."""
    result = loyalty.cancel_redemption(
        session=session, tenant=caller.tenant, program=program, oneid=oneid, key=key,
        reason=body.reason, actor=f"api:{caller.role}",
    )  # fmt: skip
    session.commit()
    return result


@router.put(Member + "/tier")
def set_tier(
    session: SessionDep, caller: WriterDep, program: str, oneid: str, body: TierIn
) -> loyalty.MemberView:
    """Set a member's tier by hand, optionally locked until a date."""
    view = loyalty.set_member_tier(
        session=session, tenant=caller.tenant, program=program, oneid=oneid, tier=body.tier,
        reason=body.reason, actor=f"api:{caller.role}", locked_until=body.locked_until,
    )  # fmt: skip
    session.commit()
    return view


@router.get(Member + "/reward-orders")
def member_reward_orders(
    session: SessionDep, caller: CallerDep, program: str, oneid: str
) -> list[loyalty.RewardOrderView]:
    """A member's points-mall orders."""
    return loyalty.member_reward_orders(
        session=session, tenant=caller.tenant, program=program, oneid=oneid
    )


@router.get("/events")
def events(
    session: SessionDep, caller: CallerDep, after: Annotated[int, Query(ge=0)] = 0
) -> list[loyalty.EventView]:
    """Loyalty events after an id (tier changes, points expiring...), for journeys."""
    return loyalty.events_since(session=session, tenant=caller.tenant, after=after)


@router.post("/coupon-templates", status_code=201)
def create_template(session: SessionDep, caller: WriterDep, body: TemplateIn) -> dict[str, str]:
    """Define a coupon template (stock, per-person limit, channels, validity)."""
    loyalty.create_coupon_template(
        session=session, tenant=caller.tenant, code=body.code, name=body.name, rules=body.rules,
        stock=body.stock, per_person_limit=body.per_person_limit,
    )  # fmt: skip
    session.commit()
    return {"code": body.code}


@router.get("/coupon-templates/{template}/report")
def coupon_report(session: SessionDep, caller: CallerDep, template: str) -> loyalty.CouponReport:
    """Issued, redeemed, and the revenue of the orders the coupons were used on."""
    return loyalty.coupon_report(session=session, tenant=caller.tenant, template=template)


@router.post("/coupons", status_code=201)
def issue_coupon(session: SessionDep, caller: WriterDep, body: IssueIn) -> loyalty.CouponView:
    """Issue a coupon to a person, once per key."""
    view = loyalty.issue_coupon(
        session=session, tenant=caller.tenant, template=body.template, oneid=body.oneid,
        key=body.key, via=f"api:{caller.role}",
    )  # fmt: skip
    session.commit()
    return view


@router.post("/coupons/{code}/redeem")
def redeem_coupon(
    session: SessionDep, caller: WriterDep, code: str, body: CouponRedeemIn
) -> loyalty.CouponView:
    """Redeem (核销) a coupon against an order."""
    view = loyalty.redeem_coupon(
        session=session, tenant=caller.tenant, code=code, order_ref=body.order_ref,
        amount=body.amount, source=body.source, items=body.items, oneid=body.oneid,
    )  # fmt: skip
    session.commit()
    return view


@router.post("/coupons/{code}/void")
def void_coupon(
    session: SessionDep, caller: WriterDep, code: str, body: ReasonIn
) -> loyalty.CouponView:
    """Withdraw an unused coupon."""
    view = loyalty.void_coupon(
        session=session, tenant=caller.tenant, code=code, reason=body.reason,
        actor=f"api:{caller.role}",
    )  # fmt: skip
    session.commit()
    return view


@router.get("/persons/{oneid}/coupons")
def person_coupons(session: SessionDep, caller: CallerDep, oneid: str) -> list[loyalty.CouponView]:
    """A person's coupons."""
    return loyalty.person_coupons(session=session, tenant=caller.tenant, oneid=oneid)


@router.get("/programs/{program}/rewards")
def rewards(session: SessionDep, caller: CallerDep, program: str) -> list[loyalty.RewardView]:
    """The points mall."""
    return loyalty.list_rewards(session=session, tenant=caller.tenant, program=program)


@router.post("/programs/{program}/rewards", status_code=201)
def create_reward(
    session: SessionDep, caller: WriterDep, program: str, body: RewardIn
) -> loyalty.RewardView:
    """Add a reward (points, or points + cash; stock; per-person limit)."""
    view = loyalty.create_reward(
        session=session, tenant=caller.tenant, program=program, code=body.code,
        name=body.name, points=body.points, cash=body.cash, stock=body.stock,
        per_person_limit=body.per_person_limit, coupon_template=body.coupon_template,
    )  # fmt: skip
    session.commit()
    return view


@router.post("/programs/{program}/reward-orders", status_code=201)
def redeem_reward(
    session: SessionDep, caller: WriterDep, program: str, body: RewardRedeemIn
) -> loyalty.RewardOrderView:
    """Exchange points for a reward, once per key."""
    view = loyalty.redeem_reward(
        session=session, tenant=caller.tenant, program=program, oneid=body.oneid,
        reward=body.reward, key=body.key, quantity=body.quantity,
    )  # fmt: skip
    session.commit()
    return view


@router.post("/programs/{program}/reward-orders/{key}/cancel")
def cancel_reward_order(
    session: SessionDep, caller: WriterDep, program: str, key: str, body: ReasonIn
) -> loyalty.RewardOrderView:
    """Cancel a mall order: points back, stock released."""
    view = loyalty.cancel_reward_order(
        session=session, tenant=caller.tenant, program=program, key=key, reason=body.reason,
        actor=f"api:{caller.role}",
    )  # fmt: skip
    session.commit()
    return view
