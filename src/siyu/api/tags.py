"""REST API v1 for tags: tags and groups, giving/removing, CSV imports, rule computation."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from pydantic import BaseModel, Field

from siyu import tags
from siyu.api.deps import CallerDep, SessionDep, WriterDep
from siyu.api.segments import engine_settings, refusals

router = APIRouter(prefix="/api/v1", tags=["tags"])


class GroupIn(BaseModel):
    name: str
    exclusive: bool = True
    description: str | None = None


class Persons(BaseModel):
    oneids: list[str] = Field(min_length=1, max_length=10_000)
    by: str = Field(default="api", max_length=128, description="who gives (recorded)")


class ComputeIn(BaseModel):
    keys: list[str] | None = None
    as_of: date | None = None


@router.get("/tags")
def list_tags(session: SessionDep, caller: CallerDep) -> list[tags.TagView]:
    """The tags with their kind and holders."""
    return tags.list_tags(session=session, tenant=caller.tenant)


@router.post("/tags", status_code=201)
def create_tag(session: SessionDep, caller: WriterDep, tag: tags.TagIn) -> tags.TagView:
    """Create a manual tag, or a rule tag (with `rule`)."""
    with refusals():
        made = tags.create_tag(session=session, tenant=caller.tenant, tag=tag, by="api")
        session.commit()
    return made


@router.get("/tags/{key}")
def get_tag(session: SessionDep, caller: CallerDep, key: str) -> tags.TagView:
    """One tag."""
    with refusals():
        return tags.get_tag(session=session, tenant=caller.tenant, key=key)


@router.put("/tags/{key}/rule")
def set_rule(
    session: SessionDep, caller: WriterDep, key: str, rule: Annotated[dict[str, object], Body()]
) -> tags.TagView:
    """Replace a rule tag's rule."""
    with refusals():
        updated = tags.update_rule(session=session, tenant=caller.tenant, key=key, rule=rule)
        session.commit()
    return updated


@router.post("/tags/{key}/persons")
def give_tag(session: SessionDep, caller: WriterDep, key: str, persons: Persons) -> tags.GiveReport:
    """Give a manual tag to persons (a group value replaces their other value)."""
    with refusals():
        report = tags.give_tag(
            session=session, tenant=caller.tenant, key=key, oneids=persons.oneids, by=persons.by
        )
        session.commit()
    return report


@router.delete("/tags/{key}/persons/{oneid}")
def remove_tag(session: SessionDep, caller: WriterDep, key: str, oneid: str) -> dict[str, int]:
    """Take a manual tag from a person."""
    with refusals():
        removed = tags.remove_tag(
            session=session, tenant=caller.tenant, key=key, oneids=[oneid], by="api"
        )
        session.commit()
    return {"removed": removed}


@router.post("/tags/import")
def import_tags(
    session: SessionDep,
    caller: WriterDep,
    csv_text: Annotated[str, Body(media_type="text/csv")],
    tag: Annotated[str | None, Query(description="one tag for every row")] = None,
    origin: Annotated[str, Query(max_length=200)] = "api upload",
) -> tags.ImportReport:
    """Import manual tags from CSV (oneid or identifier, tag); bad rows are reported."""
    with refusals():
        report = tags.import_tags(
            session=session, tenant=caller.tenant, text=csv_text, origin=origin, tag=tag
        )
        session.commit()
    return report


@router.get("/tag-groups")
def list_groups(session: SessionDep, caller: CallerDep) -> list[tags.TagGroupView]:
    """Tag groups with their values."""
    return tags.list_groups(session=session, tenant=caller.tenant)


@router.post("/tag-groups", status_code=201)
def create_group(session: SessionDep, caller: WriterDep, group: GroupIn) -> tags.TagGroupView:
    """Create a tag group (exclusive by default)."""
    with refusals():
        made = tags.create_group(
            session=session,
            tenant=caller.tenant,
            name=group.name,
            exclusive=group.exclusive,
            description=group.description,
        )
        session.commit()
    return made


@router.post("/tags/compute")
def compute(
    request: Request, session: SessionDep, caller: WriterDep, body: ComputeIn
) -> tags.TagComputeReport:
    """Recompute rule tags in batch (all, or `keys`)."""
    engine = engine_settings(request)
    with refusals():
        return tags.compute_rule_tags(
            session=session,
            tenant=caller.tenant,
            engine_dir=engine.engine_dir,
            keys=body.keys,
            engine=engine.engine,
            as_of=body.as_of,
            spark_master=engine.spark_master,
        )


@router.get("/persons/{oneid}/tags")
def person_tags(session: SessionDep, caller: CallerDep, oneid: str) -> list[tags.PersonTag]:
    """A person's tags, each with when and by which rule, user or import it was given."""
    return tags.tags_of_person(session=session, tenant=caller.tenant, oneid=oneid)


@router.get("/persons/{oneid}/tag-history")
def person_tag_history(
    session: SessionDep, caller: CallerDep, oneid: str
) -> list[tags.TagInterval]:
    """When the person's tags were given and removed, newest first."""
    return tags.tag_history(session=session, tenant=caller.tenant, oneid=oneid)
