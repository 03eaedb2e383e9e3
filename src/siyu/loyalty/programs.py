"""Programs: create, configure, look up (cached per session: settings are read once)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from siyu.loyalty.errors import LoyaltyError, NotFoundError
from siyu.loyalty.models import Program
from siyu.loyalty.schemas import ProgramSettings
from siyu.loyalty.views import ProgramView
from siyu.store.fast import Fast
from siyu.tenants import TenantContext

_CACHE = "siyu.loyalty.programs"
_COLUMNS = (Program.id, Program.code, Program.name, Program.version, Program.settings)
_BY_CODE = Fast(
    select(*_COLUMNS).where(
        Program.tenant_id == bindparam("tenant"), Program.code == bindparam("code")
    )
)
_ALL = Fast(select(*_COLUMNS).where(Program.tenant_id == bindparam("tenant")).order_by(Program.id))
_PARSED: dict[bytes, ProgramSettings] = {}


@dataclass(frozen=True)
class ProgramRef:
    """A program as the use cases need it: ids, settings and the tenant's zone."""

    id: int
    tenant: TenantContext
    code: str
    name: str
    version: int
    settings: ProgramSettings


def create_program(
    *,
    session: Session,
    tenant: TenantContext,
    code: str,
    name: str,
    settings: ProgramSettings | None = None,
) -> ProgramView:
    """Create a loyalty program (a tenant may run several)."""
    if session.scalar(
        select(Program.id).where(Program.tenant_id == tenant.id, Program.code == code)
    ):
        raise LoyaltyError(f"program {code!r} already exists")
    chosen = settings or ProgramSettings()
    row = Program(
        tenant_id=tenant.id, code=code, name=name, settings=chosen.model_dump(mode="json")
    )
    session.add(row)
    session.flush()
    _forget(session)
    return ProgramView(code=code, name=name, version=1, settings=chosen)


def update_program(
    *, session: Session, tenant: TenantContext, code: str, settings: ProgramSettings
) -> ProgramView:
    """Replace a program's settings as a whole (validated); lots already earned keep theirs."""
    current = load_program(session=session, tenant=tenant, code=code)
    session.execute(
        update(Program)
        .where(Program.id == current.id)
        .values(settings=settings.model_dump(mode="json"), version=Program.version + 1)
    )
    _forget(session)
    return ProgramView(code=code, name=current.name, version=current.version + 1, settings=settings)


def load_program(*, session: Session, tenant: TenantContext, code: str) -> ProgramRef:
    """The program `code` of the tenant, from this session's cache when already read."""
    cache: dict[tuple[int, str], ProgramRef] = session.info.setdefault(_CACHE, {})
    found = cache.get((tenant.id, code))
    if found is None:
        row = _BY_CODE.one(session, {"tenant": tenant.id, "code": code})
        if row is None:
            raise NotFoundError(f"no loyalty program {code!r}")
        found = cache[(tenant.id, code)] = _ref(row, tenant)
    return found


def list_programs(*, session: Session, tenant: TenantContext) -> list[ProgramRef]:
    """All programs of the tenant, oldest first."""
    return [_ref(row, tenant) for row in _ALL.rows(session, {"tenant": tenant.id})]


def program_views(*, session: Session, tenant: TenantContext) -> list[ProgramView]:
    """The tenant's programs with their settings."""
    return [program_view(p) for p in list_programs(session=session, tenant=tenant)]


def programs_for_source(
    *, session: Session, tenant: TenantContext, source: str
) -> list[ProgramRef]:
    """The programs whose scope covers orders from `source`."""
    return [
        p for p in _all(session, tenant) if not p.settings.channels or source in p.settings.channels
    ]


def program_by_id(*, session: Session, tenant: TenantContext, program_id: int) -> ProgramRef:
    """The program with this id (for rows that carry only the id)."""
    for program in _all(session, tenant):
        if program.id == program_id:
            return program
    raise NotFoundError(f"no loyalty program with id {program_id}")


def _all(session: Session, tenant: TenantContext) -> list[ProgramRef]:
    cache: dict[int, list[ProgramRef]] = session.info.setdefault(_CACHE + ".all", {})
    programs = cache.get(tenant.id)
    if programs is None:
        programs = cache[tenant.id] = list_programs(session=session, tenant=tenant)
    return programs


def get_program_view(*, session: Session, tenant: TenantContext, code: str) -> ProgramView:
    """The program `code` with its settings; `NotFoundError` if the tenant has none."""
    return program_view(load_program(session=session, tenant=tenant, code=code))


def program_view(program: ProgramRef) -> ProgramView:
    return ProgramView(
        code=program.code, name=program.name, version=program.version, settings=program.settings
    )


def _ref(row: Any, tenant: TenantContext) -> ProgramRef:
    # Parsed settings are shared across sessions by their content (ids and versions repeat
    # across databases and rolled-back transactions): validating them for every
    # transaction cost more than the ledger work itself.
    text = orjson.dumps(row.settings, option=orjson.OPT_SORT_KEYS)
    settings = _PARSED.get(text)
    if settings is None:
        if len(_PARSED) > 1000:
            _PARSED.clear()
        settings = _PARSED[text] = ProgramSettings.model_validate(row.settings)
    return ProgramRef(
        id=row.id,
        tenant=tenant,
        code=row.code,
        name=row.name,
        version=row.version,
        settings=settings,
    )


def _forget(session: Session) -> None:
    session.info.pop(_CACHE, None)
    session.info.pop(_CACHE + ".all", None)
