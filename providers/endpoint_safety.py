"""Base URL validation for model providers (SSRF): where Command may send a request.

http/https only, no credentials in the URL, and every address the host name resolves to is
checked. Only globally routable addresses are accepted (ipaddress's `is_global`, tightened where
Python 3.11's tables are too generous), and an address that wraps another one (6to4, Teredo,
NAT64, IPv4-mapped) is judged by the address inside it too. Cloud metadata, link-local, CGNAT,
site-local and reserved targets are always refused; loopback and private ranges only when
settings.COMMAND_ALLOW_LOCAL_PROVIDERS is on (a local Ollama or LM Studio).
Adapters pin the connection to the address that was checked (endpoint_pin), so a DNS answer
that changes between the check and the request cannot send it elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

_METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data", "metadata.azure.internal"}
_METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("169.254.170.2"),
    ipaddress.ip_address("100.100.100.200"),
    ipaddress.ip_address("fd00:ec2::254"),
}


# The "local or private" ranges the COMMAND_ALLOW_LOCAL_PROVIDERS escape hatch opens, and only these.
_LOCAL_NETWORKS = tuple(
    ipaddress.ip_network(n)
    for n in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
)
# Not global, although Python 3.11's `is_global` says they are: site-local (deprecated, still
# routed inside some networks), local-use NAT64 (RFC 8215) and IETF protocol assignments.
_NOT_GLOBAL = tuple(ipaddress.ip_network(n) for n in ("fec0::/10", "64:ff9b:1::/48", "192.0.0.0/24"))
# Well-known NAT64 prefix (RFC 6052): the last 32 bits are the IPv4 address it reaches.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeEndpoint(ValueError):
    """The base URL is not one Command will send a request (and an API key) to."""


def _resolve(host: str, port: int) -> list[Address]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeEndpoint(f"The host name “{host}” could not be resolved.")
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        addresses.append(address)
    return addresses


def _wrapped(address: Address) -> list[Address]:
    """The IPv4 addresses an IPv6 transition address reaches (6to4, Teredo, NAT64, mapped)."""
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    inner: list[Address] = []
    if address.ipv4_mapped:
        inner.append(address.ipv4_mapped)
    if address.sixtofour:
        inner.append(address.sixtofour)
    if address.teredo:
        inner.extend(address.teredo)
    if address in _NAT64:
        inner.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return inner


def _is_global(address: Address) -> bool:
    if address.is_multicast or address.is_reserved and address not in _NAT64:
        return False
    if address in _NAT64:
        return True  # judged by the IPv4 address it wraps
    return address.is_global and not any(address in network for network in _NOT_GLOBAL)


def _refusal(address: Address, host: str, allow_local: bool) -> str | None:
    """Why Command will not connect to `address` (None: it may)."""
    if address in _METADATA_ADDRESSES:
        return "Cloud metadata endpoints are never allowed as a provider."
    for inner in _wrapped(address):
        reason = _refusal(inner, host, allow_local=False)
        if reason:
            return (
                f"“{host}” resolves to {address}, which leads to {inner}: a local, private, "
                "link-local or reserved address."
            )
    if any(address in network for network in _LOCAL_NETWORKS):
        if allow_local:
            return None
        return (
            f"“{host}” resolves to {address}, a local or private address. Local providers (such as "
            "Ollama) are allowed only when COMMAND_ALLOW_LOCAL_PROVIDERS is on."
        )
    if not _is_global(address):
        return f"“{host}” resolves to {address}, a link-local, reserved or otherwise non-public address."
    return None


@dataclass(frozen=True)
class PinnedEndpoint:
    """Where to actually connect: the vetted address, with the original name for Host and TLS."""

    url: str
    host_header: str
    server_name: str


def _vet(url: str, allow_local: bool | None):
    if allow_local is None:
        allow_local = settings.COMMAND_ALLOW_LOCAL_PROVIDERS
    try:
        parts = urlsplit((url or "").strip())
        hostname = parts.hostname
    except ValueError:  # "Invalid IPv6 URL", "An IPv4 address cannot be in brackets" …
        raise UnsafeEndpoint("The base URL is not a valid URL (check the brackets around an IPv6 address).")
    if parts.scheme not in {"http", "https"}:
        raise UnsafeEndpoint("The base URL must start with http:// or https://.")
    if not hostname:
        raise UnsafeEndpoint("The base URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeEndpoint("Put the API key in the key field, not in the URL.")
    if parts.query or parts.fragment:
        raise UnsafeEndpoint("The base URL must not have a query string or fragment.")
    host = hostname.rstrip(".").lower()
    if host in _METADATA_HOSTS:
        raise UnsafeEndpoint("Cloud metadata endpoints are never allowed as a provider.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeEndpoint("The base URL has an invalid port.")
    addresses = _resolve(host, port)
    for address in addresses:
        reason = _refusal(address, host, allow_local)
        if reason:
            raise UnsafeEndpoint(reason)
    return parts, host, port, addresses


def endpoint_check(url: str, *, allow_local: bool | None = None) -> str:
    """Return the normalised base URL (no trailing slash), or raise UnsafeEndpoint saying why."""
    parts, _, _, _ = _vet(url, allow_local)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, "", ""))


def endpoint_pin(url: str, *, allow_local: bool | None = None) -> PinnedEndpoint:
    """Vet `url` and return it rewritten to the vetted address, so that the connection goes where
    the check looked (a second DNS answer cannot redirect it: no rebinding between check and use)."""
    parts, host, port, addresses = _vet(url, allow_local)
    # IPv4 first: local servers (Ollama, LM Studio) often listen on 127.0.0.1 only.
    address = sorted(addresses, key=lambda a: a.version)[0]
    literal = f"[{address}]" if address.version == 6 else str(address)
    default_port = 443 if parts.scheme == "https" else 80
    netloc = literal if port == default_port else f"{literal}:{port}"
    return PinnedEndpoint(
        url=urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")),
        host_header=parts.netloc.lower(),
        server_name=host,
    )
