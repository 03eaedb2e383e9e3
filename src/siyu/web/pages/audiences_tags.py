"""标签: tags by group with their holders, manual and rule tags, giving a manual tag to
persons, a CSV import, and recomputing the rule tags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import tags, users
from siyu.web import rule_form
from siyu.web.auth import SessionDep, Staff, Writer
from siyu.web.pages.audiences import Fields, engine_options, refused, vocabulary
from siyu.web.render import page

router = APIRouter(include_in_schema=False)


def _tags_page(
    request: Request,
    session: SessionDep,
    viewer: users.SignedIn,
    *,
    notice: str | None = None,
    problems: list[str] | None = None,
    report: Any = None,
    status: int = 200,
) -> HTMLResponse:
    found = tags.list_tags(session=session, tenant=viewer.tenant)
    groups: dict[str | None, list[tags.TagView]] = {}
    for tag in sorted(found, key=lambda t: (t.tag_group is None, t.tag_group or "", t.position)):
        groups.setdefault(tag.tag_group, []).append(tag)
    return page(
        request,
        "audiences/tags.html",
        {
            "groups": groups,
            "manual": [t.key for t in found if t.kind == "manual"],
            "notice": notice,
            "problems": problems or [],
            "report": report,
        },
        status=status,
    )


@router.get("/audiences/tags", response_class=HTMLResponse)
def tag_list(
    request: Request, session: SessionDep, viewer: Staff, saved: str | None = None
) -> HTMLResponse:
    return _tags_page(request, session, viewer, notice=saved)


def _tag_builder(
    request: Request,
    session: SessionDep,
    viewer: users.SignedIn,
    *,
    tree: rule_form.Node,
    values: dict[str, Any],
    editing: bool,
    problems: list[str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "audiences/tag_builder.html",
        {
            "tree": tree,
            "form": values,
            "editing": editing,
            "problems": problems or [],
            "rule_json": "",
            **vocabulary(session, viewer),
        },
        status=status,
    )


@router.get("/audiences/tags/new", response_class=HTMLResponse)
def new_rule_tag(request: Request, session: SessionDep, viewer: Writer) -> HTMLResponse:
    return _tag_builder(request, session, viewer, tree=rule_form.blank(), values={}, editing=False)


@router.post("/audiences/tags", response_class=HTMLResponse)
def create_tag(request: Request, session: SessionDep, viewer: Writer, fields: Fields) -> Response:
    """A manual tag (no rule), or a rule tag from the builder (`kind=rule`)."""
    key = fields.get("key", "").strip()
    is_rule = fields.get("kind") == "rule"
    tree = rule_form.from_form(fields) if is_rule else None
    values = {"key": key, "description": fields.get("description", "").strip() or None}
    problems: list[str] = []
    with refused(problems):
        tags.create_tag(
            session=session,
            tenant=viewer.tenant,
            tag=tags.TagIn.model_validate(
                {**values, "rule": rule_form.to_rule(tree) if tree else None}
            ),
            by=f"user:{viewer.user.username}",
        )
        session.commit()
        return RedirectResponse(f"/audiences/tags?saved={quote(key)}", status_code=303)
    if tree is not None:
        return _tag_builder(
            request, session, viewer, tree=tree, values=values, editing=False,
            problems=problems, status=422,
        )  # fmt: skip
    return _tags_page(request, session, viewer, problems=problems, status=422)


@router.get("/audiences/tags/{key}/edit", response_class=HTMLResponse)
def edit_rule_tag(request: Request, session: SessionDep, viewer: Writer, key: str) -> Response:
    problems: list[str] = []
    with refused(problems):
        found = tags.get_tag(session=session, tenant=viewer.tenant, key=key)
        if found.rule is None:
            raise tags.TagError(f"tag {key!r} is manual; it has no rule")
        return _tag_builder(
            request, session, viewer, tree=rule_form.from_rule(found.rule),
            values=found.model_dump(), editing=True,
        )  # fmt: skip
    return _tags_page(request, session, viewer, problems=problems, status=404)


@router.post("/audiences/tags/{key}/edit", response_class=HTMLResponse)
def update_rule_tag(
    request: Request, session: SessionDep, viewer: Writer, key: str, fields: Fields
) -> Response:
    tree = rule_form.from_form(fields)
    problems: list[str] = []
    with refused(problems):
        tags.update_rule(
            session=session, tenant=viewer.tenant, key=key, rule=rule_form.to_rule(tree)
        )
        session.commit()
        return RedirectResponse(f"/audiences/tags?saved={quote(key)}", status_code=303)
    return _tag_builder(
        request, session, viewer, tree=tree, values={"key": key}, editing=True,
        problems=problems, status=422,
    )  # fmt: skip


@router.post("/audiences/tags/give", response_class=HTMLResponse)
def give(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    key: Annotated[str, Form()],
    oneids: Annotated[str, Form()],
) -> HTMLResponse:
    """Give a manual tag to the persons listed (OneIDs, one per line or comma-separated)."""
    listed = [o.strip() for o in oneids.replace(",", "\n").splitlines() if o.strip()]
    return _written(
        request, session, viewer,
        lambda: tags.give_tag(
            session=session, tenant=viewer.tenant, key=key, oneids=listed,
            by=viewer.user.username,
        ),
    )  # fmt: skip


def _written(
    request: Request, session: SessionDep, viewer: users.SignedIn, write: Callable[[], Any]
) -> HTMLResponse:
    """Run a tag write, commit it, and show the tags with its report (or its refusal)."""
    problems: list[str] = []
    report = None
    with refused(problems):
        report = write()
        session.commit()
    return _tags_page(
        request, session, viewer, problems=problems, report=report,
        status=422 if problems else 200,
    )  # fmt: skip


@router.post("/audiences/tags/import", response_class=HTMLResponse)
def import_csv(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    file: Annotated[UploadFile, File()],
    tag: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Give the tags a CSV lists (columns oneid or identifier, and tag)."""
    text = file.file.read().decode("utf-8-sig", errors="replace")
    return _written(
        request, session, viewer,
        lambda: tags.import_tags(
            session=session, tenant=viewer.tenant, text=text,
            origin=f"{viewer.user.username}:{file.filename or 'upload'}", tag=tag.strip() or None,
        ),
    )  # fmt: skip


@router.post("/audiences/tags/compute", response_class=HTMLResponse)
def compute(request: Request, session: SessionDep, viewer: Writer) -> HTMLResponse:
    """Recompute every rule tag's holders now."""
    problems: list[str] = []
    report = None
    with refused(problems):
        report = tags.compute_rule_tags(
            session=session, tenant=viewer.tenant, **engine_options(request)
        )
    return _tags_page(request, session, viewer, problems=problems, report=report)
