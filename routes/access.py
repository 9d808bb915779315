"""Who may open a registry page, said once for the registry's views and the pages above it
(`flisportal.front`): each helper returns what the user may see or raises 404 (not 403: a user
outside a row's scope must not learn that it exists)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from flisportal.lib.roles import Role, user_role
from routes.models import Kommune, User, Vendor
from routes.validators import normalize_kommune_code


def require_role(request: HttpRequest, *roles: Role) -> User:
    """The request's user when their role is one of `roles`; 404 otherwise."""
    if user_role(request.user) not in roles:
        raise Http404
    assert isinstance(request.user, User)
    return request.user


def kommune_or_404(code: str) -> Kommune:
    """The kommune of a code from a URL, with or without its leading zero; 404 when no kommune
    has it."""
    try:
        code = normalize_kommune_code(code)
    except ValidationError:
        raise Http404 from None
    return get_object_or_404(Kommune, code=code)


def onboarding_pair_or_404(
    request: HttpRequest, vendor_pk: int, code: str
) -> tuple[Vendor, Kommune]:
    """The vendor and kommune of an onboarding checklist the user may read; 404 otherwise.

    The checklist names the vendor's IT-systems, SFTP user names and key state, so the vendor
    is looked up through `Vendor.objects.for_user`: administrators every vendor, a vendor's
    staff their own, a consultant only the vendors with an agreement or a route for one of
    their kommuner (not any vendor id they might walk). A consultant reads it only for their
    own kommuner; staff may read their vendor's checklist for any kommune, since onboarding
    starts before there is an agreement or a route to scope by."""
    vendor = get_object_or_404(Vendor.objects.for_user(request.user), pk=vendor_pk)
    kommune = kommune_or_404(code)
    if (
        user_role(request.user) == Role.CONSULTANT
        and not Kommune.objects.for_user(request.user).filter(pk=kommune.pk).exists()
    ):
        raise Http404
    return vendor, kommune


def kommune_page_or_404(request: HttpRequest, code: str) -> Kommune:
    """The kommune whose own page the user may open; 404 otherwise, so the page does not say
    which kommuner exist or work with whom. Scoped as `Kommune.objects.for_user`:
    administrators every kommune, consultants their own, a vendor's staff the kommuner their
    vendor has a databehandleraftale or a route with (what they would see of it anyway)."""
    if user_role(request.user) == Role.NONE:
        raise Http404
    try:
        code = normalize_kommune_code(code)
    except ValidationError:
        raise Http404 from None
    return get_object_or_404(Kommune.objects.for_user(request.user), code=code)
