"""Exporting an audience's current members as CSV with the fields an operator picks."""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu import identity, profiles, records, rules, tags, traits
from siyu.audiences.models import AudienceMembership
from siyu.audiences.service import require_audience
from siyu.tenants import TenantContext

# What a column can be: the person's merged profile attributes, their identifiers (all
# values of the type, `|`-separated; phones as SHA-256), traits, tags, and membership.
PROFILE_FIELDS = (*profiles.MERGED_FIELDS, *profiles.IDENTIFIER_FIELDS)
EXPORT_FIELDS = tuple(
    dict.fromkeys(
        (
            "oneid",
            "entered_at",
            *PROFILE_FIELDS,
            *identity.IDENTIFIER_TYPES,
            *rules.TRAIT_FIELDS,
            "tags",
        )
    )
)
_CHUNK = 1000


class ExportFieldError(ValueError):
    pass


def export_audience(
    *,
    session: Session,
    tenant: TenantContext,
    name: str,
    fields: Sequence[str],
    out: TextIO,
) -> int:
    """Write the current members with `fields` as CSV (header first); returns the rows."""
    custom = tuple(tenant.settings.identity.custom_types)
    allowed = (*EXPORT_FIELDS, *custom)
    unknown = [f for f in fields if f not in allowed]
    if unknown or not fields:
        raise ExportFieldError(
            f"unknown field(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(allowed)}"
        )
    audience = require_audience(session, tenant, name)
    m = AudienceMembership
    members = session.execute(
        select(m.oneid, m.entered_at)
        .where(m.tenant_id == tenant.id, m.audience_id == audience.id, m.exited_at.is_(None))
        .order_by(m.oneid)
    ).all()
    writer = csv.writer(out)
    writer.writerow(fields)
    for start in range(0, len(members), _CHUNK):
        part = members[start : start + _CHUNK]
        rows = _rows(session, tenant, [o for o, _ in part], set(fields))
        for oneid, entered_at in part:
            values = {**rows.get(oneid, {}), "oneid": oneid, "entered_at": entered_at.isoformat()}
            writer.writerow([_cell(values.get(f)) for f in fields])
    return len(members)


def _rows(
    session: Session, tenant: TenantContext, oneids: list[str], fields: set[str]
) -> dict[str, dict[str, Any]]:
    """Per person, the values of the wanted fields (reading only what they need)."""
    found: dict[str, dict[str, Any]] = defaultdict(dict)
    if fields & set(PROFILE_FIELDS):
        refs = identity.records_of_persons(session=session, tenant=tenant, oneids=oneids)
        owner = {
            (s, r): o for o, found_refs in refs.items() for k, s, r in found_refs if k == "customer"
        }
        by_person: dict[str, list[records.CustomerRecord]] = defaultdict(list)
        for c in records.customer_records(session=session, tenant=tenant, refs=list(owner)):
            by_person[owner[(c.source, c.external_id)]].append(c)
        for oneid, customers in by_person.items():
            ordered = sorted(customers, key=lambda c: (c.source, c.external_id))
            merged, _ = profiles.merge_attributes(tenant=tenant, customers=ordered)
            found[oneid].update(merged)
    if fields & set(rules.TRAIT_FIELDS):
        for oneid, view in traits.traits_of_persons(
            session=session, tenant=tenant, oneids=oneids
        ).items():
            found[oneid].update(view.model_dump(include=set(rules.TRAIT_FIELDS)))
    held = identity.identifiers_of_persons(session=session, tenant=tenant, oneids=oneids)
    for oneid, pairs in held.items():
        by_type: dict[str, list[str]] = defaultdict(list)
        for id_type, value in pairs:
            by_type[id_type].append(value)
        found[oneid].update({t: "|".join(v) for t, v in by_type.items() if t in fields})
    if "tags" in fields:
        for oneid, keys in tags.tag_keys_of_persons(
            session=session, tenant=tenant, oneids=oneids
        ).items():
            found[oneid]["tags"] = "|".join(sorted(keys))
    return found


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    return str(value)
