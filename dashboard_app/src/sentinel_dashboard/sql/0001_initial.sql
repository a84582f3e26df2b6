-- Version 1: the tables the feed pipeline writes and the dashboard reads.
-- Applied by sentinel_dashboard.schema inside one transaction, under an advisory lock.

CREATE TABLE sentinel.candles (
    symbol      text        NOT NULL CHECK (symbol <> ''),
    open_time   timestamptz NOT NULL,
    open        numeric     NOT NULL CHECK (open > 0),
    high        numeric     NOT NULL CHECK (high > 0),
    low         numeric     NOT NULL CHECK (low > 0),
    close       numeric     NOT NULL CHECK (close > 0),
    volume      numeric     NOT NULL CHECK (volume >= 0),
    trade_count integer     NULL CHECK (trade_count >= 0),
    node        text        NOT NULL CHECK (node <> ''),
    ingested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (symbol, open_time),
    -- Epoch seconds do not depend on the session time zone, unlike date_trunc.
    CONSTRAINT candles_minute_aligned CHECK (mod(extract(epoch FROM open_time), 60) = 0),
    CONSTRAINT candles_high_low CHECK (high >= low)
);

CREATE TABLE sentinel.node_health (
    node        text        NOT NULL,
    observed_at timestamptz NOT NULL,
    state       text        NOT NULL CHECK (state IN ('up', 'degraded', 'down')),
    latency_ms  numeric     NULL CHECK (latency_ms >= 0),
    last_error  text        NULL,
    PRIMARY KEY (node, observed_at)
);

CREATE TABLE sentinel.breaker_events (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    changed_at timestamptz NOT NULL,
    node       text        NOT NULL,
    from_state text        NOT NULL CHECK (from_state IN ('closed', 'open', 'half_open')),
    to_state   text        NOT NULL CHECK (to_state IN ('closed', 'open', 'half_open')),
    reason     text        NULL
);

CREATE INDEX breaker_events_changed_at_idx ON sentinel.breaker_events (changed_at);
