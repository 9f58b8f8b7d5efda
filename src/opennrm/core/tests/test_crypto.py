from __future__ import annotations

import datetime as dt
import json

import pytest
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from tests.testapp.models import Secretive

from opennrm.core import crypto
from opennrm.core.blind_index import blind_index, blind_index_parts, normalise
from opennrm.core.crypto import DecryptionError, Keyring, generate_keyring

pytestmark = pytest.mark.django_db


@pytest.fixture
def keyring_file(tmp_path, settings):
    """A fresh keyring file for the test, so rotation does not touch the shared test instance's keyring."""
    path = tmp_path / "keyring.json"
    settings.OPENNRM_KEYRING_FILE = str(path)
    settings.OPENNRM_KEYRING_JSON = ""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    crypto._cached = None
    from opennrm.core.fields import encrypted_storage

    encrypted_storage.__init__(location=str(tmp_path / "media"))
    yield path
    crypto._cached = None


def raw_row(obj: Secretive) -> tuple:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT name, notes, born_on, contacts, document FROM testapp_secretive WHERE id = %s", [obj.pk]
        )
        return cur.fetchone()


def test_database_holds_no_plaintext(keyring_file, tmp_path):
    obj = Secretive.objects.create(
        name="ნინო ბერიძე",
        notes="Recruited in Batumi by a cousin",
        born_on=dt.date(1999, 4, 12),
        contacts={"phone": "+995 555 123 456"},
    )
    obj.document.save("passport-nino.pdf", ContentFile(b"%PDF-1.4 passport of Nino Beridze"))
    obj.save()
    row = raw_row(obj)
    dumped = json.dumps(row, ensure_ascii=False)
    for secret in ["ნინო", "Batumi", "1999", "555 123", "passport", "Beridze"]:
        assert secret not in dumped
    assert all(value.startswith("v1:") for value in row[:4])
    on_disk = (tmp_path / "media" / row[4]).read_bytes()
    assert b"Beridze" not in on_disk and b"%PDF" not in on_disk

    again = Secretive.objects.get(pk=obj.pk)
    assert again.name == "ნინო ბერიძე"
    assert again.born_on == dt.date(1999, 4, 12)
    assert again.contacts == {"phone": "+995 555 123 456"}
    assert again.document.read() == b"%PDF-1.4 passport of Nino Beridze"


def test_ciphertext_bound_to_its_column(keyring_file):
    obj = Secretive.objects.create(name="Nino", notes="secret note")
    with connection.cursor() as cur:
        cur.execute("UPDATE testapp_secretive SET name = notes WHERE id = %s", [obj.pk])
    with pytest.raises(DecryptionError, match=r"testapp\.secretive\.name"):
        Secretive.objects.get(pk=obj.pk)


def test_wrong_or_missing_key_is_a_clear_error(keyring_file, settings):
    obj = Secretive.objects.create(name="Olena")
    # Another instance's keyring: same shape, different keys.
    keyring_file.write_text(generate_keyring().to_json())
    crypto._cached = None
    with pytest.raises(DecryptionError, match="not in the keyring"):
        Secretive.objects.get(pk=obj.pk)

    # Same key id but a different key: authentication fails, no garbage comes back.
    ring = Keyring.from_json(keyring_file.read_text())
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM testapp_secretive WHERE id = %s", [obj.pk])
        token = cur.fetchone()[0]
    impostor = Keyring(
        keys={Keyring.key_id_of(token): b"\x01" * 32},
        active_id=Keyring.key_id_of(token),
        blind_index_key=ring.blind_index_key,
    )
    with pytest.raises(DecryptionError, match="authentication failed"):
        impostor.decrypt(token, context="testapp.secretive.name")


def test_encrypted_columns_refuse_filters():
    with pytest.raises(FieldError, match="blind index"):
        list(Secretive.objects.filter(name="Nino"))


def test_rotation_keeps_everything_readable(keyring_file, tmp_path):
    objs = [Secretive.objects.create(name=f"Person {i}", born_on=dt.date(1990, 1, i + 1)) for i in range(7)]
    objs[0].document.save("a.txt", ContentFile(b"attachment body"))
    objs[0].save()
    old_id = Keyring.from_json(keyring_file.read_text()).active_id

    call_command("rotate_keys", "--batch-size", "3")

    ring = Keyring.from_json(keyring_file.read_text())
    assert ring.active_id != old_id and old_id in ring.keys
    with connection.cursor() as cur:
        cur.execute("SELECT name, born_on FROM testapp_secretive")
        rows = cur.fetchall()
    assert all(f"v1:{ring.active_id}:" in value for row in rows for value in row if value)
    assert [o.name for o in Secretive.objects.order_by("id")] == [f"Person {i}" for i in range(7)]
    assert Secretive.objects.get(pk=objs[0].pk).document.read() == b"attachment body"

    # Now nothing needs the old key: retiring removes it, and the data is still readable without it.
    call_command("rotate_keys", "--retire")
    ring = Keyring.from_json(keyring_file.read_text())
    assert old_id not in ring.keys
    crypto._cached = None
    assert Secretive.objects.get(pk=objs[3].pk).born_on == dt.date(1990, 1, 4)


def test_rotation_does_not_overwrite_a_concurrent_edit(keyring_file, monkeypatch):
    from opennrm.core import rotation

    obj = Secretive.objects.create(name="before")
    crypto.save_keyring(crypto.get_keyring().with_new_active_key())
    real_decrypt = Keyring.decrypt
    edited = []

    def decrypt_while_someone_edits(self, token, *, context):
        # The application saves the row after the rotation read it and before it writes it back.
        if context == "testapp.secretive.name" and not edited:
            edited.append(True)
            Secretive.objects.filter(pk=obj.pk).update(name="edited meanwhile")
        return real_decrypt(self, token, context=context)

    monkeypatch.setattr(Keyring, "decrypt", decrypt_while_someone_edits)
    report = rotation.reencrypt_all(batch_size=10)
    monkeypatch.undo()

    assert edited
    assert report.rows["testapp.Secretive.name"] == 0  # the compare-and-swap refused to clobber the edit
    assert Secretive.objects.get(pk=obj.pk).name == "edited meanwhile"
    assert rotation.count_under_old_keys() == {}


def test_malformed_keyring_is_refused():
    with pytest.raises(ImproperlyConfigured):
        Keyring.from_json('{"active": "x", "keys": {}}')


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Nino  Beridze", "nino beridze"),
        ("Nino Beridze", "NINO BERIDZE"),
        ("Ștefan Ciobanu", "Stefan Ciobanu"),
        ("ნინო ბერიძე", "Nino Beridze"),
        ("Ольга", "Olga"),
    ],
)
def test_blind_index_normalises_case_spacing_diacritics_and_script(keyring_file, a, b):
    assert normalise(a) == normalise(b)
    assert blind_index(a, purpose="name") == blind_index(b, purpose="name")


def test_blind_index_is_keyed_and_separated_by_purpose(keyring_file):
    digest = blind_index("AB 123-456", purpose="document", document=True)
    assert digest == blind_index("ab123456", purpose="document", document=True)
    assert digest != blind_index("ab123456", purpose="other", document=True)
    assert "ab123456" not in digest
    crypto.save_keyring(generate_keyring())
    assert blind_index("ab123456", purpose="document", document=True) != digest
    assert blind_index_parts("Nino Beridze", "1999-04-12", purpose="p") != blind_index_parts(
        "Nino", "Beridze 1999-04-12", purpose="p"
    )
