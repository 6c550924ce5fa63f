"""Fixtures shared by the integration tests."""
from tests.integration.test_api_server import server  # noqa: F401 - a real `petitions serve` process
