"""Logging in through an identity provider: the redirect to it, its answer, the page a user
without a role sees, and logging out of both."""

from __future__ import annotations

import logging

from authlib.integrations.base_client import MismatchingStateError, OAuthError
from django.conf import settings
from django.contrib.auth import login, logout
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from joserfc.errors import JoseError
from requests import RequestException

from flisportal.audit.services import audit_record
from flisportal.lib.clientaddr import client_address
from flisportal.sso.client import id_token_claims_options, oidc_client, redirect_uri
from flisportal.sso.models import IdentityProvider
from flisportal.sso.services import sso_login

logger = logging.getLogger(__name__)

# The session keys the twofactor middleware reads (docs/operations/sso.md): "provider" when the
# ID token says the provider asked for a second factor; absent otherwise.
MFA_SOURCE_KEY = "auth_mfa_source"
PROVIDER_KEY = "sso_provider"
ID_TOKEN_KEY = "sso_id_token"  # noqa: S105 (a session key, not a secret)

# Backend recorded on the session: the user was not authenticated by a password, but Django
# needs a backend that can load the user again on the next request.
SESSION_BACKEND = "django.contrib.auth.backends.ModelBackend"


def _provider(slug: str) -> IdentityProvider:
    return get_object_or_404(IdentityProvider, slug=slug, enabled=True)


def _refused(
    request: HttpRequest, provider: IdentityProvider, reason: str, message: str
) -> HttpResponse:
    """The login is refused: audited with the technical reason, shown in Danish with what to
    do next."""
    audit_record(
        action="sso.refused",
        obj=provider,
        after={"reason": reason[:500], "source": client_address(request)},
        actor_label=f"sso:{provider.slug}",
    )
    context = {"provider": provider, "message": message}
    return render(request, "sso/refused.html", context, status=400)


@require_GET
def sso_start(request: HttpRequest, slug: str) -> HttpResponse:
    provider = _provider(slug)
    try:
        return oidc_client(provider).authorize_redirect(request, redirect_uri(provider))
    except (RequestException, OAuthError, ValueError, ImproperlyConfigured) as error:
        # ImproperlyConfigured: the named secret variable is unset, or the key cannot decrypt.
        logger.warning("SSO %s: cannot start a login: %s", provider.slug, error)
        message = _(
            "%(name)s svarer ikke lige nu. Prøv igen om lidt, eller kontakt portalens "
            "administrator, hvis det bliver ved."
        ) % {"name": provider.name}
        return _refused(request, provider, f"discovery: {error}", message)


def _validated_claims(request: HttpRequest, provider: IdentityProvider) -> tuple[dict, str]:
    """The ID token's claims, and the token itself (for logout), after Authlib has checked
    state, the signature, issuer, audience, nonce and expiry within SSO_CLOCK_SKEW_SECONDS
    (the provider checks the PKCE verifier)."""
    token = oidc_client(provider).authorize_access_token(
        request,
        claims_options=id_token_claims_options(provider),
        leeway=settings.SSO_CLOCK_SKEW_SECONDS,
    )
    claims = token.get("userinfo")
    if not claims:
        raise OAuthError(description="the provider sent no ID token")
    return dict(claims), token["id_token"]


@require_GET
def sso_callback(request: HttpRequest, slug: str) -> HttpResponse:
    provider = _provider(slug)
    try:
        claims, id_token = _validated_claims(request, provider)
    except MismatchingStateError as error:
        message = _(
            "Login-svaret passer ikke til et login, der blev startet her (state stemmer "
            "ikke). Start forfra fra login-siden."
        )
        return _refused(request, provider, f"state: {error}", message)
    except (OAuthError, JoseError, RequestException, ValueError) as error:
        message = _(
            "Svaret fra %(name)s kunne ikke godkendes (fx udløbet eller forkert signeret). "
            "Start forfra fra login-siden; sker det igen, så kontakt portalens administrator."
        ) % {"name": provider.name}
        return _refused(request, provider, f"token: {error}", message)
    result = sso_login(provider=provider, claims=claims)
    if not result.user.is_active:
        message = _("Din bruger er spærret i portalen. Kontakt portalens administrator.")
        return _refused(request, provider, "inactive user", message)
    if not result.has_role:
        return render(request, "sso/pending.html", {"provider": provider})
    login(request, result.user, backend=SESSION_BACKEND)
    # After login(): it keeps the session's data but a later flush would drop these.
    request.session[PROVIDER_KEY] = provider.slug
    request.session[ID_TOKEN_KEY] = id_token
    if result.mfa_by_provider:
        request.session[MFA_SOURCE_KEY] = "provider"
    return redirect("front:start")


@require_POST
def sso_logout(request: HttpRequest) -> HttpResponse:
    """Ends the portal session, and the provider's where it publishes end_session_endpoint."""
    slug = request.session.get(PROVIDER_KEY)
    id_token = request.session.get(ID_TOKEN_KEY)
    logout(request)
    provider = IdentityProvider.objects.filter(slug=slug, enabled=True).first() if slug else None
    if provider is None:
        return redirect("login")
    client = oidc_client(provider)
    try:
        metadata = client.load_server_metadata()
    except (RequestException, OAuthError, ValueError):
        return redirect("login")  # the portal session is over; the provider's may linger
    if not metadata.get("end_session_endpoint"):
        return redirect("login")
    back = settings.PORTAL_BASE_URL.rstrip("/") + reverse("login")
    url = client.create_logout_url(post_logout_redirect_uri=back, id_token_hint=id_token)["url"]
    # Not a redirect: the logout form's page allows form submissions to the portal only (CSP
    # form-action 'self'), and the browser applies that to every redirect after the POST. A
    # page that refreshes to the provider is outside that chain, and works without script.
    response = render(request, "sso/logged_out.html", {"provider": provider, "url": url})
    response["Refresh"] = f"0;url={url}"
    return response
