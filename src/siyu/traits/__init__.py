"""Traits: per-person purchase traits, favourites, RFM and lifecycle, computed in the engine."""

from siyu.traits.online import refresh_purchase_traits
from siyu.traits.schemas import LIFECYCLE_STAGES, ComputeReport, PersonTraitsView
from siyu.traits.service import get_traits, list_traits, run_compute

__all__ = [
    "LIFECYCLE_STAGES",
    "ComputeReport",
    "PersonTraitsView",
    "get_traits",
    "list_traits",
    "refresh_purchase_traits",
    "run_compute",
]
