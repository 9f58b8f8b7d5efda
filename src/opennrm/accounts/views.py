"""Login in two steps (password, then TOTP), enrolment by QR code, logout, logout everywhere, API tokens.

Between the two steps the session holds only the id of the user who gave a correct password ("pending");
`django.contrib.auth.login` runs only after the code, so no view ever sees a half-authenticated user.
"""

from __future__ import annotations

import time
from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import check_for_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from opennrm.accounts import services, totp
from opennrm.accounts.forms import CodeForm, LoginForm, TokenForm
from opennrm.accounts.models import Agency, User
from opennrm.accounts.selectors import (
    agencies_visible_to,
    agencies_with_staff_visible_to,
    staff_of,
    tokens_of,
)
from opennrm.core import audit

PENDING_KEY = "pending_2fa"
PENDING_SECONDS = 300


def _address(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


def _safe_next(request: HttpRequest, value: str | None) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=False
    ):
        return value
    return reverse("core:home")


def _pending_user(request: HttpRequest) -> User | None:
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        return None
    return User.objects.filter(public_id=pending["user"], is_active=True).first()


TOO_MANY = gettext_lazy(
    "Too many failed attempts. Wait a few minutes and try again, or ask your administrator."
)


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("core:home")
    form = LoginForm(request.POST or None)
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if request.GET.get("expired"):
        messages.info(request, _("Your session ended. Please log in again."))
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        if services.login_blocked_for(username=username, address=_address(request)):
            form.add_error(None, TOO_MANY)
        else:
            user = authenticate(request, username=username, password=form.cleaned_data["password"])
            if user is None:
                services.record_login_failure(username=username, address=_address(request), stage="password")
                form.add_error(None, _("The user name or password is not correct."))
            else:
                request.session.cycle_key()
                request.session[PENDING_KEY] = {"user": user.public_id, "at": time.time(), "next": next_url}
                has_device = hasattr(user, "totp_device") and user.totp_device.confirmed_at is not None
                return redirect("accounts:verify" if has_device else "accounts:enroll")
    return render(request, "accounts/login.html", {"form": form, "next": next_url})


def _complete_login(request: HttpRequest, user: User) -> HttpResponse:
    next_url = request.session.get(PENDING_KEY, {}).get("next")
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    now = int(time.time())
    request.session["epoch"] = user.session_epoch
    request.session["last_seen"] = now
    request.session["login_at"] = now  # the session lifetime counts from here, however active it is
    services.clear_login_failures(username=user.get_username())
    audit.record(actor=user, action="user.login", target=user)
    response = HttpResponseRedirect(_safe_next(request, next_url))
    if user.preferred_language and check_for_language(user.preferred_language):
        # Django reads the language from its cookie (the session key was removed in Django 4.0).
        response.set_cookie(
            settings.LANGUAGE_COOKIE_NAME,
            user.preferred_language,
            max_age=settings.LANGUAGE_COOKIE_AGE,
            path=settings.LANGUAGE_COOKIE_PATH,
            domain=settings.LANGUAGE_COOKIE_DOMAIN,
            secure=settings.LANGUAGE_COOKIE_SECURE,
            httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            samesite=settings.LANGUAGE_COOKIE_SAMESITE,  # type: ignore[arg-type]
        )
    return response


@require_http_methods(["GET", "POST"])
def verify_view(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("accounts:login")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.login_blocked_for(username=user.get_username(), address=_address(request)):
            form.add_error(None, TOO_MANY)
        elif services.verify_code(user=user, code=form.cleaned_data["code"]):
            return _complete_login(request, user)
        else:
            services.record_login_failure(
                username=user.get_username(), address=_address(request), stage="code"
            )
            form.add_error("code", _("This code is not valid. Codes change every 30 seconds and work once."))
    return render(request, "accounts/verify.html", {"form": form})


@require_http_methods(["GET", "POST"])
def enroll_view(request: HttpRequest) -> HttpResponse:
    user = _pending_user(request)
    if user is None:
        return redirect("accounts:login")
    if hasattr(user, "totp_device") and user.totp_device.confirmed_at is not None:
        return redirect("accounts:verify")
    form = CodeForm(request.POST or None)
    if request.method == "POST":
        # A code posted before the QR page was ever shown (no device yet) gets a fresh enrolment, not an error.
        device = getattr(user, "totp_device", None) or services.start_enrolment(user=user)
        if form.is_valid():
            if services.login_blocked_for(username=user.get_username(), address=_address(request)):
                form.add_error(None, TOO_MANY)
            elif services.verify_code(user=user, code=form.cleaned_data["code"], confirm=True):
                return _complete_login(request, user)
            else:
                services.record_login_failure(
                    username=user.get_username(), address=_address(request), stage="enrol"
                )
                form.add_error(
                    "code", _("This code is not valid. Check the time on your phone and try again.")
                )
    else:
        device = services.start_enrolment(user=user)
    uri = totp.provisioning_uri(secret=device.secret, account=user.get_username())
    context = {
        "form": form,
        "qr_svg": totp.qr_svg(uri),
        "secret": device.secret,
        "account": user.get_username(),
    }
    return render(request, "accounts/enroll.html", context)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        audit.record(actor=request.user, action="user.logout", target=request.user)
    logout(request)
    messages.success(request, _("You are logged out."))
    return redirect("accounts:login")


@require_POST
def logout_everywhere_view(request: HttpRequest) -> HttpResponse:
    services.logout_everywhere(actor=request.user)  # type: ignore[arg-type]
    logout(request)
    messages.success(request, _("You are logged out on every device."))
    return redirect("accounts:login")


@require_http_methods(["GET", "POST"])
def profile_view(request: HttpRequest) -> HttpResponse:
    user: User = request.user  # type: ignore[assignment]
    form = TokenForm(request.POST or None)
    new_token = None
    if request.method == "POST" and form.is_valid():
        expires = timezone.now() + timedelta(days=form.cleaned_data["expires_in_days"])
        _token, new_token = services.create_api_token(
            actor=user, name=form.cleaned_data["name"], expires_at=expires
        )
        form = TokenForm()
    context = {
        "form": form,
        "new_token": new_token,
        "tokens": tokens_of(user),
        "memberships": request.access.memberships,  # type: ignore[attr-defined]
    }
    return render(request, "accounts/profile.html", context)


@require_POST
def revoke_token_view(request: HttpRequest, public_id: str) -> HttpResponse:
    token = get_object_or_404(tokens_of(request.user), public_id=public_id)  # type: ignore[arg-type]
    services.revoke_api_token(actor=request.user, token=token)  # type: ignore[arg-type]
    messages.success(request, _("The token was revoked."))
    return redirect("accounts:profile")


def agency_list_view(request: HttpRequest) -> HttpResponse:
    agencies = agencies_visible_to(request.access).order_by("name")  # type: ignore[attr-defined]
    return render(request, "accounts/agency_list.html", {"agencies": agencies})


def agency_detail_view(request: HttpRequest, public_id: str) -> HttpResponse:
    agency: Agency = get_object_or_404(agencies_visible_to(request.access), public_id=public_id)  # type: ignore[attr-defined]
    access = request.access  # type: ignore[attr-defined]
    may_list_staff = agencies_with_staff_visible_to(access).filter(pk=agency.pk).exists()
    staff = staff_of(access=access, agency=agency) if may_list_staff else None
    return render(request, "accounts/agency_detail.html", {"agency": agency, "staff": staff})
