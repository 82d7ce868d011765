{#- Fails for every combination of the given columns that occurs more than once
    (NULLs compare equal, as in GROUP BY). Replacement for dbt_utils' test of the same name. -#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select
    {{ combination_of_columns | join(', ') }},
    count(*) as n_records
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}
