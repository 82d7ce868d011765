"""Prompts: step-by-step workflows naming the real tools, marts and templates."""

from mcp.server.mcpserver import MCPServer


def churn_analysis(segment: str = "account_type", months: str = "12") -> str:
    return f"""Analyse customer churn by {segment} over the last {months} complete months.

1. Call list_marts and read the fct_customer_churn_monthly and customer_features entries (grain, columns,
   tests). Read templates://analysis/churn_rate for the parameters.
   Call analyze_data with data_source "warehouse", analysis_type "churn_rate" and parameters
   {{"segment_by": ["{segment}"]}}: rates with 95% intervals, a chi-square test with Cramér's V,
   the monthly trend and cohort retention. Quote the summary and the test, not just the rates.
2. Call query_mart on fct_customer_churn_monthly with columns ["{segment}", "sum(customers_churned)",
   "sum(customers_at_risk)"], filters [{{"column": "is_complete_month", "op": "=", "value": true}}] and
   group_by ["{segment}"]. Churn rate = churned / at risk; never average the monthly churn_rate column.
3. Call query_mart again grouped by ["month", "{segment}"] (order_by ["month asc"]) for the trend; say whether
   the gap between segments is stable.
4. Look for drivers: analyze_data with analysis_type "drivers" (cross-validated models, permutation
   importance) and "correlation" on customer_features; check the biggest driver with query_database,
   e.g. churn rate by quartile of avg_quality_score.
   Show the segment comparison with create_visualization, data {{"analysis_type": "churn_rate",
   "data_source": "warehouse", "table": "by_segment"}}, chart_type "bar", x_axis "segment",
   y_axis "churn_rate".
5. Save the key tables in a session (session_create with access_level "write", then save_as on the
   queries) so the numbers can be revisited.
6. Report: the rates with the customer counts behind them, the biggest differences, the likely drivers,
   and what the data cannot tell (e.g. correlation is not causation; the current month is partial).
"""


def network_analysis(location: str = "all locations", days: str = "90") -> str:
    return f"""Assess network quality for {location} over the last {days} days and its link to churn.

1. Read templates://analysis/network_quality and the fct_network_quality_daily entry of list_marts, then
   call analyze_data (data_source "warehouse", analysis_type "network_quality"): quality by location,
   event type and hour, the worst cells, and the odds ratio of churn per quality point.
2. Call query_mart on fct_network_quality_daily grouped by ["location", "event_type"] with
   ["sum(event_count)", "sum(poor_quality_events)", "avg(avg_quality_score)", "min(p10_quality_score)"],
   filtering event_date to the last {days} days (op ">=" with an ISO date){
        "" if location == "all locations" else f' and location = "{location}"'
    }. Poor-quality share = sum(poor_quality_events) / sum(event_count).
3. Find the worst location x event_type cells and check whether they are persistent (group by event_date).
4. Relate quality to churn with query_database on marts.customer_features: churn rate by band of
   avg_quality_score and poor_quality_share, per location.
5. Plot the by_hour table with create_visualization (line, x_axis "event_hour", y_axis "poor_share").
6. Report the worst cells with volumes, the trend, and the churn difference between poor and good quality
   customers, with the counts behind each rate.
"""


def revenue_optimization(account_type: str = "all account types") -> str:
    return f"""Find revenue opportunities for {account_type}.

1. Read templates://analysis/arpu and the fct_arpu_monthly entry of list_marts (ARPU denominator rules),
   then call analyze_data (data_source "warehouse", analysis_type "arpu"): ARPU by month and segment,
   growth, service and payment mix, and churned vs retained revenue with a Welch t-test.
2. Call query_mart on fct_arpu_monthly for complete months grouped by ["month", "account_type"] with
   ["sum(revenue)", "max(active_customers)"]; ARPU = revenue / active customers. Compute
   month-over-month growth.
3. Break revenue down by service_type (group_by ["account_type", "service_type"]) to see the service mix
   and where paying_customers is far below active_customers (unused services).
4. Compare lifetime_revenue of churned and retained customers in dim_customers (query_database) to size
   the revenue lost to churn, by account_type.
5. Chart ARPU by month with create_visualization (data: the total_by_month table of the arpu result,
   chart_type "line", x_axis "month", y_axis "arpu", value "account_type").
6. Recommend: which segments to upsell, which services to bundle, and how much revenue churn reduction
   would protect - each with the numbers and their period.
"""


def register(server: MCPServer) -> None:
    server.prompt(name="churn_analysis", description="Workflow: churn by segment, trend and drivers")(
        churn_analysis
    )
    server.prompt(name="network_analysis", description="Workflow: network quality hot spots and churn link")(
        network_analysis
    )
    server.prompt(
        name="revenue_optimization", description="Workflow: ARPU, service mix and churn revenue at risk"
    )(revenue_optimization)
