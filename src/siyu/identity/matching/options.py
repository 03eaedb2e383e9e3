"""What a matching run uses: blocking and training rules, comparisons, sample sizes."""

from __future__ import annotations

from dataclasses import dataclass

from siyu.identity.matching.blocking import (
    BLOCKING_RULES,
    MAX_BLOCK,
    TRAINING_RULES,
    BlockingRule,
)
from siyu.identity.matching.comparisons import COMPARISONS, Comparison


@dataclass(frozen=True)
class MatchOptions:
    max_block: int = MAX_BLOCK
    random_pairs: int = 1_000_000  # for u
    training_pairs: int = 500_000  # per blocking rule, for m
    seed: int = 42
    rules: tuple[BlockingRule, ...] = BLOCKING_RULES
    training: tuple[BlockingRule, ...] = TRAINING_RULES
    comparisons: tuple[Comparison, ...] = COMPARISONS
