"""Tag use cases: tags and groups, giving and removing tags, reading who holds what."""

from __future__ import annotations

import graphlib
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from siyu import identity, rules
from siyu.store.base import utcnow
from siyu.tags.models import Tag, TagAssignment, TagGroup
from siyu.tags.schemas import (
    GivenBy,
    GiveReport,
    PersonTag,
    TagGroupView,
    TagIn,
    TagInterval,
    TagView,
)
from siyu.tenants import TenantContext


class TagError(ValueError):
    """A tag request that cannot be done; the message says why."""


def create_group(
    *,
    session: Session,
    tenant: TenantContext,
    name: str,
    exclusive: bool = True,
    description: str | None = None,
) -> TagGroupView:
    """A new tag group (its values are tags `name=value`)."""
    if not rules.TAG_GROUP.match(name):
        raise TagError(f"{name!r} is not a tag group name (no '=', no outer spaces)")
    if _group(session, tenant, name) is not None:
        raise TagError(f"tag group {name!r} exists")
    session.add(
        TagGroup(tenant_id=tenant.id, name=name, exclusive=exclusive, description=description)
    )
    session.flush()
    return _group_view(session, tenant, name)


def list_groups(*, session: Session, tenant: TenantContext) -> list[TagGroupView]:
    """The tenant's tag groups with their values."""
    names = session.scalars(
        select(TagGroup.name).where(TagGroup.tenant_id == tenant.id).order_by(TagGroup.name)
    )
    return [_group_view(session, tenant, name) for name in names]


def create_tag(*, session: Session, tenant: TenantContext, tag: TagIn, by: str) -> TagView:
    """A new manual tag, or a rule tag; a `group=value` key creates its group if new."""
    if not rules.TAG_KEY.match(tag.key):
        raise TagError(f"{tag.key!r} is not a tag key ('name' or 'group=value')")
    if find_tag(session, tenant, tag.key) is not None:
        raise TagError(f"tag {tag.key!r} exists")
    group, _ = rules.split_tag_key(tag.key)
    kind = "manual" if tag.rule is None else "rule"
    stored_rule = None if tag.rule is None else _checked_rule(session, tenant, tag.key, tag.rule)
    position = 0
    if group is not None:
        if _group(session, tenant, group) is None:
            session.add(TagGroup(tenant_id=tenant.id, name=group, exclusive=True))
        siblings = _group_tags(session, tenant, group)
        # One kind per group: who owns the values (a rule, or people) is never mixed.
        if any(t.kind != kind for t in siblings):
            raise TagError(f"tag group {group!r} holds {siblings[0].kind} tags; this is {kind}")
        position = max((t.position for t in siblings), default=-1) + 1
    row = Tag(
        tenant_id=tenant.id,
        key=tag.key,
        tag_group=group,
        kind=kind,
        position=position,
        rule=stored_rule,
        refresh_minutes=tag.refresh_minutes if kind == "rule" else None,
        description=tag.description,
        created_by=by,
    )
    session.add(row)
    session.flush()
    return _view(session, row)


def update_rule(
    *, session: Session, tenant: TenantContext, key: str, rule: dict[str, object]
) -> TagView:
    """Replace a rule tag's rule (holders change at its next computation)."""
    row = _require(session, tenant, key)
    if row.kind != "rule":
        raise TagError(f"tag {key!r} is manual; it has no rule")
    row.rule = _checked_rule(session, tenant, key, rule)
    session.flush()
    return _view(session, row)


def _checked_rule(
    session: Session, tenant: TenantContext, key: str, data: dict[str, object]
) -> dict[str, object]:
    """The rule as stored, after checking its references and that no rule tag depends on
    itself (through other rule tags or groups)."""
    rule = rules.parse_rule(data)
    check_rule(session=session, tenant=tenant, rule=rule)
    graph = dependencies(session, tenant)
    graph[key] = _expand(session, tenant, rule)
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as error:
        cycle = " → ".join(str(k) for k in error.args[1])
        raise rules.RuleError([f"rule tags would depend on themselves: {cycle}"]) from None
    return rules.dump_rule(rule)


def check_rule(*, session: Session, tenant: TenantContext, rule: rules.Rule) -> None:
    """Raise RuleError if the rule names tags, groups or identifier types that don't exist."""
    keys = set(session.scalars(select(Tag.key).where(Tag.tenant_id == tenant.id)))
    groups = set(session.scalars(select(TagGroup.name).where(TagGroup.tenant_id == tenant.id)))
    types = {*identity.IDENTIFIER_TYPES, *tenant.settings.identity.custom_types}
    rules.check_references(rule, tag_keys=keys, tag_groups=groups, identifier_types=types)


def dependencies(session: Session, tenant: TenantContext) -> dict[str, set[str]]:
    """For each rule tag, the tags its rule reads (a group stands for all its values)."""
    found: dict[str, set[str]] = {}
    for row in session.scalars(select(Tag).where(Tag.tenant_id == tenant.id, Tag.kind == "rule")):
        if row.rule is not None:
            found[row.key] = _expand(session, tenant, rules.parse_rule(row.rule))
    return found


def _expand(session: Session, tenant: TenantContext, rule: rules.Rule) -> set[str]:
    keys, groups = rules.tag_references(rule)
    for group in groups:
        keys.update(t.key for t in _group_tags(session, tenant, group))
    return keys


def list_tags(*, session: Session, tenant: TenantContext) -> list[TagView]:
    """The tenant's tags by key, with how many persons hold each now."""
    rows = session.scalars(select(Tag).where(Tag.tenant_id == tenant.id).order_by(Tag.key))
    return [_view(session, row) for row in rows]


def get_tag(*, session: Session, tenant: TenantContext, key: str) -> TagView:
    """One tag by key."""
    return _view(session, _require(session, tenant, key))


def give_tag(
    *,
    session: Session,
    tenant: TenantContext,
    key: str,
    oneids: Sequence[str],
    by: str,
    via: GivenBy = "user",
) -> GiveReport:
    """Give a manual tag to persons (any OneID ever issued; the live one gets it). A value
    of an exclusive group replaces the person's other value of that group."""
    row = _require(session, tenant, key)
    if row.kind != "manual":
        raise TagError(f"tag {key!r} is a rule tag: its rule decides who holds it")
    live = identity.current_oneids(session=session, tenant=tenant, oneids=oneids)
    report = GiveReport(unknown=sorted({o for o in oneids if o not in live}))
    targets = sorted(set(live.values()))
    now = utcnow()
    others = _exclusive_siblings(session, tenant, row)
    if others:
        report.replaced = _close(session, tenant, [t.id for t in others], targets, now, via, by)
    holding = open_holders(session, tenant, row.id, targets)
    report.already = len(holding)
    for oneid in targets:
        if oneid not in holding:
            session.add(_assignment(tenant, row.id, oneid, now, via, by))
            report.given += 1
    session.flush()
    return report


def remove_tag(
    *,
    session: Session,
    tenant: TenantContext,
    key: str,
    oneids: Sequence[str],
    by: str,
    via: GivenBy = "user",
) -> int:
    """Take a manual tag from persons; returns how many held it."""
    row = _require(session, tenant, key)
    if row.kind != "manual":
        raise TagError(f"tag {key!r} is a rule tag: its rule decides who holds it")
    live = identity.current_oneids(session=session, tenant=tenant, oneids=oneids)
    # A tag given before a merge sits on the retired OneID: remove it there too.
    targets = set(live.values()) | set(live)
    targets |= set(identity.retired_into(session=session, tenant=tenant, oneids=sorted(targets)))
    removed = _close(session, tenant, [row.id], sorted(targets), utcnow(), via, by)
    session.flush()
    return removed


def apply_tags(
    *,
    session: Session,
    tenant: TenantContext,
    oneid: str,
    add: Sequence[str],
    remove: Sequence[str],
    by: str,
    via: GivenBy = "journey",
) -> bool:
    """Give and take manual tags of one person once per `by` (the provenance, e.g. a
    journey step's key): False when a change by `by` is already recorded. Tags named that
    do not exist yet are created as manual tags."""
    live = identity.current_oneid(session=session, tenant=tenant, oneid=oneid) or oneid
    family = [live, *identity.retired_into(session=session, tenant=tenant, oneids=[live])]
    done = session.scalar(
        select(TagAssignment.id)
        .where(
            TagAssignment.tenant_id == tenant.id,
            TagAssignment.oneid.in_(family),  # the person's rows (indexed), then provenance
            or_(
                and_(TagAssignment.given_by_kind == via, TagAssignment.given_by == by),
                and_(TagAssignment.removed_by_kind == via, TagAssignment.removed_by == by),
            ),
        )
        .limit(1)
    )
    if done is not None:
        return False
    for key in add:
        if find_tag(session, tenant, key) is None:
            create_tag(session=session, tenant=tenant, tag=TagIn(key=key), by=by)
        give_tag(session=session, tenant=tenant, key=key, oneids=[live], by=by, via=via)
    for key in remove:
        if find_tag(session, tenant, key) is not None:
            remove_tag(session=session, tenant=tenant, key=key, oneids=[live], by=by, via=via)
    return True


def tags_of_person(*, session: Session, tenant: TenantContext, oneid: str) -> list[PersonTag]:
    """The tags a person holds now (also those given to OneIDs merged into them)."""
    live = identity.current_oneid(session=session, tenant=tenant, oneid=oneid) or oneid
    owned = [live, *identity.retired_into(session=session, tenant=tenant, oneids=[live])]
    rows = session.execute(
        select(Tag, TagAssignment)
        .join(TagAssignment, TagAssignment.tag_id == Tag.id)
        .where(
            TagAssignment.tenant_id == tenant.id,
            TagAssignment.oneid.in_(owned),
            TagAssignment.removed_at.is_(None),
        )
        .order_by(Tag.key, TagAssignment.given_at)
    )
    seen: dict[str, PersonTag] = {}
    for tag, held in rows:
        seen.setdefault(
            tag.key,
            PersonTag(
                key=tag.key,
                tag_group=tag.tag_group,
                kind=tag.kind,
                given_at=held.given_at,
                given_by_kind=held.given_by_kind,
                given_by=held.given_by,
            ),
        )
    return list(seen.values())


def tag_history(
    *,
    session: Session,
    tenant: TenantContext,
    oneid: str | None = None,
    key: str | None = None,
    limit: int = 1000,
) -> list[TagInterval]:
    """Periods persons held tags, newest first (for one person and/or one tag)."""
    query = (
        select(Tag.key, TagAssignment)
        .join(TagAssignment, TagAssignment.tag_id == Tag.id)
        .where(TagAssignment.tenant_id == tenant.id)
    )
    if oneid is not None:
        live = identity.current_oneid(session=session, tenant=tenant, oneid=oneid) or oneid
        owned = [live, *identity.retired_into(session=session, tenant=tenant, oneids=[live])]
        query = query.where(TagAssignment.oneid.in_(owned))
    if key is not None:
        query = query.where(Tag.key == key)
    query = query.order_by(TagAssignment.given_at.desc(), TagAssignment.id.desc()).limit(limit)
    return [
        TagInterval(
            key=tag_key,
            oneid=held.oneid,
            given_at=held.given_at,
            given_by_kind=held.given_by_kind,
            given_by=held.given_by,
            removed_at=held.removed_at,
            removed_by_kind=held.removed_by_kind,
            removed_by=held.removed_by,
        )
        for tag_key, held in session.execute(query)
    ]


# -- helpers shared with compute/imports --------------------------------------------------


def find_tag(session: Session, tenant: TenantContext, key: str) -> Tag | None:
    return session.scalar(select(Tag).where(Tag.tenant_id == tenant.id, Tag.key == key))


def _require(session: Session, tenant: TenantContext, key: str) -> Tag:
    row = find_tag(session, tenant, key)
    if row is None:
        raise LookupError(f"no tag {key!r}")
    return row


def _group(session: Session, tenant: TenantContext, name: str) -> TagGroup | None:
    return session.scalar(
        select(TagGroup).where(TagGroup.tenant_id == tenant.id, TagGroup.name == name)
    )


def _group_tags(session: Session, tenant: TenantContext, group: str) -> list[Tag]:
    return list(
        session.scalars(
            select(Tag)
            .where(Tag.tenant_id == tenant.id, Tag.tag_group == group)
            .order_by(Tag.position)
        )
    )


def _exclusive_siblings(session: Session, tenant: TenantContext, row: Tag) -> list[Tag]:
    """The other values of the tag's group when the group is exclusive."""
    if row.tag_group is None:
        return []
    group = _group(session, tenant, row.tag_group)
    if group is None or not group.exclusive:
        return []
    return [t for t in _group_tags(session, tenant, row.tag_group) if t.id != row.id]


def open_holders(
    session: Session, tenant: TenantContext, tag_id: int, oneids: Sequence[str]
) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(oneids), 1000):
        found.update(
            session.scalars(
                select(TagAssignment.oneid).where(
                    TagAssignment.tenant_id == tenant.id,
                    TagAssignment.tag_id == tag_id,
                    TagAssignment.oneid.in_(oneids[start : start + 1000]),
                    TagAssignment.removed_at.is_(None),
                )
            )
        )
    return found


def _close(
    session: Session,
    tenant: TenantContext,
    tag_ids: Collection[int],
    oneids: Sequence[str],
    now: datetime,
    kind: str,
    by: str,
) -> int:
    """End the open intervals of these tags for these persons; returns how many ended."""
    closed = 0
    for start in range(0, len(oneids), 1000):
        result = session.execute(
            update(TagAssignment)
            .where(
                TagAssignment.tenant_id == tenant.id,
                TagAssignment.tag_id.in_(list(tag_ids)),
                TagAssignment.oneid.in_(oneids[start : start + 1000]),
                TagAssignment.removed_at.is_(None),
            )
            .values(removed_at=now, removed_by_kind=kind, removed_by=by)
            .execution_options(synchronize_session=False)
        )
        closed += result.rowcount  # type: ignore[attr-defined]
    return closed


def _assignment(
    tenant: TenantContext, tag_id: int, oneid: str, now: datetime, kind: str, by: str
) -> TagAssignment:
    return TagAssignment(
        tenant_id=tenant.id,
        tag_id=tag_id,
        oneid=oneid,
        given_at=now,
        given_by_kind=kind,
        given_by=by,
    )


def _view(session: Session, row: Tag) -> TagView:
    holders = session.scalar(
        select(func.count()).where(
            TagAssignment.tenant_id == row.tenant_id,
            TagAssignment.tag_id == row.id,
            TagAssignment.removed_at.is_(None),
        )
    )
    view = TagView.model_validate(row)
    view.holders = int(holders or 0)
    return view


def _group_view(session: Session, tenant: TenantContext, name: str) -> TagGroupView:
    group = _group(session, tenant, name)
    assert group is not None
    return TagGroupView(
        name=group.name,
        exclusive=group.exclusive,
        description=group.description,
        values=[rules.split_tag_key(t.key)[1] for t in _group_tags(session, tenant, name)],
    )
