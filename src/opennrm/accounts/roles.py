"""Roles and the permissions each grants. `docs/roles.md` is generated from this module (a test keeps it in step).

A membership gives a user one role in one agency, with a scope:
- own: the records the user created or is assigned to;
- agency: every record the agency owns or has an active referral for;
- national: every record of the instance (coordination, identification authority, audit).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    FIRST_RESPONDER = "first_responder", _("First responder")
    CASE_WORKER = "case_worker", _("Case worker")
    SERVICE_PROVIDER = "service_provider", _("Service provider")
    DECISION_MAKER = "decision_maker", _("Decision maker")
    COORDINATOR = "coordinator", _("Coordinator")
    ANALYST = "analyst", _("Analyst")
    ADMINISTRATOR = "administrator", _("Administrator")
    AUDITOR = "auditor", _("Auditor")


class Scope(models.TextChoices):
    OWN = "own", _("Own records")
    AGENCY = "agency", _("Agency")
    NATIONAL = "national", _("National")


class Perm(models.TextChoices):
    CASE_REFER = "case.refer", _("File referrals and anonymous notifications")
    CASE_VIEW = "case.view", _("See cases in scope")
    CASE_VIEW_IDENTITY = "case.view_identity", _("Read identifying data of cases in scope")
    CASE_EDIT = "case.edit", _("Run cases: screening, consent, plan, notes, closure")
    DECISION_REQUEST = "decision.request", _("Request an identification decision")
    DECISION_MAKE = "decision.make", _("Decide victim status")
    REFERRAL_SEND = "referral.send", _("Refer a case to a service")
    REFERRAL_RESPOND = "referral.respond", _("Accept or decline service referrals for the agency")
    TRANSNATIONAL_SEND = "transnational.send", _("Refer cases to partner countries")
    TRANSNATIONAL_RECEIVE = (
        "transnational.receive",
        _("Receive transnational referrals for the country: accept or decline, open the local case"),
    )
    SERVICE_RECORD = "service.record", _("Record services delivered")
    COMPENSATION_APPROVE = "compensation.approve", _("Approve and record compensation")
    INSPECTION_RECORD = "inspection.record", _("Record labour inspections and screen workers on site")
    SHELTER_OPERATE = "shelter.operate", _("Admit, transfer and discharge residents of the agency's shelters")
    SHELTER_OVERSEE = (
        "shelter.oversee",
        _("Oversee shelters: occupancy, stay extensions, over-capacity admissions"),
    )
    STATS_VIEW = "stats.view", _("See aggregate statistics")
    STATS_EXPORT = "stats.export", _("Export de-identified data and publish releases")
    PROGRAMME_MANAGE = "programme.manage", _("Manage action plans, grants and events")
    AGENCY_VIEW_STAFF = "agency.view_staff", _("See the staff and memberships of agencies in scope")
    USERS_MANAGE = "users.manage", _("Manage agencies, users and memberships")
    AUDIT_VIEW = "audit.view", _("Read the audit log")
    AUDIT_VERIFY = "audit.verify", _("Verify the audit log chain")
    KEYS_MANAGE = "keys.manage", _("Rotate encryption keys")


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.FIRST_RESPONDER: frozenset({Perm.CASE_REFER, Perm.INSPECTION_RECORD}),
    Role.CASE_WORKER: frozenset(
        {
            Perm.CASE_REFER,
            Perm.CASE_VIEW,
            Perm.CASE_VIEW_IDENTITY,
            Perm.CASE_EDIT,
            Perm.DECISION_REQUEST,
            Perm.REFERRAL_SEND,
            Perm.COMPENSATION_APPROVE,
            Perm.TRANSNATIONAL_SEND,
            Perm.TRANSNATIONAL_RECEIVE,
        }
    ),
    Role.SERVICE_PROVIDER: frozenset(
        {Perm.CASE_VIEW, Perm.REFERRAL_RESPOND, Perm.SERVICE_RECORD, Perm.SHELTER_OPERATE}
    ),
    Role.DECISION_MAKER: frozenset({Perm.CASE_VIEW, Perm.CASE_VIEW_IDENTITY, Perm.DECISION_MAKE}),
    Role.COORDINATOR: frozenset(
        {
            Perm.CASE_VIEW,
            Perm.STATS_VIEW,
            Perm.STATS_EXPORT,
            Perm.PROGRAMME_MANAGE,
            Perm.AGENCY_VIEW_STAFF,
            Perm.COMPENSATION_APPROVE,
            Perm.SHELTER_OVERSEE,
        }
    ),
    Role.ANALYST: frozenset({Perm.STATS_VIEW}),
    Role.ADMINISTRATOR: frozenset({Perm.USERS_MANAGE, Perm.AGENCY_VIEW_STAFF, Perm.KEYS_MANAGE}),
    Role.AUDITOR: frozenset({Perm.AUDIT_VIEW, Perm.AUDIT_VERIFY, Perm.AGENCY_VIEW_STAFF}),
}

ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.FIRST_RESPONDER: "Police officer, labour inspector, outreach worker, hotline operator or consular officer "
    "who files referrals and anonymous notifications; sees only what they filed.",
    Role.CASE_WORKER: "Runs cases end to end for the agency (State Fund, social service, NGO). With national scope, "
    "also the country's focal point for transnational referrals: the incoming inbox is country-wide, so "
    "`transnational.receive` acts only through a national-scope membership.",
    Role.SERVICE_PROVIDER: "Shelter, crisis centre, medical, psychological or legal-aid staff: receives referrals for "
    "the agency and records services; sees only what the service needs.",
    Role.DECISION_MAKER: "Member of the identification authority (Georgia: the Permanent Group) who decides status.",
    Role.COORDINATOR: "National coordinator: oversight, statistics, programmes; no identifying data.",
    Role.ANALYST: "Sees de-identified aggregates only.",
    Role.ADMINISTRATOR: "Manages agencies, users, memberships and keys; no case data.",
    Role.AUDITOR: "Data-protection officer or auditor: reads and verifies the audit log.",
}


def permissions_for(roles: set[str]) -> frozenset[Perm]:
    granted: set[Perm] = set()
    for role in roles:
        granted |= ROLE_PERMISSIONS.get(Role(role), frozenset())
    return frozenset(granted)
