"""The page in the account menu where a person makes and revokes their API tokens.

A new token is shown once: it is kept in the session only until the page after the POST has
shown it (redirect after POST), and only its digest is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from deliveries import access
from deliveries.api.models import ApiToken
from deliveries.api.services import PREFIX, api_token_create, api_token_revoke
from routes.models import User

SHOWN_ONCE = "api_token_shown_once"

# Swagger UI and Redoc set styles from their scripts (style attributes, generated <style>
# elements), which the portal's policy refuses; their pages allow inline styles, and Redoc's
# search worker from a blob. Scripts still come from the portal alone.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'; object-src 'none'"
)


def docs_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A reader of the API schema (Swagger UI, Redoc) for people signed in, under
    DOCS_POLICY (the security middleware keeps a policy a view has set)."""

    @login_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        response.headers["Content-Security-Policy"] = DOCS_POLICY
        return response

    return wrapped


class TokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Navn"),
        max_length=100,
        help_text=gettext_lazy("Hvad nøglen bruges til, fx «Fagsystem X, produktion»."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Built here, not at import: the longest validity is a setting.
        self.fields["days"] = forms.IntegerField(
            label=gettext_lazy("Gyldig i dage"),
            min_value=1,
            max_value=settings.API_TOKEN_MAX_DAYS,
            initial=90,
            help_text=gettext_lazy(
                "Nøglen holder op med at virke efter så mange dage (højst %(max)d)."
            )
            % {"max": settings.API_TOKEN_MAX_DAYS},
        )


def _api_user_or_404(request: HttpRequest) -> User:
    if not access.may_use_api(request.user):
        raise Http404
    assert isinstance(request.user, User)
    return request.user


@login_required
@require_http_methods(["GET", "POST"])
def tokens(request: HttpRequest) -> HttpResponse:
    user = _api_user_or_404(request)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        made = api_token_create(
            user=user, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
        )
        request.session[SHOWN_ONCE] = made.secret
        return redirect("api:tokens")
    return render(
        request,
        "api/tokens.html",
        {
            "form": form,
            "tokens": ApiToken.objects.filter(user=user),
            "shown_once": request.session.pop(SHOWN_ONCE, ""),
            "prefix": PREFIX,
        },
        status=400 if form.is_bound else 200,
    )


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    user = _api_user_or_404(request)
    # Only the person's own tokens: another's id finds nothing, the same answer as none.
    if not ApiToken.objects.filter(pk=token_id, user=user).exists():
        raise Http404
    if api_token_revoke(token_id=token_id, user=user):
        messages.success(request, _("API-nøglen er tilbagekaldt og virker ikke længere."))
    else:
        messages.info(request, _("API-nøglen var allerede tilbagekaldt."))
    return redirect("api:tokens")
