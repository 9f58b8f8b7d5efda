from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from opennrm import __version__
from opennrm.core import audit
from opennrm.core.panels import panels_for


def home_view(request: HttpRequest) -> HttpResponse:
    from opennrm.core.models import Alert

    alerts = Alert.objects.filter(recipient_id=request.user.pk, read_at__isnull=True).order_by("-created_at")[
        :20
    ]
    context = {
        "access": request.access,  # type: ignore[attr-defined]
        "alerts": alerts,
        "panels": panels_for("home", request, None),
    }
    return render(request, "core/home.html", context)


@require_POST
def alert_read_view(request: HttpRequest, public_id: str) -> HttpResponse:
    from opennrm.core.models import Alert

    Alert.objects.filter(recipient_id=request.user.pk, public_id=public_id).update(read_at=timezone.now())
    return redirect("core:home")


@never_cache
def health_view(request: HttpRequest) -> JsonResponse:
    """Liveness and database readiness for load balancers; reveals no data."""
    try:
        with connection.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
        database = "ok"
    except Exception:
        database = "unavailable"
    status = 200 if database == "ok" else 503
    body = {
        "status": "ok" if status == 200 else "degraded",
        "database": database,
        "version": __version__,
        "country": settings.OPENNRM_COUNTRY,
    }
    return JsonResponse(body, status=status)


def _require(request: HttpRequest, perm: str) -> None:
    """The audit log covers the whole instance, so only a national-scope membership opens it."""
    from opennrm.accounts.roles import Perm

    if not request.access.is_national(Perm(perm)):  # type: ignore[attr-defined]
        raise Http404


def audit_log_view(request: HttpRequest) -> HttpResponse:
    """The audit log, newest first, for auditors. Verification runs in the background worker."""
    from opennrm.core.models import AuditEntry
    from opennrm.core.tasks import verify_audit_chain

    _require(request, "audit.view")
    if request.method == "POST":
        _require(request, "audit.verify")
        result = verify_audit_chain.enqueue()
        request.session["audit_verify_task"] = result.id
        audit.record(actor=request.user, action="audit.verification_requested")  # type: ignore[arg-type]
        return redirect("core:audit_log")
    verification = None
    task_id = request.session.get("audit_verify_task")
    if task_id:
        try:
            verification = verify_audit_chain.get_result(task_id)
        except Exception:
            verification = None
    entries = AuditEntry.objects.order_by("-sequence")
    action = request.GET.get("action", "").strip()
    if action:
        entries = entries.filter(action__startswith=action)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    context = {"page": page, "action": action, "verification": verification}
    return render(request, "core/audit_log.html", context)
