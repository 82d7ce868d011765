"""Observability of the MCP server: masked JSON logging, SQL query shapes, the audit log.

Everything here must be safe to call from any code path: redaction and logging never
raise on odd input, and auditing never makes a tool call fail or wait.
"""

from mcp_server.observability.audit import AuditEvent, AuditLog, outcome_of
from mcp_server.observability.logging import JsonFormatter, PiiFilter, configure_logging
from mcp_server.observability.redact import mask_pii, query_shape_hash, redact_sql, shape_hash

__all__ = [
    "AuditEvent",
    "AuditLog",
    "JsonFormatter",
    "PiiFilter",
    "configure_logging",
    "mask_pii",
    "outcome_of",
    "query_shape_hash",
    "redact_sql",
    "shape_hash",
]
