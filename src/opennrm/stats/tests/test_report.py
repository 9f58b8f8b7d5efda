"""The annual report as PDF: who may get it, that it is in the language chosen, and that its script is drawn with
the embedded DejaVu font (Georgian is not boxes).

What the PDF holds is read two ways: from the PDF itself (the fonts it embeds and the characters their ToUnicode
maps cover; no tool needed), and, where poppler-utils is installed, as text with `pdftotext`. Page 1 of each
report is rendered to `build/screenshots/report-<language>.png` with `pdftoppm` where installed, for a person to
look at.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation

from opennrm.accounts.access import access_for
from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import logged_in_client, member
from opennrm.cases.choices import htcds_snake_choices
from opennrm.core.models import AuditEntry
from opennrm.core.profiles import active_profile
from opennrm.stats.indicators import Filters
from opennrm.stats.tests.dashboard_data import World, build_world
from opennrm.stats.views import render_report_pdf

pytestmark = pytest.mark.django_db

LAST_YEAR = timezone.localdate().year - 1
SCREENSHOTS = Path(__file__).resolve().parents[4] / "build" / "screenshots"
SCRIPTS = {
    "ka": re.compile(r"[\u10a0-\u10ff\u1c90-\u1cbf]"),
    "uk": re.compile(r"[\u0400-\u04ff]"),
    "ru": re.compile(r"[\u0400-\u04ff]"),
    "ro": re.compile(r"[ăâîșțĂÂÎȘȚ]"),
    "en": re.compile(r"[A-Za-z]"),
}


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    with django_db_blocker.unblock(), transaction.atomic():
        built = build_world(cases=20, notifications=6)
        yield built
        transaction.set_rollback(True)


def _streams(pdf: bytes) -> list[bytes]:
    """The PDF's streams, inflated (fonts and their maps sit in compressed object streams)."""
    inflated = []
    for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S):
        try:
            inflated.append(zlib.decompress(match.group(1)))
        except zlib.error:
            continue
    return inflated


def font_names(pdf: bytes) -> set[str]:
    names = set()
    for data in [pdf, *_streams(pdf)]:
        names |= {name.decode() for name in re.findall(rb"/BaseFont\s*/(?:[A-Z]{6}\+)?([A-Za-z0-9-]+)", data)}
    return names


def mapped_characters(pdf: bytes) -> str:
    """Every character the PDF's fonts map glyphs to (their ToUnicode CMaps), read without any PDF library."""

    def text(hex_digits: bytes) -> str:
        return bytes.fromhex(hex_digits.decode()).decode("utf-16-be", errors="ignore")

    found = []
    for data in _streams(pdf):
        if b"begincmap" not in data:
            continue
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", data, re.S):
            found += [
                text(target) for _source, target in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block)
            ]
        for block in re.findall(rb"beginbfrange(.*?)endbfrange", data, re.S):
            for low, high, target in re.findall(
                rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block
            ):
                start = ord(text(target)[:1] or "\0")
                found += [chr(start + i) for i in range(int(high, 16) - int(low, 16) + 1)]
    return "".join(found)


def pdf_text(pdf: bytes, tmp_path: Path) -> str | None:
    tool = shutil.which("pdftotext")
    if tool is None:
        return None
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    result = subprocess.run([tool, "-layout", str(path), "-"], capture_output=True, check=True)  # noqa: S603
    return result.stdout.decode("utf-8")


def save_first_pages(pdf: bytes, language: str, tmp_path: Path) -> None:
    tool = shutil.which("pdftoppm")
    if tool is None:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"report-{language}.pdf"
    path.write_bytes(pdf)
    for page in ("1", "2"):
        target = str(SCREENSHOTS / f"report-{language}-{page}")
        arguments = ["-png", "-r", "70", "-f", page, "-l", page, "-singlefile", str(path), target]
        subprocess.run([tool, *arguments], check=True)  # noqa: S603 - a local tool on a file written here


def feminine_in(language: str) -> str:
    with translation.override(language):
        return str(dict(htcds_snake_choices("prs_Gender"))["feminine"])


def region_in(language: str) -> str:
    with translation.override(language):
        return active_profile().region_name("GE-TB")


@pytest.mark.parametrize("language", [code for code, _name in settings.LANGUAGES])
def test_the_report_in_each_language_embeds_dejavu_and_draws_its_script(world, language, tmp_path):
    analyst = access_for(member(Role.ANALYST, agency=world.agencies["state_fund"]))
    pdf = render_report_pdf(analyst, Filters(year=LAST_YEAR), language)
    assert pdf.startswith(b"%PDF-")
    fonts = font_names(pdf)
    assert fonts and all(font.startswith("DejaVu-Sans") for font in fonts), fonts
    characters = mapped_characters(pdf)
    assert SCRIPTS[language].search(characters), f"the embedded font maps {language} characters"
    # Labels that the project translates (sex, region) are in the report's language, in the embedded font.
    for label in (feminine_in(language), region_in(language)):
        assert set(label) <= set(characters) | {" "}, label
    text = pdf_text(pdf, tmp_path)
    if text is not None:
        assert region_in(language) in text, "the region's name in the report's language"
        assert str(LAST_YEAR) in text
        if language == "ka":
            assert SCRIPTS["ka"].search(text)
            assert "\ufffd" not in text and "□" not in text
    save_first_pages(pdf, language, tmp_path)


def test_the_report_holds_the_dashboard_figures_of_the_year(world, tmp_path):
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    analyst = access_for(member(Role.ANALYST, agency=world.agencies["state_fund"]))
    text = pdf_text(render_report_pdf(analyst, Filters(year=LAST_YEAR), "en"), tmp_path)
    assert text is not None
    cases = [c for c in world.facts.cases if c.first_contact.year == LAST_YEAR]
    notes = [n for n in world.facts.notifications if n.first_contact.year == LAST_YEAR]
    assert re.search(rf"Presumed victims referred\s+{len(cases)}\n", text)
    assert re.search(rf"Anonymous notifications\s+{len(notes)}\n", text)
    assert f"National Referral Mechanism: annual report {LAST_YEAR}" in " ".join(text.split())
    for quarter in (1, 2, 3, 4):
        assert f"{LAST_YEAR}, quarter {quarter}" in text
    assert "Internal: not for publication" in text
    assert "Decision requests waiting now" not in text, "today's tables are not in a report of a year"


@pytest.mark.parametrize("role", list(Role))
def test_report_for_each_role(world, role):
    user = member(role, agency=world.agencies["state_fund"], scope=Scope.NATIONAL)
    response = logged_in_client(user).get("/stats/report/", {"year": LAST_YEAR, "lang": "ka"})
    if Perm.STATS_VIEW in ROLE_PERMISSIONS[role]:
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"] == (
            f'attachment; filename="opennrm-ge-annual-report-{LAST_YEAR}-ka.pdf"'
        )
        assert response.content.startswith(b"%PDF-")
        entry = AuditEntry.objects.filter(action="stats.report_generated").order_by("-sequence").first()
        assert entry is not None and entry.actor == user.public_id
        assert entry.details == {"year": LAST_YEAR, "language": "ka", "filters": {"year": str(LAST_YEAR)}}
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("query", [{"lang": "xx"}, {"year": "1066"}, {"form": "dragon"}])
def test_a_report_with_an_unknown_language_or_filter_is_refused(world, query):
    client = logged_in_client(
        member(Role.COORDINATOR, agency=world.agencies["state_fund"], scope=Scope.NATIONAL)
    )
    assert client.get("/stats/report/", {"year": LAST_YEAR, **query}).status_code == 400
