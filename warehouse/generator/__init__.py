"""Deterministic synthetic telecom data for raw.customers, raw.network_events, raw.revenue.

Usage: ``generate(url, customers=10_000, seed=42, end_date=date(2025, 6, 30))`` replaces
the raw tables in one transaction; ``append_day(url, day=..., seed=42)`` adds the next
day. Same parameters give byte-identical tables (UUIDs included). Parameters live in
``profiles.py``; this docstring is the analyst's map of what is in the data and why.

Data model
----------
* History window: from the first day of the month ``history_months - 1`` months before
  ``end_date``'s month, up to ``end_date`` 23:59:59 (13 months = at least 12 full ones).
  All timestamps are naive UTC.
* customers: account_type Basic 55% / Premium 35% / Enterprise 10%; gender Male 48 /
  Female 48 / Other 2 / Unspecified 2 %; age ~N(42, 15) clipped to 18-85; eight
  locations (North, North-East, East, South-East, South, South-West, West, Central).
  ~40% existed before the window (created up to 3 years earlier); the rest join
  uniformly over the window. ``is_churned``/``churn_date`` are set together; churn
  happens only inside the window.
* network_events: ~100 per customer over 13 months (10k customers = ~1M rows), only
  while the customer is active: not before ``created_at``, not after ``churn_date``
  or ``end_date``. Mix call 40% / sms 25% / data 35% (varies per customer: younger
  customers use more data, older ones call more). Calls last lognormal seconds
  (median 2.5 min) and carry 0 or <0.5 MB; SMS are 0 s / 0 MB; data sessions last
  longer (median 10 min) and use lognormal MB (median ~30). Quality is 1.00-5.00.
* revenue: one ``subscription`` charge per month a customer is active (Basic ~20,
  Premium ~45, Enterprise ~120, +/-5% by plan variant), billed in the first hours of
  the month or of the customer's first day; and ``voice``/``sms``/``data`` charges per
  closed month (month ended, or the customer left) priced from that month's events
  (per minute, per SMS, per MB; cheaper unit prices for bigger accounts), billed in
  the month's last hour before close. The current, unfinished month has no usage
  charges yet. Each customer pays by one method, which depends on account type
  (Enterprise mostly bank_transfer; Basic mostly mobile_wallet/debit_card).

Designed signal (what an analyst should be able to find)
--------------------------------------------------------
* Quality by place: base quality North 3.1 (worst) ... Central 4.2 (best).
* Quality by hour: congestion makes 18-22h about 0.75 points worse than the night;
  event volume follows a daily curve (quiet 1-5h, busiest in the evening).
* Quality by person: each customer has a hidden quality offset (sd 0.35: handset,
  indoor coverage) on top of the location.
* Churn: monthly hazard Basic 3% / Premium 1.5% / Enterprise 0.6%, multiplied by
  exp(-1.4 x (personal expected quality - population mean)) and by 2.5 for a hidden
  "disengaging" trait (15% of customers, who also use the network 25% less). Result:
  ~30% of Basic and <10% of Enterprise customers churn in 13 months, and churners
  have clearly worse average quality.
* Falling usage before churn: over a churner's last 90 days, event rate fades
  linearly to 30% of normal and data per session fades the same way, so
  month-over-month usage drops predict churn.
* ARPU: Enterprise > Premium > Basic (plans), and within a tier data-heavy customers
  pay more.

Latent traits (quality offset, activity, disengaging, service mix, data volume,
payment method, plan price) are a pure function of customer_id, so they are never
stored yet ``append_day`` continues each persona consistently.

Mechanics: customers are generated in blocks of 1000, each with its own
``np.random.default_rng(SeedSequence([seed, block_index]))``, vectorised with numpy,
formatted as CSV by pandas and streamed with COPY. Memory is bounded by one block.
"""

from warehouse.generator.load import LoadReport, append_day, generate

__all__ = ["LoadReport", "append_day", "generate"]
