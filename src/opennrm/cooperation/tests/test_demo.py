"""The demo's cross-border cooperation: referrals from the demo partners arrive through the real inbox (one already
accepted by the national focal point, its answer waiting for the partner), a referral and a record-linkage question
wait for Ukraine, every person is encoded, the duplicates page shows people recorded by two agencies, and a second
run changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from opennrm.accounts.management.commands import load_demo
from opennrm.accounts.models import Membership, User
from opennrm.accounts.roles import Role, Scope
from opennrm.accounts.tests.factories import logged_in_client
from opennrm.cases.demo import build_demo_cases
from opennrm.cases.models import Case, Person
from opennrm.cooperation import linkage_service
from opennrm.cooperation.demo import INCOMING, build_demo_cooperation
from opennrm.cooperation.models import (
    DeliveryStatus,
    Direction,
    InboxMessage,
    LinkageEncoding,
    LinkageQuery,
    LinkageQueryStatus,
    MessageType,
    OutboxMessage,
    Partner,
    PartnerKey,
    Rejection,
    TransnationalReferral,
    TransnationalStatus,
)
from opennrm.cooperation.tests import coop_kit as kit
from opennrm.core.audit import verify_chain
from opennrm.core.models import Alert, AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(settings: Any, tmp_path: Path) -> int:
    settings.INSTANCE_DIR = tmp_path  # demo_credentials.json of load_demo
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only
    kit.isolate_instance(settings, tmp_path)
    settings.OPENNRM_COOP_LINKAGE_SECRET_FILE = str(tmp_path / "linkage_secret")  # none installed yet
    build_demo_cases(count=40, seed=7)
    return build_demo_cooperation()


def focal_point() -> User:
    return User.objects.get(username="focalpoint")


def test_partners_referrals_arrive_through_the_inbox_and_one_is_accepted(demo):
    assert demo > 0
    assert dict(Partner.objects.values_list("code", "name")) == {
        "UA": "Ukraine (demo partner)",
        "MD": "Moldova (demo partner)",
    }
    # Exactly as a partner's: a verified, decrypted message in the inbox for each referral, nothing refused.
    received = InboxMessage.objects.filter(type=MessageType.REFERRAL)
    assert sorted(received.values_list("partner__code", flat=True)) == ["MD", "UA", "UA"]
    assert not Rejection.objects.exists()
    assert AuditEntry.objects.filter(action="coop.message_received").count() == len(INCOMING)
    incoming = TransnationalReferral.objects.filter(direction=Direction.INCOMING)
    assert sorted(incoming.values_list("status", flat=True)) == sorted(
        [TransnationalStatus.ACCEPTED, TransnationalStatus.RECEIVED, TransnationalStatus.RECEIVED]
    )
    accepted = incoming.get(status=TransnationalStatus.ACCEPTED)
    assert accepted.partner.code == "UA" and accepted.responded_by == focal_point()
    assert accepted.case is not None and accepted.case.owning_agency.short_name == "State Fund"
    # Its answer waits for Ukraine, which is not running.
    answer = OutboxMessage.objects.get(type=MessageType.REFERRAL_RESPONSE)
    assert (answer.partner.code, answer.status, answer.subject) == (
        "UA",
        DeliveryStatus.PENDING,
        str(accepted.referral_id),
    )
    # The focal point was alerted of the two waiting for a decision.
    alerts = Alert.objects.filter(recipient=focal_point(), kind="transnational_referral_received")
    assert alerts.count() == 3 and alerts.filter(read_at__isnull=True).count() == 2
    assert verify_chain().ok


def test_a_referral_and_a_question_wait_for_ukraine(demo):
    sent = TransnationalReferral.objects.get(direction=Direction.OUTGOING)
    assert (sent.partner.code, sent.status) == ("UA", TransnationalStatus.SENT)
    assert sent.case is not None and sent.case.consents.filter(country="UA", given=True).exists()
    query = LinkageQuery.objects.get()
    assert (query.partner.code, query.status) == ("UA", LinkageQueryStatus.SENT)
    assert query.case != sent.case
    waiting = OutboxMessage.objects.filter(partner__code="UA", status=DeliveryStatus.PENDING)
    assert sorted(waiting.values_list("type", flat=True)) == sorted(
        [MessageType.REFERRAL, MessageType.REFERRAL_RESPONSE, MessageType.LINKAGE_QUERY]
    )


def test_the_national_focal_point_logs_in_and_sees_the_country_inbox(demo, settings):
    user = focal_point()
    [membership] = Membership.objects.filter(user=user)
    assert (membership.role, membership.scope, membership.agency.short_name) == (
        Role.CASE_WORKER,
        Scope.NATIONAL,
        "State Fund",
    )
    passwords = json.loads((Path(settings.INSTANCE_DIR) / "demo_credentials.json").read_text())
    assert user.check_password(passwords["focalpoint"])
    assert "focalpoint" in load_demo.format_logins()
    page = logged_in_client(user).get(reverse("coop:transnational_inbox"))
    assert page.status_code == 200
    for referral in TransnationalReferral.objects.filter(direction=Direction.INCOMING):
        assert referral.remote_reference in page.content.decode()


def test_everyone_is_encoded_and_the_duplicates_page_shows_pairs_across_agencies(demo):
    assert linkage_service.is_configured()
    fp = linkage_service.current_fingerprint()
    assert LinkageEncoding.objects.filter(secret_id=fp).count() == Person.objects.count()
    page = logged_in_client(focal_point()).get(reverse("coop:linkage_duplicates"))
    assert page.status_code == 200
    found = page.context["found"]
    assert found.total >= 3 and not any(pair.same_agency for pair in found.pairs)
    held_by = {
        frozenset((p.left.owning_agency.short_name, p.right.owning_agency.short_name)) for p in found.pairs
    }
    assert {"State Fund", "Imereti NGO"} in [set(h) for h in held_by]
    for pair in found.pairs:
        assert pair.left.reference in page.content.decode()


def test_running_again_changes_nothing(demo):
    def counts() -> tuple[int, ...]:
        return tuple(
            model.objects.count()
            for model in (
                Case,
                Person,
                Partner,
                PartnerKey,
                InboxMessage,
                OutboxMessage,
                TransnationalReferral,
                LinkageQuery,
                LinkageEncoding,
                Alert,
                AuditEntry,
                User,
            )
        )

    before = counts()
    fingerprint = linkage_service.current_fingerprint()
    load_demo.build_demo()
    assert build_demo_cooperation() == 0
    assert counts() == before
    assert linkage_service.current_fingerprint() == fingerprint


def test_a_login_added_later_gets_a_password_and_the_others_keep_theirs(settings, tmp_path):
    settings.INSTANCE_DIR = tmp_path
    path = load_demo.credentials_path()
    path.write_text(json.dumps({"admin": "demo-kept"}))
    passwords = load_demo.demo_passwords()
    assert passwords["admin"] == "demo-kept"
    assert set(passwords) == {u["username"] for u in load_demo.USERS}
    assert json.loads(path.read_text()) == passwords
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_the_builder_runs_after_the_cases_inspections_and_shelters():
    from opennrm.core import demo as registry

    names = [name for name, _builder in registry.builders()]
    assert names[-1] == "cooperation" and {"cases", "inspections", "shelters"} < set(names)
