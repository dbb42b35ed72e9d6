"""Base URL validation against SSRF: schemes, metadata, link-local, loopback and private ranges."""

from __future__ import annotations

import pytest

from providers.endpoint_safety import UnsafeEndpoint, endpoint_check, endpoint_pin


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("https://", "no host"),
        ("https://user:pw@api.openai.com/v1", "not in the URL"),
        ("http://169.254.169.254/latest", "metadata"),
        ("http://metadata.google.internal/computeMetadata", "metadata"),
        ("http://[fd00:ec2::254]/", "metadata"),
        ("http://169.254.10.1/", "link-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://0.0.0.0:11434/", "reserved"),
        ("http://127.0.0.1:11434/v1", "local or private"),
        ("http://localhost:11434/v1", "local or private"),
        ("http://10.1.2.3/v1", "local or private"),
        ("http://192.168.1.20/v1", "local or private"),
        ("http://[::1]:8080/", "local or private"),
        ("http://[::ffff:127.0.0.1]/", "local or private"),
        ("https://no-such-host.invalid/v1", "could not be resolved"),
    ],
)
def test_refused_by_default(settings, url, message):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = False
    with pytest.raises(UnsafeEndpoint, match=message):
        endpoint_check(url)


def test_local_providers_allowed_when_the_setting_is_on(settings):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    assert endpoint_check("http://127.0.0.1:11434/v1/") == "http://127.0.0.1:11434/v1"
    assert endpoint_check("http://localhost:11434") == "http://localhost:11434"


def test_metadata_and_link_local_stay_refused_even_when_local_is_allowed(settings):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    for url in ("http://169.254.169.254/", "http://169.254.1.1/", "http://metadata.google.internal/"):
        with pytest.raises(UnsafeEndpoint):
            endpoint_check(url)


def test_a_public_address_literal_is_accepted_and_normalised(settings):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = False
    assert endpoint_check("HTTPS://8.8.8.8/v1/") == "https://8.8.8.8/v1"


def test_pin_rewrites_to_the_vetted_address_and_keeps_the_name(settings):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    pinned = endpoint_pin("http://localhost:11434/v1")
    assert pinned.url == "http://127.0.0.1:11434/v1"
    assert pinned.host_header == "localhost:11434" and pinned.server_name == "localhost"
    assert endpoint_pin("https://8.8.8.8/v1").url == "https://8.8.8.8/v1"


def test_the_request_goes_to_the_address_that_was_checked(settings, monkeypatch):
    """A name only our resolver knows: the connection must use the vetted address, not a second lookup."""
    import socket

    from providers.adapters.transport import request_json
    from providers.tests.provider_server import ProviderServer, Reply

    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    real = socket.getaddrinfo
    lookups = []

    def resolver(host, *args, **kwargs):
        if host == "provider.rebind.test":
            lookups.append(host)
            return real("127.0.0.1", *args, **kwargs)
        return real(host, *args, **kwargs)

    monkeypatch.setattr("providers.endpoint_safety.socket.getaddrinfo", resolver)
    with ProviderServer() as server:
        port = server.httpd.server_address[1]
        server.script(Reply(body={"data": []}))
        assert request_json("GET", f"http://provider.rebind.test:{port}/v1/models", headers={}) == {"data": []}
        assert server.seen[0].headers["host"] == f"provider.rebind.test:{port}"
    assert lookups == ["provider.rebind.test"]


def test_the_reused_client_still_pins_each_request_and_follows_no_redirect(settings, monkeypatch):
    """The HTTP client is built once and reused across requests (turns), yet every request is
    vetted again: a name that now resolves to the metadata address is refused, and a redirect
    on a reused client is still refused, not followed."""
    import socket

    import httpx

    from providers.adapters import transport
    from providers.tests.provider_server import ProviderServer, Reply

    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    real = socket.getaddrinfo
    target = {"address": "127.0.0.1"}

    def resolver(host, *args, **kwargs):
        if host == "provider.reuse.test":
            return real(target["address"], *args, **kwargs)
        return real(host, *args, **kwargs)

    built = []

    class CountingClient(httpx.Client):
        def __init__(self, *args, **kwargs):
            built.append(kwargs.get("follow_redirects"))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr("providers.endpoint_safety.socket.getaddrinfo", resolver)
    monkeypatch.setattr(transport, "_CLIENTS", {})
    monkeypatch.setattr(transport.httpx, "Client", CountingClient)
    with ProviderServer() as server:
        url = f"http://provider.reuse.test:{server.httpd.server_address[1]}/v1/models"
        server.script(Reply(body={"data": [1]}), Reply(body={"data": [2]}))
        assert transport.request_json("GET", url, headers={}) == {"data": [1]}
        assert transport.request_json("GET", url, headers={}) == {"data": [2]}
        assert built == [False]  # one client for both requests, redirects off

        server.script(Reply(status=302, headers={"Location": "http://169.254.169.254/latest/meta-data"}, body={}))
        with pytest.raises(transport.ProviderError, match="redirect refused"):
            transport.request_json("GET", url, headers={})
        assert len(server.seen) == 3

        target["address"] = "169.254.169.254"
        with pytest.raises(transport.ProviderError, match="refused to send"):
            transport.request_json("GET", url, headers={})
        assert len(server.seen) == 3 and built == [False]


@pytest.mark.parametrize(
    "url",
    [
        "http://100.64.0.1/v1",  # CGNAT (shared address space)
        "http://100.127.255.254/v1",
        "http://[2002:a9fe:a9fe::]/",  # 6to4 form of 169.254.169.254
        "http://[2002:7f00:1::]/",  # 6to4 form of 127.0.0.1
        "http://[2002:a00:1::]/",  # 6to4 form of 10.0.0.1
        "http://[2001:0:4136:e378:8000:63bf:5601:5601]/",  # Teredo
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 form of 169.254.169.254
        "http://[64:ff9b::7f00:1]/",  # NAT64 form of 127.0.0.1
        "http://[64:ff9b:1::1]/",  # local-use NAT64
        "http://[fec0::1]/",  # site-local
        "http://[2001:db8::1]/",  # documentation
        "http://198.18.0.1/",  # benchmarking
        "http://192.0.0.8/",  # IETF protocol assignments
        "http://240.0.0.1/",  # reserved
        "http://[ff02::1]/",  # multicast
    ],
)
def test_every_non_global_address_is_refused_even_when_local_is_allowed(settings, url):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    with pytest.raises(UnsafeEndpoint, match="resolves to"):
        endpoint_check(url)


def test_transition_forms_of_public_addresses_are_accepted(settings):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = False
    assert endpoint_check("http://[2002:808:808::1]/v1") == "http://[2002:808:808::1]/v1"
    assert endpoint_check("http://[64:ff9b::808:808]/v1") == "http://[64:ff9b::808:808]/v1"


@pytest.mark.parametrize(
    "url",
    ["http://[::1/", "http://[169.254.169.254]/", "http://[fe80::1%25eth0/", "http://example.com:99999/", "http://[/"],
)
def test_a_malformed_url_is_refused_in_words(settings, url):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    with pytest.raises(UnsafeEndpoint, match="not a valid URL|invalid port"):
        endpoint_check(url)
