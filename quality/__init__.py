"""Data-quality suites for the raw tables: daily profiles in, typed verdicts out.

Great Expectations evaluates the expectations, but nothing here imports it at module
level (it costs ~6 s); it is loaded the first time a suite runs. Like `analyses`, this
package imports none of the platform (no warehouse, Dagster or MCP code): the SQL that
computes the profiles lives in `warehouse.quality_profiles`, and the Dagster checks glue
the two together.
"""

from quality.results import SEVERITIES, ExpectationOutcome, Scope, Severity, SuiteResult
from quality.suites import SUITES, MetricRule, Plan, TableSuite, plan_suite, run_suite, suite_for
from quality.windows import HISTORY_DAYS, RECENT_DAYS, QualityWindow

__all__ = [
    "HISTORY_DAYS",
    "RECENT_DAYS",
    "SEVERITIES",
    "SUITES",
    "ExpectationOutcome",
    "MetricRule",
    "Plan",
    "QualityWindow",
    "Scope",
    "Severity",
    "SuiteResult",
    "TableSuite",
    "plan_suite",
    "run_suite",
    "suite_for",
]
