-- Durablex schema, version 1. Times are epoch microseconds (UTC); payloads are JSON text.

CREATE TABLE runs (
    id               TEXT PRIMARY KEY,
    app              TEXT NOT NULL,
    workflow         TEXT NOT NULL,
    status           TEXT NOT NULL,
    input            BLOB,
    output           BLOB,
    error            BLOB,
    event_id         TEXT NOT NULL,
    parent_run_id    TEXT,
    parent_step_id   TEXT,
    rerun_of         TEXT,
    runner_pin       TEXT,
    warnings         BLOB,
    created_at       INTEGER NOT NULL,
    started_at       INTEGER,
    ended_at         INTEGER,
    -- when a runner must act on the run: queued, a timer, or the expiry of its lease
    due_at           INTEGER,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    last_runner      TEXT,
    fence            INTEGER NOT NULL DEFAULT 0,
    wake_pending     INTEGER NOT NULL DEFAULT 0
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
    seq          INTEGER NOT NULL,
    kind         TEXT NOT NULL,
    status       TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    input        BLOB,
    output       BLOB,
    error        BLOB,
    after        BLOB,
    started_at   INTEGER,
    ended_at     INTEGER,
    wake_at      INTEGER,
    child_run_id TEXT,
    event_id     TEXT,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;
CREATE INDEX steps_event ON steps (event_id) WHERE event_id IS NOT NULL;

CREATE TABLE attempts (
    run_id     TEXT NOT NULL,
    step_id    TEXT NOT NULL,
    number     INTEGER NOT NULL,
    started_at INTEGER,
    ended_at   INTEGER,
    error      BLOB,
    PRIMARY KEY (run_id, step_id, number)
) WITHOUT ROWID;

CREATE TABLE events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    data           BLOB,
    app            TEXT,
    ts             INTEGER NOT NULL,
    source_run_id  TEXT,
    source_step_id TEXT,
    started_runs   BLOB,
    resumed        INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_name ON events (name, seq);

CREATE TABLE waiters (
    run_id     TEXT NOT NULL,
    step_id    TEXT NOT NULL,
    event_name TEXT NOT NULL,
    app        TEXT NOT NULL,
    match      BLOB,
    PRIMARY KEY (run_id, step_id)
) WITHOUT ROWID;
CREATE INDEX waiters_event ON waiters (event_name);

CREATE TABLE workflows (
    app        TEXT NOT NULL,
    name       TEXT NOT NULL,
    triggers   BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (app, name)
) WITHOUT ROWID;
CREATE INDEX workflows_name ON workflows (name);

CREATE TABLE triggers (
    event_name TEXT NOT NULL,
    app        TEXT NOT NULL,
    workflow   TEXT NOT NULL,
    PRIMARY KEY (event_name, app, workflow)
) WITHOUT ROWID;

CREATE TABLE runners (
    name         TEXT PRIMARY KEY,
    apps         BLOB NOT NULL,
    host         TEXT NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stopped_at   INTEGER
);
