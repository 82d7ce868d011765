-- Raw telecom tables, as the seed specifies them, in schema "raw".
--
-- Deviations from the seed, on purpose:
--   * customers.gender is VARCHAR(20), not VARCHAR(10): the seed's own CHECK list
--     contains 'Unspecified' (11 characters), which VARCHAR(10) cannot store.
--   * The seed's inline INDEX clauses are MySQL syntax; here they are CREATE INDEX.
--   * Added: churn_date is set if and only if is_churned (ck_customers_churn_consistency),
--     and indexes on (is_churned, created_at) and (customer_id, event_timestamp).
-- All timestamps are UTC, stored without time zone as the seed does.

-- gen_random_uuid() is built in from PostgreSQL 13 on (no pgcrypto: the embedded server lacks it).
CREATE SCHEMA IF NOT EXISTS raw;

CREATE TABLE raw.customers (
    customer_id   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at    TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    age           INTEGER CONSTRAINT ck_customers_age CHECK (age >= 18 AND age <= 120),
    gender        VARCHAR(20) CONSTRAINT ck_customers_gender
                  CHECK (gender IN ('Male', 'Female', 'Other', 'Unspecified')),
    location      VARCHAR(100),
    account_type  VARCHAR(20) CONSTRAINT ck_customers_account_type
                  CHECK (account_type IN ('Basic', 'Premium', 'Enterprise')),
    is_churned    BOOLEAN DEFAULT FALSE,
    churn_date    TIMESTAMP,
    CONSTRAINT ck_customers_churn_consistency
        CHECK ((is_churned IS TRUE) = (churn_date IS NOT NULL))
);
COMMENT ON TABLE raw.customers IS 'One row per subscriber. Seed schema; gender widened to VARCHAR(20) so that ''Unspecified'' fits.';
COMMENT ON COLUMN raw.customers.gender IS 'Male, Female, Other or Unspecified. VARCHAR(20) rather than the seed''s VARCHAR(10), which cannot hold ''Unspecified''.';
COMMENT ON COLUMN raw.customers.churn_date IS 'When the customer left (UTC); set if and only if is_churned.';

CREATE TABLE raw.network_events (
    event_id               UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id            UUID CONSTRAINT fk_network_events_customer
                           REFERENCES raw.customers (customer_id) ON DELETE CASCADE,
    event_timestamp        TIMESTAMP NOT NULL,
    event_type             VARCHAR(50) CONSTRAINT ck_network_events_event_type
                           CHECK (event_type IN ('call', 'sms', 'data')),
    network_quality_score  DECIMAL(3, 2) CONSTRAINT ck_network_events_quality
                           CHECK (network_quality_score >= 1.0 AND network_quality_score <= 5.0),
    duration_seconds       INTEGER CONSTRAINT ck_network_events_duration CHECK (duration_seconds >= 0),
    data_usage_mb          DECIMAL(10, 2) CONSTRAINT ck_network_events_data_usage CHECK (data_usage_mb >= 0)
);
COMMENT ON TABLE raw.network_events IS 'One row per call, SMS or data session, with the network quality score (1.0 worst to 5.0 best).';

CREATE TABLE raw.revenue (
    transaction_id    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id       UUID CONSTRAINT fk_revenue_customer
                      REFERENCES raw.customers (customer_id) ON DELETE CASCADE,
    transaction_date  TIMESTAMP NOT NULL,
    amount            DECIMAL(10, 2) CONSTRAINT ck_revenue_amount CHECK (amount >= 0),
    service_type      VARCHAR(50) CONSTRAINT ck_revenue_service_type
                      CHECK (service_type IN ('voice', 'data', 'sms', 'subscription')),
    payment_method    VARCHAR(50) CONSTRAINT ck_revenue_payment_method
                      CHECK (payment_method IN ('credit_card', 'debit_card', 'bank_transfer', 'mobile_wallet'))
);
COMMENT ON TABLE raw.revenue IS 'One row per billed transaction.';

-- The seed's indexes, as real CREATE INDEX statements.
CREATE INDEX idx_customers_account_type ON raw.customers (account_type);
CREATE INDEX idx_customers_location ON raw.customers (location);
CREATE INDEX idx_customers_is_churned ON raw.customers (is_churned);
CREATE INDEX idx_network_events_customer_id ON raw.network_events (customer_id);
CREATE INDEX idx_network_events_timestamp ON raw.network_events (event_timestamp);
CREATE INDEX idx_network_events_event_type ON raw.network_events (event_type);
CREATE INDEX idx_revenue_customer_id ON raw.revenue (customer_id);
CREATE INDEX idx_revenue_transaction_date ON raw.revenue (transaction_date);
CREATE INDEX idx_revenue_service_type ON raw.revenue (service_type);
-- Added for churn cohorts and per-customer timelines.
CREATE INDEX idx_customers_churned_created ON raw.customers (is_churned, created_at);
CREATE INDEX idx_network_events_customer_ts ON raw.network_events (customer_id, event_timestamp);
