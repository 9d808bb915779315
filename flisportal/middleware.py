from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import Resolver404, get_resolver, resolve
from django.utils import translation


class ChosenLanguageMiddleware:
    """Danish unless the user picked another language with the language switch.

    Django's LocaleMiddleware would follow the browser's Accept-Language, so a caseworker
    with an English browser would get a half-English portal they never asked for.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.available = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        language = chosen if chosen in self.available else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", language)
        return response


class SecurityHeadersMiddleware:
    """A strict Content-Security-Policy: only the portal's own scripts, styles and images.

    Inline scripts and styles are refused, so an injected file name or CSV value cannot run.
    """

    POLICY = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'self'; object-src 'none'"
    )

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # The Django admin and the queue dashboard use inline scripts of their own.
        if not request.path.startswith("/admin/"):
            response.headers.setdefault("Content-Security-Policy", self.POLICY)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        return response


class PortalNotFoundMiddleware:
    """The portal's own Danish 404 page with DEBUG on, unless FLISPORTAL_TECHNICAL_404.

    With DEBUG Django answers every 404 with its technical page (English, listing every URL
    pattern) and never calls handler404, so a user of `make run` who opens a page outside
    their scope sees a developer's page. Django converts a 404 to its response before an
    outer middleware sees it: a path nothing matches is found here by resolving it first, a
    view's Http404 in `process_exception`. Sits after the authentication middleware, so the
    page has its menu, and inside CommonMiddleware, which still adds the missing slash.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @staticmethod
    def _active() -> bool:
        return settings.DEBUG and not settings.TECHNICAL_404

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._active():
            try:
                resolve(request.path_info, urlconf=getattr(request, "urlconf", None))
            except Resolver404 as exc:
                return self._not_found(request, exc)
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if self._active() and isinstance(exception, Http404):
            return self._not_found(request, exception)
        return None

    @staticmethod
    def _not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
        # handler404 of the URLconf (flisportal.urls), the page production shows.
        # django-stubs types the handler as taking the request only; a 404 handler takes both.
        handler = cast(
            Callable[[HttpRequest, Exception], HttpResponse],
            get_resolver(getattr(request, "urlconf", None)).resolve_error_handler(404),
        )
        return handler(request, exception)
