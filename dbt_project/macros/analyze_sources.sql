{#-
    ANALYZE the raw source tables before a run/build. Freshly COPY-loaded raw tables often have no
    planner statistics yet (autovacuum has not caught up), which makes PostgreSQL pick very bad
    plans (e.g. merge joins estimated at billions of rows) for the big aggregations. ANALYZE samples
    at most ~30k rows per table, so this costs about a second even at 10M events. Relations come
    from the graph (no hard-coded names). Disable with --vars '{analyze_sources: false}'.
    A user who does not own a table just gets a server WARNING; the run carries on.
-#}
{% macro analyze_sources() %}
    {%- if execute and var('analyze_sources', true) and flags.WHICH in ('run', 'build') -%}
        {%- for node in graph.sources.values() if node.package_name == project_name -%}
            {%- do run_query('analyze ' ~ node.relation_name) -%}
        {%- endfor -%}
        {{ log('analyze_sources: analyzed ' ~ (graph.sources.values() | selectattr('package_name', 'equalto', project_name) | list | length) ~ ' source tables', info=false) }}
    {%- endif -%}
{% endmacro %}
