"""OneID: resolving records to persons, merge guards, unmerge, explanations."""

from siyu.identity.identifiers import (
    IDENTIFIER_TYPES,
    MATCH,
    SOURCE_CUSTOMER,
    IdentifierError,
    NormalizedIdentifiers,
    normalize_identifiers,
    normalize_phone,
    phone_sha256,
)
from siyu.identity.matching.review import MatchError, decide_review, list_review
from siyu.identity.matching.schemas import (
    MatchRunReport,
    ReviewDecision,
    ReviewItem,
    ReviewRecord,
)
from siyu.identity.matching.service import (
    match_new_records,
    run_matching,
    score_customer_records,
)
from siyu.identity.schemas import (
    BlockedView,
    DetachResult,
    PersonExplanation,
    RecordIdentity,
    RecordRef,
    ResolveReport,
)
from siyu.identity.service import (
    IdentityError,
    current_oneid,
    detach_record,
    explain_person,
    find_persons,
    iter_identity_map,
    list_blocked,
    oneids_of_records,
    person_identifiers,
    person_records,
    resolve_records,
)

__all__ = [
    "IDENTIFIER_TYPES",
    "MATCH",
    "SOURCE_CUSTOMER",
    "BlockedView",
    "DetachResult",
    "IdentifierError",
    "IdentityError",
    "MatchError",
    "MatchRunReport",
    "NormalizedIdentifiers",
    "PersonExplanation",
    "RecordIdentity",
    "RecordRef",
    "ResolveReport",
    "ReviewDecision",
    "ReviewItem",
    "ReviewRecord",
    "current_oneid",
    "decide_review",
    "detach_record",
    "explain_person",
    "find_persons",
    "iter_identity_map",
    "list_blocked",
    "list_review",
    "match_new_records",
    "normalize_identifiers",
    "normalize_phone",
    "oneids_of_records",
    "person_identifiers",
    "person_records",
    "phone_sha256",
    "resolve_records",
    "run_matching",
    "score_customer_records",
]
