"""OneID: resolving records to persons, merge guards, unmerge, explanations."""

from siyu.identity.identifiers import (
    IDENTIFIER_TYPES,
    SOURCE_CUSTOMER,
    IdentifierError,
    NormalizedIdentifiers,
    normalize_identifiers,
    normalize_phone,
    phone_sha256,
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
    "SOURCE_CUSTOMER",
    "BlockedView",
    "DetachResult",
    "IdentifierError",
    "IdentityError",
    "NormalizedIdentifiers",
    "PersonExplanation",
    "RecordIdentity",
    "RecordRef",
    "ResolveReport",
    "current_oneid",
    "detach_record",
    "explain_person",
    "find_persons",
    "iter_identity_map",
    "list_blocked",
    "normalize_identifiers",
    "normalize_phone",
    "oneids_of_records",
    "person_identifiers",
    "person_records",
    "phone_sha256",
    "resolve_records",
]
