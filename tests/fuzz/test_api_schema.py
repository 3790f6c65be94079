"""Property-based requests made from the API's own OpenAPI schema (schemathesis): no answer is a
500, and every answer is one the schema lists, with a body that matches it."""

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from integrations import keys
from tests.fuzz.conftest import PROFILE

pytestmark = [pytest.mark.fuzz, pytest.mark.django_db]


@pytest.fixture
def api_schema(db, verified_group):
    """The schema, called through the WSGI application in this process. Like Django's test
    client, the request signals leave the test's database connection open."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from portal.wsgi import application

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# No 500, and nothing outside the schema. (Not "every schema-valid request succeeds": a made-up
# cursor or id is valid as a string and rightly refused.)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = {"dev": 5, "ci": 25, "thorough": 200}.get(PROFILE, 25)


def test_the_api_never_fails_and_answers_only_what_its_schema_says(api_schema, settings):
    settings.API_KEY_RATE_LIMIT_PER_MINUTE = 1_000_000
    _, secret = keys.create_key(
        name="fuzz", scopes=["read", "invite", "upload", "clear", "webhooks"], created_by=None
    )
    headers = {"Authorization": f"Bearer {secret}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 20

    for operation, mode in itertools.product(operations, schemathesis.GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis_settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        run()
