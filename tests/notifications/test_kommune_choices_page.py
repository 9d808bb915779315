"""Notifikationer for a consultant of several kommuner: below the general choices, a table of
kommune × event with «som generelt» first; saved with the same post, for the person's own
kommuner only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from flisportal.notifications.models import (
    NotificationKommuneChoice,
    NotificationPreference,
)
from routes.models import Kommune, User
from tests import factories

pytestmark = pytest.mark.django_db

URL = reverse("notifications:preferences")
GENERAL = {"cadence": "immediate", "event-rejected": "off"}


@pytest.fixture
def team(kommune_kbh, kommune_aarhus) -> User:
    return factories.consultant(kommune_kbh, kommune_aarhus, username="team", email="t@lis.dk")


def field(kommune: Kommune, event: str) -> str:
    return f"kommune-{kommune.pk}-{event}"


def saved() -> set[tuple[str, str, str]]:
    return set(NotificationKommuneChoice.objects.values_list("kommune__code", "event", "choice"))


def test_a_consultant_of_two_kommuner_sees_a_choice_per_kommune_and_event(
    client, team, kommune_aarhus
):
    # Rule: every cell starts at «som generelt» (no row), named by kommune and event.
    client.force_login(team)
    html = client.get(URL).content.decode()
    assert "Valg for den enkelte kommune" in html
    assert f'name="{field(kommune_aarhus, "rejected")}"' in html
    assert 'aria-label="Aarhus Kommune: afvist ved validering"' in html
    assert '<option value="" selected>som generelt</option>' in html


def test_choices_per_kommune_are_saved_with_the_general_ones_and_shown_again(
    client, team, kommune_kbh, kommune_aarhus
):
    client.force_login(team)
    data = {**GENERAL, field(kommune_aarhus, "rejected"): "immediate"}
    response = client.post(URL, data, follow=True)
    assert "Dit valg er gemt." in response.content.decode()
    assert NotificationPreference.objects.get(user=team).rejected == "off"
    assert saved() == {("751", "rejected", "immediate")}
    html = client.get(URL).content.decode()
    assert '<option value="immediate" selected>straks</option>' in html
    # «Som generelt» again removes the kommune's own choice; a change updates it.
    client.post(
        URL,
        {**GENERAL, field(kommune_aarhus, "rejected"): "", field(kommune_kbh, "fetched"): "digest"},
    )
    assert saved() == {("101", "fetched", "digest")}
    client.post(URL, {**GENERAL, field(kommune_kbh, "fetched"): "off"})
    assert saved() == {("101", "fetched", "off")}


def test_a_post_without_the_table_keeps_the_kommune_choices(client, team, kommune_aarhus):
    # Rule: a field left out (a page from before the table) keeps what was chosen.
    NotificationKommuneChoice.objects.create(
        user=team, kommune=kommune_aarhus, event="rejected", choice="digest"
    )
    client.force_login(team)
    assert client.post(URL, GENERAL).status_code == 302
    assert saved() == {("751", "rejected", "digest")}


@pytest.mark.parametrize("covers", ["two", "one"])
def test_a_forged_choice_for_a_kommune_not_theirs_is_refused_and_nothing_saved(
    client, team, consultant_user, kommune_aarhus, covers
):
    # Rule: only the person's own kommuner; a posted kommune outside them is refused with 400
    # and a message, and neither it nor the rest of the post is saved.
    odense = factories.kommune("461")
    user = team if covers == "two" else consultant_user
    client.force_login(user)
    forged = {"cadence": "digest", field(odense, "rejected"): "immediate"}
    response = client.post(URL, forged)
    assert response.status_code == 400
    assert "Du kan kun vælge notifikationer for dine egne kommuner." in response.content.decode()
    assert saved() == set()
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_a_consultant_of_one_kommune_gets_no_table(client, consultant_user, kommune_kbh):
    # Rule: with one kommune the general choice is the kommune's; nothing more is offered, and a
    # cell for it posted anyway is refused rather than stored out of sight.
    client.force_login(consultant_user)
    response = client.get(URL)
    assert response.context["per_kommune"] is None
    assert "Valg for den enkelte kommune" not in response.content.decode()
    assert client.post(URL, {field(kommune_kbh, "rejected"): "off"}).status_code == 400
    assert saved() == set()


def test_a_kommune_choice_left_from_when_there_were_more_kommuner_stays_in_sight(
    client, team, kommune_kbh, kommune_aarhus
):
    # Rule: a choice still decides the mails, so it is never hidden: a consultant who is down
    # to one kommune still sees (and can undo) the choice made for it.
    NotificationKommuneChoice.objects.create(
        user=team, kommune=kommune_kbh, event="rejected", choice="off"
    )
    team.kommuner.remove(kommune_aarhus)
    client.force_login(team)
    response = client.get(URL)
    assert "Valg for den enkelte kommune" in response.content.decode()
    client.post(URL, {**GENERAL, field(kommune_kbh, "rejected"): ""})
    assert saved() == set()


def test_the_page_with_kommune_choices_takes_the_same_queries(
    client, team, kommune_aarhus, django_assert_num_queries
):
    # Rule: the kommune choices come with the kommune names (session, user, role, preference,
    # kommuner with their choices), as many queries as the page without them.
    for event in ("rejected", "fetched"):
        NotificationKommuneChoice.objects.create(
            user=team, kommune=kommune_aarhus, event=event, choice="digest"
        )
    client.force_login(team)
    with django_assert_num_queries(5):
        assert client.get(URL).status_code == 200
