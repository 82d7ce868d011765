"""MCP query surface of telcopulse: tools, resources and prompts over stdio and streamable HTTP."""
