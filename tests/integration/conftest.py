"""Fixtures shared by the integration tests (the Monday `clock` is in tests/conftest.py)."""
from tests.integration.test_api_server import server  # noqa: F401 - a real `petitions serve` process
