"""The console's pages: one module per section, each a router of thin handlers."""

from fastapi import APIRouter

from siyu.web.pages import (
    audiences,
    audiences_detail,
    audiences_tags,
    loyalty,
    loyalty_member,
    overview,
    signin,
)

# Fixed paths (/audiences/tags, /audiences/new...) before /audiences/{name}.
ROUTERS: list[APIRouter] = [
    signin.router,
    overview.router,
    audiences_tags.router,
    audiences.router,
    audiences_detail.router,
    loyalty.router,
    loyalty_member.router,
]
