{#- Fails for rows where the SQL boolean expression is not true (optionally only rows
    matching `where`). Replacement for dbt_utils.expression_is_true. -#}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ column_name ~ ' ' if column_name is not none }}{{ expression }}), false)
{% endtest %}
