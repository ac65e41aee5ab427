-- Data planes talk back: which config revision each runs, what the live debugger watches, and the events
-- that cross between replicas. The same schema lives in ../sqlite in SQLite's dialect.

-- A counter that moves with config_updated_at (changes::touch): data planes report the revision they run.
ALTER TABLE workspaces ADD COLUMN config_revision BIGINT NOT NULL DEFAULT 0;
-- Whether the live debugger keeps event payloads and destination responses (personal data) at all.
ALTER TABLE workspaces ADD COLUMN live_payloads BIGINT NOT NULL DEFAULT 1;

-- One row per open live-debugger stream. While a row is live (until_at in the future, its replica's heartbeat
-- recent), the entities it watches carry the flags that make rudder-server upload samples. A replica that
-- dies stops renewing heartbeat_at, and another replica's sweep removes the row.
CREATE TABLE live_captures (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    replica_id      TEXT NOT NULL,
    whole_workspace BIGINT NOT NULL,                     -- 1: every source and destination
    source_ids      TEXT NOT NULL,                       -- JSON array
    destination_ids TEXT NOT NULL,                       -- JSON array
    until_at        BIGINT NOT NULL,
    heartbeat_at    BIGINT NOT NULL,
    created_by      TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX live_captures_workspace ON live_captures (workspace_id);

-- Data planes seen: connected over the websocket, or polling their config. A namespace's data plane has a
-- row per workspace it serves.
CREATE TABLE data_planes (
    workspace_id      TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    instance_id       TEXT NOT NULL,
    transport         TEXT NOT NULL CHECK (transport IN ('websocket', 'polling')),
    software          TEXT NOT NULL,
    version           TEXT NOT NULL,
    address           TEXT NOT NULL,
    connected_replica TEXT,                              -- the replica holding its websocket, if any
    applied_revision  BIGINT NOT NULL,
    applied_at        BIGINT NOT NULL,
    first_seen        BIGINT NOT NULL,
    last_seen         BIGINT NOT NULL,
    events_received   BIGINT NOT NULL DEFAULT 0,
    frames_rejected   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, instance_id)
);
CREATE INDEX data_planes_last_seen ON data_planes (workspace_id, last_seen);

-- Live events too large for one NOTIFY (8,000 bytes) wait here, for a minute, for the other replicas.
CREATE TABLE live_spill (
    id         TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
