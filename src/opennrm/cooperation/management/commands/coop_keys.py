"""This instance's cooperation keys: print the public card for partners, rotate, retire old pairs."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opennrm.cooperation import keys
from opennrm.core import audit


class Command(BaseCommand):
    help = "Show this instance's public cooperation keys (for partners), rotate them, or retire an old pair."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        show = sub.add_parser("show", help="print the public card to hand to partners out of band")
        show.add_argument("--json", action="store_true", help="machine-readable card for `coop_partner add`")
        sub.add_parser("rotate", help="add a new key pair and make it active")
        retire = sub.add_parser("retire", help="remove an older key pair")
        retire.add_argument("kid")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "show":
            card = keys.public_card()
            if options["json"]:
                self.stdout.write(json.dumps(card))
                return
            self.stdout.write(f"Instance: {card['code']} ({card['country']}) at {card['url']}")
            self.stdout.write(f"Signing key (Ed25519):     {card['active_signing_key']}")
            self.stdout.write(f"Encryption key (X25519):   {card['active_encryption_key']}")
            self.stdout.write("Key pairs (pair id, created, signing key id, encryption key id):")
            pairs = keys.instance_keys().pairs
            for pair in pairs:
                active = "  active" if pair is pairs[-1] else ""
                self.stdout.write(
                    f"  {pair.kid}  {pair.created[:19]}  {pair.signing_kid}  {pair.encryption_kid}{active}"
                )
            self.stdout.write(
                "Hand `coop_keys show --json` to the partners' administrators over a channel you trust."
            )
        elif action == "rotate":
            pair = keys.rotate()
            audit.record(actor=None, action="coop.keys_rotated", details={"pair": pair.kid})
            self.stdout.write(
                f"New active key pair {pair.kid}. Send `coop_keys show --json` to every partner."
            )
        else:
            try:
                keys.retire(options["kid"])
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            audit.record(actor=None, action="coop.keys_retired", details={"pair": options["kid"]})
            self.stdout.write(f"Retired key pair {options['kid']}.")
