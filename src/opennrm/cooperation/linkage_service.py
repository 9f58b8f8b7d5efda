"""Privacy-preserving record linkage wired into the platform (DESIGN §5; the encodings: `cooperation.linkage`).

- The shared secret lives in `OPENNRM_COOP_LINKAGE_SECRET_FILE` (owner-only, base64), shared by the regional focal
  points only (`coop_linkage_secret`). Without it nothing is encoded and linkage says it is not configured.
- Every person has a current `LinkageEncoding` (name, date of birth, sex), kept up to date by a hook at the end of
  `cases.identity.index_person` (intake, identity changes, imports). An encoding made under another secret is
  stale: it is ignored and rebuilt by `coop_linkage_reindex`.
- `query_partner` asks a partner whether it knows the person of a case: only the encodings cross the border (the
  name and its recorded variants, at most `MAX_QUERY_ENCODINGS`). No consent is needed to ask; any exchange of
  data after a match is a separate act that needs the person's consent to sharing with that country.
- The partner compares them with its own current encodings of the same year-of-birth blocks, at a threshold it
  never lowers below `DEFAULT_THRESHOLD`, and answers with at most `MAX_CANDIDATES` of its case references and
  scores: never a name. A partner may ask at most `daily_query_cap()` questions a day.
- `find_duplicates` runs the same comparison inside this instance, to find one person recorded by two agencies.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import logging
import os
import re
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from opennrm.accounts.access import Access, access_for
from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.cases.models import Case, CaseEvent, Person
from opennrm.cases.selectors import can_do
from opennrm.cooperation import messaging
from opennrm.cooperation.linkage.encoding import BITS, EncodedSet, Encoder, Encoding, LinkageRecord
from opennrm.cooperation.linkage.encoding import VERSION as ENCODING_VERSION
from opennrm.cooperation.linkage.matching import DEFAULT_THRESHOLD, candidate_pairs, deduplicate
from opennrm.cooperation.models import (
    DeliveryStatus,
    InboxMessage,
    LinkageCandidate,
    LinkageEncoding,
    LinkageQuery,
    LinkageQueryStatus,
    MessageType,
    OutboxMessage,
    Partner,
)
from opennrm.core import audit
from opennrm.core.errors import DomainError
from opennrm.core.models import Alert
from opennrm.instance import ensure_dir

SECRET_BYTES = 32
MAX_QUERY_ENCODINGS = 5  # a query is about one person: the name and a few recorded spellings
MAX_CANDIDATES = 10
DAILY_QUERY_CAP = (
    200  # queries answered per partner in 24 hours; setting OPENNRM_COOP_LINKAGE_DAILY_CAP overrides
)
MAX_DUPLICATE_PAIRS = 500  # pairs shown on the duplicates page
REFERENCE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_.-]{0,31}$")
ENCODING_BYTES = BITS // 8

log = logging.getLogger("opennrm.cooperation")


def daily_query_cap() -> int:
    return int(getattr(settings, "OPENNRM_COOP_LINKAGE_DAILY_CAP", DAILY_QUERY_CAP))


# --- the shared secret ---------------------------------------------------------------------------------


def fingerprint(secret: bytes) -> str:
    """A short public name of a secret and of the encoding scheme (what `LinkageEncoding.secret_id` and queries
    carry); reveals nothing of the secret. A new scheme version changes it, so encodings made under an older scheme
    count as stale (rebuilt by `coop_linkage_reindex`) and partners still on another scheme are refused."""
    label = b"opennrm-linkage-fingerprint|" + ENCODING_VERSION.encode()
    return hmac.new(secret, label, hashlib.sha256).hexdigest()[:16]


def secret_path() -> Path:
    return Path(settings.OPENNRM_COOP_LINKAGE_SECRET_FILE)


def parse_secret(text: str) -> bytes:
    """The secret from its base64 form (as `coop_linkage_secret generate` prints it)."""
    try:
        secret = base64.b64decode("".join(text.split()).encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise ValueError("the linkage secret is not base64") from exc
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"the linkage secret must have at least {SECRET_BYTES} bytes")
    return secret


_secret_cache: tuple[tuple[str, int, int], bytes, str] | None = None
_encoder_cache: tuple[str, Encoder] | None = None


def current_secret() -> tuple[bytes, str] | None:
    """The secret and its fingerprint, or None when linkage is not configured (no file). Re-read when it changes."""
    global _secret_cache
    path = secret_path()
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    stamp = (str(path), stat.st_mtime_ns, stat.st_size)
    if _secret_cache is None or _secret_cache[0] != stamp:
        try:
            secret = parse_secret(path.read_text(encoding="ascii"))
        except (OSError, UnicodeDecodeError, ValueError):
            # Intake must not fail because of it: linkage is off until an administrator fixes the file.
            log.error("the record-linkage secret in %s cannot be read; linkage is off", path, exc_info=True)
            return None
        _secret_cache = (stamp, secret, fingerprint(secret))
    return _secret_cache[1], _secret_cache[2]


def current_fingerprint() -> str | None:
    found = current_secret()
    return found[1] if found else None


def is_configured() -> bool:
    return current_secret() is not None


def current_encoder() -> tuple[Encoder, str] | None:
    """An encoder under the current secret and the secret's fingerprint; None when linkage is not configured."""
    global _encoder_cache
    found = current_secret()
    if found is None:
        return None
    secret, fp = found
    if _encoder_cache is None or _encoder_cache[0] != fp:
        _encoder_cache = (fp, Encoder(secret))
    return _encoder_cache[1], fp


def write_secret(secret: bytes, *, replace: bool = False) -> str:
    """Install a secret (owner-only file, replaced atomically); returns its fingerprint. Every existing encoding
    becomes stale when the secret changes: run `coop_linkage_reindex`."""
    if len(secret) < SECRET_BYTES:
        raise ValueError(f"the linkage secret must have at least {SECRET_BYTES} bytes")
    path = secret_path()
    if path.exists() and not replace:
        raise FileExistsError(f"{path} exists")
    ensure_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(base64.b64encode(secret).decode("ascii") + "\n")
    os.replace(tmp, path)
    return fingerprint(secret)


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


# --- encodings of people ----------------------------------------------------------------------------------


def _record(given: str, family: str, person: Person) -> LinkageRecord:
    return LinkageRecord(
        given_name=given, family_name=family, date_of_birth=person.date_of_birth, sex=person.sex or ""
    )


def record_of(person: Person) -> LinkageRecord | None:
    """What is encoded of a person; None when the person has no name (nothing worth comparing)."""
    if not (person.given_name or "").strip() and not (person.family_name or "").strip():
        return None
    return _record(person.given_name or "", person.family_name or "", person)


def variants_of(person: Person) -> list[LinkageRecord]:
    """The name and the recorded other names and spellings ("given … family"; a single word is another spelling
    of the family name), at most `MAX_QUERY_ENCODINGS`, without repeats."""
    main = record_of(person)
    records = [main] if main else []
    for other in person.other_names or []:
        tokens = str(other).split()
        if not tokens:
            continue
        if len(tokens) == 1:
            candidate = _record(person.given_name or "", tokens[0], person)
        else:
            candidate = _record(" ".join(tokens[:-1]), tokens[-1], person)
        if candidate not in records:
            records.append(candidate)
    return records[:MAX_QUERY_ENCODINGS]


def encode_person(person: Person) -> None:
    """Keep the person's encoding current (a `person_indexed_hooks` hook: runs on intake, identity changes and
    imports). Does nothing when linkage is not configured."""
    found = current_encoder()
    if found is None:
        return
    encoder, fp = found
    record = record_of(person)
    if record is None:
        LinkageEncoding.objects.filter(person=person).delete()
        return
    encoding = encoder.encode(record)
    LinkageEncoding.objects.update_or_create(
        person=person, defaults={"bits": encoding.bits, "block": encoding.block, "secret_id": fp}
    )


@dataclass(frozen=True)
class ReindexResult:
    encoded: int
    removed: int
    fingerprint: str


def reindex(*, batch_size: int = 500, stale_only: bool = False) -> ReindexResult:
    """Rebuild the encodings of every person (or only of those without a current one), in batches of
    `batch_size`, each batch in its own transaction; persons without a name lose their encoding."""
    found = current_encoder()
    if found is None:
        raise DomainError(_("Record linkage is not configured on this instance."), code="not_configured")
    encoder, fp = found
    people = Person.objects.order_by("pk").only("pk", "given_name", "family_name", "date_of_birth", "sex")
    if stale_only:
        people = people.exclude(linkage_encoding__secret_id=fp)
    encoded = removed = 0
    last = 0
    while True:
        batch = list(people.filter(pk__gt=last)[:batch_size])
        if not batch:
            break
        last = batch[-1].pk
        records = {p.pk: record_of(p) for p in batch}
        named = [p for p in batch if records[p.pk] is not None]
        unnamed = [pk for pk, record in records.items() if record is None]
        rows: list[LinkageEncoding] = []
        if named:
            encodings = encoder.encode_many([r for r in records.values() if r is not None])
            rows = [
                LinkageEncoding(
                    person=p, bits=encodings.bits[i].tobytes(), block=encodings.blocks[i], secret_id=fp
                )
                for i, p in enumerate(named)
            ]
        with transaction.atomic():
            removed += LinkageEncoding.objects.filter(person_id__in=unnamed).delete()[0]
            LinkageEncoding.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["person"],
                update_fields=["bits", "block", "secret_id", "updated_at"],
            )
        encoded += len(rows)
    audit.record(
        actor=None,
        action="coop.linkage_reindexed",
        details={"encoded": encoded, "removed": removed, "fingerprint": fp, "stale_only": stale_only},
    )
    return ReindexResult(encoded=encoded, removed=removed, fingerprint=fp)


def _with_cases(encodings: QuerySet[LinkageEncoding]) -> QuerySet[LinkageEncoding]:
    return encodings.filter(Exists(Case.objects.filter(person_id=OuterRef("person_id"))))


def _load(rows: Iterable[tuple[int, Any, str]]) -> tuple[list[int], EncodedSet]:
    people: list[int] = []
    encodings: list[Encoding] = []
    for person_id, bits, block in rows:
        data = bytes(bits)  # memoryview on PostgreSQL
        if len(data) != ENCODING_BYTES:
            continue
        people.append(person_id)
        encodings.append(Encoding(bits=data, block=block))
    return people, EncodedSet.from_encodings(encodings)


def _latest_cases(person_ids: Iterable[int]) -> dict[int, Case]:
    """The most recent case of each person."""
    latest: dict[int, Case] = {}
    cases = (
        Case.objects.filter(person_id__in=set(person_ids))
        .select_related("owning_agency")
        .only("pk", "public_id", "reference", "person_id", "created_at", "owning_agency__name")
        .order_by("person_id", "-created_at", "-pk")
    )
    for case in cases:
        latest.setdefault(case.person_id, case)
    return latest


def _timeline(case: Case, actor: User | None, kind: str, **data: Any) -> None:
    CaseEvent.objects.create(case=case, actor=actor, kind=kind, data=data)


# --- asking a partner -----------------------------------------------------------------------------------


def can_query(access: Access, case: Case) -> bool:
    """Who runs the case (case edit reaching it) may ask partners about its person and sees the answers."""
    return can_do(access, Perm.CASE_EDIT, case)


def failed_deliveries(queries: Sequence[LinkageQuery]) -> set[uuid.UUID]:
    """Of these queries, those the partner never took (delivery gave up, or the partner refused them)."""
    subjects = [str(q.query_id) for q in queries]
    failed = OutboxMessage.objects.filter(
        type=MessageType.LINKAGE_QUERY, subject__in=subjects, status=DeliveryStatus.FAILED
    ).values_list("subject", flat=True)
    return {uuid.UUID(s) for s in failed}


def waiting_partners(case: Case) -> set[int]:
    """Partners a query about this case is still waiting on (sent, not answered, not failed)."""
    sent = list(LinkageQuery.objects.filter(case=case, status=LinkageQueryStatus.SENT))
    failed = failed_deliveries(sent)
    return {q.partner_id for q in sent if q.query_id not in failed}


@transaction.atomic
def query_partner(*, actor: User, case: Case, partner: Partner) -> LinkageQuery:
    """Ask `partner` whether it knows the person of `case`: only keyed encodings leave this instance."""
    if not can_query(access_for(actor), case):
        raise PermissionDenied
    found = current_encoder()
    if found is None:
        raise DomainError(_("Record linkage is not configured on this instance."), code="not_configured")
    encoder, fp = found
    if not partner.is_active:
        raise DomainError(_("This partner instance is revoked."), code="partner_revoked")
    if partner.pk in waiting_partners(case):
        raise DomainError(
            _("A question about this person to %(partner)s is still waiting for its answer.")
            % {"partner": partner.name},
            code="duplicate",
        )
    records = variants_of(case.person)
    if not records:
        raise DomainError(_("The person has no name to compare."), code="no_name")
    encodings = encoder.encode_many(records).encodings()
    query = LinkageQuery.objects.create(partner=partner, case=case, requested_by=actor)
    messaging.send(
        partner=partner,
        type=MessageType.LINKAGE_QUERY,
        payload={
            "query_id": str(query.query_id),
            "encodings": [e.to_text() for e in encodings],
            "threshold": DEFAULT_THRESHOLD,
            "secret_id": fp,
        },
        subject=str(query.query_id),
    )
    audit.record(
        actor=actor,
        action="coop.linkage_queried",
        target=query,
        details={"partner": partner.code, "case": case.public_id, "encodings": len(encodings)},
    )
    _timeline(case, actor, "linkage_queried", partner=partner.code)
    return query


# --- the partner's question (this instance answers) -------------------------------------------------------


def _query_id(payload: Any) -> str:
    if not isinstance(payload, dict):
        raise DomainError(_("The message is not a record-linkage message."), code="malformed")
    try:
        return str(uuid.UUID(str(payload.get("query_id"))))
    except ValueError as exc:
        raise DomainError(_("The query id is not valid."), code="malformed") from exc


def _encodings(payload: dict[str, Any]) -> list[Encoding]:
    texts = payload.get("encodings")
    if not isinstance(texts, list) or not texts:
        raise DomainError(_("The query carries no encodings."), code="malformed")
    if len(texts) > MAX_QUERY_ENCODINGS:
        raise DomainError(
            _("A query may carry at most %(n)d encodings.") % {"n": MAX_QUERY_ENCODINGS}, code="too_many"
        )
    encodings = []
    for text in texts:
        if not isinstance(text, str) or len(text) > 400:
            raise DomainError(_("An encoding is not valid."), code="malformed")
        try:
            encoding = Encoding.from_text(text)
        except ValueError as exc:
            raise DomainError(_("An encoding is not valid."), code="malformed") from exc
        if len(encoding.bits) != ENCODING_BYTES or len(encoding.block) > 32:
            raise DomainError(_("An encoding is not valid."), code="malformed")
        encodings.append(encoding)
    return encodings


def _score(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
        raise DomainError(_("A score is a number from 0 to 1."), code="malformed")
    return float(value)


def answer_query(message: InboxMessage, payload: Any) -> None:
    """Inbox handler of LINKAGE_QUERY: compare, answer with case references and scores, in the inbox transaction."""
    query_id = _query_id(payload)
    encodings = _encodings(payload)
    threshold = max(_score(payload.get("threshold", DEFAULT_THRESHOLD)), DEFAULT_THRESHOLD)
    found = current_encoder()
    if found is None:
        raise DomainError(_("Record linkage is not configured on this instance."), code="not_configured")
    _encoder, fp = found
    if payload.get("secret_id") != fp:
        raise DomainError(
            _("The query was encoded with another linkage secret than this instance's."), code="secret"
        )
    partner = message.partner
    since = timezone.now() - dt.timedelta(hours=24)
    asked = InboxMessage.objects.filter(
        partner=partner, type=MessageType.LINKAGE_QUERY, created_at__gte=since
    ).count()  # this message included: it was stored before its handler runs
    if asked > daily_query_cap():
        raise DomainError(
            _("%(partner)s asked more than %(n)d record-linkage questions in 24 hours.")
            % {"partner": partner.code, "n": daily_query_cap()},
            code="rate_limited",
        )
    blocks = {e.block for e in encodings}
    rows = _with_cases(LinkageEncoding.objects.filter(secret_id=fp, block__in=blocks)).values_list(
        "person_id", "bits", "block"
    )
    people, known = _load(rows)
    pairs, compared = candidate_pairs(EncodedSet.from_encodings(encodings), known, threshold=threshold)
    best: dict[int, float] = {}
    for pair in pairs:  # several spellings of the asked name: the best score per person
        person_id = people[pair.right]
        best[person_id] = max(best.get(person_id, 0.0), pair.score)
    ranked = sorted(best.items(), key=lambda item: -item[1])[:MAX_CANDIDATES]
    cases = _latest_cases(p for p, _s in ranked)
    candidates = [
        {"reference": cases[person_id].reference, "score": round(score, 3)}
        for person_id, score in ranked
        if person_id in cases
    ]
    messaging.send(
        partner=partner,
        type=MessageType.LINKAGE_RESULT,
        payload={"query_id": query_id, "candidates": candidates},
        subject=query_id,
    )
    for person_id, score in ranked:
        if person_id in cases:
            _timeline(
                cases[person_id],
                None,
                "linkage_partner_match",
                partner=partner.code,
                score=round(score * 100),
            )
    audit.record(
        actor=None,
        action="coop.linkage_answered",
        target=message,
        details={
            "partner": partner.code,
            "encodings": len(encodings),
            "compared": compared,
            "candidates": len(candidates),
        },
    )


# --- the partner's answer (to this instance's question) ---------------------------------------------------


def _candidates(payload: dict[str, Any]) -> list[tuple[str, float]]:
    items = payload.get("candidates")
    if not isinstance(items, list) or len(items) > MAX_CANDIDATES:
        raise DomainError(
            _("An answer lists at most %(n)d candidates.") % {"n": MAX_CANDIDATES}, code="malformed"
        )
    found = []
    for item in items:
        if not isinstance(item, dict) or set(item) != {"reference", "score"}:
            raise DomainError(_("A candidate is a case reference and a score."), code="malformed")
        reference = item["reference"]
        if not isinstance(reference, str) or not REFERENCE_PATTERN.match(reference):
            raise DomainError(_("A candidate's case reference is not valid."), code="malformed")
        found.append((reference, _score(item["score"])))
    return found


def receive_result(message: InboxMessage, payload: Any) -> None:
    """Inbox handler of LINKAGE_RESULT: store the candidates of one of this instance's queries, tell the asker."""
    query_id = _query_id(payload)
    candidates = _candidates(payload)
    query = (
        LinkageQuery.objects.select_for_update()
        .select_related("case", "partner", "requested_by")
        .filter(query_id=query_id, partner=message.partner)
        .first()
    )
    if query is None:
        raise DomainError(_("No such record-linkage query was sent to this partner."), code="unknown_query")
    if query.status != LinkageQueryStatus.SENT:
        raise DomainError(_("This record-linkage query was already answered."), code="answered")
    LinkageCandidate.objects.bulk_create(
        [LinkageCandidate(query=query, remote_reference=ref, score=score) for ref, score in candidates]
    )
    query.status = LinkageQueryStatus.ANSWERED
    query.answered_at = timezone.now()
    query.save(update_fields=["status", "answered_at", "updated_at"])
    case = query.case
    Alert.objects.create(
        recipient=query.requested_by,
        kind="linkage_answered",
        params={"reference": case.reference, "partner": query.partner.name, "count": len(candidates)},
        url=reverse("cases:detail", kwargs={"public_id": case.public_id}) + "#linkage-panel",
    )
    _timeline(case, None, "linkage_answered", partner=query.partner.code, candidates=len(candidates))
    audit.record(
        actor=None,
        action="coop.linkage_result_received",
        target=query,
        details={"partner": query.partner.code, "case": case.public_id, "candidates": len(candidates)},
    )


# --- duplicates inside this instance ----------------------------------------------------------------------


def can_find_duplicates(access: Access) -> bool:
    return access.is_national(Perm.CASE_VIEW)


@dataclass(frozen=True)
class DuplicatePair:
    left: Case
    right: Case
    score: float

    @property
    def same_agency(self) -> bool:
        return self.left.owning_agency_id == self.right.owning_agency_id


@dataclass(frozen=True)
class Duplicates:
    pairs: list[DuplicatePair]  # at most MAX_DUPLICATE_PAIRS, best first
    total: int  # pairs found of the kind asked for
    people: int  # people compared


def find_duplicates(*, actor: User, include_same_agency: bool = False) -> Duplicates:
    """People recorded more than once in this instance (by default: by different agencies), best score first.

    Compares the current encodings of everyone with a case, within year-of-birth blocks, at the default
    threshold. For national-scope users who see cases (they see every case; the names are never shown)."""
    if not can_find_duplicates(access_for(actor)):
        raise PermissionDenied
    fp = current_fingerprint()
    if fp is None:
        raise DomainError(_("Record linkage is not configured on this instance."), code="not_configured")
    rows = _with_cases(LinkageEncoding.objects.filter(secret_id=fp)).values_list("person_id", "bits", "block")
    people, known = _load(rows)
    matches = deduplicate(known, threshold=DEFAULT_THRESHOLD)
    cases = _latest_cases(people[i] for m in matches for i in (m.left, m.right))
    pairs = []
    for m in matches:
        left, right = cases.get(people[m.left]), cases.get(people[m.right])
        if left is None or right is None:
            continue
        pair = DuplicatePair(left=left, right=right, score=m.score)
        if include_same_agency or not pair.same_agency:
            pairs.append(pair)
    audit.record(
        actor=actor,
        action="coop.linkage_duplicates_run",
        details={
            "people": len(people),
            "pairs": len(pairs),
            "shown": min(len(pairs), MAX_DUPLICATE_PAIRS),
            "same_agency": include_same_agency,
        },
    )
    return Duplicates(pairs=pairs[:MAX_DUPLICATE_PAIRS], total=len(pairs), people=len(people))
