"""Who is calling: a bearer token (`deliveries.api.services`), and how often they may.

The API takes tokens only, no session cookie: a vendor system has no browser, and without
cookies there is no cross-site request to forge, so the API needs no CSRF token.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from deliveries.api.models import ApiToken
from deliveries.api.problems import Problem
from deliveries.api.services import TokenRefused, api_token_authenticate
from flisportal.lib.periods import local_time_text

SCHEME = "Bearer"


def _refusal(reason: str, token_text: str) -> Problem:
    """The 401 for a refused token, saying what to do about it."""
    if reason == "revoked":
        detail = _(
            "API-nøglen er tilbagekaldt. Opret en ny under «API-nøgler» i kontomenuen, og skift "
            "den ud i jeres system."
        )
    elif reason == "expired":
        detail = _(
            "API-nøglen udløb %(when)s. Opret en ny under «API-nøgler» i kontomenuen, og skift "
            "den ud i jeres system."
        ) % {"when": token_text}
    elif reason == "inactive":
        detail = _("Kontoen, API-nøglen hører til, er lukket. Kontakt portalens administrator.")
    else:
        detail = _(
            "API-nøglen kendes ikke. Kontrollér, at hele nøglen er sendt som «Authorization: "
            "Bearer <nøgle>», eller opret en ny under «API-nøgler» i kontomenuen."
        )
    return Problem(status_code=401, code=f"token_{reason}", detail=detail)


class TokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer flis_…`. A request without the header is anonymous (and then
    refused by the views' permission with 401); a header with a token that opens nothing is
    refused here, with the reason."""

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != SCHEME.lower().encode():
            return None
        if len(header) != 2:
            raise _refusal("unknown", "")
        try:
            presented = header[1].decode("ascii")
            token = api_token_authenticate(presented)
        except UnicodeDecodeError:
            raise _refusal("unknown", "") from None
        except TokenRefused as refused:
            when = ""
            if refused.reason == "expired":
                expired = ApiToken.objects.filter(key_id=presented.split("_", 2)[1]).first()
                when = local_time_text(expired.expires_at, seconds=False) if expired else ""
            raise _refusal(refused.reason, when) from None
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{SCHEME} realm="api"'


class TokenRateThrottle(SimpleRateThrottle):
    """Requests per token (API_RATE, e.g. "120/minute"), counted in the cache: one system
    looping over 98 kommuner cannot crowd out everyone else. Keyed by the token's id, so two
    tokens of one person are counted apart, and a revoked token's count is dropped with it."""

    scope = "token"

    def get_rate(self) -> str:
        return str(settings.API_RATE)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.auth, ApiToken):
            return None  # refused before it counts: no token, no view
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}


class TokenAuthenticationScheme(OpenApiAuthenticationExtension):  # type: ignore[misc]
    """How the OpenAPI schema describes the token (drf-spectacular finds it by class path)."""

    target_class = "deliveries.api.auth.TokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "En API-nøgle fra siden «API-nøgler» i kontomenuen (flis_…).",
        }
