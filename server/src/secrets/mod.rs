//! Encrypted credentials: envelope encryption with AES-256-GCM.
//!
//! Each workspace has one random data key, stored wrapped by the master key (`keys`). Each secret field
//! value is its own ciphertext, encrypted with its workspace's data key under associated data that binds it
//! to (workspace, resource type, resource id, field), so a ciphertext copied to another row does not decrypt
//! (`store`). Which config fields are secret comes from the catalog (`fields`). Secrets are write-only:
//! only the data-plane config response carries them, to authenticated data planes.

pub mod fields;
pub mod keys;
pub mod rotate;
pub mod store;

pub use keys::{Keyring, MasterKey};
