-- Measured and not kept (tenth session of 2026-11-30): the runs table keyed by its id alone.
CREATE TABLE runs_v3 (
    id               TEXT NOT NULL PRIMARY KEY,
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
    due_at           INTEGER,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    last_runner      TEXT,
    fence            INTEGER NOT NULL DEFAULT 0,
    wake_pending     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
INSERT INTO runs_v3 SELECT * FROM runs;
DROP TABLE runs;
ALTER TABLE runs_v3 RENAME TO runs;
CREATE INDEX runs_due ON runs (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX runs_created ON runs (created_at, id);
CREATE INDEX runs_status_created ON runs (status, created_at);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at);
CREATE INDEX runs_parent ON runs (parent_run_id) WHERE parent_run_id IS NOT NULL;
