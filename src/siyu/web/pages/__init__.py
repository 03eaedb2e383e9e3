"""The console's pages: one module per section, each a router of thin handlers."""

from fastapi import APIRouter

from siyu.web.pages import journeys, journeys_results, overview, settings, signin

# journeys_results before journeys: its `/journeys/_enrolments` must win over `/journeys/{key}`.
ROUTERS: list[APIRouter] = [
    signin.router,
    overview.router,
    journeys_results.router,
    journeys.router,
    settings.router,
]
