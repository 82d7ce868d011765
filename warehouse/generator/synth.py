"""Vectorised generation of one block of customers: their profile, events and bills.

A block is the unit of determinism and of memory: it owns its RNG
(`SeedSequence([seed, block_index])`), so the data never depends on how many blocks
are in flight, and it is small enough (~1000 customers, ~100k events) to build with
numpy in a few tens of milliseconds and throw away after COPY.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from warehouse.generator import profiles as p
from warehouse.generator.ids import random_uuid_bytes, uuid_strings
from warehouse.generator.traits import Traits, customer_traits
from warehouse.generator.window import Window

BLOCK_SIZE = 1000
NO_CHURN = np.iinfo(np.int64).max

CUSTOMER_COLUMNS = (
    "customer_id", "created_at", "age", "gender", "location", "account_type", "is_churned", "churn_date",
)  # fmt: skip
EVENT_COLUMNS = (
    "event_id", "customer_id", "event_timestamp", "event_type",
    "network_quality_score", "duration_seconds", "data_usage_mb",
)  # fmt: skip
REVENUE_COLUMNS = (
    "transaction_id", "customer_id", "transaction_date", "amount", "service_type", "payment_method",
)  # fmt: skip


@dataclass(frozen=True)
class Population:
    """Customers as parallel arrays; churn_at is NO_CHURN for customers who stay."""

    raw_ids: np.ndarray
    ids: np.ndarray
    created_at: np.ndarray
    age: np.ndarray
    account: np.ndarray
    location: np.ndarray
    churn_at: np.ndarray
    traits: Traits

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Events:
    customer: np.ndarray  # index into the Population
    timestamp: np.ndarray
    event_type: np.ndarray
    quality: np.ndarray
    duration: np.ndarray
    data_mb: np.ndarray


@dataclass(frozen=True)
class Bills:
    customer: np.ndarray
    timestamp: np.ndarray
    amount: np.ndarray
    service: np.ndarray  # index into SERVICE_TYPES

    @staticmethod
    def concat(parts: list[Bills]) -> Bills:
        return Bills(*(np.concatenate([getattr(b, f) for b in parts]) for f in Bills.__dataclass_fields__))


@dataclass(frozen=True)
class Block:
    """Frames with exactly the raw tables' columns, ready for COPY."""

    customers: pd.DataFrame
    network_events: pd.DataFrame
    revenue: pd.DataFrame


def block_sizes(customers: int) -> list[int]:
    full, rest = divmod(customers, BLOCK_SIZE)
    return [BLOCK_SIZE] * full + ([rest] if rest else [])


def generate_block(seed: int, block_index: int, size: int, window: Window) -> Block:
    """Customers, events and revenue for one block of a full history load."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, block_index]))
    pop, gender = draw_customers(rng, size, window)
    active_start = np.maximum(pop.created_at, window.start)
    active_end = np.minimum(pop.churn_at, window.end)
    events = draw_events(rng, pop, active_start, active_end)
    bills = Bills.concat(
        [
            bill_subscriptions(rng, pop, window, active_start, active_end),
            bill_usage(rng, pop, window, active_start, active_end, usage_by_month(pop, window, events)),
        ]
    )
    return Block(
        customers_frame(pop, gender),
        events_frame(pop, events, random_uuid_bytes(rng, len(events.customer))),
        revenue_frame(pop, bills, random_uuid_bytes(rng, len(bills.customer))),
    )


def generate_day_block(
    seed: int, day: dt.date, block_index: int, pop: Population, prior_usage: np.ndarray | None
) -> Block:
    """One day of events (and the day's bills) for customers already in the database.

    `prior_usage` is this month's usage before `day` as (n, 1, 3, 3), needed only when
    `day` closes its month and usage is billed.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, day.toordinal(), block_index, 1]))
    window = Window.single_day(day)
    active_start = np.maximum(pop.created_at, window.start)
    active_end = np.minimum(pop.churn_at, window.end)
    events = draw_events(rng, pop, active_start, active_end)
    parts = []
    if window.start == window.month_starts[0]:
        parts.append(bill_subscriptions(rng, pop, window, active_start, active_end))
    if window.end == window.month_starts[1]:
        usage = usage_by_month(pop, window, events)
        if prior_usage is not None:
            usage = usage + prior_usage
        month_open = np.maximum(pop.created_at, window.month_starts[0])
        parts.append(bill_usage(rng, pop, window, month_open, active_end, usage))
    bills = Bills.concat(parts) if parts else bill_nothing()
    return Block(
        pd.DataFrame(columns=list(CUSTOMER_COLUMNS)),
        events_frame(pop, events, random_uuid_bytes(rng, len(events.customer))),
        revenue_frame(pop, bills, random_uuid_bytes(rng, len(bills.customer))),
    )


# --- customers ------------------------------------------------------------------------------


def draw_customers(rng: np.random.Generator, n: int, window: Window) -> tuple[Population, np.ndarray]:
    raw_ids = random_uuid_bytes(rng, n)
    account = rng.choice(len(p.ACCOUNT_TYPES), size=n, p=p.ACCOUNT_MIX)
    gender = rng.choice(len(p.GENDERS), size=n, p=p.GENDER_MIX)
    age = np.clip(np.rint(rng.normal(p.AGE_MEAN, p.AGE_SD, size=n)), p.AGE_MIN, p.AGE_MAX).astype(np.int64)
    location = rng.choice(len(p.LOCATIONS), size=n, p=p.LOCATION_MIX)
    pre_window = rng.random(n) < p.PRE_WINDOW_SHARE
    back = rng.integers(1, p.PRE_WINDOW_MAX_DAYS * p.SECONDS_PER_DAY, size=n)
    within = rng.integers(0, window.end - window.start, size=n)
    created_at = np.where(pre_window, window.start - back, window.start + within)
    traits = customer_traits(raw_ids, age, account, location)
    churn_at = draw_churn(rng, account, traits, np.maximum(created_at, window.start), window)
    pop = Population(raw_ids, uuid_strings(raw_ids), created_at, age, account, location, churn_at, traits)
    return pop, gender


def draw_churn(
    rng: np.random.Generator, account: np.ndarray, traits: Traits, exposed_from: np.ndarray, window: Window
) -> np.ndarray:
    """Exponential time to churn from the monthly hazard; NO_CHURN if it falls after the window.

    The hazard is the account type's base rate, multiplied up for customers whose personal
    network quality is poor and for the latent disengaging trait. That is the causal
    story analysts should recover: bad network -> churn.
    """
    hazard = (
        p.BASE_MONTHLY_CHURN[account]
        * np.exp(-p.QUALITY_CHURN_SLOPE * (traits.expected_quality - p.POPULATION_MEAN_QUALITY))
        * np.where(traits.disengaging, p.DISENGAGING_CHURN_MULTIPLIER, 1.0)
    )
    hazard = np.minimum(hazard, p.MAX_MONTHLY_CHURN)
    rate_per_second = -np.log1p(-hazard) / p.SECONDS_PER_MONTH
    wait = np.maximum(np.floor(rng.exponential(1.0 / rate_per_second)), 1).astype(np.int64)
    churn_at = exposed_from + np.minimum(wait, window.end - exposed_from)  # clamp: avoids overflow
    return np.where(churn_at < window.end, churn_at, NO_CHURN)


# --- events ------------------------------------------------------------------------------------


def engagement(pop: Population, customer: np.ndarray, t: np.ndarray) -> np.ndarray:
    """1 normally; fading linearly to DECLINE_FLOOR over the last DECLINE_DAYS before churn."""
    days_left = (pop.churn_at[customer] - t) / p.SECONDS_PER_DAY
    fade = p.DECLINE_FLOOR + (1 - p.DECLINE_FLOOR) * days_left / p.DECLINE_DAYS
    return np.clip(fade, p.DECLINE_FLOOR, 1.0)


def draw_events(
    rng: np.random.Generator, pop: Population, active_start: np.ndarray, active_end: np.ndarray
) -> Events:
    span = np.maximum(active_end - active_start, 0)
    counts = rng.poisson(pop.traits.activity * span / p.SECONDS_PER_DAY)
    customer = np.repeat(np.arange(len(pop)), counts)
    m = len(customer)
    # Day uniform over the active span, hour from the daily profile: the arrival process
    # is a Poisson process whose intensity follows the hour-of-day curve.
    t0 = active_start[customer] + np.floor(rng.random(m) * span[customer]).astype(np.int64)
    hour = np.minimum(np.searchsorted(np.cumsum(p.HOUR_MIX), rng.random(m), side="right"), 23)
    t = t0 - t0 % p.SECONDS_PER_DAY + hour * 3600 + rng.integers(0, 3600, size=m)
    level = engagement(pop, customer, t)
    keep = (t >= active_start[customer]) & (t < active_end[customer]) & (rng.random(m) < level)

    u_type, noise = rng.random(m), rng.normal(0.0, p.EVENT_QUALITY_NOISE_SD, size=m)
    call_s = rng.lognormal(np.log(p.CALL_MEDIAN_SECONDS), p.CALL_SIGMA, size=m)
    data_s = rng.lognormal(np.log(p.DATA_MEDIAN_SECONDS), p.DATA_SIGMA, size=m)
    data_mb = rng.lognormal(0.0, p.DATA_MB_SIGMA, size=m)
    signalling = rng.random(m)

    cdf = pop.traits.type_cdf[customer]
    etype = (u_type >= cdf[:, 0]).astype(np.int64) + (u_type >= cdf[:, 1])
    quality = (
        p.LOCATION_BASE_QUALITY[pop.location[customer]]
        + pop.traits.quality_offset[customer]
        + p.HOUR_QUALITY_EFFECT[hour]
        + p.EVENT_TYPE_QUALITY_EFFECT[etype]
        + noise
    )
    quality = np.round(np.clip(quality, p.QUALITY_MIN, p.QUALITY_MAX), 2)
    duration = np.select(
        [etype == 0, etype == 2], [np.maximum(np.rint(call_s), 1), np.rint(data_s) + 1], 0
    ).astype(np.int64)
    call_mb = np.where(
        signalling < p.CALL_SIGNALLING_SHARE,
        signalling / p.CALL_SIGNALLING_SHARE * p.CALL_SIGNALLING_MAX_MB,
        0,
    )
    session_mb = np.clip(pop.traits.data_volume[customer] * data_mb * level, 0.01, p.DATA_MAX_MB)
    mb = np.round(np.select([etype == 0, etype == 2], [call_mb, session_mb], 0.0), 2)

    order = np.lexsort((t[keep], customer[keep]))
    return Events(
        *(a[keep][order] for a in (customer, t)),
        *(a[keep][order] for a in (etype, quality, duration, mb)),
    )


def usage_by_month(pop: Population, window: Window, events: Events) -> np.ndarray:
    """(customers, months, event type, [count, seconds, MB]) usage totals."""
    month = np.searchsorted(window.month_starts, events.timestamp, side="right") - 1
    cells = len(pop) * window.months * 3
    key = (events.customer * window.months + month) * 3 + events.event_type
    totals = [
        np.bincount(key, weights=w, minlength=cells)
        for w in (None, events.duration.astype(np.float64), events.data_mb)
    ]
    return np.stack(totals, axis=-1).reshape(len(pop), window.months, 3, 3)


# --- revenue -------------------------------------------------------------------------------------


def bill_nothing() -> Bills:
    empty_i, empty_f = np.empty(0, dtype=np.int64), np.empty(0)
    return Bills(empty_i, empty_i, empty_f, empty_i)


def bill_subscriptions(
    rng: np.random.Generator,
    pop: Population,
    window: Window,
    active_start: np.ndarray,
    active_end: np.ndarray,
) -> Bills:
    """One plan charge per month the customer is active in, shortly after the month (or they) start."""
    starts, ends = window.month_starts[:-1], window.month_starts[1:]
    customer, month = np.nonzero(
        (starts[None, :] < active_end[:, None]) & (ends[None, :] > active_start[:, None])
    )
    month_open = np.maximum(starts[month], active_start[customer])
    month_close = np.minimum(ends[month], active_end[customer])
    room = np.minimum(p.SUBSCRIPTION_BILLING_WINDOW_SECONDS, month_close - month_open)
    t = month_open + np.floor(rng.random(len(customer)) * room).astype(np.int64)
    service = np.full(len(customer), p.SERVICE_TYPES.index("subscription"))
    return Bills(customer, t, pop.traits.plan_price[customer], service)


def bill_usage(
    rng: np.random.Generator,
    pop: Population,
    window: Window,
    active_start: np.ndarray,
    active_end: np.ndarray,
    usage: np.ndarray,
) -> Bills:
    """Voice, SMS and data charges for each closed month (month over, or the customer left)."""
    starts, ends = window.month_starts[:-1], window.month_starts[1:]
    churned = pop.churn_at < NO_CHURN
    active = (starts[None, :] < active_end[:, None]) & (ends[None, :] > active_start[:, None])
    closed = (ends[None, :] <= window.end) | (churned[:, None] & (active_end[:, None] <= ends[None, :]))
    used = usage[..., 0] > 0  # (n, months, 3)
    customer, month, service = np.nonzero(used & (active & closed)[..., None])
    account = pop.account[customer]
    totals = usage[customer, month, service]
    price = np.select(
        [service == 0, service == 1],
        [p.PRICE_PER_MINUTE[account] * totals[:, 1] / 60, p.PRICE_PER_SMS[account] * totals[:, 0]],
        p.PRICE_PER_MB[account] * totals[:, 2],
    )
    month_open = np.maximum(starts[month], active_start[customer])
    close = np.minimum(ends[month], active_end[customer])
    room = np.minimum(p.USAGE_BILLING_WINDOW_SECONDS, close - month_open - 1)
    t = close - 1 - np.floor(rng.random(len(customer)) * room).astype(np.int64)
    return Bills(customer, t, np.round(price, 2), service)


# --- frames ---------------------------------------------------------------------------------------


def _timestamps(seconds: np.ndarray) -> np.ndarray:
    return seconds.astype("datetime64[s]")


def customers_frame(pop: Population, gender: np.ndarray) -> pd.DataFrame:
    churned = pop.churn_at < NO_CHURN
    churn = np.where(churned, pop.churn_at, 0).astype("datetime64[s]")
    churn[~churned] = np.datetime64("NaT")
    return pd.DataFrame(
        {
            "customer_id": pop.ids,
            "created_at": _timestamps(pop.created_at),
            "age": pop.age,
            "gender": pd.Categorical.from_codes(gender, p.GENDERS),
            "location": pd.Categorical.from_codes(pop.location, p.LOCATIONS),
            "account_type": pd.Categorical.from_codes(pop.account, p.ACCOUNT_TYPES),
            "is_churned": churned,
            "churn_date": churn,
        },
        columns=list(CUSTOMER_COLUMNS),
    )


def events_frame(pop: Population, events: Events, event_ids: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": uuid_strings(event_ids),
            "customer_id": pop.ids[events.customer],
            "event_timestamp": _timestamps(events.timestamp),
            "event_type": pd.Categorical.from_codes(events.event_type, p.EVENT_TYPES),
            "network_quality_score": events.quality,
            "duration_seconds": events.duration,
            "data_usage_mb": events.data_mb,
        },
        columns=list(EVENT_COLUMNS),
    )


def revenue_frame(pop: Population, bills: Bills, transaction_ids: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "transaction_id": uuid_strings(transaction_ids),
            "customer_id": pop.ids[bills.customer],
            "transaction_date": _timestamps(bills.timestamp),
            "amount": bills.amount,
            "service_type": pd.Categorical.from_codes(bills.service, p.SERVICE_TYPES),
            "payment_method": pd.Categorical.from_codes(
                pop.traits.payment_code[bills.customer], p.PAYMENT_METHODS
            ),
        },
        columns=list(REVENUE_COLUMNS),
    )
