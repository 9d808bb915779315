"""Every page names the portal's own favicon (an SVG among its static files, no CDN)."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_pages_link_the_portals_own_svg_favicon(client):
    page = client.get(reverse("login")).content.decode()
    assert (
        f'<link rel="icon" href="{static("flisportal/favicon.svg")}" type="image/svg+xml">' in page
    )
    found = finders.find("flisportal/favicon.svg")
    assert found, "the favicon is not among the static files"
    with open(found, encoding="utf-8") as svg:
        assert svg.read().startswith('<svg xmlns="http://www.w3.org/2000/svg"')
