-- Tracking plans: what events must look like (../shared/reference/rudderstack-protocol.md §3). The same schema
-- lives in ../postgres in PostgreSQL's dialect.

-- A plan and its draft. The draft is what people edit; data planes only ever see published versions.
CREATE TABLE tracking_plans (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL,
    events         TEXT NOT NULL,                      -- the draft's events: JSON, the transformer's event shape
    revision_id    TEXT NOT NULL,                      -- changes with every change to the draft (ETag)
    latest_version INTEGER NOT NULL DEFAULT 0,            -- 0 before the first publish
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE UNIQUE INDEX tracking_plans_name ON tracking_plans (workspace_id, name);

-- Published versions, never changed once written: rudder-transformer caches `id::version` forever.
CREATE TABLE tracking_plan_versions (
    tracking_plan_id TEXT NOT NULL REFERENCES tracking_plans (id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name             TEXT NOT NULL,
    description      TEXT NOT NULL,
    events           TEXT NOT NULL,
    published_at     INTEGER NOT NULL,
    published_by     TEXT,                             -- the publisher's email at the time
    PRIMARY KEY (tracking_plan_id, version)
);

-- A source's link to one published version, with the settings the data plane reads
-- (`dgSourceTrackingPlanConfig`). Deleting a linked plan is refused by the domain; the cascade is for the
-- workspace's own deletion.
CREATE TABLE source_tracking_plans (
    source_id        TEXT PRIMARY KEY REFERENCES sources (id) ON DELETE CASCADE,
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    tracking_plan_id TEXT NOT NULL,
    version          INTEGER NOT NULL,
    config           TEXT NOT NULL,                    -- JSON: event type (or `global`) → settings
    link_version     INTEGER NOT NULL,                    -- counts the changes to this link
    updated_at       INTEGER NOT NULL,
    FOREIGN KEY (tracking_plan_id, version) REFERENCES tracking_plan_versions (tracking_plan_id, version)
        ON DELETE CASCADE
);
CREATE INDEX source_tracking_plans_plan ON source_tracking_plans (tracking_plan_id);
-- Each config build reads one workspace's links.
CREATE INDEX source_tracking_plans_workspace ON source_tracking_plans (workspace_id);

-- What the data planes' tracking-plan validator reported (reportedBy `tracking_plan_validator`), per hour.
-- `error_type` is empty for the one whole-event row rudder-server sends per event; the rows with a violation
-- type carry the number of such violations in `violations`.
CREATE TABLE tracking_plan_violations (
    workspace_id     TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    tracking_plan_id TEXT NOT NULL,
    bucket           INTEGER NOT NULL,                    -- the hour's start, epoch ms
    source_id        TEXT NOT NULL,
    version          INTEGER NOT NULL,
    status           TEXT NOT NULL,                    -- succeeded_with_violations | succeeded_without_violations
    error_type       TEXT NOT NULL,
    event_type       TEXT NOT NULL,
    event_name       TEXT NOT NULL,
    events           INTEGER NOT NULL,
    violations       INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, tracking_plan_id, bucket, source_id, version, status, error_type, event_type,
                 event_name)
) WITHOUT ROWID;
CREATE INDEX tracking_plan_violations_by_time ON tracking_plan_violations (workspace_id, bucket);

-- The events sources received lately, as the live debugger captured them (payloads included, so only where the
-- workspace keeps payloads): what a plan is imported from and previewed against. The newest
-- 10,000 per source are kept, for at most 7 days.
CREATE TABLE captured_events (
    id           INTEGER PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source_id    TEXT NOT NULL,
    event_type   TEXT NOT NULL,
    event_name   TEXT NOT NULL,
    payload      TEXT NOT NULL,
    captured_at  INTEGER NOT NULL
);
CREATE INDEX captured_events_source ON captured_events (workspace_id, source_id, id);
CREATE INDEX captured_events_age ON captured_events (captured_at);
