-- Groundwork: durable background jobs, a readable audit log, race-free first set-up, signing keys that
-- outlive a master-key rotation. The same schema lives in ../sqlite in SQLite's dialect.

-- Work that must happen later, again, or exactly once across replicas. A worker leases a row (lease_owner,
-- lease_expires_at) and renews the lease while it runs; a lease that expires (its replica died) makes the job
-- claimable again. A failure is retried after an exponential backoff (run_at) until max_attempts, then the
-- job is dead: kept, visible, and retried only by a person.
CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    payload          TEXT NOT NULL,                    -- JSON; never a credential (mail jobs name what to send)
    state            TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'dead')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    run_at           BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_error       TEXT,
    unique_key       TEXT UNIQUE,                      -- a scheduled run's slot: enqueued once across replicas
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (state, run_at);

-- The audit log says who (a person, an API token or Wheelhouse itself, and the label people know them by),
-- from where, and what changed (field by field, secrets replaced by a marker).
ALTER TABLE audit_events RENAME COLUMN target_type TO resource_type;
ALTER TABLE audit_events RENAME COLUMN target_id TO resource_id;
ALTER TABLE audit_events RENAME COLUMN details TO changes;
ALTER TABLE audit_events ADD COLUMN actor_type TEXT NOT NULL DEFAULT 'system';
ALTER TABLE audit_events ADD COLUMN actor_label TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_events ADD COLUMN resource_name TEXT;
ALTER TABLE audit_events ADD COLUMN ip TEXT;
ALTER TABLE audit_events ADD COLUMN user_agent TEXT;
UPDATE audit_events SET actor_type = 'user',
    actor_label = COALESCE((SELECT email FROM users WHERE users.id = audit_events.actor_id), '')
    WHERE actor_id IS NOT NULL;
CREATE INDEX audit_events_workspace_page ON audit_events (workspace_id, created_at, id);

ALTER TABLE workspaces ADD COLUMN audit_retention_days BIGINT NOT NULL DEFAULT 400;

-- Facts about the instance that exist once. Set-up inserts 'first_owner' in the transaction that creates the
-- owner: a second, concurrent set-up fails on the primary key instead of creating a second owner.
CREATE TABLE instance_facts (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO instance_facts (key, value, created_at)
    SELECT 'first_owner', id, created_at FROM users ORDER BY created_at, id LIMIT 1;

-- Random root keys of the instance (the signing key of links and tickets), wrapped by the master key like the
-- workspaces' data keys: they survive a master-key rotation, and every replica derives the same keys.
CREATE TABLE instance_keys (
    purpose       TEXT PRIMARY KEY,
    id            TEXT NOT NULL,
    wrapped_key   TEXT NOT NULL,
    master_key_id TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    rewrapped_at  BIGINT
);

-- Sources made before they had revisions.
UPDATE sources SET revision_id = id WHERE revision_id = '';
