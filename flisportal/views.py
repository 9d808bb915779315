from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from deliveries.selectors import start_overview
from deliveries.uploads import upload_url_for
from flisportal import health
from flisportal.lib.roles import Role, user_role

START_TEMPLATES = {
    Role.ADMINISTRATOR: "flisportal/start_administrator.html",
    Role.VENDOR: "flisportal/start_vendor.html",
    Role.CONSULTANT: "flisportal/start_consultant.html",
    Role.NONE: "flisportal/start_none.html",
}


@login_required
@require_GET
def start(request: HttpRequest) -> HttpResponse:
    """Everyone lands here after login and sees the start page of their role: what is still
    owed this month and which deliveries need a person, within what the role may see."""
    role = user_role(request.user)
    context = {}
    if role != Role.NONE:
        context = {
            "overview": start_overview(request.user),
            "upload_url": upload_url_for(request.user),
        }
    return render(request, START_TEMPLATES[role], context)


@login_required
@require_GET
def drift_status(request: HttpRequest) -> HttpResponse:
    """Driftsstatus: whether the machinery works, for administrators, with what to do when it
    does not. A Redis that does not answer is shown on the page, not raised."""
    if user_role(request.user) != Role.ADMINISTRATOR:
        raise Http404
    return render(request, "flisportal/drift.html", {"status": health.drift_status()})


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """For a load balancer or monitoring, without login: 200 when the database answers a
    trivial query and Redis answers PING, else 503 saying which. No host names, no errors:
    anyone may ask."""
    database = health.database_answers()
    redis = health.redis_answers()
    if database and redis:
        return JsonResponse({"status": "ok"})
    return JsonResponse(
        {
            "status": "fejl",
            "database": "ok" if database else "fejl",
            "redis": "ok" if redis else "fejl",
        },
        status=503,
    )


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse(loader.render_to_string("404.html", request=request), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the database may be the reason we are here.
    return HttpResponse(loader.render_to_string("500.html"), status=500)
