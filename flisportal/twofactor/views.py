"""The second-factor pages (enrol, verify, manage, recovery codes) and the session lists."""

from __future__ import annotations

import base64
import json
from typing import Any

import segno
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from flisportal.lib.clientaddr import client_address
from flisportal.lib.roles import Role
from flisportal.twofactor import securitykeys, services
from flisportal.twofactor.forms import CodeForm
from flisportal.twofactor.models import RecoveryCodeDevice, SecurityKey, UserSession
from flisportal.twofactor.policy import (
    SOURCE_RECOVERY,
    SOURCE_TOTP,
    SOURCE_WEBAUTHN,
    has_second_factor,
    mark_session_verified,
    role_requires_second_factor,
    session_verified,
)
from flisportal.twofactor.sessions import current_key_hash, session_end, sessions_of, user_offboard
from routes.access import require_role
from routes.models import User

NEW_CODES_KEY = "twofactor_new_codes"


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("front:start")


def _with_next(name: str, next_url: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': next_url})}"


def _keys_of(user: Any) -> QuerySet[SecurityKey]:
    return SecurityKey.objects.filter(user=user)


def _qr_svg(device: TOTPDevice) -> str:
    # Drawn here as SVG: the secret never leaves the portal for a QR service or a CDN. segno
    # writes only path data, nothing from a user.
    return mark_safe(segno.make(device.config_url, error="m").svg_inline(scale=4))  # noqa: S308


@login_required
def enrol(request: HttpRequest) -> HttpResponse:
    """Set up an authenticator app: scan the QR code (or type the key), confirm with a code."""
    user = request.user
    # Adding an authenticator changes how the account is protected: a session that has only a
    # password must first prove the authenticator the account already has.
    if has_second_factor(user) and not session_verified(request.session):
        return redirect(_with_next("twofactor:verify", request.get_full_path()))
    device = services.totp_enrolment_start(user=user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.totp_enrolment_confirm(user=user, token=form.cleaned_data["token"])
        if codes is not None:
            request.session.cycle_key()
            mark_session_verified(request.session, SOURCE_TOTP)
            request.session[NEW_CODES_KEY] = codes
            return redirect(_with_next("twofactor:recovery_codes_shown", _next(request)))
        form.add_error(
            "token",
            _(
                "Koden passer ikke. Tjek at appen viser koden for FLIS-portal, og skriv den "
                "kode, appen viser nu (den skifter hvert 30. sekund)."
            ),
        )
    context = {
        "form": form,
        "qr_svg": _qr_svg(device),
        "secret": base64.b32encode(device.bin_key).decode(),
        "required": role_requires_second_factor(user),
        "next": _next(request),
    }
    return render(request, "twofactor/enrol.html", context)


@login_required
def recovery_codes_shown(request: HttpRequest) -> HttpResponse:
    """The new recovery codes, once: they are taken out of the session as they are shown."""
    codes = request.session.pop(NEW_CODES_KEY, None)
    if not codes:
        return redirect("twofactor:manage")
    context = {"codes": codes, "next": _next(request)}
    return render(request, "twofactor/recovery_codes.html", context)


def _lockout(request: HttpRequest, credentials: dict[str, Any]) -> HttpResponse:
    # A locked account is logged out: the password step must be passed again after the lock.
    logout(request)
    return get_lockout_response(request, None, credentials)


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The second step of logging in: a code from the authenticator app or a recovery code.

    A wrong code counts as a failed login in the lockout (django-axes, same user name and
    address), and each authenticator also slows down after failures (django-otp's throttle),
    which logging in with the password again does not reset."""
    user = request.user
    if session_verified(request.session):
        return redirect(_next(request))
    if not has_second_factor(user):
        return redirect(_with_next("twofactor:enrol", _next(request)))
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        return _lockout(request, credentials)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        source = services.second_factor_check(
            user=user, token=form.cleaned_data["token"], address=client_address(request)
        )
        if source is not None:
            request.session.cycle_key()
            mark_session_verified(request.session, source)
            return redirect(_next(request))
        token = form.cleaned_data["token"]
        kind = SOURCE_TOTP if token.isdigit() else SOURCE_RECOVERY
        services.second_factor_failed(user=user, kind=kind, address=client_address(request))
        AxesProxyHandler.user_login_failed(sender=verify, credentials=credentials, request=request)
        if getattr(request, "axes_locked_out", False):
            return _lockout(request, credentials)
        form.add_error(
            "token",
            _(
                "Koden passer ikke. Skriv den kode, appen viser nu, eller en af dine "
                "gendannelseskoder. Efter for mange forkerte koder spærres kontoen en tid."
            ),
        )
    context = {
        "form": form,
        "next": _next(request),
        "has_keys": _keys_of(user).exists(),
    }
    return render(request, "twofactor/verify.html", context)


@login_required
def manage(request: HttpRequest) -> HttpResponse:
    """The user's own second factors: authenticators, recovery codes left."""
    recovery = RecoveryCodeDevice.objects.filter(user=request.user).first()
    context = {
        "devices": TOTPDevice.objects.filter(user=request.user, confirmed=True).order_by("pk"),
        "keys": _keys_of(request.user),
        "codes_left": recovery.remaining() if recovery else None,
        "required": role_requires_second_factor(request.user),
    }
    return render(request, "twofactor/manage.html", context)


@login_required
@require_POST
def recovery_codes_renew(request: HttpRequest) -> HttpResponse:
    if not has_second_factor(request.user):
        messages.error(
            request, _("Opret først en godkendelsesapp; gendannelseskoderne hører til den.")
        )
        return redirect("twofactor:manage")
    request.session[NEW_CODES_KEY] = services.recovery_codes_renew(user=request.user)
    return redirect(_with_next("twofactor:recovery_codes_shown", reverse("twofactor:manage")))


@login_required
@require_POST
def device_remove(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    removed = services.authenticator_remove(user=user, device_id=pk, actor=user)
    if not removed:
        return redirect("twofactor:manage")
    if role_requires_second_factor(user) and not has_second_factor(user):
        messages.warning(
            request,
            _(
                "Godkendelsesappen er fjernet. Din rolle kræver to-faktor: opret en ny, før du "
                "logger ind næste gang."
            ),
        )
    else:
        messages.success(request, _("Godkendelsesappen er fjernet."))
    return redirect("twofactor:manage")


@login_required
def my_sessions(request: HttpRequest) -> HttpResponse:
    """The user's sessions: where and with what they are logged in, and since when."""
    context = {"sessions": sessions_of(request.user), "current": current_key_hash(request)}
    return render(request, "twofactor/sessions.html", context)


@login_required
@require_POST
def my_session_end(request: HttpRequest, pk: int) -> HttpResponse:
    tracked = get_object_or_404(UserSession, pk=pk, user=request.user)
    if tracked.key_hash == current_key_hash(request):
        # Ending the session in use is logging out.
        logout(request)
        return redirect("login")
    session_end(tracked=tracked, actor=request.user)
    messages.success(request, _("Sessionen er afsluttet."))
    return redirect("twofactor:sessions")


@login_required
def user_sessions(request: HttpRequest, pk: int) -> HttpResponse:
    """An administrator's view of another user's sessions, with the one-step offboarding."""
    require_role(request, Role.ADMINISTRATOR)
    person = get_object_or_404(User, pk=pk)
    context = {
        "person": person,
        "sessions": sessions_of(person),
        "has_second_factor": has_second_factor(person),
    }
    return render(request, "twofactor/user_sessions.html", context)


@login_required
@require_POST
def user_second_factor_reset(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove a user's authenticators and recovery codes (they lost both): they enrol again."""
    admin = require_role(request, Role.ADMINISTRATOR)
    person = get_object_or_404(User, pk=pk)
    services.second_factor_reset(user=person, actor=admin)
    messages.success(
        request,
        _("To-faktor er fjernet for %(user)s. Ved næste login opretter personen en ny.")
        % {"user": person.get_username()},
    )
    return redirect("twofactor:user_sessions", pk=pk)


@login_required
@require_POST
def user_offboard_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Deactivate the account and end all its sessions, in one step (someone has left)."""
    admin = require_role(request, Role.ADMINISTRATOR)
    person = get_object_or_404(User, pk=pk)
    if person.pk == admin.pk:
        messages.error(request, _("Du kan ikke lukke din egen konto. Bed en anden administrator."))
        return redirect("twofactor:user_sessions", pk=pk)
    ended = user_offboard(user=person, actor=admin)
    messages.success(
        request,
        _("%(user)s er deaktiveret, og %(count)d sessioner er afsluttet.")
        % {"user": person.get_username(), "count": ended},
    )
    return redirect("twofactor:user_sessions", pk=pk)


# --- Security keys and passkeys (WebAuthn): JSON for static/twofactor/webauthn.js -----------


def _json_body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _refused(message: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@login_required
@require_POST
def securitykey_register_begin(request: HttpRequest) -> HttpResponse:
    if has_second_factor(request.user) and not session_verified(request.session):
        return _refused(_("Bekræft først med din nuværende to-faktor."), status=403)
    options = securitykeys.registration_begin(user=request.user, session=request.session)
    return HttpResponse(options, content_type="application/json")


@login_required
@require_POST
def securitykey_register_finish(request: HttpRequest) -> HttpResponse:
    user = request.user
    first = not session_verified(request.session)
    if first and has_second_factor(user):
        return _refused(_("Bekræft først med din nuværende to-faktor."), status=403)
    body = _json_body(request)
    key = securitykeys.registration_finish(
        user=user,
        session=request.session,
        credential=body.get("credential") or {},
        name=str(body.get("name") or ""),
    )
    if key is None:
        return _refused(
            _("Nøglen blev ikke godkendt. Prøv igen, og rør nøglen, når browseren beder om det.")
        )
    if first:
        request.session.cycle_key()
        mark_session_verified(request.session, SOURCE_WEBAUTHN)
    codes = services.recovery_codes_issue(user=user)
    target = str(body.get("next") or "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("twofactor:manage")
    if codes:
        request.session[NEW_CODES_KEY] = codes
        target = _with_next("twofactor:recovery_codes_shown", target)
    return JsonResponse({"redirect": target})


@login_required
@require_POST
def securitykey_login_begin(request: HttpRequest) -> HttpResponse:
    options = securitykeys.authentication_begin(user=request.user, session=request.session)
    return HttpResponse(options, content_type="application/json")


@login_required
@require_POST
def securitykey_login_finish(request: HttpRequest) -> HttpResponse:
    """The key's answer at login: counted in the lockout like a code when it fails."""
    user = request.user
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        logout(request)
        return JsonResponse({"redirect": reverse("login")}, status=429)
    body = _json_body(request)
    address = client_address(request)
    ok = securitykeys.authentication_finish(
        user=user, session=request.session, credential=body.get("credential") or {}, address=address
    )
    if ok:
        request.session.cycle_key()
        mark_session_verified(request.session, SOURCE_WEBAUTHN)
        target = str(body.get("next") or "")
        if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = reverse("front:start")
        return JsonResponse({"redirect": target})
    services.second_factor_failed(user=user, kind=SOURCE_WEBAUTHN, address=address)
    AxesProxyHandler.user_login_failed(sender=verify, credentials=credentials, request=request)
    if getattr(request, "axes_locked_out", False):
        logout(request)
        return JsonResponse({"redirect": reverse("login")}, status=429)
    return _refused(
        _("Nøglen blev ikke godkendt. Brug en af dine registrerede nøgler, eller en kode.")
    )


@login_required
@require_POST
def securitykey_remove(request: HttpRequest, pk: int) -> HttpResponse:
    if securitykeys.security_key_remove(user=request.user, key_id=pk, actor=request.user):
        messages.success(request, _("Sikkerhedsnøglen er fjernet."))
    return redirect("twofactor:manage")
