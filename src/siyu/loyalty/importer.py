"""Migrating existing members (历史会员迁移) from a CSV: who they are, their points, growth
value and tier. Each row is its own savepoint: a bad row is reported with its line, field
and reason and the rest goes on; importing the same file again changes nothing."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from siyu import identity
from siyu.loyalty import ledger, tiers
from siyu.loyalty.errors import LoyaltyError
from siyu.loyalty.members import enrol
from siyu.loyalty.programs import ProgramRef
from siyu.loyalty.views import ImportReport, ImportRow

PERSON_COLUMNS = ("oneid", "id:member_no", "id:phone", "id:email", "id:wechat_unionid")


class MemberRow(BaseModel):
    """One CSV row: a person key plus what the old system knew about the member."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)

    card_no: str | None = None
    enrolled_at: AwareDatetime | None = None
    points: int = Field(default=0, ge=0)
    points_expire_at: AwareDatetime | None = None
    growth: int = Field(default=0, ge=0)
    growth_at: AwareDatetime | None = None
    tier: str | None = None
    tier_expires_at: AwareDatetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _drop_empty(cls, data: object) -> object:
        """An empty cell means no value: the field's default."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v not in ("", None)}
        return data


def import_members_csv(
    session: Session, program: ProgramRef, path: Path, *, now: datetime
) -> ImportReport:
    """Import a CSV file (UTF-8, BOM allowed) of existing members; see docs/loyalty.md."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return import_members(session, program, csv.DictReader(handle), now=now)


def import_members(
    session: Session, program: ProgramRef, rows: Iterable[Mapping[str, str]], *, now: datetime
) -> ImportReport:
    """Import member rows (dicts keyed by the CSV header)."""
    report = ImportReport()
    for line, raw in enumerate(rows, start=2):
        result = _row(session, program, line, raw, now)
        report.rows.append(result)
        if result.status == "imported":
            report.imported += 1
        elif result.status == "unchanged":
            report.unchanged += 1
        else:
            report.rejected += 1
    return report


def _row(
    session: Session, program: ProgramRef, line: int, raw: Mapping[str, str], now: datetime
) -> ImportRow:
    def reject(field: str, reason: str) -> ImportRow:
        return ImportRow(line=line, status="rejected", field=field, reason=reason, data=dict(raw))

    try:
        row = MemberRow.model_validate(dict(raw))
    except ValidationError as error:
        first = error.errors()[0]
        return reject(".".join(str(p) for p in first["loc"]), first["msg"])
    column, value = next(
        ((c, (raw.get(c) or "").strip()) for c in PERSON_COLUMNS if (raw.get(c) or "").strip()),
        ("", ""),
    )
    if not column:
        return reject("oneid", f"a person key is needed: one of {', '.join(PERSON_COLUMNS)}")
    if column == "oneid":
        live = identity.current_oneid(session=session, tenant=program.tenant, oneid=value)
        persons = [live] if live else []
    else:
        persons = identity.find_persons(session=session, tenant=program.tenant, query=value)
    if len(persons) != 1:
        found = "no person" if not persons else f"{len(persons)} persons"
        return reject(column, f"{found} found for {value!r}; import customer records first")
    if row.tier is not None and row.tier not in {t.code for t in program.settings.tiers.tiers}:
        return reject("tier", f"unknown tier {row.tier!r} in program {program.code!r}")
    key = f"import:{row.card_no or f'{column}={value}'}"
    try:
        with session.begin_nested():
            account, new = enrol(
                session, program, persons[0], via="import", now=now,
                enrolled_at=row.enrolled_at, card_no=row.card_no,
            )  # fmt: skip
            done = ledger.earn(
                session, account, points=row.points, key=key, cause="import", at=now, now=now,
                pending=False, reason="member migration",
                expires_at=row.points_expire_at if row.points_expire_at else "policy",
            )  # fmt: skip
            if not done.replayed:
                tiers.add_growth(
                    session, account, points=row.growth, key=key, cause="import",
                    at=row.growth_at or now,
                )  # fmt: skip
            if row.tier is not None and not done.replayed:
                tiers.set_tier(
                    session, account, tier=row.tier, reason="member migration", actor="import",
                    now=now, expires_at=row.tier_expires_at, action="import",
                )  # fmt: skip
    except LoyaltyError as error:
        return reject(column, str(error))
    except IntegrityError:
        return reject("card_no", f"card number {row.card_no!r} belongs to another member")
    status = "unchanged" if done.replayed and not new else "imported"
    return ImportRow(line=line, status=status, oneid=account.oneid)
