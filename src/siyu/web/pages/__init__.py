"""The console's pages: one module per section, each a router of thin handlers."""

from fastapi import APIRouter

from siyu.web.pages import overview, persons, persons_panels, signin

ROUTERS: list[APIRouter] = [signin.router, overview.router, persons.router, persons_panels.router]
