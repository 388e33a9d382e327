-- Durablex schema, version 2: fewer pages written by the commits of every run. Each index entry
-- a commit changes is one more WAL page, about 45 us of an fsync'd commit on the reference
-- machine whatever the page size (docs/performance.md, "Fewer pages per commit").

-- A search by event id finds the runs an event started in events.started_runs.
DROP INDEX runs_event;

-- Leases are renewed and checked by run id; a stopping runner releases its runs by status.
DROP INDEX runs_lease_owner;

-- Without AUTOINCREMENT, an insert does not update the sqlite_sequence row. seq still only
-- grows: SQLite takes the largest seq + 1, and events are never deleted.
CREATE TABLE events_v2 (
    seq            INTEGER PRIMARY KEY,
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
INSERT INTO events_v2 (seq, id, name, data, app, ts, source_run_id, source_step_id, started_runs,
    resumed)
    SELECT seq, id, name, data, app, ts, source_run_id, source_step_id, started_runs, resumed
    FROM events;
DROP TABLE events;
ALTER TABLE events_v2 RENAME TO events;
CREATE INDEX events_name ON events (name, seq);
