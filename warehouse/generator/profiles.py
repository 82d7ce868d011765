"""Distribution parameters of the synthetic population, in one place.

Every number that shapes the data set lives here so that an analyst reading the module
docstring of `warehouse.generator` can find the designed effect sizes, and so that
tuning the signal never means touching the vectorised generation code. Categorical
tables are tuples (stable order = stable codes = deterministic output).
"""

from __future__ import annotations

import numpy as np

SECONDS_PER_DAY = 86_400
SECONDS_PER_MONTH = 30.44 * SECONDS_PER_DAY

# --- customers -------------------------------------------------------------------------

ACCOUNT_TYPES = ("Basic", "Premium", "Enterprise")
ACCOUNT_MIX = np.array([0.55, 0.35, 0.10])

GENDERS = ("Male", "Female", "Other", "Unspecified")
GENDER_MIX = np.array([0.48, 0.48, 0.02, 0.02])

AGE_MIN, AGE_MAX = 18, 85
AGE_MEAN, AGE_SD = 42.0, 15.0

# Base network quality is a property of the place: the worst region is North, the best
# Central, so "quality by location" is the first thing an analyst should see.
LOCATIONS = ("North", "North-East", "East", "South-East", "South", "South-West", "West", "Central")
LOCATION_MIX = np.array([0.11, 0.10, 0.13, 0.12, 0.14, 0.10, 0.12, 0.18])
LOCATION_BASE_QUALITY = np.array([3.1, 3.4, 3.7, 3.8, 3.6, 3.5, 3.9, 4.2])
POPULATION_MEAN_QUALITY = float(LOCATION_MIX @ LOCATION_BASE_QUALITY)

# Share of customers who already existed before the history window, and how far back.
PRE_WINDOW_SHARE = 0.40
PRE_WINDOW_MAX_DAYS = 3 * 365

# --- latent traits (derived from customer_id, see traits.py) -----------------------------

QUALITY_OFFSET_SD = 0.35  # personal quality: handset, home cell, indoor coverage
ACTIVITY_SIGMA = 0.45  # lognormal spread of how much a customer uses the network
DISENGAGING_SHARE = 0.15  # latent "on the way out" trait
DISENGAGING_ACTIVITY = 0.75  # disengaging customers use the network less throughout
DATA_VOLUME_SIGMA = 0.6  # lognormal spread of a customer's typical data session size
MIX_SIGMA = 0.35  # per-customer noise on the call/sms/data mix (log scale)
PLAN_PRICE_SPREAD = 0.05  # +/- relative spread of the subscription price between plan variants

# --- churn --------------------------------------------------------------------------------

# Monthly hazard by account type before multipliers.
BASE_MONTHLY_CHURN = np.array([0.030, 0.015, 0.006])
# Hazard multiplier per point of personal expected quality below the population mean:
# exp(-QUALITY_CHURN_SLOPE * (quality - mean)).
QUALITY_CHURN_SLOPE = 1.4
DISENGAGING_CHURN_MULTIPLIER = 2.5
MAX_MONTHLY_CHURN = 0.5
# Usage fades over the last DECLINE_DAYS before churn, down to DECLINE_FLOOR of normal.
DECLINE_DAYS = 90
DECLINE_FLOOR = 0.30

# --- network events -------------------------------------------------------------------------

EVENT_TYPES = ("call", "sms", "data")
EVENT_MIX = np.array([0.40, 0.25, 0.35])
# Mean events per active day for an average Basic customer; tuned so that a 13-month
# window holds ~100 events per customer over the whole population (joiners and churners
# are active for only part of it).
EVENTS_PER_DAY = 0.43
ACCOUNT_ACTIVITY = np.array([0.9, 1.1, 1.5])
# Younger customers use more data, older ones call more (log-weight per year from 42).
AGE_DATA_SLOPE = -0.02
AGE_CALL_SLOPE = 0.01

# Relative event volume by hour of day (UTC): quiet nights, busy daytime and evening.
HOUR_WEIGHTS = np.array(
    [0.8, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 1.8, 3.0, 4.0, 4.5, 4.6,
     4.8, 4.6, 4.5, 4.5, 4.8, 5.2, 5.8, 6.2, 6.0, 5.2, 3.6, 1.8]
)  # fmt: skip
HOUR_MIX = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
# Congestion: the evening peak (18-22h) is clearly worse than the night and morning.
# Centred on the event-weighted mean, so a location's average quality stays near its base.
_HOUR_CONGESTION = np.array(
    [0.30, 0.30, 0.30, 0.30, 0.30, 0.25, 0.15, 0.10, 0.05, 0.0, 0.0, 0.0,
     0.0, 0.0, 0.0, 0.0, -0.05, -0.15, -0.45, -0.50, -0.50, -0.45, -0.40, -0.10]
)  # fmt: skip
HOUR_QUALITY_EFFECT = _HOUR_CONGESTION - HOUR_MIX @ _HOUR_CONGESTION
EVENT_TYPE_QUALITY_EFFECT = np.array([0.0, 0.10, -0.10])  # data sessions suffer most (mix-weighted ~0)
EVENT_QUALITY_NOISE_SD = 0.45
QUALITY_MIN, QUALITY_MAX = 1.0, 5.0

CALL_MEDIAN_SECONDS, CALL_SIGMA = 150.0, 0.9
DATA_MEDIAN_SECONDS, DATA_SIGMA = 600.0, 1.0
DATA_MEDIAN_MB, DATA_MB_SIGMA = 30.0, 1.0
DATA_MAX_MB = 4000.0  # one session never exceeds ~4 GB
CALL_SIGNALLING_SHARE = 0.2  # calls carrying a little VoLTE data
CALL_SIGNALLING_MAX_MB = 0.5

# --- revenue ----------------------------------------------------------------------------------

SUBSCRIPTION_PRICE = np.array([20.0, 45.0, 120.0])
# Usage prices by account type: per call minute, per SMS, per MB.
PRICE_PER_MINUTE = np.array([0.20, 0.15, 0.12])
PRICE_PER_SMS = np.array([0.10, 0.08, 0.05])
PRICE_PER_MB = np.array([0.040, 0.030, 0.025])
SERVICE_TYPES = ("voice", "sms", "data", "subscription")  # usage services in EVENT_TYPES order

PAYMENT_METHODS = ("credit_card", "debit_card", "bank_transfer", "mobile_wallet")
# Rows: account type; columns: PAYMENT_METHODS. Each customer pays with one method.
PAYMENT_MIX = np.array(
    [
        [0.25, 0.30, 0.10, 0.35],
        [0.45, 0.25, 0.15, 0.15],
        [0.15, 0.03, 0.80, 0.02],
    ]
)

# How long after the month (or the customer's start) the subscription is charged, and
# how long before the month's close (or churn) usage is billed.
SUBSCRIPTION_BILLING_WINDOW_SECONDS = 6 * 3600
USAGE_BILLING_WINDOW_SECONDS = 3600
