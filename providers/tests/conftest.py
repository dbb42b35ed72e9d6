from __future__ import annotations

import pytest

from providers.tests.provider_server import ProviderServer


@pytest.fixture
def provider_server(settings):
    settings.COMMAND_ALLOW_LOCAL_PROVIDERS = True
    with ProviderServer() as server:
        yield server
