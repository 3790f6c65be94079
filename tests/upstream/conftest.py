from collections.abc import Iterator

import pytest

from tests.upstream.fakeserver import FakeServer
from upstream.client import UpstreamClient
from upstream.factory import client_for
from upstream.models import Adapter, UpstreamAccount

TOKEN = "sk-unit-TOKEN-5f1d2c3b4a596877"
ACCESS_KEY_ID = "AKLTunitKEYID0001"
SECRET_KEY = "unit-SECRET-key/with+slashes=="


@pytest.fixture
def fake() -> Iterator[FakeServer]:
    server = FakeServer()
    yield server
    server.close()


@pytest.fixture
def fast_settings(settings):
    """Retries in milliseconds, timeouts in fractions of a second."""
    settings.UPSTREAM_CONNECT_TIMEOUT = 1.0
    settings.UPSTREAM_READ_TIMEOUT = 0.5
    settings.UPSTREAM_TOTAL_TIMEOUT = 3.0
    settings.UPSTREAM_READ_ATTEMPTS = 3
    settings.UPSTREAM_RETRY_BASE_DELAY = 0.01
    settings.UPSTREAM_RETRY_MAX_DELAY = 0.05
    settings.UPSTREAM_RETRY_BUDGET = 5.0
    settings.UPSTREAM_CREATE_SENDS = 2
    return settings


@pytest.fixture
def anyfast_account(db, fake) -> UpstreamAccount:
    return UpstreamAccount.objects.create(
        name="Unit Anyfast", adapter=Adapter.ANYFAST, base_url=fake.url, api_token=TOKEN
    )


@pytest.fixture
def byteplus_account(db, fake) -> UpstreamAccount:
    return UpstreamAccount.objects.create(
        name="Unit BytePlus",
        adapter=Adapter.BYTEPLUS,
        base_url=fake.url,
        access_key_id=ACCESS_KEY_ID,
        secret_access_key=SECRET_KEY,
        region="ap-southeast-1",
    )


@pytest.fixture
def anyfast(fast_settings, anyfast_account) -> UpstreamClient:
    return client_for(anyfast_account)


@pytest.fixture
def byteplus(fast_settings, byteplus_account) -> UpstreamClient:
    return client_for(byteplus_account)
