"""«Kontrollér uden at sende» on the upload page and the check's own page: the same form and the
same refusals as an upload, a check instead of a delivery, the report shown as a delivery's is
under a banner that nothing was sent, the report as CSV, and 404 for anyone but its maker."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deliveries import jobs
from deliveries.forms import CHECK_BUTTON
from deliveries.models import DataContract, Delivery, FileCheck, FileCheckStatus
from deliveries.services import CHECK_JOB
from tests import factories
from tests.factories import dagtilbud_csv, dagtilbud_row

pytestmark = pytest.mark.django_db
URL = reverse("deliveries:upload")
BANNER = "Kun kontrolleret — intet er sendt."


def form_data(route, content: bytes, *, name: str = "udtraek.csv", **extra):
    """The upload form as «Kontrollér uden at sende» posts it."""
    return {
        "route": route.pk,
        "period": "2026-10",
        "file": SimpleUploadedFile(name, content, content_type="text/csv"),
        CHECK_BUTTON: "Kontrollér uden at sende",
        **extra,
    }


@pytest.fixture
def enqueued(monkeypatch):
    """The jobs put on the queues, as (queue, job name, args), instead of on Redis."""
    jobs_seen: list[tuple[str, str, tuple]] = []
    monkeypatch.setattr(
        "flisportal.lib.queues.django_rq.get_queue",
        lambda name: type(
            "Q", (), {"enqueue": lambda self, f, *a, **_options: jobs_seen.append((name, f, a))}
        )(),
    )
    return jobs_seen


@pytest.fixture
def vendor_client(client, vendor_a_user, upload_route, private_media):
    client.force_login(vendor_a_user)
    return client


@pytest.fixture
def checked(vendor_client, upload_route, enqueued, django_capture_on_commit_callbacks):
    """Posts `content` with the check button and runs the queued check; returns the check."""

    def post(content: bytes) -> FileCheck:
        with django_capture_on_commit_callbacks(execute=True):
            response = vendor_client.post(URL, form_data(upload_route, content))
        assert response.status_code == 302, response.context["form"].errors
        jobs.check_file(FileCheck.objects.get(uuid=response.url.split("/")[-2]).pk)
        return FileCheck.objects.get(uuid=response.url.split("/")[-2])

    return post


def test_the_check_button_makes_a_check_not_a_delivery(
    vendor_client, vendor_a_user, upload_route, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = vendor_client.post(
            URL, form_data(upload_route, dagtilbud_csv(rows_ok=2).encode())
        )
    check = FileCheck.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("deliveries:check", args=[check.uuid])
    assert (check.user, check.route, check.status) == (
        vendor_a_user,
        upload_route,
        FileCheckStatus.CHECKING,
    )
    assert not Delivery.objects.exists()
    # Checked by a worker on the validation queue, like a delivery; nothing for the push.
    assert enqueued == [("validation", CHECK_JOB, (check.pk,))]


def test_the_upload_page_offers_the_check_button(vendor_client):
    body = vendor_client.get(URL).content.decode()
    assert f'name="{CHECK_BUTTON}"' in body
    assert "Kontrollér uden at sende" in body


def test_xhr_check_answers_with_the_checks_page(vendor_client, upload_route, enqueued):
    response = vendor_client.post(
        URL,
        form_data(upload_route, dagtilbud_csv(rows_ok=1).encode()),
        headers={"X-Requested-With": "XMLHttpRequest"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "redirect": reverse("deliveries:check", args=[FileCheck.objects.get().uuid])
    }


def test_a_valid_file_shows_no_errors_under_the_banner(checked, vendor_client, enqueued):
    check = checked(dagtilbud_csv(rows_ok=3).encode())
    response = vendor_client.get(reverse("deliveries:check", args=[check.uuid]))
    body = response.content.decode()
    assert response.status_code == 200
    assert BANNER in body
    assert "Ingen fejl: alle 3 rækker følger kontrakten." in body
    assert f"{URL}?kontrol={check.uuid}" in body  # «Send denne fil»
    assert "Refresh" not in response
    # Nothing but the check itself was ever queued: no push.
    assert [queue for queue, _job, _args in enqueued] == ["validation"]
    assert not Delivery.objects.exists()


def test_an_invalid_file_shows_the_report_as_a_delivery_page_does(checked, vendor_client):
    rows = [dagtilbud_row(10 + i, pladstype="halv") for i in range(3)]
    check = checked(dagtilbud_csv(*rows, rows_ok=1).encode())
    assert check.status == FileCheckStatus.INVALID
    response = vendor_client.get(reverse("deliveries:check", args=[check.uuid]))
    body = response.content.decode()
    assert BANNER in body
    assert "3 fejl i alt; de første 3 er listet." in body
    assert reverse("deliveries:check_report_csv", args=[check.uuid]) in body
    assert body.count("<td><code>halv</code></td>") == 3
    # The row numbers are a spreadsheet's (header = row 1), said above the listed errors: with
    # 4 data rows checked, an error in «række 5» would otherwise look like a row too many.
    assert "Rækkerne er nummereret som i et regneark: overskriften er række 1" in body
    # The rule in words (deliveries.rules), its code small beside it, as on a delivery's page.
    assert '<a href="?regel=enum">Et af' in body
    assert '<code class="small text-muted">enum</code>' in body
    # The rule filter narrows the listed issues, as on a delivery's page.
    narrowed = vendor_client.get(reverse("deliveries:check", args=[check.uuid]), {"regel": "x"})
    assert "<td><code>halv</code></td>" not in narrowed.content.decode()


def test_the_report_downloads_as_csv(checked, vendor_client):
    check = checked(dagtilbud_csv(dagtilbud_row(10, pladstype="halv"), rows_ok=1).encode())
    response = vendor_client.get(reverse("deliveries:check_report_csv", args=[check.uuid]))
    assert response.status_code == 200
    assert f"kontrolrapport-{check.uuid}.csv" in response["Content-Disposition"]
    lines = b"".join(response.streaming_content).decode("utf-8-sig").splitlines()
    assert lines[0] == "række;kolonne;værdi;regel;beskrivelse;besked"
    assert lines[1].startswith("3;pladstype;halv;enum;")


def test_a_check_in_progress_reloads_itself(vendor_client, upload_route, enqueued):
    vendor_client.post(URL, form_data(upload_route, dagtilbud_csv(rows_ok=1).encode()))
    check = FileCheck.objects.get()
    response = vendor_client.get(reverse("deliveries:check", args=[check.uuid]))
    assert response["Refresh"] == "3"
    body = response.content.decode()
    assert "Filen kontrolleres nu mod kontrakten." in body
    assert "Send denne fil" not in body


def test_a_check_in_progress_does_not_say_the_file_was_checked(
    vendor_client, upload_route, enqueued
):
    """Rule: while the check runs, the banner says what will happen, not that the file has been
    checked and deleted (the page under it says the check is still running)."""
    vendor_client.post(URL, form_data(upload_route, dagtilbud_csv(rows_ok=1).encode()))
    check = FileCheck.objects.get()
    assert check.status == FileCheckStatus.CHECKING

    body = vendor_client.get(reverse("deliveries:check", args=[check.uuid])).content.decode()

    assert BANNER not in body
    assert "Filen er kontrolleret mod kontrakten" not in body
    assert "Kun kontrol — intet sendes." in body
    # No row has been checked yet: not «0», which reads as an empty file.
    assert '<dd class="col-7" id="check-rows">–</dd>' in body
    assert "Filen kontrolleres mod kontrakten, men bliver ikke en leverance" in body


@pytest.mark.parametrize("who", ["vendor_b", "colleague", "consultant", "admin"])
def test_only_the_checks_maker_sees_it(checked, client, vendor_a, who, kommune_kbh):
    """A check is its maker's own: another vendor, a colleague of the same vendor, a kommune's
    consultant and an administrator all get 404 for the page, the CSV and «Send denne fil»."""
    check = checked(dagtilbud_csv(rows_ok=1).encode())
    other = {
        "vendor_b": lambda: factories.vendor_staff(factories.vendor("B"), username="b2"),
        "colleague": lambda: factories.vendor_staff(vendor_a, username="a2"),
        "consultant": lambda: factories.consultant(kommune_kbh, username="k2"),
        "admin": lambda: factories.admin("admin2"),
    }[who]()
    client.force_login(other)
    assert client.get(reverse("deliveries:check", args=[check.uuid])).status_code == 404
    assert client.get(reverse("deliveries:check_report_csv", args=[check.uuid])).status_code == 404
    if who != "consultant":  # a consultant may not open the upload page at all (404 too)
        assert client.get(URL, {CHECK_BUTTON: str(check.uuid)}).status_code == 404


def test_send_this_file_fills_in_the_upload_form(checked, vendor_client, upload_route):
    check = checked(dagtilbud_csv(rows_ok=1).encode())
    response = vendor_client.get(URL, {CHECK_BUTTON: str(check.uuid)})
    assert response.status_code == 200
    form = response.context["form"]
    assert form.initial["route"] == upload_route.pk
    assert form.initial["period"] == "2026-10"
    assert "Vælg filen igen nedenfor" in response.content.decode()


def test_a_check_that_could_not_run_offers_no_send_and_does_not_say_it_was_checked(
    checked, vendor_client, upload_route
):
    """Rule: a file that could not be checked (here: no contract for its area) is not offered
    for sending, which would fail the same way, and the banner does not claim a check ran."""
    DataContract.objects.filter(data_area=upload_route.data_area).delete()
    check = checked(dagtilbud_csv(rows_ok=1).encode())
    assert check.status == FileCheckStatus.FAILED

    body = vendor_client.get(reverse("deliveries:check", args=[check.uuid])).content.decode()

    assert BANNER not in body
    assert "Intet er sendt." in body
    assert "Filen kunne ikke kontrolleres, er ikke blevet en leverance" in body
    assert "Filen er kontrolleret mod kontrakten" not in body
    assert 'id="send-checked"' not in body


def test_the_check_page_takes_no_post(checked, vendor_client):
    check = checked(dagtilbud_csv(rows_ok=1).encode())
    assert vendor_client.post(reverse("deliveries:check", args=[check.uuid])).status_code == 405


def test_a_too_large_file_is_refused_as_for_an_upload(vendor_client, upload_route, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    response = vendor_client.post(URL, form_data(upload_route, b"x" * 5000))
    assert response.status_code == 400
    assert response.context["form"].errors["file"] == [
        "Filen er for stor: den største tilladte størrelse er 1000\xa0bytes."
    ]
    assert not FileCheck.objects.exists()


def test_a_zip_is_refused_or_unpacked_as_for_an_upload(vendor_client, upload_route, enqueued):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.csv", "x")
        archive.writestr("b.csv", "y")
    response = vendor_client.post(URL, form_data(upload_route, buffer.getvalue(), name="to.zip"))
    assert response.status_code == 400
    assert "præcis én .csv-fil" in response.context["form"].errors["file"][0]
    assert not FileCheck.objects.exists()

    content = dagtilbud_csv(rows_ok=1).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("udtraek.csv", content)
    response = vendor_client.post(URL, form_data(upload_route, buffer.getvalue(), name="en.zip"))
    assert response.status_code == 302
    assert FileCheck.objects.get().size == len(content)


def test_a_route_the_user_may_not_deliver_on_is_refused_as_for_an_upload(
    client, vendor_b_user, upload_route, private_media
):
    client.force_login(vendor_b_user)
    response = client.post(URL, form_data(upload_route, dagtilbud_csv(rows_ok=1).encode()))
    assert response.status_code == 400
    assert not FileCheck.objects.exists()


def test_a_bad_period_is_refused_with_the_services_message(vendor_client, upload_route):
    data = form_data(upload_route, dagtilbud_csv(rows_ok=1).encode(), period="10-2026")
    response = vendor_client.post(URL, data)
    assert response.status_code == 400
    assert "ÅÅÅÅ-MM" in response.context["form"].errors["period"][0]
    assert not FileCheck.objects.exists()


def test_a_check_is_not_listed_among_deliveries(checked, vendor_client):
    checked(dagtilbud_csv(rows_ok=1).encode())
    body = vendor_client.get(reverse("deliveries:list")).content.decode()
    assert "udtraek.csv" not in body
    assert "Ingen leverancer matcher." in body


def test_skipped_empty_lines_are_said_on_a_checks_page_as_on_a_deliverys(checked, vendor_client):
    # Rule: a check reads its report exactly as a delivery does, notices included: the vendor
    # learns that the trailing empty lines were skipped before sending the file.
    content = (dagtilbud_csv(rows_ok=2) + "\n;;;;\n\n").encode()
    check = checked(content)
    assert check.status == "valid", check.report
    body = vendor_client.get(reverse("deliveries:check", args=[check.uuid])).content.decode()
    assert "tomme linjer blev sprunget over" in body
