"""`analyze_data`: standard statistical analyses on the marts or on data an agent saved."""

import textwrap
from datetime import datetime
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from pydantic import BaseModel, Field

from analyses.registry import ANALYSES
from mcp_server.analysis_runner import analyze, answer_freshness
from mcp_server.context import app_context
from mcp_server.freshness import Freshness
from mcp_server.tools import icons
from mcp_server.tools.common import READ_ONLY

DESCRIPTION = """Run a statistical analysis and get typed results: rates with 95% intervals, significance
tests with effect sizes, and tables, each with a summary and how to read it.

{analyses}
data_source: "warehouse" (the standard marts; precomputed, answered from cache), a mart name, or a
session_id whose data key (parameters.session_key) holds rows you saved with save_as or
session_update. For foreign data map columns in parameters, e.g. {{"churn_column": "Churn",
"positive_label": "Yes", "segment_by": ["Contract"]}}. templates://analysis/{{type}} lists parameters.
On a warehouse that lacks a raw table the analysis needs (e.g. no revenue imported yet), the answer is
a NoData error naming the table and the command that loads it."""


def description() -> str:
    """The tool's description, listing every analysis in the catalogue with its brief."""
    listing = "analysis_type: " + ", ".join(f"{spec.name} ({spec.brief})" for spec in ANALYSES.values()) + "."
    wrapped = textwrap.fill(listing, width=101, break_on_hyphens=False, break_long_words=False)
    return DESCRIPTION.format(analyses=wrapped)


class AnalysisMetadata(BaseModel):
    data_source: str
    row_count: int = Field(description="Rows of the primary input the analysis ran on")
    timestamp: datetime = Field(description="When the result was computed (UTC)")
    cached: bool = Field(description="Answered from the precomputed/cached result")
    data_version: str | None = Field(description="Mart build the result reflects (null for session data)")


class AnalysisOutput(BaseModel):
    analysis_type: str
    results: dict[str, Any] = Field(description="summary, how_to_read, computed_on, tables, tests, warnings")
    metadata: AnalysisMetadata
    freshness: Freshness | None = Field(
        default=None, description="How fresh and well-tested the marts it read are (null for session data)"
    )


def register(server: MCPServer) -> None:
    # The schema's enum is the catalogue as it stands when the server is built.
    AnalysisType = Literal[tuple(ANALYSES)]  # type: ignore[valid-type]

    @server.tool(
        name="analyze_data",
        title="Analyse churn, ARPU, network quality",
        description=description(),
        annotations=READ_ONLY,
        icons=icons.ANALYSIS,
    )
    async def analyze_data(
        data_source: Annotated[
            str, Field(min_length=1, max_length=200, description="warehouse, a mart, or a session_id")
        ],
        analysis_type: AnalysisType,
        ctx: Context,
        parameters: Annotated[
            dict[str, Any], Field(description="Analysis parameters (see the templates)")
        ] = {},  # noqa: B006
    ) -> AnalysisOutput:
        app = app_context(ctx)
        answer = await analyze(app, data_source, analysis_type, parameters, progress=ctx.report_progress)
        return AnalysisOutput(
            freshness=await answer_freshness(app, data_source, analysis_type, answer),
            analysis_type=analysis_type,
            results=answer.result,
            metadata=AnalysisMetadata(
                data_source=data_source,
                row_count=answer.row_count,
                timestamp=datetime.fromisoformat(answer.computed_at),
                cached=answer.cached,
                data_version=answer.data_version,
            ),
        )
