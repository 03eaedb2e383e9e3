"""Manual tags from a CSV: one person per row (by OneID or any identifier) and a tag.

Columns: `oneid` or `identifier` (a phone, e-mail, member number, UnionID... resolved as
person search does), and `tag` unless one tag is given for the whole file. Every bad row
is reported with its line and reason; the good rows are imported.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from sqlalchemy.orm import Session

from siyu import identity, rules
from siyu.tags.models import Tag
from siyu.tags.schemas import BadRow, ImportReport
from siyu.tags.service import find_tag, give_tag
from siyu.tenants import TenantContext


def import_tags(
    *,
    session: Session,
    tenant: TenantContext,
    text: str,
    origin: str,
    tag: str | None = None,
) -> ImportReport:
    """Give the tags a CSV lists (provenance: import `origin`); bad rows are reported."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    columns = set(reader.fieldnames or [])
    if not columns & {"oneid", "identifier"}:
        raise ValueError("the CSV needs a column 'oneid' or 'identifier'")
    if tag is None and "tag" not in columns:
        raise ValueError("the CSV needs a column 'tag' (or give one tag for the whole file)")
    report = ImportReport()
    wanted: dict[str, dict[str, None]] = defaultdict(dict)
    tags: dict[str, Tag | None] = {}
    for line, row in enumerate(reader, start=2):
        report.rows += 1
        values = {k: (v or "").strip() for k, v in row.items() if k is not None}
        key = tag or values.get("tag", "")
        problem = _tag_problem(session, tenant, key, tags)
        oneid = None
        if problem is None:
            oneid, problem = _person(session, tenant, values)
        if problem is not None or oneid is None:
            report.bad.append(BadRow(line=line, reason=problem or "no person", row=values))
            continue
        if oneid in wanted[key]:
            report.already += 1  # the same person twice in the file: nothing more to do
            continue
        wanted[key][oneid] = None
    for key, oneids in wanted.items():
        given = give_tag(
            session=session, tenant=tenant, key=key, oneids=list(oneids), by=origin, via="import"
        )
        report.given += given.given
        report.already += given.already
        report.replaced += given.replaced
    return report


def _tag_problem(
    session: Session, tenant: TenantContext, key: str, seen: dict[str, Tag | None]
) -> str | None:
    if not key:
        return "no tag"
    if not rules.TAG_KEY.match(key):
        return f"{key!r} is not a tag key"
    if key not in seen:
        seen[key] = find_tag(session, tenant, key)
    found = seen[key]
    if found is None:
        return f"no tag {key!r} (create it first)"
    if found.kind != "manual":
        return f"tag {key!r} is a rule tag: its rule decides who holds it"
    return None


def _person(
    session: Session, tenant: TenantContext, values: dict[str, str]
) -> tuple[str | None, str | None]:
    """(live OneID, None) or (None, why not)."""
    if values.get("oneid"):
        live = identity.current_oneid(session=session, tenant=tenant, oneid=values["oneid"])
        return (live, None) if live else (None, f"no person {values['oneid']!r}")
    text = values.get("identifier", "")
    if not text:
        return None, "no oneid or identifier"
    found = identity.find_persons(session=session, tenant=tenant, query=text)
    if not found:
        return None, f"no person holds {text!r}"
    if len(found) > 1:
        return None, f"{text!r} matches {len(found)} persons"
    return found[0], None
