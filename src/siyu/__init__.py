"""siyu (私域): private-domain customer operations."""

__version__ = "0.1.0"
