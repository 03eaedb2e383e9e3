"""人群: audiences with sizes, the rule builder with a live count, save and edit.

The builder is a server-rendered form (`siyu.web.rule_form`): HTMX posts it to
`/audiences/preview` on every change (the count) and to `/audiences/builder` for the
buttons that add or remove rows; the rules domain validates what it produces.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from siyu import audiences, identity, loyalty, rules, tags, users
from siyu.engine import EngineUnavailableError
from siyu.runtime import Runtime
from siyu.web import rule_form
from siyu.web.auth import SessionDep, Staff, Writer
from siyu.web.render import page

router = APIRouter(include_in_schema=False)


def engine_options(request: Request) -> dict[str, Any]:
    """The engine the console counts with (the server's settings)."""
    runtime: Runtime = request.app.state.runtime
    settings = runtime.settings
    return {
        "engine_dir": Path(settings.engine_dir),
        "engine": settings.engine,
        "spark_master": settings.spark_master,
    }


@contextmanager
def refused(problems: list[str]) -> Iterator[None]:
    """Collect a refusal's reasons (bad rule, unknown tag, engine down) into `problems`."""
    try:
        yield
    except rules.RuleError as error:
        problems.extend(error.problems)
    except ValidationError as error:
        problems.extend(
            f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in error.errors()
        )
    except (
        tags.TagError,
        audiences.AudienceError,
        loyalty.LoyaltyError,
        LookupError,
        ValueError,
    ) as error:
        problems.append(str(error.args[0]) if error.args else str(error))
    except EngineUnavailableError as error:
        problems.append(str(error))


def vocabulary(session: SessionDep, viewer: users.SignedIn) -> dict[str, Any]:
    """What the builder offers in its lists: fields, tags, groups, identifier types."""
    tenant = viewer.tenant
    return {
        "kinds": rule_form.CONDITIONS,
        "ops": rule_form.OPS,
        "trait_fields": rules.TRAIT_FIELDS,
        "attribute_fields": rules.ATTRIBUTE_FIELDS,
        "choices": rules.CHOICES,
        "kind_labels": rule_form.KIND_LABELS,
        "field_labels": rule_form.FIELD_LABELS,
        "op_labels": rule_form.OP_LABELS,
        "placeholders": rule_form.PLACEHOLDERS,
        "tag_keys": [t.key for t in tags.list_tags(session=session, tenant=tenant)],
        "tag_groups": [g.name for g in tags.list_groups(session=session, tenant=tenant)],
        "identifier_types": sorted(
            {"phone", *identity.IDENTIFIER_TYPES, *tenant.settings.identity.custom_types}
        ),
    }


async def form_fields(request: Request) -> dict[str, str]:
    """The posted form's text fields. Read here, in an async dependency, so the handlers
    stay sync: they run in the thread pool, and a handler waiting for the store's write
    lock never blocks the event loop that would release it."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


Fields = Annotated[dict[str, str], Depends(form_fields)]


def _tree(form: Fields) -> rule_form.Node:
    return rule_form.from_form(form)


def _rule_json(rule: dict[str, Any]) -> str:
    return json.dumps(rule, ensure_ascii=False, indent=1)


@router.get("/audiences", response_class=HTMLResponse)
def audience_list(
    request: Request, session: SessionDep, viewer: Staff, saved: str | None = None
) -> HTMLResponse:
    found = audiences.list_audiences(session=session, tenant=viewer.tenant)
    return page(request, "audiences/index.html", {"audiences": found, "saved": saved})


def _builder_page(
    request: Request,
    session: SessionDep,
    viewer: users.SignedIn,
    *,
    tree: rule_form.Node,
    audience: audiences.AudienceView | None = None,
    values: dict[str, Any] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "audiences/builder.html",
        {
            "tree": tree,
            "audience": audience,
            "form": values or {},
            "problems": problems or [],
            "rule_json": _rule_json(rule_form.to_rule(tree)),
            **vocabulary(session, viewer),
        },
        status=status,
    )


@router.get("/audiences/new", response_class=HTMLResponse)
def new_audience(request: Request, session: SessionDep, viewer: Writer) -> HTMLResponse:
    return _builder_page(request, session, viewer, tree=rule_form.blank())


@router.post("/audiences/preview", response_class=HTMLResponse)
def preview(request: Request, session: SessionDep, viewer: Staff, form: Fields) -> HTMLResponse:
    """The live count: compile the builder's rule and count it over the last snapshot."""
    rule = rule_form.to_rule(_tree(form))
    problems: list[str] = []
    result = None
    with refused(problems):
        result = audiences.preview(
            session=session,
            tenant=viewer.tenant,
            rule=rule,
            fresh=form.get("fresh") == "1",
            **engine_options(request),
        )
    return page(
        request,
        "audiences/_count.html",
        {"result": result, "problems": problems, "rule_json": _rule_json(rule), "oob": False},
        status=200,
    )


@router.post("/audiences/builder", response_class=HTMLResponse)
def builder_edit(
    request: Request,
    session: SessionDep,
    viewer: Staff,
    form: Fields,
    action: str,
    at: str = rule_form.ROOT,
) -> HTMLResponse:
    """A builder button: add or remove a row or group, or re-draw a row whose kind changed;
    `load` reads the rule from the JSON box instead."""
    problems: list[str] = []
    tree = _tree(form)
    if action == "load":
        with refused(problems):
            tree = rule_form.from_rule(rules.dump_rule(rules.parse_rule(form.get("rule_json"))))
    else:
        tree = rule_form.edit(tree, action, at)
    return page(
        request,
        "audiences/_builder.html",
        {
            "tree": tree,
            "problems": problems,
            "rule_json": _rule_json(rule_form.to_rule(tree)),
            **vocabulary(session, viewer),
        },
    )


def _audience_in(form: Fields, rule: dict[str, Any]) -> dict[str, Any]:
    minutes = str(form.get("refresh_minutes") or "").strip()
    return {
        "name": str(form.get("name") or "").strip(),
        "description": str(form.get("description") or "").strip() or None,
        "online": form.get("online") == "1",
        "refresh_minutes": int(minutes) if minutes.isdigit() else None,
        "rule": rule,
    }


@router.post("/audiences", response_class=HTMLResponse)
def save_audience(request: Request, session: SessionDep, viewer: Writer, form: Fields) -> Response:
    tree = _tree(form)
    values = _audience_in(form, rule_form.to_rule(tree))
    problems: list[str] = []
    with refused(problems):
        audiences.create_audience(
            session=session,
            tenant=viewer.tenant,
            audience=audiences.AudienceIn.model_validate(values),
            by=f"user:{viewer.user.username}",
        )
        session.commit()
        return RedirectResponse(f"/audiences?saved={quote(values['name'])}", status_code=303)
    return _builder_page(
        request, session, viewer, tree=tree, values=values, problems=problems, status=422
    )


@router.get("/audiences/{name}/edit", response_class=HTMLResponse)
def edit_audience(request: Request, session: SessionDep, viewer: Writer, name: str) -> Response:
    found = _found(session, viewer, name)
    if found is None:
        return _missing(request, name)
    return _builder_page(
        request,
        session,
        viewer,
        tree=rule_form.from_rule(found.rule),
        audience=found,
        values=found.model_dump(),
    )


@router.post("/audiences/{name}/edit", response_class=HTMLResponse)
def update_audience(
    request: Request, session: SessionDep, viewer: Writer, name: str, form: Fields
) -> Response:
    tree = _tree(form)
    values = _audience_in(form, rule_form.to_rule(tree))
    problems: list[str] = []
    with refused(problems):
        audiences.update_audience(
            session=session,
            tenant=viewer.tenant,
            name=name,
            changes=audiences.AudienceUpdate.model_validate(
                {k: values[k] for k in ("rule", "description", "online", "refresh_minutes")}
            ),
        )
        session.commit()
        return RedirectResponse(f"/audiences/{quote(name)}", status_code=303)
    found = _found(session, viewer, name)
    return _builder_page(
        request,
        session,
        viewer,
        tree=tree,
        audience=found,
        values={**values, "name": name},
        problems=problems,
        status=422,
    )


def _found(session: SessionDep, viewer: users.SignedIn, name: str) -> audiences.AudienceView | None:
    try:
        return audiences.get_audience(session=session, tenant=viewer.tenant, name=name)
    except LookupError:
        return None


def _missing(request: Request, name: str) -> HTMLResponse:
    return page(request, "audiences/missing.html", {"name": name}, status=404)
