"""The administrators' forside: a list of the pages they work in, named in Danish."""

from __future__ import annotations

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_link_to_the_django_admin_is_named_in_danish(admin_client):
    # «Administration (back office)» was English jargon on a Danish page. «Administrationen» is
    # the word the route page's «Registrér aftalen i administrationen» already uses for it
    # (not «Administrationsmodulet»: that is KOMBIT's module on the Serviceplatform).
    html = admin_client.get(reverse("front:start")).content.decode()
    link = f'href="{reverse("admin:index")}">Administrationen: registrets tabeller</a>'
    assert link in html
    assert "back office" not in html
