"""Template tags of the case page's screening, decision and assistance sections.

Each section tag reads through `opennrm.cases.selectors_assistance` with the request's access (and audits the reads
of identifying data there), so a section can be included in any page that has `case` and `request` in its context:

    {% load case_sections %}{% decision_info case as info %}
"""

from __future__ import annotations

from django import template
from django.forms import BaseForm
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from opennrm.accounts.access import Access, request_access
from opennrm.accounts.models import User
from opennrm.cases import forms_assistance
from opennrm.cases import screening as instruments
from opennrm.cases import selectors_assistance as sections
from opennrm.cases.models import Case
from opennrm.core.profiles import active_profile

register = template.Library()


def _access(context: template.Context) -> Access:
    access = context.get("access")
    return access if isinstance(access, Access) else request_access(context["request"])


def _actor(context: template.Context) -> User:
    user: User = context["request"].user
    return user


# --- sections ------------------------------------------------------------------------------------------


@register.simple_tag(takes_context=True)
def screening_info(context: template.Context, case: Case) -> sections.ScreeningSection:
    return sections.screening_section(access=_access(context), case=case)


@register.simple_tag(takes_context=True)
def decision_info(context: template.Context, case: Case) -> sections.DecisionSection:
    return sections.decision_section(access=_access(context), actor=_actor(context), case=case)


@register.simple_tag(takes_context=True)
def plan_info(context: template.Context, case: Case) -> sections.PlanSection:
    return sections.plan_section(access=_access(context), actor=_actor(context), case=case)


@register.simple_tag(takes_context=True)
def notes_info(context: template.Context, case: Case) -> sections.NotesSection:
    return sections.notes_section(access=_access(context), actor=_actor(context), case=case)


@register.simple_tag(takes_context=True)
def attachments_info(context: template.Context, case: Case) -> sections.AttachmentsSection:
    return sections.attachments_section(access=_access(context), actor=_actor(context), case=case)


@register.simple_tag(takes_context=True)
def compensation_info(context: template.Context, case: Case) -> sections.CompensationSection:
    return sections.compensation_section(access=_access(context), case=case)


@register.simple_tag(takes_context=True)
def closure_info(context: template.Context, case: Case) -> sections.ClosureSection:
    return sections.closure_section(access=_access(context), case=case)


@register.simple_tag
def profile_zone() -> str:
    """The time zone of the country profile: deadlines are shown in the country's local time."""
    return active_profile().time_zone


# --- forms ------------------------------------------------------------------------------------------------

_BLANK_FORMS: dict[str, type[BaseForm]] = {
    "plan_item": forms_assistance.PlanItemForm,
    "plan_complete": forms_assistance.PlanCompleteForm,
    "note": forms_assistance.NoteForm,
    "attachment": forms_assistance.AttachmentForm,
    "payment": forms_assistance.PaymentForm,
    "close": forms_assistance.CloseForm,
    "reopen": forms_assistance.ReopenForm,
    "request_decision": forms_assistance.RequestDecisionForm,
}


@register.simple_tag
def blank_form(kind: str, suffix: str = "") -> BaseForm:
    """An empty form for a section of the case page. Its element ids start with the kind (and `suffix`), so that
    several forms on one page never share an id; the field names stay those the view reads."""
    prefix = f"{kind}_{suffix}_" if suffix else f"{kind}_"
    return _BLANK_FORMS[kind](auto_id=prefix + "%s")


@register.simple_tag
def error_summary(form: BaseForm | None) -> SafeString:
    """A summary of the field errors at the top of the form, each linked to its field. Errors of the form as a
    whole (a rule of the mechanism that refused the act) are shown by the form itself, once."""
    if form is None or not form.errors:
        return SafeString("")
    links = []
    for name, errors in form.errors.items():
        if name not in form.fields:
            continue
        bound = form[name]
        for error in errors:
            links.append((bound.id_for_label or bound.auto_id, f"{bound.label}: {error}"))
    if not links:
        return SafeString("")
    return format_html(
        '<div class="error-summary" role="alert"><h2>{}</h2><ul>{}</ul></div>',
        _("There is a problem"),
        format_html_join("", '<li><a href="#{}">{}</a></li>', links),
    )


# --- screening results ------------------------------------------------------------------------------------


def _combination_text(combination: instruments.Combination) -> str:
    parts = [
        text % {"count": count}
        for text, count in (
            (_("%(count)d strong"), combination.strong),
            (_("%(count)d medium"), combination.medium),
            (_("%(count)d weak"), combination.weak),
            (_("%(count)d medium or weak"), combination.medium_or_weak),
        )
        if count
    ]
    return " + ".join(parts)


@register.filter
def strength_label(value: str | None) -> str:
    if not value:
        return ""
    try:
        return str(instruments.Strength(value).label)
    except ValueError:
        return str(value)


@register.filter
def conclusion_label(value: str) -> str:
    try:
        return str(instruments.Conclusion(value).label)
    except ValueError:
        return value


@register.filter
def dimension_explanation(dimension: instruments.DimensionResult, result: instruments.ScreeningResult) -> str:
    """Why a dimension is positive or not, in words."""
    rule = result.instrument.rule
    found = len(dimension.found)
    if not dimension.indicators_loaded:
        return _("No indicators are loaded for this dimension: it cannot be assessed.")
    if not isinstance(rule, instruments.DimensionsRule) or dimension.positive is None:
        return ngettext("%(count)d indicator found.", "%(count)d indicators found.", found) % {"count": found}
    counts = dimension.counts
    found_text = ", ".join(
        text % {"count": counts.get(strength, 0)}
        for strength, text in (
            ("strong", _("%(count)d strong")),
            ("medium", _("%(count)d medium")),
            ("weak", _("%(count)d weak")),
        )
    )
    if dimension.positive and dimension.combination is not None:
        return _("Positive: %(found)s found, which meets “%(combination)s”.") % {
            "found": found_text,
            "combination": _combination_text(dimension.combination),
        }
    return _("Not positive: %(found)s found; a dimension is positive with one of: %(options)s.") % {
        "found": found_text,
        "options": "; ".join(_combination_text(c) for c in rule.combinations),
    }
