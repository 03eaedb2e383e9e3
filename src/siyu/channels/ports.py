"""The one port every channel adapter implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

from siyu.channels.schemas import Outbound, SendOutcome
from siyu.profiles import ContactCard

# What to do with a message that was being sent when a worker died (it may or may not
# have reached the provider): ask the provider by our key ("lookup"), send again because
# the provider drops duplicates of the key ("resend"), or give up and mark it unknown
# ("give_up", never risking a second copy).
InDoubt = Literal["lookup", "resend", "give_up"]


class ChannelAdapter(Protocol):
    channel: str
    max_batch: int  # messages per provider call
    in_doubt: InDoubt

    def address(self, card: ContactCard | None, content: dict[str, Any]) -> dict[str, Any] | None:
        """Where this person is reached on the channel (None: they cannot be)."""
        ...

    def send(self, messages: Sequence[Outbound]) -> list[SendOutcome]:
        """Send; one outcome per message, in order. Network errors become retryable."""
        ...

    def lookup(self, messages: Sequence[Outbound]) -> list[SendOutcome | None]:
        """For in-doubt messages: what the provider knows by our key (None: never got it)."""
        ...

    def close(self) -> None: ...
