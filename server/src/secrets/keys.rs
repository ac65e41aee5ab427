use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::db::Db;
use crate::ids::new_id;
use crate::time::now_ms;

const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the master key must be base64 of exactly 32 bytes ({0})")]
    BadMasterKey(String),
    #[error("the data key of workspace {workspace_id} is wrapped by master key {wanted}, which is not configured (configured: {have}): set WHEELHOUSE_PREVIOUS_MASTER_KEY to that key (with the key file: put it in <data dir>/master.key.previous), or finish `wheelhouse keys rotate`; until then this workspace's stored credentials cannot be decrypted")]
    UnknownMasterKey {
        workspace_id: String,
        wanted: String,
        have: String,
    },
    #[error("{path} holds master key {pending} from an unfinished rotation, not the new key {given}: {advice}; nothing was changed")]
    UnfinishedRotation {
        path: PathBuf,
        pending: String,
        given: String,
        advice: String,
    },
    #[error("the instance's {purpose} key is wrapped by master key {wanted}, which is not configured (configured: {have}): set WHEELHOUSE_PREVIOUS_MASTER_KEY to that key (with the key file: put it in <data dir>/master.key.previous), or finish `wheelhouse keys rotate`")]
    UnknownMasterKeyForInstance {
        purpose: String,
        wanted: String,
        have: String,
    },
    #[error("a ciphertext failed to decrypt: it was altered, moved to another row, or encrypted under another key")]
    Decrypt,
    #[error("the data key of workspace {workspace_id} does not unwrap under its master key: its data_keys row was altered")]
    DataKey { workspace_id: String },
    #[error("key file {path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl KeyError {
    /// The workspace a data-key error is about.
    pub fn workspace_id(&self) -> Option<&str> {
        match self {
            KeyError::UnknownMasterKey { workspace_id, .. }
            | KeyError::DataKey { workspace_id } => Some(workspace_id),
            _ => None,
        }
    }
}

/// A key that cannot be used is the operator's problem, never the caller's: logged in full, answered as an
/// internal error (a database that cannot be reached, as unavailable).
impl crate::error::DomainError for KeyError {
    fn kind(&self) -> crate::error::Kind {
        match self {
            KeyError::Db(error) => crate::error::DbError::kind_of(error),
            _ => crate::error::Kind::Internal,
        }
    }
}

/// The key-encryption key. Its id (a fingerprint) is stored beside every data key it wraps.
pub struct MasterKey {
    pub id: String,
    key: Zeroizing<[u8; 32]>,
}

impl MasterKey {
    pub fn from_base64(text: &str) -> Result<MasterKey, KeyError> {
        let bytes = Zeroizing::new(
            BASE64
                .decode(text.trim())
                .map_err(|e| KeyError::BadMasterKey(format!("not base64: {e}")))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| KeyError::BadMasterKey(format!("decodes to {} bytes", bytes.len())))?;
        Ok(MasterKey::from_bytes(key))
    }

    pub fn generate() -> MasterKey {
        let mut key = [0u8; 32];
        OsRng.fill_bytes(&mut key);
        MasterKey::from_bytes(key)
    }

    fn from_bytes(key: [u8; 32]) -> MasterKey {
        let key = Zeroizing::new(key);
        let digest = Sha256::new()
            .chain_update(b"wheelhouse:master-key-id:v1")
            .chain_update(key.as_slice())
            .finalize();
        MasterKey {
            id: hex::encode(&digest[..8]),
            key,
        }
    }

    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(BASE64.encode(self.key.as_slice()))
    }

    /// Reads a key file, or creates one (mode 0600) holding a new random key when it does not exist.
    /// Returns the key and whether it was just created.
    pub fn load_or_create_file(path: &Path) -> Result<(MasterKey, bool), KeyError> {
        if path.exists() {
            return Ok((MasterKey::read_file(path)?, false));
        }
        let key = MasterKey::generate();
        write_key_file(path, &key)?;
        Ok((key, true))
    }

    pub fn read_file(path: &Path) -> Result<MasterKey, KeyError> {
        let text =
            Zeroizing::new(
                std::fs::read_to_string(path).map_err(|e| KeyError::KeyFile {
                    path: path.into(),
                    message: e.to_string(),
                })?,
            );
        MasterKey::from_base64(&text)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(self.key.as_slice()))
    }
}

/// Writes a key file with mode 0600, durably, without ever leaving a partial file behind.
pub fn write_key_file(path: &Path, key: &MasterKey) -> Result<(), KeyError> {
    use std::io::Write;
    let err = |e: std::io::Error| KeyError::KeyFile {
        path: path.into(),
        message: e.to_string(),
    };
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    // Named after the whole file name: `master.key.next` and `master.key.previous` must not share one.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(err)?;
    file.write_all(key.to_base64().as_bytes()).map_err(err)?;
    file.write_all(b"\n").map_err(err)?;
    file.sync_all().map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)?;
    // The rename itself is durable only once the directory is.
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(err)?;
    Ok(())
}

struct DataKey {
    id: String,
    cipher: Aes256Gcm,
}

/// The master key(s) and the cache of unwrapped per-workspace data keys.
pub struct Keyring {
    db: Db,
    current: MasterKey,
    /// Master keys that wrapped data keys before the current one: a data key found under one of them is
    /// re-wrapped under the current key on first use.
    previous: Vec<MasterKey>,
    /// The target of a `keys rotate` in progress (`master.key.next`): only read, never re-wrapped away from.
    pending: Option<MasterKey>,
    data_keys: RwLock<HashMap<String, Arc<DataKey>>>,
}

impl Keyring {
    pub fn new(
        db: Db,
        current: MasterKey,
        previous: Vec<MasterKey>,
        pending: Option<MasterKey>,
    ) -> Keyring {
        Keyring {
            db,
            current,
            previous,
            pending,
            data_keys: RwLock::new(HashMap::new()),
        }
    }

    pub fn master(&self) -> &MasterKey {
        &self.current
    }

    fn masters(&self) -> impl Iterator<Item = &MasterKey> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .chain(self.pending.iter())
    }

    fn master_by_id(&self, id: &str) -> Option<&MasterKey> {
        self.masters().find(|k| k.id == id)
    }

    /// Opens every workspace's data key, at start-up. A server that kept running on the old master key
    /// during `keys rotate` wraps the data keys of new workspaces under it: this moves any such key to the
    /// current master key now, while the previous one is still configured, rather than whenever it is first
    /// used. Returns how many opened, and why each of the others did not (one error per workspace), so that
    /// one unusable workspace does not keep the others from being served.
    pub async fn open_all(&self) -> Result<(usize, Vec<KeyError>), KeyError> {
        let workspaces: Vec<String> =
            sqlx::query_scalar("SELECT workspace_id FROM data_keys ORDER BY workspace_id")
                .fetch_all(&self.db.pool)
                .await?;
        let mut opened = 0;
        let mut failed = Vec::new();
        for workspace_id in workspaces {
            match self.data_key(&workspace_id).await {
                Ok(_) => opened += 1,
                Err(error) if error.workspace_id().is_some() => failed.push(error),
                Err(error) => return Err(error),
            }
        }
        Ok((opened, failed))
    }

    /// The workspace's data key, created on first use.
    async fn data_key(&self, workspace_id: &str) -> Result<Arc<DataKey>, KeyError> {
        if let Some(key) = self
            .data_keys
            .read()
            .expect("data key cache")
            .get(workspace_id)
        {
            return Ok(key.clone());
        }
        let (id, raw) = self.open_slot(KeySlot::Workspace(workspace_id)).await?;
        let key = Arc::new(DataKey {
            id,
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(raw.as_slice())),
        });
        self.data_keys
            .write()
            .expect("data key cache")
            .insert(workspace_id.to_string(), key.clone());
        Ok(key)
    }

    /// A random key of the instance for one purpose (the root of the link-signing keys), created on first
    /// use and stored wrapped by the master key like a data key: it survives a master-key rotation, and every
    /// replica, whichever master key it runs on, unwraps the same one.
    pub async fn instance_key(&self, purpose: &str) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        Ok(self.open_slot(KeySlot::Instance(purpose)).await?.1)
    }

    /// The (id, raw key) stored in a slot, created at random when the slot is empty (a concurrent creator's
    /// key wins: the insert does nothing on conflict, and the stored row is read back). A key found under a
    /// previous master key is moved to the current one while it is held.
    async fn open_slot(&self, slot: KeySlot<'_>) -> Result<(String, Zeroizing<Vec<u8>>), KeyError> {
        let (table, owner_column, owner) = slot.location();
        let select =
            format!("SELECT id, wrapped_key, master_key_id FROM {table} WHERE {owner_column} = $1");
        let stored: Option<WrappedKeyRow> = sqlx::query_as(&select)
            .bind(owner)
            .fetch_optional(&self.db.pool)
            .await?;
        let row = match stored {
            Some(row) => row,
            None => {
                let id = new_id();
                let mut raw = Zeroizing::new([0u8; 32]);
                OsRng.fill_bytes(raw.as_mut());
                sqlx::query(&format!(
                    "INSERT INTO {table} (id, {owner_column}, wrapped_key, master_key_id, created_at)
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT ({owner_column}) DO NOTHING"
                ))
                .bind(&id)
                .bind(owner)
                .bind(wrap(&self.current, &slot.binding(), &id, raw.as_slice()))
                .bind(&self.current.id)
                .bind(now_ms())
                .execute(&self.db.pool)
                .await?;
                sqlx::query_as(&select)
                    .bind(owner)
                    .fetch_one(&self.db.pool)
                    .await?
            }
        };
        let master = self.master_by_id(&row.master_key_id).ok_or_else(|| {
            slot.unknown_master(
                &row.master_key_id,
                self.masters()
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        })?;
        // Told apart from a value that fails to decrypt: without its data key, none of the workspace's
        // secrets can be read, which is an error, not one unusable value.
        let raw = unwrap(master, &slot.binding(), &row.id, &row.wrapped_key)
            .map_err(|_| slot.unusable())?;
        if self.previous.iter().any(|k| k.id == master.id) {
            rewrap(&self.db, &slot, &row, &raw, &self.current).await?;
        }
        Ok((row.id, raw))
    }

    /// Forgets a workspace's data key (the workspace was deleted).
    pub fn forget(&self, workspace_id: &str) {
        self.data_keys
            .write()
            .expect("data key cache")
            .remove(workspace_id);
    }

    /// Encrypts one field value. Returns (data key id, ciphertext).
    pub async fn encrypt(
        &self,
        binding: &Binding<'_>,
        plaintext: &[u8],
    ) -> Result<(String, String), KeyError> {
        let key = self.data_key(binding.workspace_id).await?;
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let aad = binding.associated_data(&key.id);
        let sealed = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| KeyError::Decrypt)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(FORMAT_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok((key.id.clone(), BASE64.encode(out)))
    }

    pub async fn decrypt(
        &self,
        binding: &Binding<'_>,
        data_key_id: &str,
        ciphertext: &str,
    ) -> Result<Zeroizing<Vec<u8>>, KeyError> {
        let key = self.data_key(binding.workspace_id).await?;
        if key.id != data_key_id {
            return Err(KeyError::Decrypt);
        }
        let bytes = BASE64.decode(ciphertext).map_err(|_| KeyError::Decrypt)?;
        if bytes.len() < 1 + NONCE_LEN || bytes[0] != FORMAT_VERSION {
            return Err(KeyError::Decrypt);
        }
        let nonce = Nonce::from_slice(&bytes[1..1 + NONCE_LEN]);
        let aad = binding.associated_data(&key.id);
        key.cipher
            .decrypt(
                nonce,
                Payload {
                    msg: &bytes[1 + NONCE_LEN..],
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| KeyError::Decrypt)
    }
}

/// What a secret ciphertext is bound to.
pub struct Binding<'a> {
    pub workspace_id: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
    pub field: &'a str,
}

impl Binding<'_> {
    /// Length-prefixed parts, so no two different bindings produce the same bytes.
    fn associated_data(&self, data_key_id: &str) -> Vec<u8> {
        length_prefixed(&[
            "wheelhouse:secret:v1",
            self.workspace_id,
            self.resource_type,
            self.resource_id,
            self.field,
            data_key_id,
        ])
    }
}

fn length_prefixed(parts: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        out.extend_from_slice(&(part.len() as u32).to_be_bytes());
        out.extend_from_slice(part.as_bytes());
    }
    out
}

/// Where a wrapped key is stored: a workspace's data key in `data_keys`, an instance key in `instance_keys`.
#[derive(Clone, Copy, Debug)]
pub(crate) enum KeySlot<'a> {
    Workspace(&'a str),
    Instance(&'a str),
}

impl KeySlot<'_> {
    /// (table, the column that names the slot, its value)
    pub(crate) fn location(&self) -> (&'static str, &'static str, &str) {
        match self {
            KeySlot::Workspace(id) => ("data_keys", "workspace_id", id),
            KeySlot::Instance(purpose) => ("instance_keys", "purpose", purpose),
        }
    }

    /// What the wrapping is bound to: the workspace id, or `instance:<purpose>` (no workspace id has a colon).
    pub(crate) fn binding(&self) -> String {
        match self {
            KeySlot::Workspace(id) => id.to_string(),
            KeySlot::Instance(purpose) => format!("instance:{purpose}"),
        }
    }

    pub(crate) fn unknown_master(&self, wanted: &str, have: String) -> KeyError {
        match self {
            KeySlot::Workspace(id) => KeyError::UnknownMasterKey {
                workspace_id: id.to_string(),
                wanted: wanted.to_string(),
                have,
            },
            KeySlot::Instance(purpose) => KeyError::UnknownMasterKeyForInstance {
                purpose: purpose.to_string(),
                wanted: wanted.to_string(),
                have,
            },
        }
    }

    pub(crate) fn unusable(&self) -> KeyError {
        KeyError::DataKey {
            workspace_id: self.binding(),
        }
    }
}

/// A wrapped key as stored in its slot's table.
#[derive(sqlx::FromRow)]
pub(crate) struct WrappedKeyRow {
    pub id: String,
    pub wrapped_key: String,
    pub master_key_id: String,
}

/// Wraps `raw` (the key of `row`) under `to`, conditional on the stored wrapping still being `row`'s: a
/// concurrent rotation or server never has its work overwritten.
pub(crate) async fn rewrap(
    db: &Db,
    slot: &KeySlot<'_>,
    row: &WrappedKeyRow,
    raw: &[u8],
    to: &MasterKey,
) -> Result<(), KeyError> {
    let (table, owner_column, owner) = slot.location();
    sqlx::query(&format!(
        "UPDATE {table} SET wrapped_key = $1, master_key_id = $2, rewrapped_at = $3
         WHERE {owner_column} = $4 AND master_key_id = $5"
    ))
    .bind(wrap(to, &slot.binding(), &row.id, raw))
    .bind(&to.id)
    .bind(now_ms())
    .bind(owner)
    .bind(&row.master_key_id)
    .execute(&db.pool)
    .await?;
    Ok(())
}

fn data_key_aad(workspace_id: &str, data_key_id: &str) -> Vec<u8> {
    length_prefixed(&["wheelhouse:data-key:v1", workspace_id, data_key_id])
}

/// Wraps a raw data key under a master key: base64(version ‖ nonce ‖ ciphertext ‖ tag).
pub(crate) fn wrap(
    master: &MasterKey,
    workspace_id: &str,
    data_key_id: &str,
    raw: &[u8],
) -> String {
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let aad = data_key_aad(workspace_id, data_key_id);
    let sealed = master
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: raw,
                aad: &aad,
            },
        )
        .expect("AES-GCM encryption");
    let mut out = vec![FORMAT_VERSION];
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    BASE64.encode(out)
}

pub(crate) fn unwrap(
    master: &MasterKey,
    workspace_id: &str,
    data_key_id: &str,
    wrapped: &str,
) -> Result<Zeroizing<Vec<u8>>, KeyError> {
    let bytes = BASE64.decode(wrapped).map_err(|_| KeyError::Decrypt)?;
    if bytes.len() < 1 + NONCE_LEN || bytes[0] != FORMAT_VERSION {
        return Err(KeyError::Decrypt);
    }
    let aad = data_key_aad(workspace_id, data_key_id);
    let raw = master
        .cipher()
        .decrypt(
            Nonce::from_slice(&bytes[1..1 + NONCE_LEN]),
            Payload {
                msg: &bytes[1 + NONCE_LEN..],
                aad: &aad,
            },
        )
        .map_err(|_| KeyError::Decrypt)?;
    if raw.len() != 32 {
        return Err(KeyError::Decrypt);
    }
    Ok(Zeroizing::new(raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn master_keys_parse_only_32_bytes_of_base64() {
        assert!(MasterKey::from_base64(&BASE64.encode([7u8; 32])).is_ok());
        assert!(MasterKey::from_base64(&BASE64.encode([7u8; 16])).is_err());
        assert!(MasterKey::from_base64("not base64!").is_err());
    }

    #[test]
    fn a_wrapped_data_key_only_unwraps_for_its_workspace_and_id() {
        let master = MasterKey::generate();
        let wrapped = wrap(&master, "ws1", "dk1", &[1u8; 32]);
        assert_eq!(
            unwrap(&master, "ws1", "dk1", &wrapped).unwrap().as_slice(),
            &[1u8; 32]
        );
        assert!(unwrap(&master, "ws2", "dk1", &wrapped).is_err());
        assert!(unwrap(&master, "ws1", "dk2", &wrapped).is_err());
        assert!(unwrap(&MasterKey::generate(), "ws1", "dk1", &wrapped).is_err());
    }

    #[test]
    fn bindings_are_unambiguous() {
        let a = Binding {
            workspace_id: "a|b",
            resource_type: "c",
            resource_id: "d",
            field: "e",
        };
        let b = Binding {
            workspace_id: "a",
            resource_type: "b|c",
            resource_id: "d",
            field: "e",
        };
        assert_ne!(a.associated_data("k"), b.associated_data("k"));
    }
}
