"""Journeys as data: the definition format (JSON/YAML) and the views services return.

A journey is a trigger, a list of steps (each step goes to `next`, by default the step
after it), an optional goal and a re-entry policy. See docs/journeys.md.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from siyu.journeys.conditions import Condition

StepId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
Key = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
Channel = Literal["sms", "email", "wecom", "wechat_subscribe", "wechat_template", "webhook"]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- triggers -----------------------------------------------------------------------------


class EventTrigger(_Spec):
    """An event of a type arrives (e.g. `add_to_cart`), optionally with conditions."""

    type: Literal["event"] = "event"
    event_type: str
    where: Condition | None = None


class OrderTrigger(_Spec):
    """An order arrives or changes to one of `statuses`, optionally with conditions."""

    type: Literal["order"] = "order"
    statuses: list[str] = Field(default_factory=lambda: ["paid"])
    where: Condition | None = None


class AudienceTrigger(_Spec):
    """A person enters or leaves an audience (through the audiences port)."""

    type: Literal["audience_enter", "audience_leave"]
    audience: str


DateAttribute = Literal["birthday", "anniversary", "coupon_expiry", "points_expiry"]


class DateTrigger(_Spec):
    """Each day at `at` (tenant time), people whose date attribute is `days_before` away."""

    type: Literal["date"] = "date"
    attribute: DateAttribute
    days_before: int = Field(default=0, ge=0, le=365)
    at: time = time(9, 0)


class ScheduleTrigger(_Spec):
    """A recurring schedule: the audience's members (or `oneids`) enter at each run."""

    type: Literal["schedule"] = "schedule"
    every: Literal["day", "week", "month"]
    at: time = time(9, 0)
    weekday: int | None = Field(default=None, ge=0, le=6)  # Monday = 0, for "week"
    day: int | None = Field(default=None, ge=1, le=28)  # day of month, for "month"
    audience: str | None = None
    oneids: list[str] | None = None

    @model_validator(mode="after")
    def _who(self) -> ScheduleTrigger:
        if (self.audience is None) == (self.oneids is None):
            raise ValueError("a schedule enrols either an `audience` or a list of `oneids`")
        return self


class ManualTrigger(_Spec):
    """Enrolment through the API or CLI only."""

    type: Literal["manual"] = "manual"


Trigger = Annotated[
    EventTrigger | OrderTrigger | AudienceTrigger | DateTrigger | ScheduleTrigger | ManualTrigger,
    Field(discriminator="type"),
]

# -- steps --------------------------------------------------------------------------------


END = "end"  # a `next` that ends the journey (completed)


class _Step(_Spec):
    id: StepId
    next: StepId | None = None  # default: the step after this one; "end": the journey ends


class AwaitEvent(_Spec):
    event_type: str  # an event type, or "order" for an order (paid by default)
    statuses: list[str] = Field(default_factory=lambda: ["paid"])  # orders only
    where: Condition | None = None
    timeout: timedelta
    on_timeout: StepId | None = None  # default: `next`, like the event arriving


class WaitStep(_Step):
    """Wait a duration, until a time of day (tenant zone), or for an event with a timeout."""

    type: Literal["wait"] = "wait"
    duration: timedelta | None = None
    until_time: time | None = None
    until_event: AwaitEvent | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> WaitStep:
        kinds = [self.duration, self.until_time, self.until_event]
        if sum(k is not None for k in kinds) != 1:
            raise ValueError("a wait has exactly one of: duration, until_time, until_event")
        return self


class Case(_Spec):
    when: Condition
    next: StepId | None = None  # default: the step after the branch; "end": the end


class BranchStep(_Step):
    """The first case whose condition holds decides where to go, else `next`."""

    type: Literal["branch"] = "branch"
    cases: list[Case] = Field(min_length=1)


class Arm(_Spec):
    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,32}$")]
    weight: int = Field(default=1, ge=1)
    next: StepId | None = None  # default: the step after the split; "end": the end


class SplitStep(_Step):
    """A random A/B/n split; `holdout_percent` of people get nothing (the control)."""

    type: Literal["split"] = "split"
    arms: list[Arm] = Field(min_length=1)
    holdout_percent: float = Field(default=0.0, ge=0.0, lt=100.0)


class SendStep(_Step):
    """Send a message. `content` per locale (`zh-CN`, `en`); strings are Jinja2 templates
    with `person`, `coupon`, `record` and `enrolment` variables."""

    type: Literal["send"] = "send"
    channel: Channel
    category: Literal["marketing", "transactional"] = "marketing"
    content: dict[str, dict[str, Any]] = Field(min_length=1)


class TagStep(_Step):
    """Add and/or remove tags (through the tags port); `wecom` also marks them in WeCom."""

    type: Literal["tag"] = "tag"
    add: list[str] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)
    wecom: bool = False  # WeCom tag ids to mark on the external contact


class GrantStep(_Step):
    """Grant points and/or a coupon (through the loyalty port)."""

    type: Literal["grant"] = "grant"
    points: int | None = Field(default=None, ge=1)
    coupon: str | None = None  # coupon template / campaign id
    reason: str = "journey"

    @model_validator(mode="after")
    def _something(self) -> GrantStep:
        if self.points is None and self.coupon is None:
            raise ValueError("a grant gives points, a coupon or both")
        return self


class WebhookStep(_Step):
    """POST a JSON body (Jinja2 strings) to a URL, signed with the tenant's webhook secret."""

    type: Literal["webhook"] = "webhook"
    url: str
    body: dict[str, Any] = Field(default_factory=dict)


class TaskStep(_Step):
    """A task for the person's guide (导购), sent to them in WeCom."""

    type: Literal["task"] = "task"
    content: dict[str, dict[str, Any]] = Field(min_length=1)  # per locale: {"text": ...}


class ExitStep(_Step):
    type: Literal["exit"] = "exit"


Step = Annotated[
    WaitStep
    | BranchStep
    | SplitStep
    | SendStep
    | TagStep
    | GrantStep
    | WebhookStep
    | TaskStep
    | ExitStep,
    Field(discriminator="type"),
]


class Goal(_Spec):
    """Conversion: an event of `event_type` (or an order) within `within` of entering."""

    event_type: str = "order"
    statuses: list[str] = Field(default_factory=lambda: ["paid"])  # for orders
    where: Condition | None = None
    within: timedelta = timedelta(days=14)
    exit_on_goal: bool = True


class ReentryPolicy(_Spec):
    """once: never again; after_exit: when the last one finished; after_days: also `days`
    after the last entry; concurrent: any time (each trigger record enrols once)."""

    policy: Literal["once", "after_exit", "after_days", "concurrent"] = "after_exit"
    days: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _days(self) -> ReentryPolicy:
        if (self.policy == "after_days") != (self.days is not None):
            raise ValueError("`days` goes with (and only with) the after_days policy")
        return self


class JourneyDefinition(_Spec):
    """A journey as data: what the JSON/YAML files and the API carry."""

    key: Key
    name: str = Field(min_length=1, max_length=128)
    description: str = ""
    trigger: Trigger
    steps: list[Step] = Field(min_length=1)
    goal: Goal | None = None
    reentry: ReentryPolicy = Field(default_factory=ReentryPolicy)

    @model_validator(mode="after")
    def _graph(self) -> JourneyDefinition:
        ids = [step.id for step in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError("step ids must be unique")
        if END in ids:
            raise ValueError(f"{END!r} is reserved: `next: {END}` ends the journey")
        known = {*ids, END}
        for step in self.steps:
            for target in step_targets(step):
                if target is not None and target not in known:
                    raise ValueError(f"step {step.id!r} points to unknown step {target!r}")
        return self

    _by_id: dict[str, Step] = PrivateAttr(default_factory=dict)
    _following: dict[str, str | None] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        # Looked up for every step the engine runs: computed once per definition.
        by_id = {step.id: step for step in self.steps}
        following: dict[str, str | None] = {}
        for position, step in enumerate(self.steps):
            after = self.steps[position + 1].id if position + 1 < len(self.steps) else None
            following[step.id] = after if step.next is None else self.resolve(step.next, None)
        self._by_id, self._following = by_id, following

    def step(self, step_id: str) -> Step:
        # Read through the private-attribute dict: pydantic's attribute hook is slow and
        # this runs for every step the engine executes.
        by_id: dict[str, Step] = self.__pydantic_private__["_by_id"]  # type: ignore[index]
        return by_id[step_id]

    def following(self, step_id: str) -> str | None:
        """Where a step goes by default: its `next`, else the step after it in the list
        (None: the journey ends)."""
        following: dict[str, str | None] = self.__pydantic_private__["_following"]  # type: ignore[index]
        return following[step_id]

    def resolve(self, target: str | None, step_id: str | None) -> str | None:
        """A case's, arm's or timeout's target: given, "end", or (None) where `step_id`
        goes by default."""
        if target == END:
            return None
        if target is None:
            return self.following(step_id) if step_id is not None else None
        return target


def step_targets(step: Step) -> list[str | None]:
    """Every step id a step can lead to explicitly."""
    targets: list[str | None] = [step.next]
    if isinstance(step, BranchStep):
        targets += [case.next for case in step.cases]
    elif isinstance(step, SplitStep):
        targets += [arm.next for arm in step.arms]
    elif isinstance(step, WaitStep) and step.until_event is not None:
        targets.append(step.until_event.on_timeout)
    return targets


# -- views --------------------------------------------------------------------------------


class JourneyView(BaseModel):
    id: int
    key: str
    name: str
    status: str  # draft, live, paused
    live_version: int | None
    latest_version: int
    created_at: datetime
    updated_at: datetime


class JourneyDetail(JourneyView):
    definition: JourneyDefinition
    in_flight: dict[int, int]  # version -> people still in it


class EnrolResult(BaseModel):
    count: int = 0  # people enrolled
    enrolled: list[int] = Field(default_factory=list)  # their enrolment ids (small requests)
    skipped: int = 0  # refused by the re-entry policy or already enrolled by this request


class TraceEntry(BaseModel):
    step: str | None
    at: datetime
    result: str
    detail: dict[str, Any] | None = None


class EnrolmentView(BaseModel):
    id: int
    journey_key: str
    version: int
    oneid: str
    status: str
    step: str | None
    due_at: datetime | None
    arm: str | None
    attempts: int
    entered_at: datetime
    finished_at: datetime | None
    goal_at: datetime | None
    goal_value: Decimal | None
    last_error: str | None
    trace: list[TraceEntry] = Field(default_factory=list)
    messages: list[dict[str, Any]] = Field(default_factory=list)


class RunReport(BaseModel):
    """What one pass of the worker did."""

    enrolments: int = 0  # enrolments processed
    steps: int = 0
    retried: int = 0
    failed: int = 0
    triggered: int = 0  # people enrolled by date/schedule/audience triggers
