"""旅程: the list, the canvas with its editor (definition text and step forms), versions,
start and pause. Results and enrolment traces are in `journeys_results`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
import yaml
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import journeys, users
from siyu.web import journey_forms as forms
from siyu.web.auth import SessionDep, Staff, Writer
from siyu.web.i18n import translator
from siyu.web.journey_canvas import STEP_TITLES, build_canvas
from siyu.web.pages.journeys_results import local_time
from siyu.web.render import locale_of, page

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]


def _can_write(viewer: users.SignedIn) -> bool:
    return viewer.user.role in ("admin", "operator")


def _workbench(request: Request, text: str, *, key: str | None) -> dict[str, Any]:
    """What the editor shows for `text`: the canvas when it is valid, else the problems."""
    _ = translator(locale_of(request))
    bench: dict[str, Any] = {
        "text": text,
        "problems": [],
        "canvas": None,
        "step_ids": [],
        "key": key,
        "step_titles": STEP_TITLES,
    }
    try:
        definition = journeys.parse_definition(text=text)
    except journeys.DefinitionError as error:
        bench["problems"] = error.problems
        return bench
    if key is not None and definition.key != key:
        bench["problems"] = [_("The key cannot change: it stays {key}.", key=key)]
    bench["canvas"] = build_canvas(definition, _)
    bench["step_ids"] = [step.id for step in definition.steps]
    return bench


@router.get("/journeys", response_class=HTMLResponse)
def journey_list(request: Request, session: SessionDep, viewer: Staff) -> HTMLResponse:
    found = journeys.journey_summaries(session=session, tenant=viewer.tenant)
    return page(
        request,
        "journeys/list.html",
        {
            "journeys": found,
            "can_write": _can_write(viewer),
            "local": local_time(viewer.tenant.zone),
        },
    )


@router.get("/journeys/_new", response_class=HTMLResponse)
def new_journey(request: Request, viewer: Writer) -> HTMLResponse:
    return page(
        request,
        "journeys/new.html",
        {"bench": _workbench(request, forms.as_text(forms.STARTER), key=None)},
    )


def _store(
    bench: dict[str, Any],
    session: Any,
    text: str,
    save: Callable[[journeys.JourneyDefinition], journeys.JourneyView],
) -> journeys.JourneyView | None:
    """Save a valid definition through `save` and commit; problems go to the editor."""
    if bench["canvas"] is None or bench["problems"]:
        return None
    try:
        saved = save(journeys.parse_definition(text=text))
    except journeys.JourneyError as error:
        bench["problems"] = [str(error)]
        return None
    session.commit()
    return saved


@router.post("/journeys/_new", response_class=HTMLResponse)
def create_journey(
    request: Request, session: SessionDep, viewer: Writer, definition: Text
) -> Response:
    bench = _workbench(request, definition, key=None)
    created = _store(
        bench,
        session,
        definition,
        lambda parsed: journeys.create_journey(
            session=session, tenant=viewer.tenant, definition=parsed
        ),
    )
    if created is not None:
        return RedirectResponse(f"/journeys/{created.key}?note=created", status_code=303)
    return page(request, "journeys/new.html", {"bench": bench}, status=400)


@router.post("/journeys/_workbench", response_class=HTMLResponse)
async def workbench(
    request: Request,
    viewer: Staff,
    definition: Text,
    op: Text = "preview",
    key: Text = "",
) -> HTMLResponse:
    """The editor's fragment after a preview, a step added or removed, a trigger set."""
    _ = translator(locale_of(request))
    text, problem, editing = definition, None, None
    if op != "preview":
        form = await request.form()  # read once already (CSRF check): cached
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        try:
            data = _loads(definition)
        except forms.FormProblem as error:
            problem = _("Fix the definition text first: {error}", error=error)
        else:
            try:
                if op == "add":
                    data = forms.add_step(data, fields)
                elif op == "remove":
                    data = forms.remove_step(data, fields.get("step", ""))
                elif op == "trigger":
                    data = forms.set_trigger(data, fields)
                elif op == "replace":
                    data = forms.replace_step(
                        data, fields.get("step", ""), fields.get("step_json", "")
                    )
                elif op == "edit":
                    editing = {
                        "id": fields.get("step", ""),
                        "text": forms.step_text(data, fields.get("step", "")),
                    }
                text = forms.as_text(data)
            except forms.FormProblem as error:
                problem = _("The form cannot be applied: {error}", error=error)
    bench = _workbench(request, text, key=key or None)
    if problem:
        bench["problems"] = [problem, *bench["problems"]]
    bench["editing"] = editing
    return page(request, "journeys/_workbench.html", {"bench": bench, "can_write": True})


def _loads(text: str) -> dict[str, Any]:
    try:
        data = orjson.loads(text) if text.strip().startswith("{") else yaml.safe_load(text)
    except (orjson.JSONDecodeError, yaml.YAMLError) as error:
        raise forms.FormProblem(str(error)) from error
    if not isinstance(data, dict):
        raise forms.FormProblem("it is not an object")
    return data


@router.get("/journeys/_step-fields", response_class=HTMLResponse)
def step_fields(request: Request, viewer: Staff, type: str = "send") -> HTMLResponse:
    return page(
        request,
        "journeys/_step_fields.html",
        {"kind": type if type in forms.STEP_TYPES else "send", "forms": forms},
    )


@router.get("/journeys/{key}", response_class=HTMLResponse)
def journey_detail(
    request: Request,
    session: SessionDep,
    viewer: Staff,
    key: str,
    version: int | None = None,
    note: str | None = None,
) -> HTMLResponse:
    try:
        detail = journeys.get_journey(
            session=session, tenant=viewer.tenant, key=key, version=version
        )
    except journeys.JourneyError as error:
        return page(request, "journeys/problem.html", {"message": str(error)}, status=404)
    versions = journeys.list_versions(session=session, tenant=viewer.tenant, key=key)
    shown = version or detail.latest_version
    text = journeys.definition_text(detail.definition)
    return page(
        request,
        "journeys/detail.html",
        {
            "journey": detail,
            "versions": versions,
            "shown": shown,
            "note": note,
            "can_write": _can_write(viewer),
            "bench": _workbench(request, text, key=key),
            "local": local_time(viewer.tenant.zone),
        },
    )


@router.post("/journeys/{key}", response_class=HTMLResponse)
def save_journey(
    request: Request, session: SessionDep, viewer: Writer, key: str, definition: Text
) -> Response:
    bench = _workbench(request, definition, key=key)
    saved = _store(
        bench,
        session,
        definition,
        lambda parsed: journeys.update_journey(
            session=session, tenant=viewer.tenant, definition=parsed
        ),
    )
    if saved is not None:
        return RedirectResponse(
            f"/journeys/{key}?note=saved&version={saved.latest_version}", status_code=303
        )
    return page(request, "journeys/edit_failed.html", {"bench": bench, "key": key}, status=400)


@router.post("/journeys/{key}/start")
def start(request: Request, session: SessionDep, viewer: Writer, key: str) -> Response:
    try:
        journeys.start_journey(session=session, tenant=viewer.tenant, key=key)
    except journeys.JourneyError as error:
        return page(request, "journeys/problem.html", {"message": str(error)}, status=409)
    session.commit()
    return RedirectResponse(f"/journeys/{key}?note=started", status_code=303)


@router.post("/journeys/{key}/pause")
def pause(request: Request, session: SessionDep, viewer: Writer, key: str) -> Response:
    try:
        journeys.pause_journey(session=session, tenant=viewer.tenant, key=key)
    except journeys.JourneyError as error:
        return page(request, "journeys/problem.html", {"message": str(error)}, status=409)
    session.commit()
    return RedirectResponse(f"/journeys/{key}?note=paused", status_code=303)


@router.get("/journeys/{key}/diff", response_class=HTMLResponse)
def diff(
    request: Request, session: SessionDep, viewer: Staff, key: str, old: int, new: int
) -> HTMLResponse:
    try:
        lines = journeys.version_diff(
            session=session, tenant=viewer.tenant, key=key, old=old, new=new
        )
    except journeys.JourneyError as error:
        return page(request, "journeys/problem.html", {"message": str(error)}, status=404)
    return page(request, "journeys/diff.html", {"key": key, "old": old, "new": new, "lines": lines})
