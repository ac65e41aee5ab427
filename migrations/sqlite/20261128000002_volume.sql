-- Event volume and errors, as data planes report them (rudder-server's reporting service, and the data-plane
-- websocket's metrics). The same schema lives in ../postgres in PostgreSQL's dialect.

-- Counts per bucket: minute buckets as reported, rolled up into hour and day buckets. `stage` says what the
-- count is of: `source` (received, from gateway reports), `destination` (terminal reports of router,
-- batch_router and warehouse), `tracking_plan` (kept for tracking plans). `entity_id` is the source's or the
-- destination's id; the empty string stands for "none" in the other id columns (a key column cannot be NULL).
CREATE TABLE volume_counts (
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    granularity    TEXT NOT NULL CHECK (granularity IN ('minute', 'hour', 'day')),
    stage          TEXT NOT NULL,
    entity_id      TEXT NOT NULL,
    bucket         INTEGER NOT NULL,                    -- the bucket's start, epoch ms
    source_id      TEXT NOT NULL,
    destination_id TEXT NOT NULL,
    event_name     TEXT NOT NULL,
    event_type     TEXT NOT NULL,
    status         TEXT NOT NULL,
    status_code    INTEGER NOT NULL,
    count          INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, granularity, stage, entity_id, bucket, source_id, destination_id, event_name,
                 event_type, status, status_code)
) WITHOUT ROWID; -- the key is the table: a chart's range scan reads its counts without a second lookup
-- The rollup and the pruning walk one workspace's rows of one granularity by time.
CREATE INDEX volume_counts_by_time ON volume_counts (workspace_id, granularity, bucket);

-- Each source's and destination's totals per hour, added to as reports arrive (no rollup): the workspace
-- overview reads one row per entity and hour rather than every dimension of every bucket. Kept as long as
-- the hour rows.
CREATE TABLE volume_totals (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    stage        TEXT NOT NULL,
    entity_id    TEXT NOT NULL,
    bucket       INTEGER NOT NULL,                    -- the hour's start, epoch ms
    delivered    INTEGER NOT NULL,                    -- destinations: succeeded
    failed       INTEGER NOT NULL,                    -- destinations: failed or aborted
    total        INTEGER NOT NULL,                    -- every state (a source's received)
    -- Time before entity: the overview reads one stretch of the key, every entity's hours in a row.
    PRIMARY KEY (workspace_id, stage, bucket, entity_id)
) WITHOUT ROWID;

-- Reports already counted, by a digest of what makes a report the same (workspace, instance, bucket, stage,
-- source, destination, dimensions): a report sent again (rudder-server retries one it thinks failed) is
-- answered 200 and counted once.
CREATE TABLE volume_reports (
    digest      TEXT PRIMARY KEY,
    received_at INTEGER NOT NULL
);
CREATE INDEX volume_reports_received_at ON volume_reports (received_at);

-- How far the coarser granularities are rolled up: every minute before the hour watermark is in the hour
-- rows, every hour before the day watermark in the day rows. A late report for a minute before a watermark adds
-- to the coarser rows too, in its own transaction, so rolling up never loses or doubles a count.
CREATE TABLE volume_rollups (
    granularity  TEXT PRIMARY KEY CHECK (granularity IN ('hour', 'day')),
    rolled_until INTEGER NOT NULL
);
INSERT INTO volume_rollups (granularity, rolled_until) VALUES ('hour', 0), ('day', 0);

-- Failures with what was sent and what the destination answered.
CREATE TABLE volume_errors (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    destination_id  TEXT NOT NULL,
    source_id       TEXT NOT NULL,
    bucket          INTEGER NOT NULL,
    status_code     INTEGER NOT NULL,
    error_code      TEXT NOT NULL,
    message         TEXT NOT NULL,
    event_name      TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    count           INTEGER NOT NULL,
    sample_event    TEXT,                               -- JSON; NULL when the workspace keeps no samples
    sample_response TEXT,
    created_at      INTEGER NOT NULL
);
CREATE INDEX volume_errors_destination ON volume_errors (workspace_id, destination_id, bucket);

-- rudder-server's name for it: samples (events, destination responses) are not kept at all.
ALTER TABLE workspaces ADD COLUMN disable_reporting_pii INTEGER NOT NULL DEFAULT 0;
-- How long volume is kept at each granularity, and error reports with their samples (workspace settings).
ALTER TABLE workspaces ADD COLUMN volume_minute_retention_hours INTEGER NOT NULL DEFAULT 48;
ALTER TABLE workspaces ADD COLUMN volume_hour_retention_days INTEGER NOT NULL DEFAULT 30;
ALTER TABLE workspaces ADD COLUMN volume_day_retention_days INTEGER NOT NULL DEFAULT 400;
ALTER TABLE workspaces ADD COLUMN error_retention_days INTEGER NOT NULL DEFAULT 30;
