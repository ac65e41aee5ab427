//! The rows of the `sources` and `destinations` tables, as the API, the snapshot builder and the domain read
//! them.

/// The columns sources and destinations share.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct IntegrationRow {
    pub id: String,
    pub workspace_id: String,
    pub name: String,
    /// The definition's name (`type` in the API).
    #[sqlx(rename = "type")]
    pub type_name: String,
    /// JSON, without the secret fields.
    pub config: String,
    /// 0 or 1.
    pub enabled: i64,
    /// Changes with every change (rudder-server's `revisionId`, and the API's `ETag`).
    pub revision_id: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl IntegrationRow {
    pub const COLUMNS: &'static str =
        "id, workspace_id, name, type, config, enabled, revision_id, created_at, updated_at";

    pub fn is_enabled(&self) -> bool {
        self.enabled == 1
    }
}

/// A whole row of `sources` or `destinations`: the shared columns and those only that kind has.
pub trait StoredRow: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin + 'static {
    /// What to select for one.
    const COLUMNS: &'static str;

    fn common(&self) -> &IntegrationRow;
}

/// A row of `sources`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SourceRow {
    #[sqlx(flatten)]
    pub common: IntegrationRow,
    /// What SDKs send events with; not a secret (it ships in web pages).
    pub write_key: String,
}

impl StoredRow for SourceRow {
    const COLUMNS: &'static str =
        "id, workspace_id, name, type, config, enabled, revision_id, created_at, updated_at, write_key";

    fn common(&self) -> &IntegrationRow {
        &self.common
    }
}

/// A row of `destinations`.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DestinationRow {
    #[sqlx(flatten)]
    pub common: IntegrationRow,
}

impl StoredRow for DestinationRow {
    const COLUMNS: &'static str = IntegrationRow::COLUMNS;

    fn common(&self) -> &IntegrationRow {
        &self.common
    }
}
