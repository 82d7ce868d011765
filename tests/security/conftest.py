"""Security tests reuse the pipeline warehouse and the keyed HTTP server of the integration suite."""

from tests.integration.conftest import mcp_http, pipeline  # noqa: F401 - fixtures
