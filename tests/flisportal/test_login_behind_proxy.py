"""The login lockout behind a reverse proxy, through the login page: clients are told apart by
the address our proxy saw (FLISPORTAL_TRUSTED_PROXY_COUNT), and an address has a limit of its own
across user names (FLISPORTAL_LOGIN_FAILURES_PER_ADDRESS)."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db

PROXY = "10.0.0.2"  # every request reaches the portal from here
ATTACKER = "198.51.100.66"
VICTIM = "203.0.113.9"
VENDOR_A_PASSWORD = "pw-vendor-a-1234"


def login(client, username, password, *, forwarded, remote=PROXY):
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR=forwarded,
    )


@pytest.fixture
def behind_one_proxy(settings):
    settings.FLISPORTAL_TRUSTED_PROXY_COUNT = 1
    settings.AXES_FAILURE_LIMIT = 3
    settings.FLISPORTAL_LOGIN_FAILURES_PER_ADDRESS = 20
    return settings


def test_an_attacker_behind_the_same_proxy_cannot_lock_out_another_clients_user(
    client, vendor_a_user, behind_one_proxy
):
    # Rule: the lock is on the user name from the client's address, not from the proxy's.
    for _ in range(3):
        login(client, "vendor-a", "forkert", forwarded=ATTACKER)
    assert login(client, "vendor-a", VENDOR_A_PASSWORD, forwarded=ATTACKER).status_code == 429
    response = login(client, "vendor-a", VENDOR_A_PASSWORD, forwarded=VICTIM)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(vendor_a_user.pk)


def test_a_forged_forwarded_chain_cannot_pick_the_victims_address(
    client, vendor_a_user, behind_one_proxy
):
    # Rule: hops left of what our one proxy appended were written by the client and are not
    # read: the attacker writing the victim's address there still locks only itself.
    forged = f"{VICTIM}, {ATTACKER}"
    for _ in range(3):
        login(client, "vendor-a", "forkert", forwarded=forged)
    assert login(client, "vendor-a", VENDOR_A_PASSWORD, forwarded=ATTACKER).status_code == 429
    assert login(client, "vendor-a", VENDOR_A_PASSWORD, forwarded=VICTIM).status_code == 302


def test_spraying_many_user_names_from_one_address_gets_locked(
    client, vendor_a_user, behind_one_proxy
):
    # Rule: one try each at 50 user names is stopped at the address's limit (20), and then the
    # address is refused even with a right password; other addresses are not.
    answers = [
        login(client, f"bruger-{n}", "Sommer2026!", forwarded=ATTACKER).status_code
        for n in range(50)
    ]
    assert answers[:19] == [200] * 19
    assert set(answers[19:]) == {429}
    locked = login(client, "vendor-a", VENDOR_A_PASSWORD, forwarded=ATTACKER)
    assert locked.status_code == 429
    page = locked.content.decode()
    assert "fra jeres netværksadresse, også med andre brugernavne" in page
    assert "bed en administrator af FLIS-portalen om at ophæve spærringen" in page
    assert login(client, "vendor-a", VENDOR_A_PASSWORD, forwarded=VICTIM).status_code == 302


def test_an_administrator_lifts_an_address_lock_with_axes_reset_ip(
    client, vendor_a_user, behind_one_proxy
):
    # Rule: the remedy the lockout page and the deployment docs name works for the address lock.
    for n in range(20):
        login(client, f"bruger-{n}", "Sommer2026!", forwarded=VICTIM)
    assert login(client, "vendor-a", VENDOR_A_PASSWORD, forwarded=VICTIM).status_code == 429
    call_command("axes_reset_ip", VICTIM, stdout=StringIO())
    assert login(client, "vendor-a", VENDOR_A_PASSWORD, forwarded=VICTIM).status_code == 302


def test_one_colleagues_typos_do_not_lock_the_whole_nat_address(
    client, vendor_a_user, vendor_b_user, behind_one_proxy
):
    # Rule: a user name counts towards the address's limit at most as often as its own lock
    # allows, so a colleague hammering a locked account (25 tries) leaves the office's address
    # open; they get the page for their own lock, which does not speak of the address.
    for _ in range(25):
        last = login(client, "vendor-b", "forkert", forwarded=VICTIM)
    assert last.status_code == 429
    assert "netværksadresse" not in last.content.decode()
    assert login(client, "vendor-a", VENDOR_A_PASSWORD, forwarded=VICTIM).status_code == 302


def test_without_proxies_a_forwarded_header_is_ignored(client, vendor_a_user, settings):
    # Rule: FLISPORTAL_TRUSTED_PROXY_COUNT=0 means REMOTE_ADDR is the client; a header a client
    # sends cannot move it to another address's allowance.
    settings.FLISPORTAL_TRUSTED_PROXY_COUNT = 0
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        login(client, "vendor-a", "forkert", forwarded=f"192.0.2.{n}", remote=ATTACKER)
    refused = login(client, "vendor-a", VENDOR_A_PASSWORD, forwarded=VICTIM, remote=ATTACKER)
    assert refused.status_code == 429
