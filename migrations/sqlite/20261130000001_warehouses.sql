-- Warehouses: permission validations, sync history, and the alerting that follows them (health per resource,
-- who subscribes, what was mailed). A "resource" is a warehouse destination or a reverse-ETL source:
-- `resource_type` is 'destination' or 'source'. The same schema lives in ../postgres in PostgreSQL's dialect.

-- One validation run: its steps (a JSON array, rewritten as each step finishes, so the UI shows them live).
CREATE TABLE warehouse_validations (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL CHECK (resource_type IN ('destination', 'source')),
    resource_id   TEXT NOT NULL,
    cause         TEXT NOT NULL CHECK (cause IN ('requested', 'saved', 'scheduled')),
    status        TEXT NOT NULL CHECK (status IN ('running', 'passed', 'failed')),
    steps         TEXT NOT NULL,
    requested_by  TEXT,                                  -- the person's or token's label; none when scheduled
    created_at    INTEGER NOT NULL,
    finished_at   INTEGER
);
CREATE INDEX warehouse_validations_by_resource ON warehouse_validations (resource_id, created_at);

-- How often a resource's permissions are checked again (drift); absent: daily.
CREATE TABLE warehouse_schedules (
    resource_id    TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    every_hours    INTEGER NOT NULL                      -- 0: never
);

-- Warehouse uploads and reverse-ETL syncs as data planes report them (websocket syncRun frames, and
-- rudder-server's reporting rows with reportedBy "warehouse"). One row per run, updated as it ends.
CREATE TABLE sync_runs (
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL CHECK (resource_type IN ('destination', 'source')),
    resource_id   TEXT NOT NULL,
    run_id        TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('warehouseUpload', 'reverseEtl')),
    status        TEXT NOT NULL CHECK (status IN ('started', 'succeeded', 'failed')),
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER,
    rows          INTEGER,
    error         TEXT,
    received_at   INTEGER NOT NULL,
    PRIMARY KEY (resource_id, run_id)
);
CREATE INDEX sync_runs_by_time ON sync_runs (resource_id, started_at);
CREATE INDEX sync_runs_by_workspace ON sync_runs (workspace_id, started_at);

-- Whether a resource is failing, per cause ('sync' or 'validation'): the alert state machine. A row exists
-- once the resource's first outcome of that cause is known.
CREATE TABLE resource_health (
    resource_id      TEXT NOT NULL,
    cause            TEXT NOT NULL CHECK (cause IN ('sync', 'validation')),
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    resource_type    TEXT NOT NULL CHECK (resource_type IN ('destination', 'source')),
    state            TEXT NOT NULL CHECK (state IN ('healthy', 'failing')),
    incident_id      TEXT,                               -- the current failure's id, while failing
    failing_since    INTEGER,
    last_error       TEXT,
    last_reminded_at INTEGER,
    updated_at       INTEGER NOT NULL,
    PRIMARY KEY (resource_id, cause)
);
CREATE INDEX resource_health_failing ON resource_health (state, last_reminded_at);

-- A member's choice for one resource: subscribed (1) or not (0). Absent: admins and owners are, others not.
CREATE TABLE alert_subscriptions (
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    resource_id  TEXT NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    subscribed   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (user_id, resource_id)
);
CREATE INDEX alert_subscriptions_by_resource ON alert_subscriptions (resource_id);

CREATE TABLE notification_settings (
    user_id    TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    mute_all   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Every alert mail, one row per recipient: the outbox (a `mail.alert` job per row, enqueued in the same
-- transaction) and the record of what was sent to whom. Kept after the resource is deleted.
CREATE TABLE alerts (
    id            TEXT PRIMARY KEY,                      -- also the mail's Message-ID
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    resource_name TEXT NOT NULL,
    incident_id   TEXT NOT NULL,
    cause         TEXT NOT NULL,
    event         TEXT NOT NULL CHECK (event IN ('failing', 'reminder', 'recovered')),
    error         TEXT,
    failing_since INTEGER NOT NULL,
    user_id       TEXT,
    email         TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    INTEGER NOT NULL,
    sent_at       INTEGER
);
CREATE INDEX alerts_by_workspace ON alerts (workspace_id, created_at);
