"""Loyalty errors: each message says what was refused and why."""

from __future__ import annotations


class LoyaltyError(ValueError):
    """A loyalty operation that cannot be done as asked."""


class NotFoundError(LoyaltyError, LookupError):
    """A program, member, coupon or reward that does not exist."""


class NotMemberError(NotFoundError):
    """The person is not a member of the program."""


class InsufficientPointsError(LoyaltyError):
    """A spend larger than the member's spendable points."""


class LimitError(LoyaltyError):
    """Out of stock, over a per-person limit, or outside validity / channel."""
