//! The application: what every surface (HTTP handlers, jobs, the CLI) shares and passes to the domain.

use std::ops::Deref;
use std::sync::{Arc, Mutex};

use crate::catalog::Catalog;
use crate::config_api::Publisher;
use crate::db::Db;
use crate::jobs::Jobs;
use crate::links::LinkSigner;
use crate::mail::Mailer;
use crate::secrets::Keyring;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub db: Db,
    pub keyring: Arc<Keyring>,
    pub catalog: &'static Catalog,
    /// The data-plane config snapshot, and what keeps it current.
    pub snapshot: Arc<Publisher>,
    /// The durable job queue's handle on this replica (wakes its worker when something is enqueued).
    pub jobs: Jobs,
    pub mailer: Arc<Mailer>,
    pub links: LinkSigner,
    /// The URL people reach us at: links in mail and the same-origin check.
    pub public_url: url::Url,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// The one-time first-run token while the instance has no user.
    pub setup_token: Mutex<Option<String>>,
    /// Live events: this replica's watchers, the relay to other replicas, what data planes sent.
    pub live: crate::live::Live,
    /// Where volume reports are written (in batches).
    pub volume: crate::volume::Writer,
    /// Where captured events are kept for tracking plans (import, impact preview).
    pub samples: crate::live::samples::Writer,
    /// Published tracking-plan versions, compiled.
    pub tracking_plans: crate::tracking_plans::cache::Compiled,
    /// Where warehouse validation may connect, and how long a step may take.
    pub validation: crate::warehouses::ValidationSettings,
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
