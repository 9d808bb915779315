"""What administrators see of the stand-in: its decisions in the admin (read-only); its error
codes are checked against docs/design/protocol.md by tests/test_docs.py."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from deliveries.serviceplatform.errors import PlatformError
from deliveries.serviceplatform.models import PlatformDecision, PlatformOutcome
from routes.models import Endpoint, User


@pytest.fixture
def decision(db: None) -> PlatformDecision:
    return PlatformDecision.objects.create(
        endpoint=Endpoint.objects.get(slug="lokal"),
        sender_username="LEV-A_FLIS_SFTP",
        trigger_name="a.csv.trigger",
        file_name="a.csv",
        senders_file_id="id-1",
        file_transfer_uuid="6d8d5028-9c1d-43fb-bdcf-d11cd78e61c3",
        outcome=PlatformOutcome.REFUSED,
        error_codes=[202],
        message="OUT/a.csv findes ikke.",
        receipt_xml="<x/>",
    )


def test_admin_lists_and_shows_decisions_read_only(
    client: Client, admin_user: User, decision: PlatformDecision
) -> None:
    client.force_login(admin_user)
    listing = client.get(reverse("admin:serviceplatform_platformdecision_changelist"))
    assert listing.status_code == 200
    assert "a.csv" in listing.content.decode()
    detail = client.get(
        reverse("admin:serviceplatform_platformdecision_change", args=[decision.pk])
    )
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.content.decode()
    assert client.get(reverse("admin:serviceplatform_platformdecision_add")).status_code == 403
    delete_url = reverse("admin:serviceplatform_platformdecision_delete", args=[decision.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert PlatformDecision.objects.filter(pk=decision.pk).exists()


def test_admin_shows_a_distribution_in_progress_by_its_danish_label(
    client: Client, admin_user: User, decision: PlatformDecision
) -> None:
    PlatformDecision.objects.filter(pk=decision.pk).update(
        outcome=PlatformOutcome.DISTRIBUTING, error_codes=[], recipients=["FLIS_HENT"]
    )
    client.force_login(admin_user)
    url = reverse("admin:serviceplatform_platformdecision_changelist")
    listing = client.get(url, {"outcome__exact": PlatformOutcome.DISTRIBUTING})
    assert listing.status_code == 200
    assert listing.context["cl"].result_count == 1
    page = listing.content.decode()
    assert "under distribution" in page  # the row's outcome and the filter's choice
    assert client.get(url, {"outcome__exact": "distributed"}).context["cl"].result_count == 0


def test_non_staff_cannot_see_decisions(
    client: Client, vendor_a_user: User, decision: PlatformDecision
) -> None:
    client.force_login(vendor_a_user)
    response = client.get(reverse("admin:serviceplatform_platformdecision_changelist"))
    assert response.status_code == 302  # to the admin login


def test_error_codes_are_unique() -> None:
    codes = [error.code for error in PlatformError]
    assert len(codes) == len(set(codes))
    assert PlatformError.by_code(203) is PlatformError.SIZE_MISMATCH
