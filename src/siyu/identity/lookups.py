"""Bulk reads other domains need about many persons at once (tags, audiences, exports)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from siyu.identity import state
from siyu.identity.identifiers import SOURCE_CUSTOMER
from siyu.identity.models import Person, StrongIdentifier, WeakIdentifier
from siyu.tenants.schemas import TenantContext


def current_oneids(
    *, session: Session, tenant: TenantContext, oneids: Sequence[str]
) -> dict[str, str]:
    """The live OneID of each known OneID (retired ones map to their successor)."""
    found: dict[str, str] = {}
    for part in state.chunks(sorted(set(oneids))):
        rows = session.execute(
            select(Person.oneid, Person.merged_into).where(
                Person.tenant_id == tenant.id, Person.oneid.in_(part)
            )
        )
        for oneid, merged_into in rows:
            found[oneid] = merged_into or oneid
    return found


def identifiers_of_persons(
    *, session: Session, tenant: TenantContext, oneids: Sequence[str]
) -> dict[str, list[tuple[str, str]]]:
    """(type, value) of the identifiers each live OneID holds, sorted; phones as SHA-256."""
    found: dict[str, list[tuple[str, str]]] = {}
    for part in state.chunks(sorted(set(oneids))):
        for model in (StrongIdentifier, WeakIdentifier):
            rows = session.execute(
                select(model.oneid, model.id_type, model.value).where(
                    model.tenant_id == tenant.id,
                    model.oneid.in_(part),
                    model.id_type != SOURCE_CUSTOMER,
                )
            )
            for oneid, id_type, value in rows:
                found.setdefault(oneid, []).append((id_type, value))
    return {oneid: sorted(pairs) for oneid, pairs in found.items()}


def iter_identifier_types(*, session: Session, tenant: TenantContext) -> Iterator[tuple[str, str]]:
    """(oneid, identifier type) for every type each person holds (internal keys left out)."""
    queries = [
        select(model.oneid, model.id_type)
        .where(model.tenant_id == tenant.id, model.id_type != SOURCE_CUSTOMER)
        .distinct()
        for model in (StrongIdentifier, WeakIdentifier)
    ]
    rows = session.execute(union(*queries).execution_options(yield_per=20_000))
    for oneid, id_type in rows:
        yield str(oneid), str(id_type)
