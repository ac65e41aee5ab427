//! What sources and destinations have in common: each is an instance of a catalog definition, with a name, a
//! config checked against the definition's schema, secret fields encrypted apart from the config, an
//! enabled flag and a revision. Creating, changing (secrets kept unless replaced or cleared) and deleting one
//! is the same story for both, told once here; `sources` and `destinations` add what only they have.

pub mod revisions;
pub mod rows;

use std::collections::HashMap;

use app::api::workspaces::Role;
use serde_json::Value;

pub use rows::{DestinationRow, IntegrationRow, SourceRow, StoredRow};

use crate::access::{self, AccessError, Actor};
use crate::accounts::parse_name;
use crate::audit::{self, Changes};
use crate::catalog::{self, Catalog, Definition, PrepareError};
use crate::db::{flag, Db};
use crate::error::{DbError, DomainError, Invalid, Kind};
use crate::ids::new_id;
use crate::secrets::keys::KeyError;
use crate::secrets::store::{self, Owner};
use crate::state::AppState;
use crate::time::now_ms;

pub const NAME_MAX: usize = 100;

/// A kind of integration: sources or destinations. Each implements it beside what only it has.
pub trait IntegrationKind: Send + Sync + 'static {
    /// `source` or `destination`: the audit log's resource type and the secrets' owner type.
    const RESOURCE: &'static str;
    const TABLE: &'static str;
    /// The columns of `connections` that name this kind, and the other.
    const CONNECTED_AS: &'static str;
    const CONNECTED_TO: &'static str;
    type Definition: Definition + Send + Sync + 'static;
    type Row: StoredRow;
    /// How the API shows one.
    type Wire;

    fn entry<'c>(catalog: &'c Catalog, name: &str) -> Option<&'c catalog::Entry<Self::Definition>>;

    /// The definition named by a request's `type`.
    fn require_entry<'c>(
        catalog: &'c Catalog,
        name: &str,
    ) -> Result<&'c catalog::Entry<Self::Definition>, Invalid> {
        Self::entry(catalog, name).ok_or_else(|| {
            Invalid::new(
                "type",
                // Not repeated: a submitted value may be a secret pasted into the wrong field.
                format!(
                    "type is not a {} type; GET /api/v1/catalog/{} lists the types",
                    Self::RESOURCE,
                    Self::TABLE
                ),
            )
        })
    }

    /// Columns only this kind has, with their values for a new row (a source's write key).
    fn new_columns() -> Vec<(&'static str, String)>;

    /// One as the API shows it: `connected` are the ids of the other kind it is connected to, and
    /// `secret_paths` which of its secret fields are stored (never their values).
    fn to_wire(
        catalog: &Catalog,
        row: Self::Row,
        connected: Vec<String>,
        secret_paths: &[String],
    ) -> Self::Wire;
}

#[derive(Debug, thiserror::Error)]
pub enum IntegrationError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this {resource} was changed by someone else since it was read (its revision is now {current}); reload it and make your change again")]
    Stale {
        resource: &'static str,
        current: String,
    },
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Db(#[from] DbError),
}

crate::error::db_variant_from_sqlx!(IntegrationError);

impl From<PrepareError> for IntegrationError {
    fn from(error: PrepareError) -> Self {
        match error {
            PrepareError::Invalid(e) => e.into(),
            PrepareError::Keys(e) => e.into(),
        }
    }
}

impl DomainError for IntegrationError {
    fn kind(&self) -> Kind {
        match self {
            IntegrationError::Access(e) => e.kind(),
            IntegrationError::Invalid(e) => e.kind(),
            IntegrationError::NotFound(_) => Kind::NotFound,
            IntegrationError::Stale { .. } => Kind::Stale,
            IntegrationError::Keys(e) => e.kind(),
            IntegrationError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            IntegrationError::Invalid(e) => e.field(),
            _ => None,
        }
    }

    fn current_revision(&self) -> Option<&str> {
        match self {
            IntegrationError::Stale { current, .. } => Some(current),
            _ => None,
        }
    }
}

/// A new source or destination, as asked for.
pub struct NewIntegration {
    pub name: String,
    /// The definition's name.
    pub type_name: String,
    pub config: Option<Value>,
    pub enabled: Option<bool>,
}

/// A change to one: every part optional. A secret field left out of `config` keeps its stored value;
/// `null` clears it.
#[derive(Default)]
pub struct IntegrationChange {
    pub name: Option<String>,
    pub config: Option<Value>,
    pub enabled: Option<bool>,
    /// The revision the change was made on (`If-Match`); when set and no longer stored: `Stale`.
    pub based_on: Option<String>,
}

fn owner<'a, K: IntegrationKind>(workspace_id: &'a str, id: &'a str) -> Owner<'a> {
    Owner {
        workspace_id,
        resource_type: K::RESOURCE,
        resource_id: id,
    }
}

/// Adds a source or destination (editor). Its secret fields are encrypted and never shown again.
pub async fn create<K: IntegrationKind>(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    input: NewIntegration,
) -> Result<K::Wire, IntegrationError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let name = parse_name("name", &input.name, NAME_MAX)?;
    let entry = K::require_entry(state.catalog, &input.type_name)?;
    let id = new_id();
    let prepared = entry
        .prepare_new(&state.keyring, owner::<K>(workspace_id, &id), input.config)
        .await?;
    let enabled = input.enabled.unwrap_or(true);
    let now = now_ms();
    let extra = K::new_columns();
    let mut columns = String::from(
        "id, workspace_id, name, type, config, enabled, revision_id, created_at, updated_at",
    );
    let mut values = String::from("$1, $2, $3, $4, $5, $6, $7, $8, $8");
    for (i, (column, _)) in extra.iter().enumerate() {
        columns.push_str(&format!(", {column}"));
        values.push_str(&format!(", ${}", i + 9));
    }
    let mut tx = state.db.begin().await?;
    let sql = format!("INSERT INTO {} ({columns}) VALUES ({values})", K::TABLE);
    let mut insert = sqlx::query(&sql)
        .bind(&id)
        .bind(workspace_id)
        .bind(&name)
        .bind(entry.definition.name())
        .bind(prepared.public.to_string())
        .bind(flag(enabled))
        .bind(new_id())
        .bind(now);
    for (_, value) in &extra {
        insert = insert.bind(value);
    }
    insert.execute(&mut *tx).await?;
    store::replace(&mut tx, owner::<K>(workspace_id, &id), &prepared.sealed).await?;
    let validating = crate::warehouses::enqueue(
        &mut tx,
        workspace_id,
        K::RESOURCE,
        &id,
        entry.definition.name(),
        "saved",
        Some(&actor.label),
    )
    .await?
    .is_some();
    let changes = Changes::new()
        .set("name", &name)
        .set("type", entry.definition.name())
        .set("enabled", enabled)
        .merge(prepared.changes);
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        audit::Entry::new(&format!("{}.created", K::RESOURCE), &id)
            .in_workspace(workspace_id)
            .named(&name)
            .with(changes),
    )
    .await?;
    if validating {
        state.jobs.wake();
    }
    load::<K>(state, workspace_id, &id).await
}

/// Renames, reconfigures, enables or disables a source or destination (editor).
pub async fn update<K: IntegrationKind>(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
    change: IntegrationChange,
) -> Result<K::Wire, IntegrationError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    // Read before the config the change merges onto: the claim below then covers both.
    let current = load_common::<K>(&state.db, workspace_id, id).await?;
    if let Some(expected) = &change.based_on {
        if *expected != current.revision_id {
            return Err(IntegrationError::Stale {
                resource: K::RESOURCE,
                current: current.revision_id,
            });
        }
    }
    let name = change
        .name
        .as_deref()
        .map(|n| parse_name("name", n, NAME_MAX))
        .transpose()?;
    let owner = owner::<K>(workspace_id, id);
    let stored_config: Value = serde_json::from_str(&current.config).unwrap_or(Value::Null);
    let prepared = match change.config {
        Some(config) => {
            let entry = K::require_entry(state.catalog, &current.type_name)?;
            Some(
                entry
                    .prepare_update(&state.db, &state.keyring, owner, &stored_config, config)
                    .await?,
            )
        }
        None => None,
    };
    let mut tx = state.db.begin().await?;
    // With `If-Match`: only onto that revision. A config change without it merged onto what was read above
    // (stored secrets kept): it must not undo a change that committed in between, nor bring back a secret
    // that one cleared.
    let based_on = change
        .based_on
        .as_deref()
        .or(prepared.as_ref().map(|_| current.revision_id.as_str()));
    revisions::advance::<K>(&mut tx, &state.db, id, based_on).await?;
    let mut changes = Changes::new();
    let mut validating = false;
    if let Some(name) = &name {
        sqlx::query(&format!("UPDATE {} SET name = $1 WHERE id = $2", K::TABLE))
            .bind(name)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        changes = changes.field("name", Some(&current.name), Some(name));
    }
    if let Some(enabled) = change.enabled {
        sqlx::query(&format!(
            "UPDATE {} SET enabled = $1 WHERE id = $2",
            K::TABLE
        ))
        .bind(flag(enabled))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        changes = changes.field("enabled", Some(current.enabled == 1), Some(enabled));
    }
    if let Some(prepared) = prepared {
        sqlx::query(&format!(
            "UPDATE {} SET config = $1 WHERE id = $2",
            K::TABLE
        ))
        .bind(prepared.public.to_string())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        store::replace(&mut tx, owner, &prepared.sealed).await?;
        // New credentials are checked at once (a change of anything else in the config too: the host,
        // the namespace).
        validating = crate::warehouses::enqueue(
            &mut tx,
            workspace_id,
            K::RESOURCE,
            id,
            &current.type_name,
            "saved",
            Some(&actor.label),
        )
        .await?
        .is_some();
        changes = changes.merge(prepared.changes);
    }
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        audit::Entry::new(&format!("{}.updated", K::RESOURCE), id)
            .in_workspace(workspace_id)
            .named(name.as_deref().unwrap_or(&current.name))
            .with(changes),
    )
    .await?;
    if validating {
        state.jobs.wake();
    }
    load::<K>(state, workspace_id, id).await
}

/// A workspace's sources (or destinations), by name (viewer).
pub async fn list<K: IntegrationKind>(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
) -> Result<Vec<K::Wire>, IntegrationError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    let rows: Vec<K::Row> = sqlx::query_as(&format!(
        "SELECT {} FROM {} WHERE workspace_id = $1 ORDER BY name, id",
        K::Row::COLUMNS,
        K::TABLE
    ))
    .bind(workspace_id)
    .fetch_all(&state.db.pool)
    .await?;
    let mut connected = connected_in_workspace::<K>(&state.db, workspace_id).await?;
    let mut paths = store::stored_paths_in_workspace(&state.db, workspace_id).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.common().id.clone();
            let secret_paths = paths
                .remove(&(K::RESOURCE.to_string(), id.clone()))
                .unwrap_or_default();
            let connected = connected.remove(&id).unwrap_or_default();
            K::to_wire(state.catalog, row, connected, &secret_paths)
        })
        .collect())
}

/// One source (or destination) of the workspace (viewer).
pub async fn get<K: IntegrationKind>(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<K::Wire, IntegrationError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    load::<K>(state, workspace_id, id).await
}

/// One as the API shows it (no access check: the caller did it).
pub async fn load<K: IntegrationKind>(
    state: &AppState,
    workspace_id: &str,
    id: &str,
) -> Result<K::Wire, IntegrationError> {
    let row: K::Row = sqlx::query_as(&format!(
        "SELECT {} FROM {} WHERE id = $1 AND workspace_id = $2",
        K::Row::COLUMNS,
        K::TABLE
    ))
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(&state.db.pool)
    .await?
    .ok_or(IntegrationError::NotFound(K::RESOURCE))?;
    let connected = connected_to::<K>(&state.db, id).await?;
    let secret_paths = store::stored_paths(&state.db, K::RESOURCE, id).await?;
    Ok(K::to_wire(state.catalog, row, connected, &secret_paths))
}

/// Deletes a source or destination, its connections and its stored secrets (editor).
pub async fn delete<K: IntegrationKind>(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    id: &str,
) -> Result<(), IntegrationError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let current = load_common::<K>(&state.db, workspace_id, id).await?;
    let mut tx = state.db.begin().await?;
    let deleted = sqlx::query(&format!(
        "DELETE FROM {} WHERE id = $1 AND workspace_id = $2",
        K::TABLE
    ))
    .bind(id)
    .bind(workspace_id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(IntegrationError::NotFound(K::RESOURCE));
    }
    store::delete(&mut tx, K::RESOURCE, id).await?;
    crate::warehouses::forget(&mut tx, id).await?;
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        audit::Entry::new(&format!("{}.deleted", K::RESOURCE), id)
            .in_workspace(workspace_id)
            .named(&current.name)
            .with(
                Changes::new()
                    .removed("name", &current.name)
                    .removed("type", &current.type_name),
            ),
    )
    .await?;
    Ok(())
}

/// The columns both kinds have, of one row of the workspace.
pub async fn load_common<K: IntegrationKind>(
    db: &Db,
    workspace_id: &str,
    id: &str,
) -> Result<IntegrationRow, IntegrationError> {
    sqlx::query_as::<_, IntegrationRow>(&format!(
        "SELECT {} FROM {} WHERE id = $1 AND workspace_id = $2",
        IntegrationRow::COLUMNS,
        K::TABLE
    ))
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(&db.pool)
    .await?
    .ok_or(IntegrationError::NotFound(K::RESOURCE))
}

/// What one source (or destination) is connected to: destination (or source) ids, oldest connection first.
pub async fn connected_to<K: IntegrationKind>(db: &Db, id: &str) -> Result<Vec<String>, DbError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT {} FROM connections WHERE {} = $1 ORDER BY created_at",
        K::CONNECTED_TO,
        K::CONNECTED_AS
    ))
    .bind(id)
    .fetch_all(&db.pool)
    .await?)
}

/// What each source (or destination) of a workspace is connected to, by id.
pub async fn connected_in_workspace<K: IntegrationKind>(
    db: &Db,
    workspace_id: &str,
) -> Result<HashMap<String, Vec<String>>, DbError> {
    let pairs: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT {}, {} FROM connections WHERE workspace_id = $1 ORDER BY created_at",
        K::CONNECTED_AS,
        K::CONNECTED_TO
    ))
    .bind(workspace_id)
    .fetch_all(&db.pool)
    .await?;
    let mut connected: HashMap<String, Vec<String>> = HashMap::new();
    for (this, other) in pairs {
        connected.entry(this).or_default().push(other);
    }
    Ok(connected)
}
