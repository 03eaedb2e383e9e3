"""The console's pages: one module per section, each a router of thin handlers."""

from fastapi import APIRouter

from siyu.web.pages import overview, settings, signin

ROUTERS: list[APIRouter] = [signin.router, overview.router, settings.router]
