"""The Notifikationer page: every person chooses immediate mails or the daily digest; a kommune
consultant also chooses, per event of their kommuner, no mail, immediately or the digest, and
reads what each choice sends with an example subject."""

from __future__ import annotations

import pytest
from django.urls import reverse

from flisportal.notifications.models import EventChoice, NotificationPreference
from tests import factories

pytestmark = pytest.mark.django_db

URL = reverse("notifications:preferences")
EVENTS = ("overdue", "rejected", "refused", "fetched", "route_changed")


def test_consultant_sees_each_event_with_what_it_sends_and_the_defaults(client, consultant_user):
    # Rule: a consultant who never chose is shown the defaults (overdue, rejected, refused at
    # their general cadence; fetched and route changes off), and the page says so.
    client.force_login(consultant_user)
    response = client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Hvad du får besked om for dine kommuner" in html
    assert "Dine valg gælder for: Københavns Kommune." in html
    assert "Leverance afvist: Dagtilbud, Københavns Kommune, 2026-10" in html  # an example subject
    assert "Har du ikke valgt endnu" in html
    initial = {row["field"].name: row["field"].value() for row in response.context["events"].rows()}
    assert initial == {
        "overdue": "immediate",
        "rejected": "immediate",
        "refused": "immediate",
        "fetched": "off",
        "route_changed": "off",
    }


def test_consultant_saves_a_choice_per_event(client, consultant_user):
    client.force_login(consultant_user)
    data = {"cadence": "immediate", **{f"event-{e}": "digest" for e in EVENTS}}
    data["event-overdue"] = "off"
    data["event-rejected"] = "immediate"
    assert client.post(URL, data).status_code == 302
    preference = NotificationPreference.objects.get(user=consultant_user)
    assert (preference.overdue, preference.rejected, preference.fetched) == (
        "off",
        "immediate",
        "digest",
    )
    assert preference.route_changed == EventChoice.DIGEST
    # What was saved is what the page shows next time.
    rows = client.get(URL).context["events"].rows()
    assert {row["field"].name: row["field"].value() for row in rows}["overdue"] == "off"
    # A value that is not a choice is refused and nothing changes.
    bad = {**data, "event-fetched": "hourly"}
    assert client.post(URL, bad).status_code == 200
    assert NotificationPreference.objects.get().fetched == "digest"


@pytest.mark.parametrize("persona", ["vendor_a_user", "admin_user"])
def test_other_roles_get_no_consultant_choices_and_cannot_set_them(client, persona, request):
    # Rule: only consultants hear of their kommuner's events; the page neither shows the choices
    # to others nor stores them if posted.
    user = request.getfixturevalue(persona)
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    assert response.context["events"] is None
    assert "Hvad du får besked om for dine kommuner" not in response.content.decode()
    assert client.post(URL, {"cadence": "digest", "event-fetched": "immediate"}).status_code == 302
    preference = NotificationPreference.objects.get(user=user)
    assert (preference.cadence, preference.fetched) == ("digest", "")


def test_the_page_needs_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("kommuner", [1, 6])
def test_the_page_takes_the_same_queries_however_many_kommuner(
    client, django_assert_num_queries, kommuner
):
    # Rule: no query per kommune (a consultant of a whole region).
    codes = ["101", "147", "751", "461", "561", "851"][:kommuner]
    user = factories.consultant(*[factories.kommune(code) for code in codes])
    NotificationPreference.objects.create(user=user, fetched="digest")
    client.force_login(user)
    # session, user, role (kommuner exist), preference, kommune names
    with django_assert_num_queries(5):
        assert client.get(URL).status_code == 200
