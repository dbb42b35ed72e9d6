"""Base URL validation for model providers (SSRF): where Command may send a request.

http/https only, no credentials in the URL, and every address the host name resolves to is
checked. Cloud metadata and link-local targets are always refused; loopback and private ranges
only when settings.COMMAND_ALLOW_LOCAL_PROVIDERS is on (a local Ollama or LM Studio).
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


class UnsafeEndpoint(ValueError):
    """The base URL is not one Command will send a request (and an API key) to."""


def _resolve(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
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


@dataclass(frozen=True)
class PinnedEndpoint:
    """Where to actually connect: the vetted address, with the original name for Host and TLS."""

    url: str
    host_header: str
    server_name: str


def _vet(url: str, allow_local: bool | None):
    if allow_local is None:
        allow_local = settings.COMMAND_ALLOW_LOCAL_PROVIDERS
    parts = urlsplit((url or "").strip())
    if parts.scheme not in {"http", "https"}:
        raise UnsafeEndpoint("The base URL must start with http:// or https://.")
    if not parts.hostname:
        raise UnsafeEndpoint("The base URL has no host name.")
    if parts.username or parts.password:
        raise UnsafeEndpoint("Put the API key in the key field, not in the URL.")
    if parts.query or parts.fragment:
        raise UnsafeEndpoint("The base URL must not have a query string or fragment.")
    host = parts.hostname.rstrip(".").lower()
    if host in _METADATA_HOSTS:
        raise UnsafeEndpoint("Cloud metadata endpoints are never allowed as a provider.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeEndpoint("The base URL has an invalid port.")
    addresses = _resolve(host, port)
    for address in addresses:
        if address in _METADATA_ADDRESSES:
            raise UnsafeEndpoint("Cloud metadata endpoints are never allowed as a provider.")
        if address.is_link_local or address.is_multicast or address.is_unspecified:
            raise UnsafeEndpoint(f"“{host}” resolves to {address}, a link-local or reserved address.")
        if address.is_loopback or address.is_private:
            if not allow_local:
                raise UnsafeEndpoint(
                    f"“{host}” resolves to {address}, a local or private address. Local providers (such as "
                    "Ollama) are allowed only when COMMAND_ALLOW_LOCAL_PROVIDERS is on."
                )
        elif address.is_reserved:
            raise UnsafeEndpoint(f"“{host}” resolves to {address}, a link-local or reserved address.")
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
