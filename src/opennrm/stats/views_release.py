"""Public releases: the public list, a release's page and its files (no login), and the coordinators' page to
publish a release (stats.export; anyone else gets 404, exactly like a page that does not exist).

The public pages extend `stats/public_base.html`, which shows no navigation into the platform and nothing about
the visitor, logged in or not; they read only published releases, never a case.
"""

from __future__ import annotations

import math
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from opennrm.accounts.access import request_access
from opennrm.accounts.models import User
from opennrm.accounts.roles import Perm
from opennrm.core.errors import DomainError
from opennrm.stats import dp
from opennrm.stats.release import create_release as publish
from opennrm.stats.release import privacy_loss_by_year, total_privacy_loss
from opennrm.stats.release_models import Release, ReleaseFile, ReleaseKind, plain_number

# --- public --------------------------------------------------------------------------------------------------


@require_safe
def release_list(request: HttpRequest) -> HttpResponse:
    releases = Release.objects.order_by("-version")
    return render(request, "stats/public_releases.html", {"releases": releases})


def _public_release(public_id: str) -> Release:
    return get_object_or_404(Release, public_id=public_id)


@require_safe
def release_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    release = _public_release(public_id)
    files = list(ReleaseFile.objects.filter(release=release).defer("content").order_by("name"))
    params = release.parameters
    context: dict[str, Any] = {"release": release, "files": files, "params": params}
    if release.kind == ReleaseKind.DIFFERENTIALLY_PRIVATE:
        eps = float(params["epsilon"])
        context.update(
            {
                "epsilon": release.epsilon_text,
                "delta": release.delta_text,
                "e_epsilon": f"{math.exp(eps):.3g}",
                "percent_change": f"{(math.exp(eps) - 1) * 100:.0f}",
                "epsilon_spent": f"{float(params.get('epsilon_spent', eps)):.6g}",
                "delta_spent": plain_number(float(params.get("delta_spent", 0))),
                "cumulative": [
                    (year, f"{loss:.6g}")
                    for year, loss in sorted(privacy_loss_by_year().items())
                    if release.year_from <= year <= release.year_to
                ],
                "total_epsilon": f"{total_privacy_loss():.6g}",
            }
        )
    return render(request, "stats/public_release.html", context)


@require_safe
def release_file(request: HttpRequest, public_id: str, name: str) -> HttpResponse:
    release = _public_release(public_id)
    item = ReleaseFile.objects.filter(release=release, name=name).first()
    if item is None:
        raise Http404
    content_type = item.content_type + ("; charset=utf-8" if item.content_type.startswith("text/") else "")
    response = HttpResponse(bytes(item.content), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="opennrm-v{release.version}-{item.name}"'
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "public, max-age=31536000, immutable"  # a release never changes
    return response


# --- coordinators ------------------------------------------------------------------------------------------


class ReleaseForm(forms.Form):
    kind = forms.ChoiceField(
        label=gettext_lazy("Protection"),
        choices=[
            (ReleaseKind.K_ANONYMOUS.value, ReleaseKind.K_ANONYMOUS.label),
            (ReleaseKind.DIFFERENTIALLY_PRIVATE.value, ReleaseKind.DIFFERENTIALLY_PRIVATE.label),
        ],
    )
    year_from = forms.IntegerField(
        label=gettext_lazy("From year"),
        min_value=1990,
        help_text=gettext_lazy("k-anonymous tables cover each year once: publish complete years."),
    )
    year_to = forms.IntegerField(label=gettext_lazy("To year"), min_value=1990)
    k = forms.IntegerField(
        label=gettext_lazy("k (k-anonymous tables)"),
        required=False,
        min_value=2,
        help_text=gettext_lazy("No published figure is below k. Leave empty for this instance's k."),
    )
    epsilon = forms.FloatField(
        label=gettext_lazy("ε (differential privacy)"),
        required=False,
        min_value=0.0,
        help_text=gettext_lazy(
            "The privacy budget of the whole release. Smaller is more private and noisier; "
            "releases of the same years add up."
        ),
    )
    delta = forms.FloatField(
        label=gettext_lazy("δ (differential privacy)"),
        required=False,
        min_value=0.0,
        help_text=gettext_lazy(
            "0 for the Laplace mechanism (pure ε); a small value such as 0.000001 for the Gaussian mechanism."
        ),
    )
    mechanism = forms.ChoiceField(
        label=gettext_lazy("Noise"),
        required=False,
        choices=[
            ("", gettext_lazy("Laplace when δ is 0, Gaussian otherwise")),
            (dp.Mechanism.LAPLACE.value, gettext_lazy("Laplace (pure ε)")),
            (dp.Mechanism.GAUSSIAN.value, gettext_lazy("Gaussian (ε, δ)")),
        ],
    )
    citizenships = forms.CharField(
        label=gettext_lazy("Citizenships shown (differential privacy)"),
        required=False,
        max_length=200,
        help_text=gettext_lazy(
            "Country codes separated by commas, besides this country; others are counted as "
            "'other'. Choose them without looking at the figures."
        ),
    )
    confirm = forms.BooleanField(
        label=gettext_lazy(
            "I understand that a release is public at once and cannot be changed or withdrawn."
        ),
    )


ERROR_FIELDS = {
    "invalid_years": "year_from",
    "years_published": "year_from",
    "invalid_k": "k",
    "invalid_epsilon": "epsilon",
    "invalid_delta": "delta",
    "budget_exceeded": "epsilon",
    "unknown_code": "citizenships",
}


@require_http_methods(["GET", "POST"])
def release_create(request: HttpRequest) -> HttpResponse:
    if not request_access(request).has(Perm.STATS_EXPORT):
        raise Http404
    this_year = timezone.localdate().year
    form = ReleaseForm(
        request.POST or None,
        initial={"year_from": this_year - 1, "year_to": this_year - 1, "kind": ReleaseKind.K_ANONYMOUS.value},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            release = publish(
                actor=cast(User, request.user),
                kind=data["kind"],
                year_from=data["year_from"],
                year_to=data["year_to"],
                k=data["k"] if data["kind"] == ReleaseKind.K_ANONYMOUS else None,
                epsilon=data["epsilon"] if data["kind"] == ReleaseKind.DIFFERENTIALLY_PRIVATE else None,
                delta=data["delta"] if data["kind"] == ReleaseKind.DIFFERENTIALLY_PRIVATE else None,
                mechanism=(data["mechanism"] or None)
                if data["kind"] == ReleaseKind.DIFFERENTIALLY_PRIVATE
                else None,
                citizenships=[
                    c for c in (data["citizenships"] or "").replace(";", ",").split(",") if c.strip()
                ],
            )
        except DomainError as error:
            field = ERROR_FIELDS.get(error.code or "")
            form.add_error(field if field in form.fields else None, error)
        else:
            messages.success(request, _("Release %(version)s is published.") % {"version": release.version})
            return redirect("public:release", public_id=release.public_id)
    return render(
        request,
        "stats/release_create.html",
        {
            "form": form,
            "default_k": settings.OPENNRM_RELEASE_K,
            "releases": Release.objects.order_by("-version")[:10],
        },
    )
