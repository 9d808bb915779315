"""The client's address behind a configured number of proxies of our own
(flisportal/lib/clientaddr.py): the one answer the lockout and the audit log both use."""

import pytest
from django.test import RequestFactory

from flisportal.lib.clientaddr import client_address, meta_key, pick_client_address

PROXY = "10.0.0.2"


@pytest.mark.parametrize(
    ("forwarded", "trusted", "expected"),
    [
        # No proxies of our own: the connection's address, whatever the header says.
        ("203.0.113.9", 0, PROXY),
        # One proxy: the address it appended, the last of the chain.
        ("203.0.113.9", 1, "203.0.113.9"),
        # Two proxies: the outer one appended the client, the inner one the outer proxy.
        ("203.0.113.9, 10.0.0.1", 2, "203.0.113.9"),
        # IPv6 is written in its short form, so one client has one key.
        ("2001:DB8:0:0::1", 1, "2001:db8::1"),
    ],
)
def test_the_client_is_the_address_our_outermost_proxy_saw(forwarded, trusted, expected):
    got = pick_client_address(remote_addr=PROXY, forwarded=forwarded, trusted_proxies=trusted)
    assert got == expected


def test_hops_the_client_wrote_itself_are_ignored():
    # Rule: a forged X-Forwarded-For with more hops than the proxy count cannot pick an address;
    # only the entries our proxies appended (the rightmost ones) are read.
    forged = "198.51.100.66, 198.51.100.77, 203.0.113.9"
    got = pick_client_address(remote_addr=PROXY, forwarded=forged, trusted_proxies=1)
    assert got == "203.0.113.9"


@pytest.mark.parametrize(
    "forwarded",
    [
        None,  # the request did not come through the proxy
        "203.0.113.9",  # a chain shorter than the two proxies configured
        "not-an-address, 10.0.0.1",  # garbage where the outer proxy's entry should be
    ],
)
def test_a_chain_that_did_not_pass_our_proxies_gives_the_proxy_address(forwarded):
    # Rule: when the chain cannot be trusted the address falls back to REMOTE_ADDR, never to
    # an entry the client could have chosen.
    got = pick_client_address(remote_addr=PROXY, forwarded=forwarded, trusted_proxies=2)
    assert got == PROXY


def test_the_request_helper_reads_the_configured_header(settings):
    settings.FLISPORTAL_TRUSTED_PROXY_COUNT = 1
    settings.FLISPORTAL_FORWARDED_HEADER = "X-Real-Chain"
    request = RequestFactory().get(
        "/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.1", HTTP_X_REAL_CHAIN="203.0.113.9"
    )
    assert client_address(request) == "203.0.113.9"
    settings.FLISPORTAL_FORWARDED_HEADER = ""
    assert client_address(request) == "198.51.100.1"  # empty: X-Forwarded-For


def test_header_names_become_wsgi_keys():
    assert meta_key("X-Forwarded-For") == "HTTP_X_FORWARDED_FOR"
    assert meta_key("HTTP_X_FORWARDED_FOR") == "HTTP_X_FORWARDED_FOR"
