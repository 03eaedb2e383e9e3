"""OneIDs: 26-character ULIDs, monotonic within a process so they sort by creation."""

from __future__ import annotations

import os
import threading
import time

# The OneID of a link the bulk import wrote and the batch rebuild has not resolved yet: never
# a person (ULIDs are 26 characters), so no lookup of a person ever matches it.
PENDING = ""
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


class OneIdFactory:
    """Generates ULIDs; ids made in the same millisecond still increase."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = 0

    def __call__(self) -> str:
        with self._lock:
            candidate = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10))
            self._last = max(candidate, self._last + 1)
            value = self._last
        chars = []
        for _ in range(26):
            chars.append(_ALPHABET[value & 31])
            value >>= 5
        return "".join(reversed(chars))


new_oneid = OneIdFactory()
