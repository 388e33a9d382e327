-- Durablex schema for PostgreSQL, version 1. It mirrors the SQLite schema row for row: times
-- are epoch microseconds (UTC, BIGINT) taken from the engine's clock; payloads are the
-- engine's JSON bytes, stored verbatim (BYTEA) so both backends return exactly what was
-- written. Only waiters keep a JSONB copy of their match filter, for set-based matching.

CREATE TABLE runs (
    id               TEXT COLLATE "C" PRIMARY KEY,
    app              TEXT NOT NULL,
    workflow         TEXT NOT NULL,
    status           TEXT NOT NULL,
    input            BYTEA,
    output           BYTEA,
    error            BYTEA,
    event_id         TEXT NOT NULL,
    parent_run_id    TEXT,
    parent_step_id   TEXT,
    rerun_of         TEXT,
    runner_pin       TEXT,
    warnings         BYTEA,
    created_at       BIGINT NOT NULL,
    started_at       BIGINT,
    ended_at         BIGINT,
    -- when a runner must act on the run: queued, a timer, or the expiry of its lease
    due_at           BIGINT,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_runner      TEXT,
    fence            BIGINT NOT NULL DEFAULT 0,
    wake_pending     BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX runs_due ON runs (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_status_created ON runs (status, created_at);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at);
CREATE INDEX runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
CREATE INDEX runs_lease_owner ON runs (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX runs_event ON runs (event_id);

CREATE TABLE steps (
    run_id       TEXT NOT NULL,
    step_id      TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    input        BYTEA,
    output       BYTEA,
    error        BYTEA,
    after        BYTEA,
    started_at   BIGINT,
    ended_at     BIGINT,
    wake_at      BIGINT,
    child_run_id TEXT,
    event_id     TEXT,
    PRIMARY KEY (run_id, step_id)
);
CREATE INDEX steps_event ON steps (event_id) WHERE event_id IS NOT NULL;

CREATE TABLE attempts (
    run_id     TEXT NOT NULL,
    step_id    TEXT NOT NULL,
    number     INTEGER NOT NULL,
    started_at BIGINT,
    ended_at   BIGINT,
    error      BYTEA,
    PRIMARY KEY (run_id, step_id, number)
);

CREATE TABLE events (
    seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    data           BYTEA,
    app            TEXT,
    ts             BIGINT NOT NULL,
    source_run_id  TEXT,
    source_step_id TEXT,
    started_runs   BYTEA,
    resumed        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_name ON events (name, seq);

CREATE TABLE waiters (
    run_id     TEXT NOT NULL,
    step_id    TEXT NOT NULL,
    event_name TEXT NOT NULL,
    app        TEXT NOT NULL,
    -- the filter as the engine wrote it (checked in Python when match_sql is NULL)
    match      BYTEA,
    -- the same filter when SQL decides it exactly: {"dotted.path": value, ...}
    match_sql  JSONB,
    PRIMARY KEY (run_id, step_id)
);
CREATE INDEX waiters_event ON waiters (event_name);

CREATE TABLE workflows (
    app        TEXT NOT NULL,
    name       TEXT NOT NULL,
    triggers   BYTEA NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (app, name)
);
CREATE INDEX workflows_name ON workflows (name);

CREATE TABLE triggers (
    event_name TEXT NOT NULL,
    app        TEXT NOT NULL,
    workflow   TEXT NOT NULL,
    PRIMARY KEY (event_name, app, workflow)
);

CREATE TABLE runners (
    name         TEXT PRIMARY KEY,
    apps         BYTEA NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    stopped_at   BIGINT
);
