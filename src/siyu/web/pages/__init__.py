"""The console's pages: one module per section, each a router of thin handlers."""

from fastapi import APIRouter

from siyu.web.pages import imports, imports_identity, overview, persons, persons_panels, signin

ROUTERS: list[APIRouter] = [
    signin.router,
    overview.router,
    persons.router,
    persons_panels.router,
    imports.router,
    imports_identity.router,
]
