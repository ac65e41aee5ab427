//! `wheelhouse keys rotate`: re-wraps every workspace data key under a new master key.
//!
//! The new key is written to disk (`master.key.next`, mode 0600) before any row changes, and each data key
//! row is re-wrapped in its own conditional UPDATE, so a crash leaves a mix of old and new wrappings that a
//! second run finishes. Secret values themselves are not touched: they are encrypted with the data keys.

use std::path::{Path, PathBuf};

use super::keys::{unwrap, wrap, write_key_file, KeyError, MasterKey};
use crate::db::Db;
use crate::time::now_ms;

pub const KEY_FILE: &str = "master.key";
pub const NEXT_KEY_FILE: &str = "master.key.next";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub rewrapped: usize,
    /// Rows still wrapped by another key when `limit` stopped the run.
    pub remaining: usize,
}

/// Re-wraps data keys not yet wrapped by `to`, using whichever of `from` wraps them. `limit` stops after that
/// many rows (to exercise resumption); `None` runs to the end.
pub async fn rewrap_all(
    db: &Db,
    from: &[&MasterKey],
    to: &MasterKey,
    limit: Option<usize>,
) -> Result<Progress, KeyError> {
    let mut progress = Progress::default();
    loop {
        let rows: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT id, workspace_id, wrapped_key, master_key_id FROM data_keys WHERE master_key_id <> $1 ORDER BY id LIMIT 100",
        )
        .bind(&to.id)
        .fetch_all(&db.pool)
        .await?;
        if rows.is_empty() {
            return Ok(progress);
        }
        for (id, workspace_id, wrapped, master_id) in rows {
            if limit.is_some_and(|limit| progress.rewrapped >= limit) {
                progress.remaining = sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM data_keys WHERE master_key_id <> $1",
                )
                .bind(&to.id)
                .fetch_one(&db.pool)
                .await? as usize;
                return Ok(progress);
            }
            let master = from.iter().find(|k| k.id == master_id).ok_or_else(|| {
                KeyError::UnknownMasterKey {
                    workspace_id: workspace_id.clone(),
                    wanted: master_id.clone(),
                    have: from
                        .iter()
                        .map(|k| k.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            })?;
            let raw = unwrap(master, &workspace_id, &id, &wrapped)?;
            let rewrapped = wrap(to, &workspace_id, &id, &raw);
            // Conditional on the old wrapping: a concurrent run or server never has its work overwritten.
            sqlx::query(
                "UPDATE data_keys SET wrapped_key = $1, master_key_id = $2, rewrapped_at = $3
                 WHERE id = $4 AND master_key_id = $5",
            )
            .bind(&rewrapped)
            .bind(&to.id)
            .bind(now_ms())
            .bind(&id)
            .bind(&master_id)
            .execute(&db.pool)
            .await?;
            progress.rewrapped += 1;
        }
    }
}

/// Where the current master key comes from.
pub enum CurrentKey {
    /// `WHEELHOUSE_MASTER_KEY` (and optionally `WHEELHOUSE_PREVIOUS_MASTER_KEY`).
    Env {
        current: MasterKey,
        previous: Option<MasterKey>,
    },
    /// `<data dir>/master.key`.
    File(PathBuf),
}

/// The whole command. Returns the lines to print.
pub async fn run(
    db: &Db,
    data_dir: &Path,
    current: CurrentKey,
    new_key: Option<MasterKey>,
) -> Result<Vec<String>, KeyError> {
    let next_path = data_dir.join(NEXT_KEY_FILE);
    let mut out = Vec::new();
    // The target key: given, or resumed from an interrupted run, or new. Persisted before any row changes.
    let next = match new_key {
        Some(key) => key,
        None if next_path.exists() => {
            out.push(format!(
                "resuming an interrupted rotation with the key in {}",
                next_path.display()
            ));
            MasterKey::read_file(&next_path)?
        }
        None => {
            let key = MasterKey::generate();
            write_key_file(&next_path, &key)?;
            key
        }
    };
    match current {
        CurrentKey::File(path) => {
            let old = MasterKey::read_file(&path)?;
            let progress = rewrap_all(db, &[&old, &next], &next, None).await?;
            // Every row is wrapped by the new key: make it the key file (an atomic rename).
            if next_path.exists() {
                std::fs::rename(&next_path, &path).map_err(|e| KeyError::KeyFile {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            } else {
                write_key_file(&path, &next)?;
            }
            out.push(format!(
                "re-wrapped {} data key(s) under master key {}; {} now holds it. Restart Wheelhouse.",
                progress.rewrapped,
                next.id,
                path.display()
            ));
        }
        CurrentKey::Env { current, previous } => {
            let mut from = vec![&current, &next];
            from.extend(previous.as_ref());
            let progress = rewrap_all(db, &from, &next, None).await?;
            out.push(format!(
                "re-wrapped {} data key(s) under master key {}.",
                progress.rewrapped, next.id
            ));
            out.push(format!(
                "Now set WHEELHOUSE_MASTER_KEY to the new key (in {}), and WHEELHOUSE_PREVIOUS_MASTER_KEY to the old one until every replica has restarted; then delete that file.",
                next_path.display()
            ));
        }
    }
    Ok(out)
}
