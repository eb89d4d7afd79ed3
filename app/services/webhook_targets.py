"""Which URLs a webhook may be sent to (server-side request forgery guard).

A receiver is an ``http(s)`` URL whose host the admin listed in
``BORDERLENS_WEBHOOK_ALLOWED_HOSTS`` (exact names, ``*.example.org`` for subdomains, ``*`` for
any). Even an allowed name is refused when any address it resolves to is link-local
(169.254/16, fe80::/10: cloud metadata lives there), a known metadata address, unspecified or
multicast, or when the URL names the service's own database port on one of the database's
addresses. A loopback address (127/8, ::1: this machine, its database and admin ports) or any
other address that is not global (private networks 10/8, 172.16/12, 192.168/16, fc00::/7,
shared 100.64/10, reserved ranges) is refused too unless the URL's host is listed by itself
(``"127.0.0.1"``, ``"localhost"``, ``"hooks.lan"``): a wildcard means hosts on the internet,
and ``*`` let a webhook reach the machine's own services and its network's. The addresses
are checked when the subscription is made AND before every delivery (a name may be re-pointed
after it was accepted). A delivery connects to the very addresses it checked
(:func:`resolve_target`), with the URL's host in ``Host`` and TLS SNI: a name re-pointed
between the check and the connection (DNS rebinding) cannot send it elsewhere.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from app.errors import InvalidBody

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",  # AWS, Google Cloud, Azure IMDS, OpenStack, DigitalOcean
        "169.254.170.2",  # AWS ECS task metadata
        "100.100.100.200",  # Alibaba Cloud
        "fd00:ec2::254",  # AWS IMDS over IPv6
        "192.0.0.192",  # Oracle Cloud
        "168.63.129.16",  # Azure wire server
    )
)


class RefusedTarget(InvalidBody):
    code = "webhook_url_refused"


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    host = host.lower().rstrip(".")
    for pattern in allowed:
        pattern = pattern.lower().rstrip(".")
        if pattern == "*" or pattern == host:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


def host_listed(host: str, allowed: Sequence[str]) -> bool:
    """Whether ``host`` is in the list by itself, not through a wildcard."""
    host = host.lower().rstrip(".")
    return any(pattern.lower().rstrip(".") == host for pattern in allowed)


def resolve(host: str, port: int) -> list[IpAddress]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise RefusedTarget(f"webhook_url: the host {host!r} does not resolve ({error})") from None
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _database_endpoint(database_url: str | None) -> tuple[list[IpAddress], int] | None:
    if not database_url:
        return None
    url = make_url(database_url)
    port = url.port or 5432
    host = url.host or "localhost"
    try:
        return resolve(host, port), port
    except RefusedTarget:
        return None


def as_ipv4(address: IpAddress) -> IpAddress:
    """The IPv4 address an IPv6 one carries (``::ffff:127.0.0.1``, ``::ffff:7f00:1``, or the
    old compatible form ``::7f00:1``), else ``address``: each reaches the IPv4 host, so each
    is checked as that host (a mapped form of the database's address reached PostgreSQL)."""
    if isinstance(address, ipaddress.IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if int(address) >> 32 == 0 and int(address) > 1:  # ::a.b.c.d, not :: nor ::1
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address


def _refused_address(address: IpAddress, listed: bool) -> str | None:
    """Why a webhook may not go to ``address`` (None: it may); ``listed``: the URL's host is
    in the allowed list by itself, which a loopback or other non-global address needs."""
    address = as_ipv4(address)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or address.is_multicast:
        return "not a host address"
    if not listed and not address.is_global:
        # a wildcard means hosts on the internet: this machine and the private networks
        # around it (an office LAN, a cloud VPC's other services) only by their own name
        what = (
            "a loopback address (this machine)"
            if address.is_loopback
            else "a private or other non-public address"
        )
        return (
            f"{what}; a wildcard of BORDERLENS_WEBHOOK_ALLOWED_HOSTS never allows one, "
            "list the host itself"
        )
    return None


@dataclass(frozen=True)
class Target:
    """A checked webhook URL and the addresses its host resolved to, every one allowed."""

    url: str
    host: str
    port: int
    addresses: tuple[IpAddress, ...]


#: What may follow a bracketed IPv6 address in a URL's authority: a port, or nothing.
_PORT_SUFFIX = re.compile(r":[0-9]*")


def check(url: str, allowed: Sequence[str], database_url: str | None) -> str:
    """``url`` if a webhook may go there; ``RefusedTarget`` (422, naming why) otherwise."""
    return resolve_target(url, allowed, database_url).url


def resolve_target(url: str, allowed: Sequence[str], database_url: str | None) -> Target:
    """``url`` checked, with the addresses to connect to; ``RefusedTarget`` (422, naming
    why) when a webhook may not go there."""
    if len(url) > 2000 or any(ord(ch) < 0x21 for ch in url):
        raise RefusedTarget("webhook_url: not a URL (too long, or spaces/control characters)")
    try:
        # a broken bracketed address ("http://[::1", "http://[zz]/") raises here (a 500 before)
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as error:
        raise RefusedTarget(f"webhook_url: not a URL ({error})") from None
    after_bracket = parts.netloc.rpartition("@")[2].partition("]")[2] if "[" in url else ""
    if after_bracket and not _PORT_SUFFIX.fullmatch(after_bracket):
        # "http://[::1]x/": the address was read and the rest dropped, then named as the host
        raise RefusedTarget("webhook_url: not a URL (text after the bracketed address)")
    if parts.scheme not in ("http", "https") or not hostname:
        raise RefusedTarget("webhook_url: only http:// and https:// URLs with a host")
    if parts.username or parts.password:
        raise RefusedTarget("webhook_url: no user or password in the URL")
    try:
        given = parts.port
    except ValueError:
        given = 0
    if given == 0:  # ``:0`` read as no port sent the checks to port 80 and the POST to 0
        raise RefusedTarget("webhook_url: the port is not a number from 1 to 65535") from None
    port = given or (443 if parts.scheme == "https" else 80)
    host = hostname
    if not host_allowed(host, allowed):
        raise RefusedTarget(
            f"webhook_url: the host {host!r} is not in BORDERLENS_WEBHOOK_ALLOWED_HOSTS "
            "(the admin lists the hosts webhooks may go to)"
        )
    addresses = resolve(host, port)
    listed = host_listed(host, allowed)
    for address in addresses:
        why = _refused_address(address, listed)
        if why:
            raise RefusedTarget(f"webhook_url: {host!r} resolves to {address}, {why}")
    database = _database_endpoint(database_url)
    if database is not None and port == database[1]:
        db_addresses = {as_ipv4(a) for a in database[0]}
        local_db = any(a.is_loopback for a in db_addresses)
        for address in map(as_ipv4, addresses):
            if address in db_addresses or (local_db and address.is_loopback):
                raise RefusedTarget(
                    f"webhook_url: {host}:{port} is this service's database; refused"
                )
    return Target(url, host, port, tuple(dict.fromkeys(addresses)))
