from __future__ import annotations

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from flisportal.sso.models import IdentityProvider


def _enabled_providers() -> QuerySet[IdentityProvider]:
    return IdentityProvider.objects.filter(enabled=True)


def sso_providers(request: HttpRequest) -> dict[str, object]:
    """The providers for the login page's «Log ind med …» buttons. Only a page that lists them
    (the login page) builds the queryset and runs its one query: every page's context is made
    with this, and building a queryset cost more than the rest of the processors together."""
    return {"sso_providers": SimpleLazyObject(_enabled_providers)}
