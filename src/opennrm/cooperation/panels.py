"""What transnational referrals add to other apps' pages: the case page's section (the case's referrals across
borders and the button to refer the person to another country), the home page's counts, and the timeline's
sentences for the exchange (registered in `CooperationConfig.ready()`; cases never imports cooperation)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.http import HttpRequest
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from opennrm.accounts.access import request_access
from opennrm.accounts.roles import Perm
from opennrm.cases.choices import CaseStatus
from opennrm.cases.models import Case, CaseEvent
from opennrm.cases.selectors import can_do
from opennrm.cooperation.models import Direction, TransnationalStatus, UpdateKind
from opennrm.cooperation.transnational import (
    Answer,
    ServiceNeed,
    incoming_inbox,
    receives_for_country,
    referral_partners,
    referrals_visible_to,
)
from opennrm.core.panels import Panel
from opennrm.core.reference import UnknownCodeError, country_name


def case_panel(request: HttpRequest, case: Case) -> Panel | None:
    access = request_access(request)
    referrals = list(
        referrals_visible_to(access).filter(case=case).prefetch_related("updates").order_by("-created_at")
    )
    can_refer = (
        case.status != CaseStatus.CLOSED
        and can_do(access, Perm.TRANSNATIONAL_SEND, case)
        and referral_partners().exists()
    )
    if not referrals and not can_refer:
        return None
    return Panel(
        template="cooperation/transnational_case_panel.html",
        context={"case": case, "referrals": referrals, "can_refer": can_refer},
        order=60,
    )


def home_panel(request: HttpRequest, obj: object = None) -> Panel | None:
    """For a national focal point: incoming referrals waiting for a decision. For a sender: their referrals
    still waiting for an answer (only once they have sent one)."""
    access = request_access(request)
    receives, sends = receives_for_country(access), access.has(Perm.TRANSNATIONAL_SEND)
    sent = referrals_visible_to(access).filter(direction=Direction.OUTGOING)
    if not receives and not (sends and sent.exists()):
        return None
    context = {
        "receives": receives,
        "sends": sends,
        "waiting": incoming_inbox(access).filter(status=TransnationalStatus.RECEIVED).count()
        if receives
        else 0,
        "unanswered": sent.filter(status=TransnationalStatus.SENT).count(),
    }
    return Panel(template="cooperation/transnational_home_panel.html", context=context, order=40)


# --- timeline sentences -----------------------------------------------------------------------------------


def _partner(data: dict[str, object]) -> str:
    code, country = str(data.get("partner", "")), str(data.get("country", ""))
    try:
        name = country_name(country) if country else code
    except UnknownCodeError:
        name = country or code
    return f"{name} ({code})" if code and code != name else name


def _date(value: object) -> str:
    try:
        return date_format(dt.date.fromisoformat(str(value)), "SHORT_DATE_FORMAT") if value else ""
    except ValueError:
        return str(value)


def _label(choices: Iterable[tuple[str, Any]], value: object) -> str:
    return str(dict(choices).get(str(value), value))


def describe_event(event: CaseEvent, who: str) -> str | None:
    d = event.data or {}
    values = {
        "who": who,
        "partner": _partner(d),
        "reference": d.get("remote_reference", ""),
        "update": _label(UpdateKind.choices, d.get("update", "")),
        "date": _date(d.get("date")),
    }
    kind = event.kind
    if kind == "transnational_referral_sent":
        services = [_label(ServiceNeed.choices, s) for s in d.get("services") or []]
        return _("%(who)s referred the person to %(partner)s for: %(services)s.") % {
            **values,
            "services": ", ".join(services),
        }
    if kind == "transnational_referral_accepted":
        return (
            _(
                "%(who)s accepted the referral received from %(partner)s and opened this case; their reference "
                "%(reference)s."
            )
            % values
        )
    if kind == "transnational_referral_answered":
        if d.get("decision") == Answer.ACCEPTED:
            return _("%(partner)s accepted the referral; their reference %(reference)s.") % values
        return _("%(partner)s declined the referral (the reason is on the referral).") % values
    if kind == "transnational_update_sent":
        if values["date"]:
            return _("%(who)s told %(partner)s: %(update)s (%(date)s).") % values
        return _("%(who)s told %(partner)s: %(update)s.") % values
    if kind == "transnational_update_received":
        if values["date"]:
            return _("%(partner)s reported: %(update)s (%(date)s).") % values
        return _("%(partner)s reported: %(update)s.") % values
    return None
