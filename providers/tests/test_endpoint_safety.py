"""Base URL validation against SSRF: schemes, metadata, link-local, loopback and private ranges."""

from __future__ import annotations

import pytest

from providers.endpoint_safety import UnsafeEndpoint, endpoint_check


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
