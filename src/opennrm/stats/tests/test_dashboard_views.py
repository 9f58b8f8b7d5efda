"""The dashboard and the table downloads: who may open them, what they show, what a download holds.

Allowed roles (coordinator, analyst) succeed; every other role gets 404, like a page that does not exist. The data
is generated once for the module (`dashboard_data.build_world`); the figures are counted again from its facts.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import openpyxl
import pytest
from django.db import transaction
from django.utils import timezone

from opennrm.accounts.roles import ROLE_PERMISSIONS, Perm, Role, Scope
from opennrm.accounts.tests.factories import logged_in_client, member
from opennrm.cases.choices import ConsentBasis, ConsentPurpose
from opennrm.core.models import AuditEntry
from opennrm.stats.tests.dashboard_data import World, build_world

pytestmark = pytest.mark.django_db

ALLOWED = {role for role in Role if Perm.STATS_VIEW in ROLE_PERMISSIONS[role]}
LAST_YEAR = timezone.localdate().year - 1


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    with django_db_blocker.unblock(), transaction.atomic():
        built = build_world(cases=24, notifications=8)
        yield built
        transaction.set_rollback(True)


def client_for(world: World, role: Role, *, scope: Scope = Scope.NATIONAL, agency: str = "state_fund"):
    return logged_in_client(member(role, agency=world.agencies[agency], scope=scope))


def totals_of(html: str, key: str) -> list[str]:
    """The figures of the totals row of one table of the page."""
    table = re.search(rf'<table class="stat-table" id="table-{key}">(.*?)</table>', html, re.S)
    assert table, f"table {key} on the page"
    foot = re.search(r"<tfoot>(.*?)</tfoot>", table.group(1), re.S)
    assert foot, f"table {key} has a totals row"
    return re.findall(r"<td>(.*?)</td>", foot.group(1))


def test_only_coordinators_and_analysts_see_statistics():
    assert {Role.COORDINATOR, Role.ANALYST} == ALLOWED


# --- role matrix --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_dashboard_for_each_role(world, role):
    response = client_for(world, role).get("/stats/")
    if role in ALLOWED:
        assert response.status_code == 200
        assert "Presumed and identified victims by period" in response.content.decode()
    else:
        assert response.status_code == 404


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_table_download_for_each_role(world, role, fmt):
    response = client_for(world, role).get(f"/stats/tables/victims.{fmt}")
    if role in ALLOWED:
        assert response.status_code == 200
        assert response["Content-Disposition"].startswith("attachment; filename=")
    else:
        assert response.status_code == 404


def test_statistics_need_a_login(world, client):
    for path in ("/stats/", "/stats/tables/victims.csv", f"/stats/report/?year={LAST_YEAR}"):
        response = client.get(path)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], path


# --- what the dashboard shows -------------------------------------------------------------------------------


def test_the_dashboard_shows_every_indicator_with_a_chart_and_its_table(world):
    html = client_for(world, Role.ANALYST).get("/stats/").content.decode()
    facts = world.facts
    for key in (
        "victims",
        "sex",
        "age",
        "citizenship",
        "form",
        "region",
        "referrer",
        "route",
        "decisions",
        "waiting",
        "referrals",
        "occupancy",
        "places",
        "compensation",
    ):
        assert f'id="table-{key}"' in html, key
    # The totals of the first table, counted from the facts.
    assert totals_of(html, "victims") == [
        str(len(facts.cases)),
        str(sum(c.child for c in facts.cases)),
        str(sum(c.identified for c in facts.cases)),
        str(len(facts.notifications)),
    ]
    # Charts: inline SVG, labelled, no script, no external resource, no inline style (the CSP forbids it).
    charts = re.findall(r"<svg[^>]*>", html)
    assert len(charts) >= 10
    assert all('role="img"' in svg and "aria-labelledby=" in svg for svg in charts)
    assert '<title id="chart-victims-title">' in html and '<desc id="chart-victims-desc">' in html
    main = html.split('<main id="main"', 1)[1]
    assert "style=" not in main and "<script" not in main and "http" not in re.sub(r'xmlns="[^"]+"', "", main)


def test_filters_change_the_figures(world):
    client = client_for(world, Role.COORDINATOR)
    facts = world.facts
    html = client.get("/stats/", {"sex": "masculine", "region": "GE-TB"}).content.decode()
    chosen = [c for c in facts.cases if c.sex == "masculine" and c.region == "GE-TB"]
    notified = [n for n in facts.notifications if n.sex == "masculine" and n.region == "GE-TB"]
    if chosen or notified:
        assert totals_of(html, "victims")[0] == str(len(chosen))
        assert totals_of(html, "victims")[3] == str(len(notified))
    assert "Showing:" in html and "Masculine" in html
    # The downloads carry the same filters.
    assert "/stats/tables/victims.csv?region=GE-TB&amp;sex=masculine" in html


def test_a_year_shows_its_quarters(world):
    html = client_for(world, Role.ANALYST).get("/stats/", {"year": LAST_YEAR}).content.decode()
    for quarter in (1, 2, 3, 4):
        assert f"{LAST_YEAR}, quarter {quarter}" in html
    expected = sum(1 for c in world.facts.cases if c.first_contact.year == LAST_YEAR)
    assert totals_of(html, "victims")[0] == str(expected)


def test_a_filter_value_that_does_not_exist_is_reported_and_left_out(world):
    response = client_for(world, Role.ANALYST).get("/stats/", {"sex": "dragon", "region": "GE-TB"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "A filter had a value that is not allowed" in html
    expected = sum(1 for c in world.facts.cases if c.region == "GE-TB")
    assert totals_of(html, "victims")[0] == str(expected), "the valid filter still applies"


def test_an_agency_coordinator_sees_only_their_agency_s_figures(world):
    html = (
        client_for(world, Role.COORDINATOR, scope=Scope.AGENCY, agency="ngo").get("/stats/").content.decode()
    )
    mine = [c for c in world.facts.cases if "ngo" in (c.owner, c.referrer)]
    assert totals_of(html, "victims")[0] == str(len(mine))
    assert len(mine) < len(world.facts.cases)
    assert "Only the cases your agency owns or referred" in html


def test_the_page_names_no_case_and_no_person(world):
    from opennrm.cases.models import Case

    html = client_for(world, Role.ANALYST).get("/stats/").content.decode()
    for case in Case.objects.all():
        assert case.reference not in html and case.public_id not in html
    assert "Generated" not in html.split('<main id="main"', 1)[1], "no family name of the generated people"


# --- downloads ----------------------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    content = response.content.decode("utf-8")
    assert content.startswith("\ufeff"), "a byte-order mark, so spreadsheets read UTF-8"
    return list(csv.reader(io.StringIO(content[1:])))


def test_csv_download_holds_the_table_and_is_audited(world):
    user = member(Role.COORDINATOR, agency=world.agencies["state_fund"], scope=Scope.NATIONAL)
    client = logged_in_client(user)
    response = client.get("/stats/tables/sex.csv", {"year": LAST_YEAR})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert re.search(rf'filename="opennrm-ge-sex-{LAST_YEAR}\.csv"', response["Content-Disposition"])
    lines = read_csv(response)
    assert lines[0] == ["Sex", "Presumed victims referred", "Identified victims", "Anonymous notifications"]
    cases = [c for c in world.facts.cases if c.first_contact.year == LAST_YEAR]
    notes = [n for n in world.facts.notifications if n.first_contact.year == LAST_YEAR]
    assert lines[-1] == ["Total", str(len(cases)), str(sum(c.identified for c in cases)), str(len(notes))]
    feminine = [c for c in cases if c.sex == "feminine"]
    if feminine:
        row = next(line for line in lines if line[0] == "Feminine")
        assert row[1] == str(len(feminine))
    entry = AuditEntry.objects.filter(action="stats.table_downloaded").order_by("-sequence").first()
    assert entry is not None and entry.actor == user.public_id
    assert entry.details == {"table": "sex", "format": "csv", "filters": {"year": str(LAST_YEAR)}}


def test_excel_download_holds_numbers_titles_and_filters(world):
    response = client_for(world, Role.ANALYST).get("/stats/tables/decisions.xlsx", {"region": "GE-TB"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).active
    assert sheet["A1"].value == "Identification decisions and the statutory deadline"
    assert "Region: Tbilisi" in sheet["A2"].value
    header = [cell.value for cell in sheet[6]]
    assert header[:2] == ["Period of the decision", "Decisions"]
    decided = [d for d in world.facts.decisions if d.decided_at and d.case.region == "GE-TB"]
    totals = next(row for row in sheet.iter_rows(min_row=7, values_only=True) if row[0] == "Total")
    assert totals[1] == len(decided)
    assert isinstance(totals[1], int), "figures are numbers in the sheet, not text"


def test_a_label_that_looks_like_a_formula_stays_text_in_both_formats(world):
    from opennrm.cases.models import Case, Consent
    from opennrm.referrals.models import Referral
    from opennrm.referrals.tests.factories import ServiceTypeFactory

    evil = ServiceTypeFactory(names={"en": '=HYPERLINK("http://example.org","x")'})
    case = Case.objects.get(pk=world.facts.cases[0].pk)
    owner = world.agencies[world.facts.cases[0].owner]
    consent = Consent.objects.create(
        case=case,
        purpose=ConsentPurpose.REFERRAL,
        agency=owner,
        given=True,
        basis=ConsentBasis.CONSENT,
        recorded_by=world.workers["state_fund"],
    )
    Referral.objects.create(
        case=case,
        service=evil,
        from_agency=owner,
        to_agency=owner,
        consent=consent,
        created_by=world.workers["state_fund"],
    )
    client = client_for(world, Role.ANALYST)
    lines = read_csv(client.get("/stats/tables/referrals.csv"))
    assert ["'" + evil.names["en"]] == [line[0] for line in lines if "HYPERLINK" in line[0]]
    sheet = openpyxl.load_workbook(io.BytesIO(client.get("/stats/tables/referrals.xlsx").content)).active
    cells = [
        cell for row in sheet.iter_rows() for cell in row if cell.value and "HYPERLINK" in str(cell.value)
    ]
    assert cells and all(cell.data_type == "s" for cell in cells)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/stats/tables/nothing.csv", 404),
        ("/stats/tables/victims.pdf", 404),
        ("/stats/tables/victims.csv?sex=dragon", 400),
        ("/stats/tables/victims.csv?year=1066", 400),
    ],
)
def test_unknown_tables_formats_and_filters_are_refused(world, path, status):
    assert client_for(world, Role.ANALYST).get(path).status_code == status


def test_labels_are_escaped_in_the_charts_and_tables(world):
    from opennrm.cases.models import Case, Consent
    from opennrm.referrals.models import Referral
    from opennrm.referrals.tests.factories import ServiceTypeFactory

    service = ServiceTypeFactory(names={"en": "<script>alert('x')</script> & shelter"})
    case = Case.objects.get(pk=world.facts.cases[1].pk)
    owner = world.agencies[world.facts.cases[1].owner]
    consent = Consent.objects.create(
        case=case,
        purpose=ConsentPurpose.REFERRAL,
        agency=owner,
        given=True,
        basis=ConsentBasis.CONSENT,
        recorded_by=world.workers["state_fund"],
    )
    Referral.objects.create(
        case=case,
        service=service,
        from_agency=owner,
        to_agency=owner,
        consent=consent,
        created_by=world.workers["state_fund"],
    )
    html = client_for(world, Role.ANALYST).get("/stats/").content.decode()
    assert "<script>alert" not in html
    section = html.split('id="section-referrals"', 1)[1].split("</section>", 1)[0]
    assert section.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; shelter") >= 2, (
        "in the chart and the table"
    )
