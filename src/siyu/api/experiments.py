"""REST API v1 for experiments: the list and each one's report against its control."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from siyu import experiments
from siyu.api.deps import CallerDep, SessionDep

router = APIRouter(prefix="/api/v1/experiments", tags=["experiments"])


@router.get("")
def list_experiments(session: SessionDep, caller: CallerDep) -> list[experiments.ExperimentSummary]:
    """The tenant's experiments, newest first."""
    return experiments.list_experiments(session=session, tenant=caller.tenant)


@router.get("/{name}/report")
def report(
    session: SessionDep,
    caller: CallerDep,
    name: str,
    options: Annotated[experiments.ReportOptions, Query()],
) -> experiments.ExperimentReport:
    """Each arm against the control per metric: difference, relative lift, CIs, p-values."""
    try:
        return experiments.experiment_report(
            session=session, tenant=caller.tenant, name=name, options=options
        )
    except experiments.ExperimentError as error:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(error)) from None
