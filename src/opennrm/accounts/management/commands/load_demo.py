"""Build the demo Georgian mechanism: agencies and one user per role (generated data, never real people).

Idempotent: running it again changes nothing and prints the same logins. Passwords are random per instance and
kept in `<instance>/demo_credentials.json` (owner-only), so a demo can never ship a known password.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from opennrm.accounts import services
from opennrm.accounts.models import Agency, AgencyKind, Membership, User
from opennrm.accounts.roles import Role, Scope
from opennrm.core import demo
from opennrm.instance import write_secret_file

AGENCIES: list[dict[str, str]] = [
    {
        "key": "fund",
        "name": "State Fund for Protection and Assistance of Victims of Human Trafficking",
        "short_name": "State Fund",
        "kind": AgencyKind.STATE_FUND,
        "region": "GE-TB",
    },
    {
        "key": "pg",
        "name": "Permanent Group for Identification of Victims of Trafficking",
        "short_name": "Permanent Group",
        "kind": AgencyKind.IDENTIFICATION_AUTHORITY,
        "region": "GE-TB",
    },
    {
        "key": "police",
        "name": "Anti-Trafficking Unit, Central Criminal Police",
        "short_name": "Police ATU",
        "kind": AgencyKind.LAW_ENFORCEMENT,
        "region": "GE-TB",
    },
    {
        "key": "labour",
        "name": "Labour Inspection Service",
        "short_name": "Labour Inspection",
        "kind": AgencyKind.LABOUR_INSPECTION,
        "region": "GE-TB",
    },
    {
        "key": "shelter_tbilisi",
        "name": "State Fund Shelter, Tbilisi",
        "short_name": "Tbilisi shelter",
        "kind": AgencyKind.SHELTER,
        "region": "GE-TB",
    },
    {
        "key": "shelter_batumi",
        "name": "State Fund Shelter, Batumi",
        "short_name": "Batumi shelter",
        "kind": AgencyKind.SHELTER,
        "region": "GE-AJ",
    },
    {
        "key": "ngo_kutaisi",
        "name": "Demo NGO: Imereti Women's Support Centre",
        "short_name": "Imereti NGO",
        "kind": AgencyKind.NGO,
        "region": "GE-IM",
    },
    {
        "key": "ngo_legal",
        "name": "Demo NGO: Migrant Rights Legal Clinic",
        "short_name": "Legal clinic",
        "kind": AgencyKind.NGO,
        "region": "GE-TB",
    },
    {
        "key": "ngo_batumi",
        "name": "Demo NGO: Black Sea Outreach",
        "short_name": "Black Sea Outreach",
        "kind": AgencyKind.NGO,
        "region": "GE-AJ",
    },
    {
        "key": "iom",
        "name": "IOM Georgia office (demo)",
        "short_name": "IOM",
        "kind": AgencyKind.INTERNATIONAL,
        "region": "GE-TB",
    },
    {
        "key": "council",
        "name": "Inter-Agency Council Secretariat, Ministry of Justice",
        "short_name": "Inter-Agency Council",
        "kind": AgencyKind.MINISTRY,
        "region": "GE-TB",
    },
]

USERS: list[dict[str, Any]] = [
    {
        "username": "responder",
        "first": "Giorgi",
        "last": "Demo-Responder",
        "agency": "police",
        "role": Role.FIRST_RESPONDER,
        "scope": Scope.OWN,
    },
    {
        "username": "caseworker",
        "first": "Nino",
        "last": "Demo-Caseworker",
        "agency": "fund",
        "role": Role.CASE_WORKER,
        "scope": Scope.AGENCY,
    },
    {
        "username": "provider",
        "first": "Tamar",
        "last": "Demo-Shelter",
        "agency": "shelter_batumi",
        "role": Role.SERVICE_PROVIDER,
        "scope": Scope.AGENCY,
    },
    {
        "username": "focalpoint",
        "first": "Khatuna",
        "last": "Demo-FocalPoint",
        "agency": "fund",
        "role": Role.CASE_WORKER,
        "scope": Scope.NATIONAL,  # the national focal point: receives transnational referrals for the country
    },
    {
        "username": "decider",
        "first": "Levan",
        "last": "Demo-Member",
        "agency": "pg",
        "role": Role.DECISION_MAKER,
        "scope": Scope.NATIONAL,
    },
    {
        "username": "coordinator",
        "first": "Ana",
        "last": "Demo-Coordinator",
        "agency": "council",
        "role": Role.COORDINATOR,
        "scope": Scope.NATIONAL,
    },
    {
        "username": "analyst",
        "first": "Irakli",
        "last": "Demo-Analyst",
        "agency": "iom",
        "role": Role.ANALYST,
        "scope": Scope.NATIONAL,
    },
    {
        "username": "admin",
        "first": "Maka",
        "last": "Demo-Admin",
        "agency": "council",
        "role": Role.ADMINISTRATOR,
        "scope": Scope.NATIONAL,
    },
    {
        "username": "auditor",
        "first": "Davit",
        "last": "Demo-Auditor",
        "agency": "council",
        "role": Role.AUDITOR,
        "scope": Scope.NATIONAL,
    },
]


def credentials_path() -> Path:
    return Path(settings.INSTANCE_DIR) / "demo_credentials.json"


def _new_password() -> str:
    alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # nothing to misread
    return "demo-" + "".join(secrets.choice(alphabet) for _ in range(12))


def demo_passwords() -> dict[str, str]:
    path = credentials_path()
    if not path.exists():
        write_secret_file(path, json.dumps({u["username"]: _new_password() for u in USERS}, indent=2))
    stored: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    missing = [u["username"] for u in USERS if u["username"] not in stored]
    if missing:  # a demo login added since this instance's file was written: keep the others' passwords
        stored.update({username: _new_password() for username in missing})
        replacement = path.with_name(f".{path.name}.{secrets.token_hex(4)}.new")
        write_secret_file(replacement, json.dumps(stored, indent=2))
        os.replace(replacement, path)
    return stored


@transaction.atomic
def build_demo() -> dict[str, Agency]:
    passwords = demo_passwords()
    agencies: dict[str, Agency] = {}
    for spec in AGENCIES:
        agency, _ = Agency.objects.get_or_create(
            country="GE",
            name=spec["name"],
            defaults={"short_name": spec["short_name"], "kind": spec["kind"], "region": spec["region"]},
        )
        agencies[spec["key"]] = agency
    for spec in USERS:
        user = User.objects.filter(username=spec["username"]).first()
        if user is None:
            user = services.create_user(
                actor=None,
                username=spec["username"],
                password=passwords[spec["username"]],
                first_name=spec["first"],
                last_name=spec["last"],
            )
        agency = agencies[spec["agency"]]
        if not Membership.objects.filter(user=user, agency=agency, role=spec["role"]).exists():
            services.grant_membership(
                actor=None, user=user, agency=agency, role=Role(spec["role"]), scope=Scope(spec["scope"])
            )
    return agencies


class Command(BaseCommand):
    help = "Load the demo Georgian mechanism (generated data) and print the demo logins."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        build_demo()
        # The mechanism's work, built through the services of each app (generated people, never real ones).
        for name, builder in demo.builders():
            created = builder()
            if created and not options["quiet"]:
                self.stdout.write(f"Demo {name}: {created} created")
        if not options["quiet"]:
            self.stdout.write(format_logins())


def format_logins() -> str:
    passwords = demo_passwords()
    lines = ["Demo logins (generated for this instance; first login sets up the authenticator app):"]
    for spec in USERS:
        scope = " (national)" if spec["scope"] == Scope.NATIONAL and spec["role"] == Role.CASE_WORKER else ""
        lines.append(
            f"  {spec['username']:<12} {passwords[spec['username']]:<20} {Role(spec['role']).label}{scope}"
        )
    return "\n".join(lines)
