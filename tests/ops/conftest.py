from tests.admin.conftest import plain_account  # noqa: F401  (a fixture, shared)
