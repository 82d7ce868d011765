"""The `telcopulse` command: the composition root that wires warehouse, pipeline and server."""
