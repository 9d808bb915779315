"""The address a request came from: the one answer for the login lockout and the audit log.

Behind reverse proxies REMOTE_ADDR is the nearest proxy's address, the same for every client,
and any header a client sends can be forged. What can be trusted is the part of the forwarded
chain our own proxies wrote: each appends the address it was connected from, so with
FLISPORTAL_TRUSTED_PROXY_COUNT = N proxies in front of the portal, the N-th address from the right
of X-Forwarded-For is the one our outermost proxy saw. Everything left of it came from the client
and is ignored.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest

# The header proxies append to, unless FLISPORTAL_FORWARDED_HEADER names another.
DEFAULT_FORWARDED_HEADER = "X-Forwarded-For"


def meta_key(header: str) -> str:
    """`X-Forwarded-For` as WSGI puts it in request.META: `HTTP_X_FORWARDED_FOR`."""
    name = header.strip().upper().replace("-", "_")
    return name if name.startswith("HTTP_") else f"HTTP_{name}"


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def pick_client_address(*, remote_addr: str, forwarded: str | None, trusted_proxies: int) -> str:
    """The client's address from REMOTE_ADDR and the forwarded chain, given how many proxies
    of our own stand in front of the portal.

    A chain shorter than the proxy count, or an entry that is not an address, means the request
    did not pass through the proxies as configured: the proxy's own address (REMOTE_ADDR) is
    used then, never an address the client wrote, so a client cannot choose whose allowance of
    failed logins it uses up.
    """
    if trusted_proxies <= 0 or not forwarded:
        return remote_addr
    hops = [hop.strip() for hop in forwarded.split(",")]
    if len(hops) < trusted_proxies:
        return remote_addr
    return _valid(hops[-trusted_proxies]) or remote_addr


def client_address(request: HttpRequest) -> str:
    """The request's client address under the portal's proxy settings (django-axes calls this
    through AXES_CLIENT_IP_CALLABLE; the audit log calls it for a login's source)."""
    trusted = settings.FLISPORTAL_TRUSTED_PROXY_COUNT
    header = settings.FLISPORTAL_FORWARDED_HEADER or DEFAULT_FORWARDED_HEADER
    return pick_client_address(
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        forwarded=request.META.get(meta_key(header)),
        trusted_proxies=trusted,
    )
