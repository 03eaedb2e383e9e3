"""REST API (FastAPI): thin handlers over the domain services."""

from siyu.api.app import create_app

__all__ = ["create_app"]
