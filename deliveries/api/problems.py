"""Every error of the API as problem details (RFC 9457, `application/problem+json`).

A problem has `type` (a stable URN per code), `title` (short, the same for every problem of
its code), `status`, `detail` (what went wrong this time and what to do: the very text the
pages show, from `deliveries.access`, `deliveries.uploads` and the intake service) and `code`
(stable, for a program to branch on). Texts are in the language Accept-Language asks for
(Danish unless English is asked for; `deliveries.api.views.ApiView`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)

CONTENT_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:flisportal:problem:"

# code → title. The codes are documented in docs/users/api.md.
TITLES: dict[str, Any] = {
    "not_authenticated": gettext_lazy("Ingen API-nøgle"),
    "token_unknown": gettext_lazy("Ukendt API-nøgle"),
    "token_revoked": gettext_lazy("API-nøglen er tilbagekaldt"),
    "token_expired": gettext_lazy("API-nøglen er udløbet"),
    "token_inactive": gettext_lazy("Kontoen er lukket"),
    "not_found": gettext_lazy("Findes ikke"),
    "forbidden": gettext_lazy("Ikke tilladt"),
    "method_not_allowed": gettext_lazy("Metoden er ikke tilladt"),
    "not_acceptable": gettext_lazy("Formatet kan ikke leveres"),
    "unsupported_media_type": gettext_lazy("Forkert indholdstype"),
    "bad_request": gettext_lazy("Forespørgslen kan ikke læses"),
    "invalid_request": gettext_lazy("Ugyldige felter"),
    "rate_limited": gettext_lazy("For mange forespørgsler"),
    "file_too_large": gettext_lazy("Filen er for stor"),
    "file_refused": gettext_lazy("Filen afvist"),
    "upload_refused": gettext_lazy("Uploaden afvist"),
    "idempotency_key_reused": gettext_lazy("Idempotency-Key brugt til en anden forespørgsel"),
    "idempotency_key_in_use": gettext_lazy("Idempotency-Key er i brug"),
    "idempotency_key_invalid": gettext_lazy("Ugyldig Idempotency-Key"),
    "file_deleted": gettext_lazy("Filen er slettet"),
    "server_error": gettext_lazy("Fejl i portalen"),
}


class Problem(exceptions.APIException):
    """An error the API's own views raise, with its code and a detail text."""

    def __init__(self, *, status_code: int, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail=detail, code=code)
        self.status_code = status_code
        self.problem_code = code
        self.extra = extra


def problem_response(
    status_code: int, code: str, detail: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> Response:
    body = {
        "type": TYPE_PREFIX + code,
        "title": str(TITLES.get(code, code)),
        "status": status_code,
        "detail": detail,
        "code": code,
        **extra,
    }
    return Response(body, status=status_code, headers=headers, content_type=CONTENT_TYPE)


def _code_and_detail(exc: Exception) -> tuple[int, str, str, dict[str, Any]]:
    """Status, code, detail and extension members for an exception DRF or Django raised."""
    if isinstance(exc, Problem):
        return exc.status_code, exc.problem_code, str(exc.detail), exc.extra
    if isinstance(exc, Http404 | exceptions.NotFound):
        detail = str(exc) if str(exc) and isinstance(exc, Http404) else ""
        return 404, "not_found", detail or _("Findes ikke, eller du har ikke adgang til det."), {}
    if isinstance(exc, PermissionDenied | exceptions.PermissionDenied):
        return 403, "forbidden", _("Din konto har ikke adgang til dette."), {}
    if isinstance(exc, exceptions.NotAuthenticated):
        return (
            401,
            "not_authenticated",
            _(
                "Send en API-nøgle i headeren «Authorization: Bearer <nøgle>». Opret en under "
                "«API-nøgler» i kontomenuen."
            ),
            {},
        )
    if isinstance(exc, exceptions.Throttled):
        return (
            429,
            "rate_limited",
            _("For mange forespørgsler med denne API-nøgle. Vent %(seconds)s sekunder.")
            % {"seconds": int(getattr(exc, "wait", None) or 1)},
            {},
        )
    if isinstance(exc, exceptions.ValidationError):
        return (
            422,
            "invalid_request",
            _("Et eller flere felter er ugyldige; se «errors»."),
            {"errors": exc.detail},
        )
    simple = {
        exceptions.MethodNotAllowed: "method_not_allowed",
        exceptions.NotAcceptable: "not_acceptable",
        exceptions.UnsupportedMediaType: "unsupported_media_type",
        exceptions.ParseError: "bad_request",
    }
    for kind, code in simple.items():
        if isinstance(exc, kind):
            assert isinstance(exc, exceptions.APIException)
            return exc.status_code, code, str(exc.detail), {}
    assert isinstance(exc, exceptions.APIException)
    return exc.status_code, "bad_request", str(exc.detail), {}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: DRF's own answer (for its headers: Allow, Retry-After,
    WWW-Authenticate), with its body replaced by a problem. An error DRF does not know is a
    bug: logged with its traceback, as Django logs a page's, and answered with a 500 problem
    (a program reading problem+json gets one to read, not an HTML page)."""
    response = exception_handler(exc, context)
    if response is None and not isinstance(exc, Problem):
        request = context.get("request")
        logger.error(
            "API error: %s %s",
            getattr(request, "method", ""),
            getattr(request, "path", ""),
            exc_info=exc,
        )
        return problem_response(
            500,
            "server_error",
            _(
                "Der skete en fejl i portalen. Prøv igen om lidt (en upload med samme "
                "Idempotency-Key); sker det igen, så kontakt portalens administrator med "
                "tidspunktet."
            ),
        )
    status_code, code, detail, extra = _code_and_detail(exc)
    problem = problem_response(status_code, code, detail, **extra)
    if response is not None:
        for header in ("Allow", "Retry-After", "WWW-Authenticate"):
            if header in response:
                problem[header] = response[header]
    if status_code == status.HTTP_401_UNAUTHORIZED and "WWW-Authenticate" not in problem:
        problem["WWW-Authenticate"] = 'Bearer realm="api"'
    return problem
