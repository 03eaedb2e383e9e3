"""CLV fixtures: the CDNOW sample as a canonical JSONL file."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdnow import Cdnow, cdnow, write_cdnow_jsonl


@pytest.fixture
def cdnow_data() -> Cdnow:
    return cdnow()


@pytest.fixture
def cdnow_file(tmp_path: Path) -> Path:
    return write_cdnow_jsonl(tmp_path / "cdnow.jsonl")
