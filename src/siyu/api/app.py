"""The FastAPI application (OpenAPI at /docs)."""

from __future__ import annotations

from fastapi import FastAPI

import siyu
from siyu.api import audiences, experiments, tags
from siyu.api import journeys as journeys_api
from siyu.api import loyalty as loyalty_api
from siyu.api.routes import router
from siyu.runtime import Runtime
from siyu.web import install as install_console


def create_app(runtime: Runtime) -> FastAPI:
    """An API serving `runtime`'s store."""
    app = FastAPI(
        title="siyu API",
        version=siyu.__version__,
        description="siyu (私域): customer data, OneID and profiles. The console is at `/`.",
    )
    app.state.runtime = runtime
    app.include_router(router)
    app.include_router(experiments.router)
    app.include_router(journeys_api.router)
    loyalty_api.install(app)
    app.include_router(tags.router)
    app.include_router(audiences.router)
    install_console(app)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
