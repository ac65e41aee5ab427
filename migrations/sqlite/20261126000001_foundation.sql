-- Foundation schema. The same schema lives in ../postgres in PostgreSQL's dialect; the query layer only uses
-- portable SQL over TEXT ids, INTEGER epoch milliseconds, INTEGER 0/1 flags and JSON stored as TEXT.

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,            -- lower-cased
    name              TEXT NOT NULL,
    password_hash     TEXT NOT NULL,                   -- argon2id PHC string
    is_instance_admin INTEGER NOT NULL DEFAULT 0,
    session_epoch     INTEGER NOT NULL DEFAULT 0,       -- bumped on password change: ends other sessions
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,                       -- sha256 of the session id; the id itself is never stored
    data       TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE auth_throttle (
    key          TEXT PRIMARY KEY,                     -- "account:<email>" or "client:<address>"
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
);

CREATE TABLE workspaces (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    config_updated_at INTEGER NOT NULL,                 -- the data-plane config's updatedAt
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);

CREATE TABLE memberships (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin', 'owner')),
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships (user_id);

CREATE TABLE invites (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email        TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
    invited_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    accepted_at  INTEGER
);
CREATE INDEX invites_workspace_id ON invites (workspace_id);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin', 'owner')),
    token_hash   TEXT NOT NULL UNIQUE,                 -- sha256 of the token; the token is shown once
    prefix       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX api_tokens_workspace_id ON api_tokens (workspace_id);

CREATE TABLE data_plane_tokens (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER
);
CREATE INDEX data_plane_tokens_workspace_id ON data_plane_tokens (workspace_id);

CREATE TABLE namespaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    secret_hash TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE namespace_workspaces (
    namespace_id TEXT NOT NULL REFERENCES namespaces (id) ON DELETE CASCADE,
    workspace_id TEXT NOT NULL UNIQUE REFERENCES workspaces (id) ON DELETE CASCADE,
    PRIMARY KEY (namespace_id, workspace_id)
);

-- One data key per workspace, wrapped (AES-256-GCM) by the master key identified by master_key_id.
CREATE TABLE data_keys (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL UNIQUE REFERENCES workspaces (id) ON DELETE CASCADE,
    wrapped_key   TEXT NOT NULL,
    master_key_id TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    rewrapped_at  INTEGER
);

-- One row per secret field value, encrypted with the workspace's data key; the associated data binds it
-- to (workspace, resource type, resource id, field).
CREATE TABLE secret_values (
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    field         TEXT NOT NULL,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    data_key_id   TEXT NOT NULL,
    ciphertext    TEXT NOT NULL,
    updated_at    INTEGER NOT NULL,
    PRIMARY KEY (resource_type, resource_id, field)
);
CREATE INDEX secret_values_workspace_id ON secret_values (workspace_id);

CREATE TABLE sources (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    type         TEXT NOT NULL,
    config       TEXT NOT NULL,                        -- JSON without secret fields
    write_key    TEXT NOT NULL UNIQUE,
    enabled      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX sources_workspace_id ON sources (workspace_id);

CREATE TABLE destinations (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    type         TEXT NOT NULL,
    config       TEXT NOT NULL,                        -- JSON without secret fields
    enabled      INTEGER NOT NULL,
    revision_id  TEXT NOT NULL,                        -- changes with every config change (rudder-server's revisionId)
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX destinations_workspace_id ON destinations (workspace_id);

CREATE TABLE connections (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    source_id      TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    destination_id TEXT NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    created_at     INTEGER NOT NULL,
    UNIQUE (source_id, destination_id)
);
CREATE INDEX connections_workspace_id ON connections (workspace_id);
CREATE INDEX connections_destination_id ON connections (destination_id);

-- Who did what. Never holds a secret value: details name fields, not values.
CREATE TABLE audit_events (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT,
    actor_id     TEXT,
    action       TEXT NOT NULL,
    target_type  TEXT NOT NULL,
    target_id    TEXT NOT NULL,
    details      TEXT NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX audit_events_workspace_id ON audit_events (workspace_id, created_at);
