"""The case list: only cases in the user's scope, filtered, searched by reference or (for users who may read
identity) through the blind indexes, 50 a page. Names are shown only to users who may read the identity of a case:
the given name, with one audit entry per page naming the cases whose name was shown.

Search terms are identifying data: they are never logged or audited here, only used.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from opennrm.accounts.access import Access
from opennrm.accounts.models import Agency, User
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import CaseStatus, htcds_snake_choices
from opennrm.cases.forms import YES, CaseFilterForm, split_name_and_date
from opennrm.cases.identity import PURPOSE
from opennrm.cases.models import Case, CaseExploitation, Decision, IdentityIndex, Person
from opennrm.cases.selectors import decision_queue, scope_filter, visible_cases
from opennrm.cases.views.common import access_of
from opennrm.core import audit
from opennrm.core.blind_index import blind_index, blind_index_parts
from opennrm.core.panels import Panel
from opennrm.core.profiles import active_profile

PAGE_SIZE = 50


def identity_condition(access: Access) -> Q | None:
    """The cases whose identity the user may read, as a filter: the same rule as `selectors.can_read_identity`."""
    condition = scope_filter(access, Perm.CASE_VIEW_IDENTITY)
    if access.has(Perm.CASE_REFER) and not access.has(Perm.CASE_VIEW):
        own = Q(created_by_id=access.user_id)
        condition = own if condition is None else condition | own
    return condition


def _identity_matches(term: str) -> QuerySet[IdentityIndex]:
    """People whose full name, full name + date of birth, or document number is exactly `term` (blind index)."""
    name, born = split_name_and_date(term)
    wanted = Q(
        kind=IdentityIndex.Kind.DOCUMENT,
        digest=blind_index(term, purpose=PURPOSE[IdentityIndex.Kind.DOCUMENT], document=True),
    )
    wanted |= Q(
        kind=IdentityIndex.Kind.NAME, digest=blind_index(term, purpose=PURPOSE[IdentityIndex.Kind.NAME])
    )
    if born is not None and name:
        digest = blind_index_parts(name, born.isoformat(), purpose=PURPOSE[IdentityIndex.Kind.NAME_DOB])
        wanted |= Q(kind=IdentityIndex.Kind.NAME_DOB, digest=digest)
    return IdentityIndex.objects.filter(wanted).exclude(digest="")


def search(cases: QuerySet[Case], access: Access, term: str) -> QuerySet[Case]:
    term = term.strip()
    if not term:
        return cases
    # References are stored upper case: a range on the unique index instead of a scan with LIKE.
    prefix = term.upper()
    found = Q(reference__gte=prefix, reference__lt=prefix + "\uffff")
    condition = identity_condition(access)
    if condition is not None:
        people = list(_identity_matches(term).values_list("person_id", flat=True)[:500])
        if people:
            found |= Q(condition, person_id__in=people)
    return cases.filter(found)


def filtered_cases(access: Access, form: CaseFilterForm) -> QuerySet[Case]:
    cases = visible_cases(access)
    if status := form.value("status"):
        cases = cases.filter(status=status)
    if exploitation := form.value("form"):
        cases = cases.filter(Exists(CaseExploitation.objects.filter(case=OuterRef("pk"), form=exploitation)))
    if region := form.value("region"):
        cases = cases.filter(region=region)
    if child := form.value("child"):
        cases = cases.filter(is_child=child == YES)
    if form.value("overdue"):
        overdue = Decision.objects.filter(case=OuterRef("pk"), outcome="", deadline_at__lt=timezone.now())
        cases = cases.filter(Exists(overdue))
    if agency := form.value("agency"):
        cases = cases.filter(owning_agency__public_id=agency)
    if term := form.value("q"):
        cases = search(cases, access, term)
    return cases


@dataclass(frozen=True)
class Row:
    case: Case
    forms: list[str]
    region: str
    given_name: str | None  # None: the user may not read this case's identity


def _rows(page: Page[Case], access: Access) -> list[Row]:
    cases = list(page.object_list)
    names: dict[int, str] = {}
    condition = identity_condition(access)
    if condition is not None and cases:
        readable = Case.objects.filter(condition, pk__in=[c.pk for c in cases]).values("person_id")
        # Only the given name is loaded (and so decrypted), and only for the cases on this page.
        for person in Person.objects.filter(pk__in=readable).only("pk", "given_name"):
            names[person.pk] = person.given_name
    labels = dict(htcds_snake_choices("vic_TypeOfExploitation"))
    regions = dict(active_profile().region_choices())
    return [
        Row(
            case=c,
            forms=[str(labels.get(e.form, e.form)) for e in c.exploitation_forms.all()],
            region=regions.get(c.region, c.region),
            given_name=names.get(c.person_id),
        )
        for c in cases
    ]


@require_GET
def case_list(request: HttpRequest, public_id: str = "") -> HttpResponse:
    access = access_of(request)
    if not (access.has(Perm.CASE_VIEW) or access.has(Perm.CASE_REFER)):
        raise Http404
    agencies = Agency.objects.filter(pk__in=visible_cases(access).values("owning_agency_id")).order_by("name")
    show_names = identity_condition(access) is not None
    form = CaseFilterForm(request.GET or None, agencies=agencies, identity=show_names)
    cases = (
        filtered_cases(access, form)
        .select_related("owning_agency")
        .prefetch_related(Prefetch("exploitation_forms", queryset=CaseExploitation.objects.order_by("form")))
        .order_by("-created_at", "-pk")
    )
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = _rows(page, access)
    shown = [r.case.public_id for r in rows if r.given_name is not None]
    if shown:
        user = request.user
        assert isinstance(user, User)
        audit.record(actor=user, action="case.list_read", fields=["given_name"], details={"cases": shown})
    context = {
        "form": form,
        "page": page,
        "rows": rows,
        "show_names": show_names,
        "filtered": any(form.value(name) for name in form.fields),
    }
    return render(request, "cases/list.html", context)


# --- the home page panel ----------------------------------------------------------------------------------


def home_panel(request: HttpRequest, obj: Any = None) -> Panel | None:
    """For the home page: my open cases, the agency's open cases, the decision queue. None for users without
    cases. Register with `panels.register("home", home_panel)` and render `cases/_home_panel.html`."""
    access = access_of(request)
    may_view, may_refer = access.has(Perm.CASE_VIEW), access.has(Perm.CASE_REFER)
    decides = access.has(Perm.DECISION_MAKE)
    if not (may_view or may_refer or decides):
        return None
    open_cases = visible_cases(access).exclude(status=CaseStatus.CLOSED)
    queue = decision_queue(access) if decides else []
    context = {
        "may_view": may_view,
        "may_refer": may_refer,
        "decides": decides,
        "mine": open_cases.filter(Q(case_worker_id=access.user_id) | Q(created_by_id=access.user_id)).count(),
        "open": open_cases.count() if may_view else None,
        "queue": len(queue),
        "overdue": sum(1 for item in queue if item.overdue),
    }
    return Panel(template="cases/_home_panel.html", context=context, order=10)
