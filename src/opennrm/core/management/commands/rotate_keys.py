from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from opennrm.core import audit
from opennrm.core.crypto import get_keyring, save_keyring
from opennrm.core.rotation import keys_in_use, reencrypt_all


class Command(BaseCommand):
    help = (
        "Make a new encryption key active and re-encrypt every encrypted value in batches, while the platform "
        "keeps running. With --resume, only finish re-encrypting under the current active key. With --retire, "
        "remove old keys that no stored value needs any more."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--resume", action="store_true", help="Do not add a key; finish re-encryption.")
        parser.add_argument("--retire", action="store_true", help="Remove keys no longer used by any value.")

    def handle(self, *args: Any, **options: Any) -> None:
        keyring = get_keyring()
        if not options["resume"] and not options["retire"]:
            keyring = keyring.with_new_active_key()
            save_keyring(keyring)
            audit.record(actor=None, action="keys.rotated", details={"active_key": keyring.active_id})
            self.stdout.write(f"New active key {keyring.active_id}; old keys stay readable.")
        if options["retire"]:
            used = keys_in_use()
            retired = [k for k in keyring.keys if k != keyring.active_id and k not in used]
            for key_id in retired:
                keyring = keyring.without_key(key_id)
            save_keyring(keyring)
            audit.record(actor=None, action="keys.retired", details={"retired": retired})
            self.stdout.write(f"Retired keys: {', '.join(retired) or 'none'}")
            return
        report = reencrypt_all(batch_size=options["batch_size"], progress=lambda m: self.stdout.write(m))
        audit.record(
            actor=None,
            action="keys.reencrypted",
            details={"active_key": report.active_id, "rows": report.total_rows, "files": report.files},
        )
        self.stdout.write(f"Re-encrypted {report.total_rows} values and {report.files} files.")
        if report.remaining:
            # Rows written concurrently under the old key between batches: run again with --resume.
            raise CommandError(f"Values still under old keys: {report.remaining}; run again with --resume")
        self.stdout.write(self.style.SUCCESS("Every value is under the active key."))
