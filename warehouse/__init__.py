"""Shared warehouse helpers: settings, connections, raw schema, generator, loaders.

Both the pipeline (`orchestration`) and the query surface (`mcp_server`) stand on this
package, and neither imports the other.
"""
