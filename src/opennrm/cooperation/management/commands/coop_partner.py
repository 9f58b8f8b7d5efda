"""Register, list and revoke partner instances."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opennrm.cooperation import messaging, partners
from opennrm.cooperation.models import Partner, PartnerKey
from opennrm.core.errors import DomainError


class Command(BaseCommand):
    help = (
        "Register a partner instance from its card (`coop_keys show --json` on the partner), list or revoke."
    )
    stealth_options = ("stdin",)  # call_command(..., stdin=...) in tests

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="register a partner, or add its rotated keys")
        add.add_argument("card", help="path to the partner's JSON card, or - for standard input")
        add.add_argument("--name", default="", help="a readable name for the partner")
        add.add_argument("--url", default="", help="override the address in the card")
        add.add_argument("--hub", action="store_true", help="the partner is the regional hub")
        sub.add_parser("list")
        revoke = sub.add_parser("revoke", help="refuse everything from a partner from now on")
        revoke.add_argument("code")
        revoke_key = sub.add_parser("revoke-key", help="refuse one of a partner's keys")
        revoke_key.add_argument("code")
        revoke_key.add_argument("key_id")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            getattr(self, "_" + options["action"].replace("-", "_"))(options)
        except DomainError as exc:
            raise CommandError(messaging.error_text(exc)) from exc

    def _add(self, options: dict[str, Any]) -> None:
        try:
            raw = (
                (options.get("stdin") or sys.stdin).read()
                if options["card"] == "-"
                else Path(options["card"]).read_text(encoding="utf-8")
            )
            card = json.loads(raw)
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read the partner card: {exc}") from exc
        if not isinstance(card, dict):
            raise CommandError("The partner card is not a JSON object.")
        if options["name"]:
            card["name"] = options["name"]
        if options["url"]:
            card["url"] = options["url"]
        if options["hub"]:
            card["is_hub"] = True
        partner = partners.register_from_card(actor=None, card=card)
        self.stdout.write(f"Partner {partner.code} registered at {partner.base_url}.")

    def _list(self, options: dict[str, Any]) -> None:
        for partner in Partner.objects.all():
            hub = " hub" if partner.is_hub else ""
            self.stdout.write(f"{partner.code} {partner.country} {partner.status}{hub} {partner.base_url}")

    def _revoke(self, options: dict[str, Any]) -> None:
        partner = Partner.objects.filter(code=options["code"].upper()).first()
        if partner is None:
            raise CommandError(f"No partner {options['code']}")
        partners.revoke_partner(actor=None, partner=partner)
        self.stdout.write(f"Partner {partner.code} revoked.")

    def _revoke_key(self, options: dict[str, Any]) -> None:
        key = PartnerKey.objects.filter(
            partner__code=options["code"].upper(), key_id=options["key_id"]
        ).first()
        if key is None:
            raise CommandError("No such key")
        partners.revoke_key(actor=None, key=key)
        self.stdout.write(f"Key {key.key_id} of {options['code']} revoked.")
