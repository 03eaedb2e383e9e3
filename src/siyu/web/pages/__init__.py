"""The console's pages: one module per section, each a router of thin handlers."""

from fastapi import APIRouter

from siyu.web.pages import (
    imports,
    imports_identity,
    journeys,
    journeys_results,
    overview,
    persons,
    persons_panels,
    settings,
    signin,
)

# journeys_results before journeys: its `/journeys/_enrolments` must win over `/journeys/{key}`.
ROUTERS: list[APIRouter] = [
    signin.router,
    overview.router,
    persons.router,
    persons_panels.router,
    imports.router,
    imports_identity.router,
    journeys_results.router,
    journeys.router,
    settings.router,
]
