"""Secrets at rest: values sealed with Fernet (AES-128-CBC + HMAC) under the deployment's key.

A sealed value reads `enc:v1:<token>`. Values stored before sealing existed read as they are
and are sealed the next time they are saved.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from siyu.config import load_settings

PREFIX = "enc:v1:"


class SealedValueError(RuntimeError):
    """A sealed value this deployment's key cannot open (wrong or rotated key)."""


@cache
def _fernet(key: str | None, key_file: str) -> Fernet:
    if key:
        return Fernet(key.encode())
    path = Path(key_file)
    if not path.exists():
        # Created once, readable by the owner only; losing it loses the stored secrets.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
    return Fernet(path.read_bytes().strip())


def _box() -> Fernet:
    settings = load_settings()
    return _fernet(settings.secret_key, settings.secret_key_file)


def seal(value: str) -> str:
    """`value` encrypted for storage."""
    return PREFIX + _box().encrypt(value.encode()).decode()


def unseal(stored: str) -> str:
    """The plain value of a sealed (or legacy plain) stored value."""
    if not stored.startswith(PREFIX):
        return stored
    try:
        return _box().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as error:
        raise SealedValueError(
            "a stored secret cannot be opened with this deployment's key "
            "(SIYU_SECRET_KEY / SIYU_SECRET_KEY_FILE)"
        ) from error
