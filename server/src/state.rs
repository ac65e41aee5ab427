//! What every handler shares.

use std::ops::Deref;
use std::sync::{Arc, Mutex};

use crate::catalog::Catalog;
use crate::config_api::Snapshots;
use crate::db::Db;
use crate::links::LinkSigner;
use crate::mail::Mailer;
use crate::secrets::Keyring;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub db: Db,
    pub keyring: Keyring,
    pub catalog: &'static Catalog,
    pub snapshots: Snapshots,
    pub mailer: Arc<Mailer>,
    pub links: LinkSigner,
    /// The URL people reach us at: links in mail and the same-origin check.
    pub public_url: url::Url,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The one-time first-run token while the instance has no user.
    pub setup_token: Mutex<Option<String>>,
}

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}
