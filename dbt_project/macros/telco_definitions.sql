{#-
    Shared business definitions, so that every model applies them identically.
    See the docs blocks in models/docs.md for the prose definitions.
-#}

{#- A customer is active in month M (M = first day of the month) if they signed up before
    the first day of M+1 and had not churned before the first day of M. -#}
{% macro is_active_in_month(created_at, churned_at, month_start) -%}
    ({{ created_at }} < ({{ month_start }} + interval '1 month')
     and ({{ churned_at }} is null or {{ churned_at }} >= {{ month_start }}))
{%- endmacro %}

{#- A customer churned in month M if their churn timestamp falls in [M, M+1). -#}
{% macro is_churned_in_month(churned_at, month_start) -%}
    ({{ churned_at }} is not null
     and {{ churned_at }} >= {{ month_start }}
     and {{ churned_at }} < ({{ month_start }} + interval '1 month'))
{%- endmacro %}

{#- Age band labels used across the marts. -#}
{% macro age_band(age) -%}
    case
        when {{ age }} is null then null
        when {{ age }} < 25 then '18-24'
        when {{ age }} < 35 then '25-34'
        when {{ age }} < 45 then '35-44'
        when {{ age }} < 55 then '45-54'
        when {{ age }} < 65 then '55-64'
        else '65+'
    end
{%- endmacro %}

{#- Network quality scores strictly below this threshold count as poor quality. -#}
{% macro poor_quality_threshold() -%}
    2.5
{%- endmacro %}

{#- The service types of raw.revenue, as a SQL VALUES list (one column: service_type). -#}
{% macro service_types_values() -%}
    (values
    {%- for s in var('service_types') %}
        ('{{ s }}'::text){{ "," if not loop.last }}
    {%- endfor %}
    ) as service_types (service_type)
{%- endmacro %}
