"""Latent customer traits: the hidden causes behind the observable signal.

Traits are derived from the customer_id (see `ids.hash_uniforms`) plus stored columns
(age, account type), never stored themselves. That keeps the raw schema exactly the
seed's, and lets `append_day` regenerate the same persona for a later day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from warehouse.generator import profiles as p
from warehouse.generator.ids import hash_uniforms

_TRAIT_UNIFORMS = 9


@dataclass(frozen=True)
class Traits:
    quality_offset: np.ndarray  # added to the location's base quality
    expected_quality: np.ndarray  # location base + offset: what drives churn
    activity: np.ndarray  # events per active day at full engagement
    disengaging: np.ndarray  # bool
    type_cdf: np.ndarray  # (n, 2) cumulative probability of call, call+sms
    data_volume: np.ndarray  # median MB of a data session
    payment_code: np.ndarray  # index into PAYMENT_METHODS
    plan_price: np.ndarray  # monthly subscription price


def customer_traits(
    raw_ids: np.ndarray, age: np.ndarray, account: np.ndarray, location: np.ndarray
) -> Traits:
    u = hash_uniforms(raw_ids, _TRAIT_UNIFORMS)
    z = ndtri(u)
    quality_offset = p.QUALITY_OFFSET_SD * z[:, 0]
    disengaging = u[:, 2] < p.DISENGAGING_SHARE
    activity = (
        p.EVENTS_PER_DAY
        * p.ACCOUNT_ACTIVITY[account]
        * np.exp(p.ACTIVITY_SIGMA * z[:, 1] - p.ACTIVITY_SIGMA**2 / 2)
        * np.where(disengaging, p.DISENGAGING_ACTIVITY, 1.0)
    )
    years = age - p.AGE_MEAN
    log_w = np.log(p.EVENT_MIX)[None, :] + p.MIX_SIGMA * z[:, 3:6]
    log_w[:, 0] += p.AGE_CALL_SLOPE * years
    log_w[:, 2] += p.AGE_DATA_SLOPE * years
    w = np.exp(log_w)
    w /= w.sum(axis=1, keepdims=True)
    type_cdf = np.cumsum(w[:, :2], axis=1)
    data_volume = p.DATA_MEDIAN_MB * np.exp(p.DATA_VOLUME_SIGMA * z[:, 6])
    pay_cdf = np.cumsum(p.PAYMENT_MIX[account], axis=1)
    payment_code = np.minimum((u[:, 7][:, None] > pay_cdf).sum(axis=1), len(p.PAYMENT_METHODS) - 1)
    spread = 2 * u[:, 8] - 1
    plan_price = np.round(p.SUBSCRIPTION_PRICE[account] * (1 + p.PLAN_PRICE_SPREAD * spread), 2)
    return Traits(
        quality_offset=quality_offset,
        expected_quality=p.LOCATION_BASE_QUALITY[location] + quality_offset,
        activity=activity,
        disengaging=disengaging,
        type_cdf=type_cdf,
        data_volume=data_volume,
        payment_code=payment_code,
        plan_price=plan_price,
    )
