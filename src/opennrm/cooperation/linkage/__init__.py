"""Privacy-preserving record linkage: keyed Bloom-filter encodings and their matching.

See docs/record-linkage.md.
"""

from opennrm.cooperation.linkage.encoding import (
    BITS,
    EncodedSet,
    Encoder,
    Encoding,
    LinkageRecord,
    fold_name,
    latin_name,
)
from opennrm.cooperation.linkage.matching import (
    DEFAULT_THRESHOLD,
    Match,
    candidate_pairs,
    deduplicate,
    dice,
    match,
    one_to_one,
)

__all__ = [
    "BITS",
    "DEFAULT_THRESHOLD",
    "EncodedSet",
    "Encoder",
    "Encoding",
    "LinkageRecord",
    "Match",
    "candidate_pairs",
    "deduplicate",
    "dice",
    "fold_name",
    "latin_name",
    "match",
    "one_to_one",
]
