-- Version 2: where each replay stands, so a restarted replay continues exactly
-- where it stopped. Only `sentinel-dashboard replay` writes it; the pipeline never does.

CREATE TABLE sentinel.replay_state (
    symbol      text        PRIMARY KEY,
    source      text        NOT NULL,
    seed        bigint      NOT NULL,
    mean_healthy integer    NOT NULL CHECK (mean_healthy > 0),
    clock_start timestamptz NOT NULL,
    next_index  bigint      NOT NULL CHECK (next_index >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT replay_clock_minute_aligned CHECK (mod(extract(epoch FROM clock_start), 60) = 0)
);

-- The page's health timeline and current-state lookups read samples by time.
CREATE INDEX node_health_observed_at_idx ON sentinel.node_health (observed_at);
