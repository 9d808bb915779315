from __future__ import annotations

from django.http import HttpRequest

from flisportal.sso.models import IdentityProvider


def sso_providers(request: HttpRequest) -> dict[str, object]:
    """The providers for the login page's «Log ind med …» buttons. A queryset is lazy: only a
    page that lists them (the login page) runs the query."""
    return {"sso_providers": IdentityProvider.objects.filter(enabled=True)}
