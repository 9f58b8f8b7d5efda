"""Translation catalogues: `update` extracts every string into the five-language catalogues; `check` fails when
a catalogue is stale (a string in the code that the catalogue lacks, or an entry left untranslated, fuzzy, or a
plain copy of the English).

    python scripts/messages.py update
    python scripts/messages.py check
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "opennrm"
LOCALE = PACKAGE / "locale"
LANGUAGES = ["ka", "uk", "ru", "ro"]
# Strings that are the same in every language: names, codes, symbols.
SAME_IN_ALL = {
    "OpenNRM",
    "API",
    "#",
    "ISO",
    "TOTP",
    "JSON",
    "CSV",
    "HTCDS",
    "—",
    # Brand names of apps (HTCDS recruitment and exploitation websites and apps).
    "4Sale",
    "Facebook",
    "Facebook Messenger",
    "Instagram",
    "Line",
    "QQ",
    "QZone",
    "Telegram",
    "TikTok",
    "Twitter",
    "Viber",
    "WeChat",
    "WhatsApp",
    "SnapChat",
}
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[-+ #0-9.]*[sdfgi]|%[sd]|\{\{[^}]*\}\}|\{[a-z_]+\}")
# Names that stay as they are inside a sentence (formats, standards, algorithms).
NAMES = re.compile(r"\b(?:CSV|Excel|JSON|PDF|SHA-256|HTCDS|CTDC|OpenNRM|API|ISO)\b")


def makemessages() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "opennrm.settings"}
    cmd = [
        sys.executable,
        str(ROOT / "manage.py"),
        "makemessages",
        "--no-location",
        "--no-obsolete",
        "--no-wrap",
        "-v",
        "0",
        "--ignore",
        "tests/*",
        "--ignore",
        "*/tests/*",
    ]
    for lang in LANGUAGES:
        cmd += ["-l", lang]
    subprocess.run(cmd, cwd=PACKAGE, env=env, check=True)  # noqa: S603


def problems_in(po_path: Path) -> list[str]:
    found = []
    for entry in polib.pofile(str(po_path)):
        if entry.obsolete:
            continue
        label = entry.msgid[:70].replace("\n", " ")
        if "fuzzy" in entry.flags:
            found.append(f"fuzzy: {label!r}")
        elif entry.msgid_plural:
            if not all(entry.msgstr_plural.values()):
                found.append(f"untranslated plural: {label!r}")
        elif not entry.msgstr:
            found.append(f"untranslated: {label!r}")
        elif (
            entry.msgstr == entry.msgid
            and entry.msgid not in SAME_IN_ALL
            and any(c.isalpha() for c in NAMES.sub("", PLACEHOLDER.sub("", entry.msgid)))
        ):
            found.append(f"copied from English: {label!r}")
    return found


def check() -> int:
    backup = Path(tempfile.mkdtemp(prefix="opennrm-locale-"))
    had_locale = LOCALE.exists()
    if had_locale:
        shutil.copytree(LOCALE, backup / "locale")
    before = {lang: _msgids(LOCALE / lang / "LC_MESSAGES" / "django.po") for lang in LANGUAGES}
    try:
        makemessages()
        failures = []
        for lang in LANGUAGES:
            po = LOCALE / lang / "LC_MESSAGES" / "django.po"
            missing = _msgids(po) - before[lang]
            for msgid in sorted(missing):
                failures.append(f"{lang}: not in the committed catalogue: {msgid[:70]!r}")
            failures += [f"{lang}: {p}" for p in problems_in(po)]
    finally:
        if LOCALE.exists():
            shutil.rmtree(LOCALE)
        if had_locale:
            shutil.copytree(backup / "locale", LOCALE)
        shutil.rmtree(backup)
    if failures:
        print("Translation catalogues are stale. Run `make messages`, translate, and commit:")
        for line in failures[:200]:
            print("  " + line)
        if len(failures) > 200:
            print(f"  ... and {len(failures) - 200} more")
        return 1
    print("Translation catalogues are complete for " + ", ".join(LANGUAGES))
    return 0


def _msgids(po_path: Path) -> set[str]:
    if not po_path.exists():
        return set()
    return {e.msgid for e in polib.pofile(str(po_path)) if not e.obsolete}


def main() -> int:
    action = sys.argv[1] if len(sys.argv) > 1 else "check"
    if action == "update":
        makemessages()
        for lang in LANGUAGES:
            remaining = problems_in(LOCALE / lang / "LC_MESSAGES" / "django.po")
            print(f"{lang}: {len(remaining)} entries to translate")
        return 0
    return check()


if __name__ == "__main__":
    raise SystemExit(main())
