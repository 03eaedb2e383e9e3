"""The FastAPI application (OpenAPI at /docs)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import siyu
from siyu.api import audiences, experiments, tags
from siyu.api import journeys as journeys_api
from siyu.api import loyalty as loyalty_api
from siyu.api.batching import RecordBatcher
from siyu.api.routes import router
from siyu.runtime import Runtime
from siyu.web import install as install_console


def create_app(runtime: Runtime) -> FastAPI:
    """An API serving `runtime`'s store."""
    batcher = RecordBatcher(runtime)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runtime.settings.api_writer == "process":
            batcher.start()  # the writing process is ready before the first event arrives
        yield
        batcher.close()  # what was submitted is written before the server stops

    app = FastAPI(
        title="siyu API",
        version=siyu.__version__,
        description="siyu (私域): customer data, OneID and profiles. The console is at `/`.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.batcher = batcher
    app.state.key_grants = {}  # key digest -> grant, for `deps.get_record_writer`
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
