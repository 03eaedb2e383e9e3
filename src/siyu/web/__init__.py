"""The operators' console (zh-CN first): server-rendered pages over the domains' services."""

from siyu.web.app import install

__all__ = ["install"]
