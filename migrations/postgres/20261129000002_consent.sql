-- Consent settings: the consent managers a workspace uses, with their categories (purposes), and what each
-- destination requires of them (`../shared/reference/rudderstack-protocol.md` §4). The same schema lives in
-- ../sqlite in SQLite's dialect.

CREATE TABLE consent_providers (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    provider     TEXT NOT NULL CHECK (provider IN ('oneTrust', 'ketch', 'iubenda', 'custom')),
    position     BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, provider)
);

CREATE TABLE consent_categories (
    workspace_id TEXT NOT NULL,
    provider     TEXT NOT NULL,
    id           TEXT NOT NULL,                       -- what the consent manager reports (OneTrust's C0002)
    label        TEXT NOT NULL,
    position     BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, provider, id),
    FOREIGN KEY (workspace_id, provider) REFERENCES consent_providers (workspace_id, provider) ON DELETE CASCADE
);

-- What a destination requires, per provider. The references to the workspace's providers and categories have
-- no delete action: one that a destination still requires cannot be removed, even by a concurrent change.
CREATE TABLE destination_consent_providers (
    destination_id      TEXT NOT NULL REFERENCES destinations (id) ON DELETE CASCADE,
    workspace_id        TEXT NOT NULL,
    provider            TEXT NOT NULL,
    resolution_strategy TEXT CHECK (resolution_strategy IN ('and', 'or')),   -- custom only
    position            BIGINT NOT NULL,
    PRIMARY KEY (destination_id, provider),
    FOREIGN KEY (workspace_id, provider) REFERENCES consent_providers (workspace_id, provider)
);
CREATE INDEX destination_consent_providers_by_provider ON destination_consent_providers (workspace_id, provider);

CREATE TABLE destination_consents (
    destination_id TEXT NOT NULL,
    workspace_id   TEXT NOT NULL,
    provider       TEXT NOT NULL,
    consent_id     TEXT NOT NULL,
    position       BIGINT NOT NULL,
    PRIMARY KEY (destination_id, provider, consent_id),
    FOREIGN KEY (destination_id, provider)
        REFERENCES destination_consent_providers (destination_id, provider) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, provider, consent_id) REFERENCES consent_categories (workspace_id, provider, id)
);
CREATE INDEX destination_consents_by_category ON destination_consents (workspace_id, provider, consent_id);
