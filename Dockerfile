# One image for the Dagster code server, webserver, daemon, the dbt docs service and the MCP server.
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 DAGSTER_HOME=/opt/dagster/home
WORKDIR /app
COPY constraints.txt pyproject.toml README.md ./
COPY warehouse ./warehouse
COPY orchestration ./orchestration
COPY telcopulse ./telcopulse
COPY analyses ./analyses
COPY quality ./quality
COPY mcp_server ./mcp_server
RUN pip install --no-cache-dir -c constraints.txt uv \
 && uv pip install --system --no-cache -c constraints.txt -e .
COPY dbt_project ./dbt_project
COPY dagster.yaml /opt/dagster/home/dagster.yaml
COPY deploy ./deploy
# The manifest is built into the image, never committed.
RUN cd dbt_project && dbt parse --profiles-dir . --project-dir . --quiet
