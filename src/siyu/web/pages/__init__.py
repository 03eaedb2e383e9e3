"""The console's pages: one module per section, each a router of thin handlers."""

from fastapi import APIRouter

from siyu.web.pages import (
    audiences,
    audiences_detail,
    audiences_tags,
    imports,
    imports_identity,
    journeys,
    journeys_results,
    loyalty,
    loyalty_member,
    loyalty_settings,
    overview,
    persons,
    persons_panels,
    settings,
    signin,
)

# Fixed paths before parameterised ones: /audiences/tags before /audiences/{name}, and
# journeys_results' /journeys/_enrolments before /journeys/{key}.
ROUTERS: list[APIRouter] = [
    signin.router,
    overview.router,
    persons.router,
    persons_panels.router,
    audiences_tags.router,
    audiences.router,
    audiences_detail.router,
    loyalty.router,
    loyalty_member.router,
    loyalty_settings.router,
    journeys_results.router,
    journeys.router,
    imports.router,
    imports_identity.router,
    settings.router,
]
