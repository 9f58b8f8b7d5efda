"""Finding a person again without decrypting everyone: blind indexes and fuzzy duplicate detection.

Exact: keyed HMAC of each document number, of the full name, and of the full name with the date of birth.
Fuzzy: each name token (after transliteration of any script to Latin) gets a short consonant "sound key",
blind-indexed too; candidates that share a key (and, when both are known, a year of birth within one year) are
decrypted on the server only to score them (Jaro–Winkler similarity of the transliterated full names, plus the
date of birth), never shown unless the user may see the case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q

from opennrm.cases.models import Case, IdentityIndex, Person
from opennrm.core.blind_index import blind_index, blind_index_parts, normalise

PURPOSE = {
    IdentityIndex.Kind.DOCUMENT: "person.document",
    IdentityIndex.Kind.NAME_DOB: "person.name_dob",
    IdentityIndex.Kind.NAME: "person.name",
    IdentityIndex.Kind.NAME_TOKEN: "person.name_token",
}
VOWELS = set("aeiouy")


def full_name(given: str, family: str) -> str:
    return " ".join(p for p in (given.strip(), family.strip()) if p)


def sound_key(token: str) -> str:
    """First letter + following consonants without repeats, 4 characters: "beridze" -> "brdz"."""
    token = normalise(token).replace(" ", "")
    if not token:
        return ""
    key = token[0]
    for ch in token[1:]:
        if ch in VOWELS or ch == key[-1] or ch == "h":
            continue
        key += ch
    return key[:4]


def name_tokens(*names: str) -> set[str]:
    return {t for name in names for t in normalise(name).split() if len(t) > 1}


def index_entries(person: Person) -> set[tuple[str, str]]:
    entries: set[tuple[str, str]] = set()
    names = [full_name(person.given_name, person.family_name), *[n for n in person.other_names if n]]
    for name in names:
        entries.add((IdentityIndex.Kind.NAME, blind_index(name, purpose=PURPOSE[IdentityIndex.Kind.NAME])))
        if person.date_of_birth:
            entries.add(
                (
                    IdentityIndex.Kind.NAME_DOB,
                    blind_index_parts(
                        name, person.date_of_birth.isoformat(), purpose=PURPOSE[IdentityIndex.Kind.NAME_DOB]
                    ),
                )
            )
    for token in name_tokens(*names):
        key = sound_key(token)
        if key:
            entries.add(
                (
                    IdentityIndex.Kind.NAME_TOKEN,
                    blind_index(key, purpose=PURPOSE[IdentityIndex.Kind.NAME_TOKEN]),
                )
            )
    for doc in person.documents:
        number = str(doc.get("number", ""))
        if number.strip():
            entries.add(
                (
                    IdentityIndex.Kind.DOCUMENT,
                    blind_index(number, purpose=PURPOSE[IdentityIndex.Kind.DOCUMENT], document=True),
                )
            )
    return {(k, d) for k, d in entries if d}


# Other apps keep their own indexes of a person current (e.g. cooperation's record-linkage encoding): each hook
# runs at the end of `index_person`, in the same transaction. Registered in AppConfig.ready(); cases imports none.
person_indexed_hooks: list[Callable[[Person], None]] = []


@transaction.atomic
def index_person(person: Person) -> None:
    wanted = index_entries(person)
    existing = {(e.kind, e.digest): e.pk for e in IdentityIndex.objects.filter(person=person)}
    IdentityIndex.objects.filter(pk__in=[pk for key, pk in existing.items() if key not in wanted]).delete()
    IdentityIndex.objects.bulk_create(
        [IdentityIndex(person=person, kind=k, digest=d) for k, d in wanted - set(existing)]
    )
    for hook in person_indexed_hooks:
        hook(person)


def jaro_winkler(a: str, b: str) -> float:
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    window = max(len(a), len(b)) // 2 - 1
    a_match = [False] * len(a)
    b_match = [False] * len(b)
    matches = 0
    for i, ch in enumerate(a):
        lo, hi = max(0, i - window), min(len(b), i + window + 1)
        for j in range(lo, hi):
            if not b_match[j] and b[j] == ch:
                a_match[i] = b_match[j] = True
                matches += 1
                break
    if not matches:
        return 0.0
    a_chars = [ch for ch, m in zip(a, a_match, strict=True) if m]
    b_chars = [ch for ch, m in zip(b, b_match, strict=True) if m]
    transpositions = sum(x != y for x, y in zip(a_chars, b_chars, strict=True)) / 2
    jaro = (matches / len(a) + matches / len(b) + (matches - transpositions) / matches) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


@dataclass(frozen=True)
class Candidate:
    case: Case
    score: float
    exact: bool
    reason: str  # "document", "name_dob", "name" or "similar"


FUZZY_THRESHOLD = 0.88


def find_candidates(
    *,
    given_name: str,
    family_name: str = "",
    date_of_birth: dt.date | None = None,
    document_numbers: Iterable[str] = (),
    exclude_person: Person | None = None,
    limit: int = 10,
) -> list[Candidate]:
    """Possible existing cases of this person, across the whole instance (the caller decides what to show)."""
    name = full_name(given_name, family_name)
    exact: dict[int, str] = {}
    for number in document_numbers:
        if number.strip():
            digest = blind_index(number, purpose=PURPOSE[IdentityIndex.Kind.DOCUMENT], document=True)
            for pid in IdentityIndex.objects.filter(
                kind=IdentityIndex.Kind.DOCUMENT, digest=digest
            ).values_list("person_id", flat=True):
                exact.setdefault(pid, "document")
    if name and date_of_birth:
        digest = blind_index_parts(
            name, date_of_birth.isoformat(), purpose=PURPOSE[IdentityIndex.Kind.NAME_DOB]
        )
        for pid in IdentityIndex.objects.filter(kind=IdentityIndex.Kind.NAME_DOB, digest=digest).values_list(
            "person_id", flat=True
        ):
            exact.setdefault(pid, "name_dob")
    keys = [
        blind_index(sound_key(t), purpose=PURPOSE[IdentityIndex.Kind.NAME_TOKEN]) for t in name_tokens(name)
    ]
    keys = [k for k in keys if k]
    fuzzy_ids: set[int] = set()
    if keys:
        rows = IdentityIndex.objects.filter(kind=IdentityIndex.Kind.NAME_TOKEN, digest__in=keys)
        people = Person.objects.filter(pk__in=rows.values("person_id"))
        if date_of_birth:
            people = people.filter(
                Q(birth_year__isnull=True)
                | Q(birth_year__range=(date_of_birth.year - 1, date_of_birth.year + 1))
            )
        fuzzy_ids = set(people.values_list("pk", flat=True)[:200])
    if exclude_person is not None:
        exact.pop(exclude_person.pk, None)
        fuzzy_ids.discard(exclude_person.pk)
    wanted = normalise(name)
    scored: dict[int, tuple[float, bool, str]] = {pid: (1.0, True, reason) for pid, reason in exact.items()}
    for person in Person.objects.filter(pk__in=fuzzy_ids - set(exact)):
        names = [full_name(person.given_name, person.family_name), *person.other_names]
        score = max(jaro_winkler(wanted, normalise(n)) for n in names if n)
        if date_of_birth and person.date_of_birth:
            score = score if person.date_of_birth == date_of_birth else score - 0.08
        if score >= FUZZY_THRESHOLD:
            scored[person.pk] = (round(score, 3), False, "similar")
    cases = Case.objects.filter(person_id__in=scored).select_related("owning_agency").order_by("-created_at")
    found = [
        Candidate(
            case=c, score=scored[c.person_id][0], exact=scored[c.person_id][1], reason=scored[c.person_id][2]
        )
        for c in cases
    ]
    found.sort(key=lambda c: (-c.score, c.case.reference))
    return found[:limit]
