"""Sealed secrets: round trip, a key file made once with owner-only access, wrong keys fail."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from siyu.store import sealed


def test_seal_round_trip_hides_the_value() -> None:
    stored = sealed.seal("wecom-secret-值")
    assert stored.startswith(sealed.PREFIX) and "wecom" not in stored
    assert sealed.unseal(stored) == "wecom-secret-值"
    assert sealed.seal("same") != sealed.seal("same")  # random IV


def test_key_file_is_created_once_owner_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "siyu.key"
    monkeypatch.delenv("SIYU_SECRET_KEY", raising=False)
    monkeypatch.setenv("SIYU_SECRET_KEY_FILE", str(key_file))
    stored = sealed.seal("x")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    first_key = key_file.read_bytes()
    assert sealed.unseal(stored) == "x" and key_file.read_bytes() == first_key


def test_another_key_cannot_open_it(monkeypatch: pytest.MonkeyPatch) -> None:
    stored = sealed.seal("x")
    monkeypatch.setenv("SIYU_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(sealed.SealedValueError, match="SIYU_SECRET_KEY"):
        sealed.unseal(stored)
