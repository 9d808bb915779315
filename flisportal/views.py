from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.http import require_GET

from deliveries.selectors import start_overview
from deliveries.views import upload_url_for
from routes.models import Role, user_role

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


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse(loader.render_to_string("404.html", request=request), status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    # No context processors: the database may be the reason we are here.
    return HttpResponse(loader.render_to_string("500.html"), status=500)
