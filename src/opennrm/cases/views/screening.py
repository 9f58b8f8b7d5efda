"""Screening a case against an indicator instrument.

The page offers the lists that fit the person (age and form of exploitation, `choose_instrument`), one fieldset
per dimension. As the case worker ticks indicators, htmx posts the form to `preview`, which answers the result of
`evaluate` (not saved); without JavaScript the "Check the result" button does the same through the page itself.
"Save" records the screening with the exact instrument version (`record_screening`). The instrument's provenance
and verification status are always shown: the conclusion is advice to the decision maker, never the decision.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from opennrm.accounts.roles import Perm
from opennrm.cases import screening as instruments
from opennrm.cases import services
from opennrm.cases.forms_assistance import ScreeningForm
from opennrm.cases.models import Case
from opennrm.cases.selectors_assistance import SCREENABLE, ScreeningSetup, choice_key, screening_setup
from opennrm.cases.views.assistance import actor_of, done, form_page
from opennrm.cases.views.common import get_case
from opennrm.core.errors import DomainError

LIST_NOT_LOADED = gettext_lazy("This screening list is not loaded on this platform. Choose a list again.")


def _posted_list(data: QueryDict) -> tuple[instruments.Instrument, instruments.InstrumentList] | None:
    try:
        instrument = instruments.get_instrument(data.get("instrument", ""), data.get("version", ""))
        return instrument, instrument.get_list(data.get("list", ""))
    except (LookupError, ValueError):
        return None


def _result(
    instrument: instruments.Instrument, instrument_list: instruments.InstrumentList, found: set[str]
) -> instruments.ScreeningResult:
    known = {indicator.id for indicator in instrument_list.indicators}
    return instruments.evaluate(instrument=instrument, list_id=instrument_list.id, found=found & known)


def _page(
    request: HttpRequest,
    *,
    case: Case,
    setup: ScreeningSetup,
    form: ScreeningForm | None,
    chosen: tuple[instruments.Instrument, instruments.InstrumentList] | None,
    found: set[str],
    refused: bool,
) -> HttpResponse:
    context: dict[str, Any] = {
        "case": case,
        "setup": setup,
        "form": form,
        "found": found,
        "screenable": case.status in SCREENABLE,
        "choice_keys": [(choice_key(c), c) for c in setup.choices],
        "chosen_key": "",
        "instrument": None,
        "instrument_list": None,
        "result": None,
    }
    if chosen is not None:
        instrument, instrument_list = chosen
        context.update(
            instrument=instrument,
            instrument_list=instrument_list,
            chosen_key=f"{instrument.id}|{instrument.version}|{instrument_list.id}",
            result=_result(instrument, instrument_list, found),
        )
    return form_page(request, "cases/screen.html", context, refused=refused)


@require_http_methods(["GET", "POST"])
def screen(request: HttpRequest, public_id: str) -> HttpResponse:
    case = get_case(request, public_id, perm=Perm.CASE_EDIT)
    if request.method != "POST":
        setup = screening_setup(
            case, form=request.GET.get("exploitation", ""), choice=request.GET.get("choice", "")
        )
        chosen = (setup.chosen.instrument, setup.chosen.instrument_list) if setup.chosen else None
        form = None
        if chosen is not None:
            instrument, instrument_list = chosen
            form = ScreeningForm(
                initial={
                    "instrument": instrument.id,
                    "version": instrument.version,
                    "list": instrument_list.id,
                },
                instrument_list=instrument_list,
            )
        return _page(request, case=case, setup=setup, form=form, chosen=chosen, found=set(), refused=False)

    posted = _posted_list(request.POST)
    found = set(request.POST.getlist("found"))
    key = f"{request.POST.get('instrument', '')}|{request.POST.get('version', '')}|{request.POST.get('list', '')}"
    setup = screening_setup(case, form=request.POST.get("exploitation", ""), choice=key)
    form = ScreeningForm(request.POST, instrument_list=posted[1] if posted else None)
    if posted is None:
        form.add_error(None, str(LIST_NOT_LOADED))
        return _page(request, case=case, setup=setup, form=form, chosen=None, found=set(), refused=True)
    if not form.is_valid():
        return _page(request, case=case, setup=setup, form=form, chosen=posted, found=found, refused=True)
    found = set(form.cleaned_data["found"])
    if request.POST.get("action") != "save":  # "Check the result" without JavaScript: nothing is saved
        return _page(request, case=case, setup=setup, form=form, chosen=posted, found=found, refused=False)
    instrument, instrument_list = posted
    try:
        screening = services.record_screening(
            actor=actor_of(request),
            case=case,
            instrument_id=instrument.id,
            instrument_version=instrument.version,
            list_id=instrument_list.id,
            found=found,
            notes=form.cleaned_data["notes"],
        )
    except DomainError as exc:
        form.add_error(None, exc)
        return _page(request, case=case, setup=setup, form=form, chosen=posted, found=found, refused=True)
    conclusion = instruments.Conclusion(screening.conclusion).label
    return done(
        request,
        case,
        _("The screening was recorded. Conclusion: %(conclusion)s.") % {"conclusion": conclusion},
    )


@require_POST
def preview(request: HttpRequest, public_id: str) -> HttpResponse:
    """The result of the indicators ticked so far (htmx), computed by `evaluate` and not saved. A problem is
    answered with 200 and the message in place of the result: htmx does not swap 4xx answers, and the person
    screening must see why the result did not change."""
    get_case(request, public_id, perm=Perm.CASE_EDIT)
    posted = _posted_list(request.POST)
    if posted is None:
        return render(request, "cases/screen_result.html", {"error": str(LIST_NOT_LOADED), "oob": True})
    instrument, instrument_list = posted
    found = set(request.POST.getlist("found"))
    known = {indicator.id for indicator in instrument_list.indicators}
    if found - known:
        return render(
            request,
            "cases/screen_result.html",
            {
                "error": _(
                    "Some indicators ticked are not in this list. Reload the page and tick them again."
                ),
                "oob": True,
            },
        )
    # The conclusion also goes, out of band, to a live region that screen readers announce.
    context = {"result": _result(instrument, instrument_list, found), "oob": True}
    return render(request, "cases/screen_result.html", context)
