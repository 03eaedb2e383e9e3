"""Imports: upload canonical files or platform exports, the history of import runs, and
the quarantine where a bad record is fixed by hand and imported again."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu import ingest
from siyu.web.auth import SessionDep, Writer
from siyu.web.render import page

router = APIRouter(include_in_schema=False)
KINDS = ("customer", "order", "refund", "event")
# Names an uploaded file may keep (its suffixes pick the reader: .jsonl, .csv, .xlsx, .gz).
SAFE_NAME = re.compile(r"[^\w.\-]+")


@router.get("/imports", response_class=HTMLResponse)
def imports(request: Request, session: SessionDep, viewer: Writer, run: int = 0) -> HTMLResponse:
    runs = ingest.list_import_runs(session=session, tenant=viewer.tenant)
    return page(request, "imports/index.html", _form_context(runs, run))


def _form_context(runs: list[ingest.ImportRunView], run: int = 0, **extra: Any) -> dict[str, Any]:
    formats = sorted(ingest.builtin_formats().values(), key=lambda spec: spec.name)
    return {"runs": runs, "run": run, "formats": formats, "kinds": KINDS, **extra}


def parse_params(text: str) -> dict[str, str]:
    """`key=value` pairs, one per line or separated by spaces (format parameters)."""
    found: dict[str, str] = {}
    for part in text.split():
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ValueError(f"{part!r} is not key=value")
        found[key] = value
    return found


@router.post("/imports", response_class=HTMLResponse)
def upload(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    file: Annotated[UploadFile, File()],
    file_format: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    params: Annotated[str, Form()] = "",
) -> Response:
    name = SAFE_NAME.sub("_", Path(file.filename or "").name).strip("._")
    if not name:
        return _refused(request, session, viewer, "Choose a file to upload.")
    with tempfile.TemporaryDirectory(prefix="siyu-upload-") as folder:
        path = Path(folder) / name
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out)
        try:
            report = ingest.ingest_files(
                session=session,
                tenant=viewer.tenant,
                paths=[path],
                kind=kind or None,
                source=source.strip() or None,
                file_format=file_format or None,
                params=parse_params(params),
                origin=f"upload {name} by {viewer.user.username}",
            )
        except (*ingest.FormatProblem, ValueError, OSError, UnicodeError) as error:
            session.rollback()
            return _refused(request, session, viewer, str(error))
    return RedirectResponse(
        f"/imports?run={report.import_run_id}", status_code=status.HTTP_303_SEE_OTHER
    )


def _refused(request: Request, session: SessionDep, viewer: Writer, error: str) -> HTMLResponse:
    runs = ingest.list_import_runs(session=session, tenant=viewer.tenant)
    return page(request, "imports/index.html", _form_context(runs, error=error), status=400)


@router.get("/imports/quarantine", response_class=HTMLResponse)
def quarantine(
    request: Request, session: SessionDep, viewer: Writer, fixed: int = 0
) -> HTMLResponse:
    entries = ingest.list_quarantine(session=session, tenant=viewer.tenant, limit=500)
    return page(request, "imports/quarantine.html", {"entries": entries, "fixed": fixed})


@router.get("/imports/quarantine/{entry_id}", response_class=HTMLResponse)
def quarantined(request: Request, session: SessionDep, viewer: Writer, entry_id: int) -> Response:
    try:
        entry = ingest.get_quarantined(session=session, tenant=viewer.tenant, entry_id=entry_id)
    except LookupError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
    context = {"entry": entry, "entry_id": entry.id, "text": editable(entry.raw)}
    return page(request, "imports/fix.html", context)


def editable(raw: str) -> str:
    """The stored record as indented JSON to edit (as received when it is not JSON)."""
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False, indent=2)
    except ValueError:
        return raw


@router.post("/imports/quarantine/{entry_id}", response_class=HTMLResponse)
def fix(
    request: Request,
    session: SessionDep,
    viewer: Writer,
    entry_id: int,
    record: Annotated[str, Form()],
) -> Response:
    data, problem = parse_record(record)
    if data is None:
        context = {"entry_id": entry_id, "text": record, "error": problem}
        return page(request, "imports/fix.html", context, status=400)
    try:
        _report, result = ingest.fix_quarantined(
            session=session, tenant=viewer.tenant, entry_id=entry_id, record=data
        )
    except LookupError as error:  # unknown, or fixed meanwhile (another tab, a retry)
        context = {"entry_id": entry_id, "text": record, "error": str(error)}
        return page(request, "imports/fix.html", context, status=409)
    if result.status == "accepted":
        return RedirectResponse(
            f"/imports/quarantine?fixed={entry_id}", status_code=status.HTTP_303_SEE_OTHER
        )
    # Still bad: quarantined again under a new number, which the form now edits.
    context = {
        "entry_id": result.quarantine_id,
        "text": record,
        "error": f"{result.field}: {result.reason}",
    }
    return page(request, "imports/fix.html", context, status=422)


def parse_record(text: str) -> tuple[dict[str, Any] | None, str | None]:
    """The edited record as a dict, or why it is not one."""
    try:
        data = json.loads(text)
    except ValueError as error:
        return None, f"not valid JSON: {error}"
    if not isinstance(data, dict):
        return None, "a record must be a JSON object"
    return data, None
