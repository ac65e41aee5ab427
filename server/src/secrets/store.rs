//! The `secret_values` table: one ciphertext per secret field value of a source or destination.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use sqlx::AnyConnection;

use super::keys::{Binding, KeyError, Keyring};
use crate::db::Db;
use crate::time::now_ms;

/// The resource that owns some secrets.
#[derive(Clone, Copy, Debug)]
pub struct Owner<'a> {
    pub workspace_id: &'a str,
    /// `source` or `destination`
    pub resource_type: &'static str,
    pub resource_id: &'a str,
}

pub struct Sealed {
    field: String,
    data_key_id: String,
    ciphertext: String,
}

/// Encrypts secret values, before the transaction that stores them starts.
pub async fn seal(
    keyring: &Keyring,
    owner: Owner<'_>,
    secrets: &BTreeMap<String, Value>,
) -> Result<Vec<Sealed>, KeyError> {
    let mut sealed = Vec::with_capacity(secrets.len());
    for (field, value) in secrets {
        let plaintext = zeroize::Zeroizing::new(value.to_string().into_bytes());
        let binding = Binding {
            workspace_id: owner.workspace_id,
            resource_type: owner.resource_type,
            resource_id: owner.resource_id,
            field,
        };
        let (data_key_id, ciphertext) = keyring.encrypt(&binding, &plaintext).await?;
        sealed.push(Sealed {
            field: field.clone(),
            data_key_id,
            ciphertext,
        });
    }
    Ok(sealed)
}

/// Replaces every stored secret of the owner with `sealed`, inside the caller's transaction.
pub async fn replace(
    conn: &mut AnyConnection,
    owner: Owner<'_>,
    sealed: &[Sealed],
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM secret_values WHERE resource_type = $1 AND resource_id = $2")
        .bind(owner.resource_type)
        .bind(owner.resource_id)
        .execute(&mut *conn)
        .await?;
    let now = now_ms();
    for s in sealed {
        sqlx::query(
            "INSERT INTO secret_values (resource_type, resource_id, field, workspace_id, data_key_id, ciphertext, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(owner.resource_type)
        .bind(owner.resource_id)
        .bind(&s.field)
        .bind(owner.workspace_id)
        .bind(&s.data_key_id)
        .bind(&s.ciphertext)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn delete(
    conn: &mut AnyConnection,
    resource_type: &str,
    resource_id: &str,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM secret_values WHERE resource_type = $1 AND resource_id = $2")
        .bind(resource_type)
        .bind(resource_id)
        .execute(&mut *conn)
        .await
        .map(|_| ())
}

/// The concrete paths that have a stored value (no decryption).
pub async fn stored_paths(
    db: &Db,
    resource_type: &str,
    resource_id: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT field FROM secret_values WHERE resource_type = $1 AND resource_id = $2 ORDER BY field")
        .bind(resource_type)
        .bind(resource_id)
        .fetch_all(&db.pool)
        .await
}

/// Stored paths of many resources of a workspace at once: (resource type, id) → paths.
pub async fn stored_paths_in_workspace(
    db: &Db,
    workspace_id: &str,
) -> sqlx::Result<HashMap<(String, String), Vec<String>>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT resource_type, resource_id, field FROM secret_values WHERE workspace_id = $1 ORDER BY field",
    )
    .bind(workspace_id)
    .fetch_all(&db.pool)
    .await?;
    let mut out: HashMap<(String, String), Vec<String>> = HashMap::new();
    for (t, id, field) in rows {
        out.entry((t, id)).or_default().push(field);
    }
    Ok(out)
}

/// Decrypts the owner's secrets.
pub async fn open(
    db: &Db,
    keyring: &Keyring,
    owner: Owner<'_>,
) -> Result<BTreeMap<String, Value>, KeyError> {
    let rows: Vec<SecretRow> = sqlx::query_as(&format!(
        "SELECT {SECRET_ROW_COLUMNS} FROM secret_values
         WHERE resource_type = $1 AND resource_id = $2 AND workspace_id = $3"
    ))
    .bind(owner.resource_type)
    .bind(owner.resource_id)
    .bind(owner.workspace_id)
    .fetch_all(&db.pool)
    .await?;
    let mut out = BTreeMap::new();
    for row in rows {
        if let Some(value) = open_one(
            keyring,
            owner,
            &row.field,
            &row.data_key_id,
            &row.ciphertext,
        )
        .await?
        {
            out.insert(row.field, value);
        }
    }
    Ok(out)
}

/// A stored ciphertext with what it belongs to.
#[derive(sqlx::FromRow)]
pub struct SecretRow {
    pub workspace_id: String,
    pub resource_type: String,
    pub resource_id: String,
    pub field: String,
    pub data_key_id: String,
    pub ciphertext: String,
}

const SECRET_ROW_COLUMNS: &str =
    "workspace_id, resource_type, resource_id, field, data_key_id, ciphertext";

/// The ciphertexts of one workspace.
pub async fn rows_of_workspace(db: &Db, workspace_id: &str) -> sqlx::Result<Vec<SecretRow>> {
    sqlx::query_as(&format!(
        "SELECT {SECRET_ROW_COLUMNS} FROM secret_values WHERE workspace_id = $1"
    ))
    .bind(workspace_id)
    .fetch_all(&db.pool)
    .await
}

/// Every ciphertext of the instance (the snapshot's first build, in one query).
pub async fn all_rows(db: &Db) -> sqlx::Result<Vec<SecretRow>> {
    sqlx::query_as(&format!("SELECT {SECRET_ROW_COLUMNS} FROM secret_values"))
        .fetch_all(&db.pool)
        .await
}

/// Decrypts every secret of a workspace: (resource type, id) → field → value.
pub async fn open_workspace(
    db: &Db,
    keyring: &Keyring,
    workspace_id: &str,
) -> Result<HashMap<(String, String), BTreeMap<String, Value>>, KeyError> {
    let rows = rows_of_workspace(db, workspace_id).await?;
    open_rows(keyring, workspace_id, &rows).await
}

/// Decrypts a workspace's ciphertexts (rows of other workspaces are skipped).
pub async fn open_rows(
    keyring: &Keyring,
    workspace_id: &str,
    rows: &[SecretRow],
) -> Result<HashMap<(String, String), BTreeMap<String, Value>>, KeyError> {
    let mut out: HashMap<(String, String), BTreeMap<String, Value>> = HashMap::new();
    for row in rows.iter().filter(|row| row.workspace_id == workspace_id) {
        let resource_type: &'static str = match row.resource_type.as_str() {
            "source" => "source",
            "destination" => "destination",
            _ => continue,
        };
        let owner = Owner {
            workspace_id,
            resource_type,
            resource_id: &row.resource_id,
        };
        let Some(value) = open_one(
            keyring,
            owner,
            &row.field,
            &row.data_key_id,
            &row.ciphertext,
        )
        .await?
        else {
            continue;
        };
        out.entry((resource_type.to_string(), row.resource_id.clone()))
            .or_default()
            .insert(row.field.clone(), value);
    }
    Ok(out)
}

/// One value, or `None` when it does not decrypt under its binding (altered, or copied from another row):
/// that secret is then treated as unset (and logged, without any value), so that one damaged row neither
/// hands out another row's secret nor stops the whole workspace's config from being built. A missing master
/// key or an unusable data key is still an error.
async fn open_one(
    keyring: &Keyring,
    owner: Owner<'_>,
    field: &str,
    data_key_id: &str,
    ciphertext: &str,
) -> Result<Option<Value>, KeyError> {
    let binding = Binding {
        workspace_id: owner.workspace_id,
        resource_type: owner.resource_type,
        resource_id: owner.resource_id,
        field,
    };
    let plaintext = match keyring.decrypt(&binding, data_key_id, ciphertext).await {
        Ok(plaintext) => plaintext,
        Err(KeyError::Decrypt) => {
            warn_undecryptable(owner, field);
            return Ok(None);
        }
        Err(error) => return Err(error),
    };
    match serde_json::from_slice(&plaintext) {
        Ok(value) => Ok(Some(value)),
        Err(_) => {
            warn_undecryptable(owner, field);
            Ok(None)
        }
    }
}

fn warn_undecryptable(owner: Owner<'_>, field: &str) {
    tracing::warn!(
        workspace_id = owner.workspace_id,
        resource_type = owner.resource_type,
        resource_id = owner.resource_id,
        field,
        "a stored secret does not decrypt (altered, or copied from another row); it is treated as unset"
    );
}
