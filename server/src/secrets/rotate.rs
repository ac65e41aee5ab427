//! `wheelhouse keys rotate`: re-wraps every workspace data key under a new master key.
//!
//! With the key file, the new key is written to disk (`master.key.next`, mode 0600) before any row changes,
//! and each data key row is re-wrapped in its own conditional UPDATE, so a crash leaves a mix of old and new
//! wrappings that a second run finishes (a server reads both meanwhile). The old key is then kept in
//! `master.key.previous`: a server still running on it wraps the data keys of new workspaces under it, and
//! moves them to the new key at its next start. Secret values themselves are not touched: they are
//! encrypted with the data keys.

use std::path::Path;

use super::keys::{rewrap, unwrap, write_key_file, KeyError, KeySlot, MasterKey, WrappedKeyRow};
use crate::db::Db;
use crate::MasterKeys;

pub const KEY_FILE: &str = "master.key";
pub const NEXT_KEY_FILE: &str = "master.key.next";
pub const PREVIOUS_KEY_FILE: &str = "master.key.previous";

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub rewrapped: usize,
    /// Rows still wrapped by another key when `limit` stopped the run.
    pub remaining: usize,
}

/// Re-wraps the instance's keys and the workspaces' data keys not yet wrapped by `to`, using whichever of
/// `from` wraps them. `limit` stops after that many data keys (to exercise resumption); `None` runs to the
/// end.
pub async fn rewrap_all(
    db: &Db,
    from: &[&MasterKey],
    to: &MasterKey,
    limit: Option<usize>,
) -> Result<Progress, KeyError> {
    // A handful of rows: the link-signing root must outlive the old master key.
    let purposes: Vec<String> =
        sqlx::query_scalar("SELECT purpose FROM instance_keys WHERE master_key_id <> $1")
            .bind(&to.id)
            .fetch_all(&db.pool)
            .await?;
    for purpose in &purposes {
        rewrap_slot(db, KeySlot::Instance(purpose), from, to).await?;
    }
    let mut progress = Progress::default();
    loop {
        let workspaces: Vec<String> = sqlx::query_scalar(
            "SELECT workspace_id FROM data_keys WHERE master_key_id <> $1 ORDER BY id LIMIT 100",
        )
        .bind(&to.id)
        .fetch_all(&db.pool)
        .await?;
        if workspaces.is_empty() {
            return Ok(progress);
        }
        for workspace_id in &workspaces {
            if limit.is_some_and(|limit| progress.rewrapped >= limit) {
                progress.remaining = sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM data_keys WHERE master_key_id <> $1",
                )
                .bind(&to.id)
                .fetch_one(&db.pool)
                .await? as usize;
                return Ok(progress);
            }
            rewrap_slot(db, KeySlot::Workspace(workspace_id), from, to).await?;
            progress.rewrapped += 1;
        }
    }
}

/// Unwraps the slot's key with whichever of `from` wrapped it, and wraps it under `to`.
async fn rewrap_slot(
    db: &Db,
    slot: KeySlot<'_>,
    from: &[&MasterKey],
    to: &MasterKey,
) -> Result<(), KeyError> {
    let (table, owner_column, owner) = slot.location();
    let row: WrappedKeyRow = sqlx::query_as(&format!(
        "SELECT id, wrapped_key, master_key_id FROM {table} WHERE {owner_column} = $1"
    ))
    .bind(owner)
    .fetch_one(&db.pool)
    .await?;
    let master = from
        .iter()
        .find(|k| k.id == row.master_key_id)
        .ok_or_else(|| {
            slot.unknown_master(
                &row.master_key_id,
                from.iter()
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
    let raw =
        unwrap(master, &slot.binding(), &row.id, &row.wrapped_key).map_err(|_| slot.unusable())?;
    rewrap(db, &slot, &row, &raw, to).await
}

/// The whole command. `keys` are the configured ones (`crate::load_master_keys`); with the key file
/// (`keys.file`), the file is replaced at the end. Returns the lines to print.
pub async fn run(
    db: &Db,
    data_dir: &Path,
    keys: MasterKeys,
    new_key: Option<MasterKey>,
) -> Result<Vec<String>, KeyError> {
    let MasterKeys {
        current,
        previous,
        file,
        ..
    } = keys;
    let next_path = data_dir.join(NEXT_KEY_FILE);
    let next_file_holds =
        |key: &MasterKey| MasterKey::read_file(&next_path).is_ok_and(|k| k.id == key.id);
    let mut out = Vec::new();
    // A `.next` holding the current key is what a finished rotation left behind: nothing to resume.
    let unfinished = if next_path.exists() {
        Some(MasterKey::read_file(&next_path)?).filter(|k| k.id != current.id)
    } else {
        None
    };
    // The target key: resumed, given, or new; with the key file, on disk before any row changes.
    let next = match (new_key, unfinished) {
        (Some(given), Some(pending)) if given.id != pending.id => {
            return Err(refuse(db, &next_path, &pending, &given).await?);
        }
        (_, Some(pending)) => {
            out.push(format!(
                "resuming an interrupted rotation with the key in {}",
                next_path.display()
            ));
            pending
        }
        (Some(given), None) => {
            // With WHEELHOUSE_MASTER_KEY the operator holds the keys; it is not ours to put one on disk.
            if file.is_some() && given.id != current.id {
                write_key_file(&next_path, &given)?;
            }
            given
        }
        (None, None) => {
            let key = MasterKey::generate();
            write_key_file(&next_path, &key)?;
            key
        }
    };
    let from: Vec<&MasterKey> = std::iter::once(&current).chain(previous.iter()).collect();
    let progress = rewrap_all(db, &from, &next, None).await?;
    if next.id == current.id {
        out.push(format!(
            "master key {} is already the current one; re-wrapped {} data key(s) still under a previous key.",
            next.id, progress.rewrapped
        ));
        return Ok(out);
    }
    match file {
        Some(path) => {
            let previous_path = data_dir.join(PREVIOUS_KEY_FILE);
            write_key_file(&previous_path, &current)?;
            write_key_file(&path, &next)?;
            // Only once the key file holds the new key, and only if this is still the file this run used.
            if next_file_holds(&next) {
                std::fs::remove_file(&next_path).map_err(|e| KeyError::KeyFile {
                    path: next_path.clone(),
                    message: e.to_string(),
                })?;
            }
            out.push(format!(
                "re-wrapped {} data key(s) under master key {}; {} now holds it, and {} the old one.",
                progress.rewrapped,
                next.id,
                path.display(),
                previous_path.display()
            ));
            out.push(format!(
                "Restart Wheelhouse. Delete {} once every server using this data directory has restarted.",
                previous_path.display()
            ));
        }
        None => {
            out.push(format!(
                "re-wrapped {} data key(s) under master key {}.",
                progress.rewrapped, next.id
            ));
            let previous = "and WHEELHOUSE_PREVIOUS_MASTER_KEY to the old one until every replica has restarted";
            out.push(if next_file_holds(&next) {
                format!(
                    "Now set WHEELHOUSE_MASTER_KEY to the new key (in {}), {previous}; then delete that file.",
                    next_path.display()
                )
            } else {
                format!("Now set WHEELHOUSE_MASTER_KEY to the new key, {previous}.")
            });
        }
    }
    Ok(out)
}

/// Another run's target key is on disk: rotating to a different one would strand the data keys already
/// wrapped by it, and leave a `.next` file that no longer says which key is the new one.
async fn refuse(
    db: &Db,
    next_path: &Path,
    pending: &MasterKey,
    given: &MasterKey,
) -> Result<KeyError, KeyError> {
    let wrapped: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM data_keys WHERE master_key_id = $1")
            .bind(&pending.id)
            .fetch_one(&db.pool)
            .await?;
    let advice = match wrapped {
        0 => "no data key is wrapped by it: delete that file, then run this again".to_string(),
        n => format!(
            "{n} data key(s) are wrapped by it: finish that rotation first (`wheelhouse keys rotate` without a new key), then rotate again"
        ),
    };
    Ok(KeyError::UnfinishedRotation {
        path: next_path.into(),
        pending: pending.id.clone(),
        given: given.id.clone(),
        advice,
    })
}
