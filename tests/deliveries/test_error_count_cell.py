"""The «Fejl» column beside a delivery's status on the lists (the delivery list, the start pages'
«Kræver handling»): the validator's count where it says something, «–» with the reason where it
does not (`Delivery.error_count_note`). A delivery the Serviceplatform refused, or whose push
failed, passed validation with 0 errors, and «0» beside «afvist»/«fejlet» read as "turned down
with no errors"."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from deliveries.lifecycle.states import DeliveryStatus
from deliveries.models import Delivery
from routes.models import Route
from tests import factories

pytestmark = pytest.mark.django_db

S = DeliveryStatus
STOPPED_NOTE = "Ikke stoppet af fejl i rækkerne – årsagen står på leverancens side"
NOT_YET_NOTE = "Tælles, når valideringen er færdig"
# The pages with the column, and each delivery's cell on them: the last cell of its row on the
# list, the seventh on the start page (an upload button may follow it there).
PAGES = {"deliveries:list": -1, "front:start": 6}


def error_cells(client, user, url_name: str) -> list[str]:
    """The «Fejl» cell of each delivery row of the page, newest first, as written."""
    client.force_login(user)
    response = client.get(reverse(url_name))
    assert response.status_code == 200
    html = response.content.decode()
    if url_name == "front:start":  # its deliveries' table is the one under «Kræver handling»
        html = html[html.index('id="problems-heading"') :]
    body = html[html.index("<tbody>") : html.index("</tbody>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    return [row[PAGES[url_name]].strip() for row in cells]


def push_failed(route: Route) -> Delivery:
    """Validated without errors, then given up on by the push."""
    return factories.delivery(route, status=S.FAILED, validated_at=timezone.now(), push_attempts=5)


@pytest.mark.parametrize("url_name", PAGES)
@pytest.mark.parametrize("status", [S.REFUSED, S.FAILED])
def test_a_delivery_stopped_by_something_else_than_its_rows_shows_a_dash_with_the_reason(
    client, upload_route, vendor_a_user, url_name, status
):
    # Refused by the platform, or failed in the push: the validator found no errors, so the
    # column says where the reason is instead of «0».
    if status == S.FAILED:
        push_failed(upload_route)
    else:
        factories.delivery(upload_route, status=status, push_attempts=1)
    [cell] = error_cells(client, vendor_a_user, url_name)
    assert cell == (
        f'<span class="count-note" title="{STOPPED_NOTE}" aria-hidden="true">–</span>'
        f'<span class="visually-hidden">{STOPPED_NOTE}</span>'
    )


@pytest.mark.parametrize("url_name", PAGES)
def test_a_validation_rejection_shows_its_number_of_errors(
    client, upload_route, vendor_a_user, url_name
):
    # The count is what the rejection is about: kept, grouped as on the rest of the portal.
    factories.delivery(upload_route, status=S.REJECTED, error_count=1234)
    assert error_cells(client, vendor_a_user, url_name) == ["1.234"]


@pytest.mark.parametrize("status", [S.VALID, S.PUSHING, S.SENT, S.DISTRIBUTED, S.FETCHED], ids=str)
def test_a_delivery_that_passed_validation_and_goes_on_shows_its_zero(
    client, upload_route, vendor_a_user, status
):
    # 0 errors is the validator's word on a delivery on its way or delivered: it stays.
    factories.delivery(upload_route, status=status)
    assert error_cells(client, vendor_a_user, "deliveries:list") == ["0"]


@pytest.mark.parametrize("status", [S.RECEIVED, S.VALIDATING], ids=str)
def test_a_delivery_not_yet_validated_shows_a_dash_until_it_is_counted(
    client, upload_route, vendor_a_user, status
):
    # The count is written when validation ends; before that «0» would promise a clean file.
    factories.delivery(upload_route, status=status)
    [cell] = error_cells(client, vendor_a_user, "deliveries:list")
    assert f'title="{NOT_YET_NOTE}"' in cell and ">–<" in cell


def test_the_list_and_the_start_page_write_the_same_cells(client, upload_route, vendor_a_user):
    # The list writes its rows in Python (deliveries/rows.py), the start page through the
    # partial: one rule and one markup for both, row by row (newest first on both).
    push_failed(upload_route)
    factories.delivery(upload_route, status=S.REFUSED, push_attempts=1)
    factories.delivery(upload_route, status=S.REJECTED, error_count=3)
    listed = error_cells(client, vendor_a_user, "deliveries:list")
    on_start = error_cells(client, vendor_a_user, "front:start")
    assert listed == on_start
    assert [">–<" in cell for cell in listed] == [False, True, True]


def test_every_status_is_decided():
    # A new status must say whether its count means something; this table is the decision.
    shown = {status: Delivery(status=status).error_count_note for status in S}
    assert shown == {
        S.RECEIVED: NOT_YET_NOTE,
        S.VALIDATING: NOT_YET_NOTE,
        S.VALID: "",
        S.REJECTED: "",
        S.PUSHING: "",
        S.SENT: "",
        S.DISTRIBUTED: "",
        S.REFUSED: STOPPED_NOTE,
        S.FETCHED: "",
        S.FAILED: STOPPED_NOTE,
    }


def test_the_reason_is_in_english_for_an_english_reader(client, upload_route, vendor_a_user):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    factories.delivery(upload_route, status=S.REFUSED, push_attempts=1)
    [cell] = error_cells(client, vendor_a_user, "deliveries:list")
    english_note = "Not stopped by errors in the rows – the reason is on the delivery&#x27;s page"
    assert f'title="{english_note}"' in cell
