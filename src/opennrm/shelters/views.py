"""Shelter pages: the shelters a user may see, a shelter (places, occupancy, its residents for its staff), the
confidential address (an audited read), admission, a placement (discharge, transfer, stay extension) and
occupancy over time, per shelter and nationally.

Every shelter is looked up through `selectors.visible_shelters(access)` and every placement through
`selectors.visible_placements(access)`: what the user may not see, or an act they may not take, answers 404,
exactly like what does not exist. A refused act (`DomainError`) re-renders its form with the service's translated
message; a done act redirects with a message.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from opennrm.accounts.access import Access, request_access
from opennrm.accounts.models import Agency, AgencyKind, User
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import AgeGroup, htcds_snake_choices
from opennrm.cases.selectors import visible_cases
from opennrm.core.errors import DomainError
from opennrm.core.profiles import active_profile
from opennrm.core.reference import UnknownCodeError, language_name
from opennrm.shelters import selectors, services
from opennrm.shelters.charts import bar_chart
from opennrm.shelters.forms import (
    EXTEND,
    AdmitForm,
    DischargeForm,
    ExtensionForm,
    ShelterForm,
    TransferForm,
    moment,
)
from opennrm.shelters.models import Category, Placement, Shelter

# Where a refused act's message belongs on each form (by the DomainError code); else on the whole form.
ADMIT_ERRORS = {
    "unknown_category": "category",
    "future_date": "admitted_on",
    "before_referral": "admitted_on",
    "overlapping_stay": "admitted_on",
    "invalid_referral": "referral",
    "referral_not_accepted": "referral",
    "over_capacity_reason_required": "over_capacity_reason",
}
DISCHARGE_ERRORS = {
    "invalid_reason": "reason",
    "future_date": "discharged_on",
    "before_admission": "discharged_on",
}
TRANSFER_ERRORS = {
    "unknown_category": "category",
    "future_date": "transferred_on",
    "before_admission": "transferred_on",
    "invalid_referral": "to_shelter",
    "same_shelter": "to_shelter",
    "inactive": "to_shelter",
    "over_capacity_reason_required": "over_capacity_reason",
}
EXTENSION_ERRORS = {
    "not_later": "until",
    "beyond_maximum": "until",
    "required": "until",
    "reason_required": "reason",
}
SHELTER_ERRORS = {
    "required": "name",
    "duplicate": "name",
    "unknown_region": "region",
    "invalid_agency": "agency",
}


def _access(request: HttpRequest) -> Access:
    return request_access(request)


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


def _attach(form: Any, error: DomainError, fields: dict[str, str]) -> None:
    field = fields.get(error.code or "")
    form.add_error(field if field in form.fields else None, error)


def _shelter(request: HttpRequest, public_id: str) -> Shelter:
    shelter = selectors.visible_shelters(_access(request)).filter(public_id=public_id).first()
    if shelter is None:
        raise Http404
    return shelter


def _placement(request: HttpRequest, public_id: str) -> Placement:
    placement = selectors.visible_placements(_access(request)).filter(public_id=public_id).first()
    if placement is None:
        raise Http404
    return placement


def resident_row(resident: selectors.Resident) -> dict[str, Any]:
    """What the templates show of a resident, as display text (codes named in the reader's language)."""
    placement = resident.placement
    case = placement.case
    row: dict[str, Any] = {
        "placement": placement,
        "reference": case.reference,
        "identity": resident.given_name is not None,
        "given_name": resident.given_name or "",
        "sex": "",
        "languages": "",
        "age_group": AgeGroup(case.age_group).label if case.age_group in AgeGroup.values else case.age_group,
        "is_child": case.is_child,
    }
    if resident.sex is not None:
        row["sex"] = str(dict(htcds_snake_choices("prs_Gender")).get(resident.sex, resident.sex))
        names = []
        for code in resident.languages:
            try:
                names.append(language_name(code))
            except (UnknownCodeError, KeyError, ValueError):
                names.append(code)
        row["languages"] = ", ".join(names)
    return row


def region_name(code: str) -> str:
    try:
        return active_profile().region_name(code)
    except (UnknownCodeError, LookupError):
        return code


def _period(request: HttpRequest) -> str:
    period = request.GET.get("period", selectors.DEFAULT_PERIOD)
    return period if period in selectors.PERIODS else selectors.DEFAULT_PERIOD


def _series_context(shelters: Any, capacity: int, period: str) -> dict[str, Any]:
    buckets = selectors.occupancy_series(shelters, period=period)
    chart = bar_chart(buckets, capacity=capacity, period=period)
    return {
        "period": period,
        "periods": [(key, label) for key, label in period_labels() if key in selectors.PERIODS],
        "buckets": buckets,
        "categories": Category.choices,
        "chart": chart,
        "series_rows": list(zip(buckets, chart.bars, strict=True)),
        "capacity": capacity,
    }


def period_labels() -> list[tuple[str, str]]:
    return [("days", _("Last 30 days")), ("weeks", _("Last 26 weeks")), ("months", _("Last 12 months"))]


# --- shelters --------------------------------------------------------------------------------------------------


@require_GET
def list_view(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    if not selectors.uses_shelters(access):
        raise Http404
    shelters = list(selectors.visible_shelters(access).order_by("name"))
    occupancy = selectors.current_occupancy(shelters)
    rows = [{"shelter": s, "occupancy": occupancy[s.pk], "region": region_name(s.region)} for s in shelters]
    context = {
        "rows": rows,
        "total": selectors.total_occupancy(occupancy.values(), shelters) if len(shelters) > 1 else None,
        "can_create": access.has(Perm.SHELTER_OVERSEE),
        "national": selectors.sees_national_occupancy(access),
        "categories": Category.choices,
    }
    return render(request, "shelters/list.html", context)


@require_GET
def national_view(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    if not selectors.sees_national_occupancy(access):
        raise Http404
    shelters_qs = selectors.visible_shelters(access)
    shelters = list(shelters_qs.order_by("name"))
    occupancy = selectors.current_occupancy(shelters)
    total = selectors.total_occupancy(occupancy.values(), shelters)
    context = {
        "rows": [
            {"shelter": s, "occupancy": occupancy[s.pk], "region": region_name(s.region)} for s in shelters
        ],
        "total": total,
        **_series_context(shelters_qs, total.total_capacity, _period(request)),
    }
    return render(request, "shelters/national.html", context)


@require_GET
def detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    shelter = _shelter(request, public_id)
    access = _access(request)
    occupancy = selectors.current_occupancy([shelter])[shelter.pk]
    context = {
        "shelter": shelter,
        "region": region_name(shelter.region),
        "occupancy": occupancy,
        "can_read_address": selectors.can_read_address(access, shelter),
        "can_see_placements": selectors.can_see_placements(access, shelter),
        "can_admit": selectors.can_admit(access, shelter),
        "can_edit": selectors.manageable_shelters(access).filter(pk=shelter.pk).exists(),
    }
    return render(request, "shelters/detail.html", context)


@require_GET
def address_view(request: HttpRequest, public_id: str) -> HttpResponse:
    shelter = _shelter(request, public_id)
    try:
        address = selectors.read_address(actor=_actor(request), shelter=shelter)
    except PermissionDenied:
        raise Http404 from None
    return render(request, "shelters/address.html", {"shelter": shelter, "address": address})


@require_GET
def occupancy_view(request: HttpRequest, public_id: str) -> HttpResponse:
    shelter = _shelter(request, public_id)
    occupancy = selectors.current_occupancy([shelter])[shelter.pk]
    context = {
        "shelter": shelter,
        "occupancy": occupancy,
        **_series_context(Shelter.objects.filter(pk=shelter.pk), shelter.total_capacity, _period(request)),
    }
    return render(request, "shelters/occupancy.html", context)


@require_GET
def residents_view(request: HttpRequest, public_id: str) -> HttpResponse:
    shelter = _shelter(request, public_id)
    access = _access(request)
    if not selectors.can_see_placements(access, shelter):
        raise Http404
    context = {
        "shelter": shelter,
        "residents": [resident_row(r) for r in selectors.residents(actor=_actor(request), shelter=shelter)],
        "staff": selectors.operates(access, shelter),
        "can_admit": selectors.can_admit(access, shelter),
        "occupancy": selectors.current_occupancy([shelter])[shelter.pk],
    }
    return render(request, "shelters/residents.html", context)


def _shelter_agencies(access: Access) -> Any:
    agencies = Agency.objects.filter(kind=AgencyKind.SHELTER, is_active=True, country=active_profile().code)
    if not access.is_national(Perm.SHELTER_OVERSEE):
        agencies = agencies.filter(pk__in=access.agency_ids_with(Perm.SHELTER_OVERSEE))
    return agencies.order_by("name")


@require_http_methods(["GET", "POST"])
def create_view(request: HttpRequest) -> HttpResponse:
    access = _access(request)
    agencies = _shelter_agencies(access)
    if not access.has(Perm.SHELTER_OVERSEE) or not agencies.exists():
        raise Http404
    form = ShelterForm(request.POST or None, agencies=agencies)
    if request.method == "POST" and form.is_valid():
        try:
            shelter = services.create_shelter(
                actor=_actor(request), agency=form.cleaned_data["agency"], data=form.shelter_data()
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            _attach(form, error, SHELTER_ERRORS)
        else:
            messages.success(request, _("The shelter was recorded."))
            return redirect("shelters:detail", public_id=shelter.public_id)
    return render(request, "shelters/shelter_form.html", {"form": form, "shelter": None})


@require_http_methods(["GET", "POST"])
def edit_view(request: HttpRequest, public_id: str) -> HttpResponse:
    access = _access(request)
    shelter = selectors.manageable_shelters(access).filter(public_id=public_id).first()
    if shelter is None:
        raise Http404
    if request.method == "POST":
        form = ShelterForm(request.POST)
        if form.is_valid():
            try:
                services.update_shelter(actor=_actor(request), shelter=shelter, data=form.shelter_data())
            except PermissionDenied:
                raise Http404 from None
            except DomainError as error:
                _attach(form, error, SHELTER_ERRORS)
            else:
                messages.success(request, _("The shelter was updated."))
                return redirect("shelters:detail", public_id=shelter.public_id)
    else:
        # The form shows the address to change it: that is a read, audited like any other.
        address = selectors.read_address(actor=_actor(request), shelter=shelter, via="edit")
        form = ShelterForm(initial=ShelterForm.initial_for(shelter, address))
    return render(request, "shelters/shelter_form.html", {"form": form, "shelter": shelter})


@require_http_methods(["GET", "POST"])
def admit_view(request: HttpRequest, public_id: str) -> HttpResponse:
    shelter = _shelter(request, public_id)
    access = _access(request)
    if not selectors.can_admit(access, shelter):
        raise Http404
    coordinator = selectors.oversees(access, shelter)
    initial = {"referral": request.GET.get("referral", "")}
    form = AdmitForm(
        request.POST or None,
        referrals=selectors.admissible_referrals(shelter),
        coordinator=coordinator,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        accept, reason = form.over_capacity()
        try:
            placement = services.admit(
                actor=_actor(request),
                shelter=shelter,
                referral=data["referral"],
                category=data["category"],
                at=moment(data["admitted_on"]),
                accept_over_capacity=accept,
                over_capacity_reason=reason,
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            _attach(form, error, ADMIT_ERRORS)
        else:
            messages.success(request, _("The person was admitted."))
            return redirect("shelters:placement", public_id=placement.public_id)
    context = {
        "shelter": shelter,
        "form": form,
        "occupancy": selectors.current_occupancy([shelter])[shelter.pk],
        "coordinator": coordinator,
    }
    return render(request, "shelters/admit.html", context)


# --- placements ------------------------------------------------------------------------------------------------


def _neighbour(**lookup: Any) -> Placement | None:
    """The placement a transfer came from or went to (its shelter's name, never its address)."""
    return Placement.objects.filter(**lookup).select_related("shelter").defer("shelter__address").first()


def _placement_context(request: HttpRequest, placement: Placement, **forms: Any) -> dict[str, Any]:
    access = _access(request)
    actor = _actor(request)
    shelter = placement.shelter
    staff = selectors.operates(access, shelter)
    coordinator = selectors.oversees(access, shelter)
    current = placement.is_current
    notes = selectors.read_placement_notes(actor=actor, placement=placement)
    version = {"version": placement.version}
    can_extend = current and coordinator and placement.stay_maximum is not None
    can_transfer = (
        current and (staff or coordinator) and selectors.transfer_targets(access, placement).exists()
    )
    transferred_to = _neighbour(pk=placement.transferred_to_id) if placement.transferred_to_id else None
    return {
        "placement": placement,
        "shelter": shelter,
        "case": placement.case,
        "case_visible": visible_cases(access).filter(pk=placement.case_id).exists(),
        "resident": resident_row(selectors.resident(actor=actor, placement=placement)),
        "decisions": notes["decisions"],
        "staff": staff,
        "coordinator": coordinator,
        "can_discharge": current and staff,
        "can_transfer": can_transfer,
        "can_extend": can_extend,
        "at_maximum": can_extend and placement.current_limit == placement.stay_maximum,
        "discharge_form": forms.get("discharge_form") or DischargeForm(initial=version),
        "extension_form": forms.get("extension_form") or ExtensionForm(initial=version),
        "transferred_from": _neighbour(transferred_to=placement),
        "transferred_to": transferred_to,
        "transferred_to_visible": transferred_to is not None
        and selectors.visible_placements(access).filter(pk=transferred_to.pk).exists(),
    }


@require_GET
def placement_view(request: HttpRequest, public_id: str) -> HttpResponse:
    placement = _placement(request, public_id)
    return render(request, "shelters/placement.html", _placement_context(request, placement))


@require_POST
def discharge_view(request: HttpRequest, public_id: str) -> HttpResponse:
    placement = _placement(request, public_id)
    if not (placement.is_current and selectors.operates(_access(request), placement.shelter)):
        raise Http404
    form = DischargeForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.discharge(
                actor=_actor(request),
                placement=placement,
                reason=data["reason"],
                at=moment(data["discharged_on"]),
                note=data["note"],
                expected_version=data["version"],
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            _attach(form, error, DISCHARGE_ERRORS)
        else:
            messages.success(request, _("The person's departure was recorded."))
            return redirect("shelters:placement", public_id=placement.public_id)
    context = _placement_context(request, placement, discharge_form=form)
    return render(request, "shelters/placement.html", context, status=400)


@require_POST
def extend_view(request: HttpRequest, public_id: str) -> HttpResponse:
    placement = _placement(request, public_id)
    if not (placement.is_current and selectors.oversees(_access(request), placement.shelter)):
        raise Http404
    form = ExtensionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        extend = data["decision"] == EXTEND
        try:
            services.decide_extension(
                actor=_actor(request),
                placement=placement,
                extend=extend,
                until=data["until"] if extend else None,
                reason=data["reason"],
                expected_version=data["version"],
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            _attach(form, error, EXTENSION_ERRORS)
        else:
            messages.success(
                request, _("The stay was extended.") if extend else _("The decision was recorded.")
            )
            return redirect("shelters:placement", public_id=placement.public_id)
    context = _placement_context(request, placement, extension_form=form)
    return render(request, "shelters/placement.html", context, status=400)


@require_http_methods(["GET", "POST"])
def transfer_view(request: HttpRequest, public_id: str) -> HttpResponse:
    placement = _placement(request, public_id)
    access = _access(request)
    shelter = placement.shelter
    if not (
        placement.is_current and (selectors.operates(access, shelter) or selectors.oversees(access, shelter))
    ):
        raise Http404
    targets = selectors.transfer_targets(access, placement)
    coordinator = selectors.oversees(access, shelter)
    initial = {"version": placement.version, "category": placement.category}
    form = TransferForm(request.POST or None, targets=targets, coordinator=coordinator, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        accept, reason = form.over_capacity()
        try:
            new = services.transfer(
                actor=_actor(request),
                placement=placement,
                to_shelter=data["to_shelter"],
                category=data["category"],
                at=moment(data["transferred_on"]),
                accept_over_capacity=accept,
                over_capacity_reason=reason,
                expected_version=data["version"],
            )
        except PermissionDenied:
            raise Http404 from None
        except DomainError as error:
            _attach(form, error, TRANSFER_ERRORS)
        else:
            messages.success(
                request, _("The person was moved to %(shelter)s.") % {"shelter": new.shelter.name}
            )
            if selectors.visible_placements(access).filter(pk=new.pk).exists():
                return redirect("shelters:placement", public_id=new.public_id)
            return redirect("shelters:detail", public_id=shelter.public_id)
    context = {"placement": placement, "shelter": shelter, "form": form, "coordinator": coordinator}
    return render(request, "shelters/transfer.html", context)
