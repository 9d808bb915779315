"""«Glemt adgangskode»: Django's reset views with the portal's mails and pages.

Django's reset link is single use (its token is made from the password hash and the last
login, both of which change when it is used) and expires after PASSWORD_RESET_TIMEOUT. The page
after asking says the same whether or not the address has an account. The link in the mail
starts with PORTAL_BASE_URL, not with the Host header of the request that asked for it: a
forged Host would otherwise send a real user a link to someone else's server.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordResetForm
from django.http import HttpResponse


def _minutes() -> int:
    return settings.PASSWORD_RESET_TIMEOUT // 60


class PasswordResetView(auth_views.PasswordResetView):
    email_template_name = "emails/password_reset-body.txt"
    html_email_template_name = "emails/password_reset-body.html"
    subject_template_name = "emails/password_reset-subject.txt"

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        self.extra_email_context = {
            "portal_base_url": settings.PORTAL_BASE_URL.rstrip("/"),
            "timeout_minutes": _minutes(),
        }
        return super().form_valid(form)


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "timeout_minutes": _minutes()}
