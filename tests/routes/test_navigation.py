"""Each role's start page and menu lead to its pages, and only to those."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("persona", "present", "absent"),
    [
        (
            "admin_user",
            [
                "routes:route_orders",
                "front:coverage",
                "front:trends",
                "routes:vendor_overview",
                "routes:route_bulk_order",
                "routes:route_bulk_transition",
            ],
            [],
        ),
        (
            "consultant_user",
            ["front:coverage", "front:trends"],
            ["routes:route_orders", "routes:vendor_overview"],
        ),
        (
            "vendor_a_user",
            ["routes:vendor_overview"],
            ["routes:route_orders", "front:coverage", "front:trends"],
        ),
    ],
)
def test_start_page_and_menu_link_to_the_roles_pages(client, request, persona, present, absent):
    client.force_login(request.getfixturevalue(persona))
    html = client.get(reverse("front:start")).content.decode()
    for name in present:
        assert f'href="{reverse(name)}"' in html, name
    for name in absent:
        assert f'href="{reverse(name)}"' not in html, name
