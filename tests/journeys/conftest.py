"""Fixtures for journey tests: in-memory ports."""

from __future__ import annotations

import pytest

from siyu.journeys import Ports, memory_ports


@pytest.fixture
def ports() -> Ports:
    return memory_ports()
