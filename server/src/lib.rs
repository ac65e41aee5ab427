#![recursion_limit = "256"]
//! Wheelhouse, the control plane: the server library. `main.rs` is a thin CLI over `cli`; the integration
//! tests start this same server on port 0 with `start`.

pub mod access;
pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod catalog;
pub mod changes;
pub mod cli;
pub mod config;
pub mod config_api;
pub mod connections;
pub mod consent;
pub mod db;
pub mod destinations;
pub mod error;
pub mod http;
pub mod ids;
pub mod integrations;
pub mod jobs;
pub mod links;
pub mod live;
pub mod mail;
pub mod namespaces;
pub mod secrets;
pub mod simulator;
pub mod sources;
pub mod state;
pub mod time;
pub mod tokens;
pub mod tracking_plans;
pub mod volume;
pub mod warehouses;
pub mod workspaces;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use access::Actor;
use config::Config;
use db::Db;
use jobs::worker::Worker;
use secrets::MasterKey;
use state::{AppState, Shared};

/// The master keys a process works with (`secrets::keys::Keyring`).
pub struct MasterKeys {
    pub current: MasterKey,
    pub previous: Vec<MasterKey>,
    pub pending: Option<MasterKey>,
    /// The key file `current` was read from; `None` with `WHEELHOUSE_MASTER_KEY`.
    pub file: Option<PathBuf>,
}

/// `WHEELHOUSE_MASTER_KEY` (+ `WHEELHOUSE_PREVIOUS_MASTER_KEY`), or the key file in the data directory,
/// created with mode 0600 (and a warning) when missing, with the keys `keys rotate` leaves beside it.
pub fn load_master_keys(config: &Config) -> anyhow::Result<MasterKeys> {
    let parse = |name: &str, value: &SecretString| {
        MasterKey::from_base64(value.expose_secret())
            .with_context(|| format!("{name} is not usable"))
    };
    let mut previous = match &config.previous_master_key {
        Some(value) => vec![parse("WHEELHOUSE_PREVIOUS_MASTER_KEY", value)?],
        None => Vec::new(),
    };
    if let Some(value) = &config.master_key {
        return Ok(MasterKeys {
            current: parse("WHEELHOUSE_MASTER_KEY", value)?,
            previous,
            pending: None,
            file: None,
        });
    }
    let path = config.data_dir.join(secrets::rotate::KEY_FILE);
    let (current, created) = MasterKey::load_or_create_file(&path)?;
    if created {
        tracing::warn!(
            path = %path.display(),
            "WHEELHOUSE_MASTER_KEY is not set: generated a master key into this file (mode 0600). \
             Back it up: without it the stored credentials cannot be decrypted. In production, set WHEELHOUSE_MASTER_KEY."
        );
    }
    let read_if_present = |name: &str| -> anyhow::Result<Option<MasterKey>> {
        let path = config.data_dir.join(name);
        Ok(if path.exists() {
            Some(MasterKey::read_file(&path)?)
        } else {
            None
        })
    };
    previous.extend(read_if_present(secrets::rotate::PREVIOUS_KEY_FILE)?);
    Ok(MasterKeys {
        current,
        previous,
        pending: read_if_present(secrets::rotate::NEXT_KEY_FILE)?,
        file: Some(path),
    })
}

pub async fn connect_database(config: &Config) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating the data directory {}", config.data_dir.display()))?;
    let url = config.database_url();
    let db = Db::connect(&url)
        .await
        .context("connecting to the database (DATABASE_URL)")?;
    db.migrate().await.context("migrating the database")?;
    Ok(db)
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub state: AppState,
    /// Set when the instance has no user and no bootstrap account was configured.
    pub setup_url: Option<String>,
    shutdown: oneshot::Sender<()>,
    serving: JoinHandle<std::io::Result<()>>,
    worker: Worker,
    /// This replica's own upkeep: the PostgreSQL listener, retries of failed snapshot builds.
    tasks: Vec<JoinHandle<()>>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, lets in-flight requests finish, then lets running jobs finish (a while):
    /// queued ones wait in the database for the next replica or start.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        let result = self.serving.await.unwrap_or(Ok(()));
        self.worker.stop(Duration::from_secs(30)).await;
        for task in self.tasks {
            task.abort();
        }
        result
    }

    /// Waits until the server stops by itself (it does not, short of an error).
    pub async fn wait(&mut self) -> std::io::Result<()> {
        (&mut self.serving).await.unwrap_or(Ok(()))
    }
}

/// Starts Wheelhouse: database, keys, catalog, snapshot, background jobs, and the HTTP listener.
pub async fn start(config: Config) -> anyhow::Result<Server> {
    let db = connect_database(&config).await?;
    let keys = load_master_keys(&config)?;
    let catalog = catalog::Catalog::shared().map_err(|e| anyhow::anyhow!(e))?;
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .with_context(|| format!("listening on {} (WHEELHOUSE_ADDR)", config.addr))?;
    let addr = listener.local_addr()?;
    let public_url = config.public_url_for(addr);
    let mailer = mail::Mailer::new(
        &config.mail_from,
        config.smtp_url(),
        config.data_dir.join("outbox"),
    )?;
    let keyring = Arc::new(secrets::Keyring::new(
        db.clone(),
        keys.current,
        keys.previous,
        keys.pending,
    ));
    open_data_keys(&keyring).await?;
    let links = links::LinkSigner::load(&keyring)
        .await
        .context("loading the instance's link-signing key")?;
    let (volume, volume_writer) = volume::Writer::start(db.clone());
    let (samples, samples_writer) = live::samples::Writer::start(db.clone());
    let state = AppState::new(Shared {
        snapshot: Arc::new(config_api::Publisher::new(
            db.clone(),
            keyring.clone(),
            catalog,
        )),
        jobs: jobs::Jobs::new(config.job_settings()),
        links,
        keyring,
        db,
        catalog,
        mailer: Arc::new(mailer),
        public_url: public_url.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        setup_token: Mutex::new(None),
        live: live::Live::default(),
        volume,
        samples,
        tracking_plans: tracking_plans::cache::Compiled::default(),
        validation: config.validation_settings(),
    });
    let setup_url = bootstrap(&state, &config).await?;
    let config_listener = config_api::listener::listen_early(&state.db).await;
    state
        .snapshot
        .load_all()
        .await
        .map_err(|e| anyhow::anyhow!("building the config snapshot: {e}"))?;
    let mut tasks = vec![tokio::spawn(config_api::retry_failed_builds(
        state.snapshot.clone(),
    ))];
    if state.db.backend == db::Backend::Postgres {
        tasks.push(tokio::spawn(config_api::listener::run(
            state.snapshot.clone(),
            state.db.clone(),
            config_listener,
        )));
    }
    tasks.push(volume_writer);
    tasks.push(samples_writer);
    tasks.push(tokio::spawn(live::captures::run_upkeep(state.clone())));
    tasks.extend(live::relay::start(&state));
    let worker = Worker::spawn(&state);

    let site = http::Site {
        root: config.site_root.clone(),
        addr,
    };
    // `scripts/build-site` leaves hash.txt beside the hashed bundle, cargo-leptos a plain wheelhouse.wasm.
    if !site.root.join("hash.txt").exists() && !site.root.join("pkg/wheelhouse.wasm").exists() {
        tracing::warn!(site_root = %site.root.display(), "the UI is not built here: pages render, but will not come alive. Run scripts/build-site.");
    }
    let app = http::app(state.clone(), site);
    let (shutdown, signal) = oneshot::channel::<()>();
    let serving = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = signal.await;
        })
        .await
    });
    Ok(Server {
        addr,
        state,
        setup_url,
        shutdown,
        serving,
        worker,
        tasks,
    })
}

/// Opens every data key (re-wrapping under the current master key any still under a previous one). A
/// workspace whose data key no configured master key opens is logged, with what to do, and left out (the
/// snapshot keeps retrying it) rather than keeping every other workspace from being served; when no data key
/// opens at all, the configured master key is wrong and the server does not start.
async fn open_data_keys(keyring: &secrets::Keyring) -> anyhow::Result<()> {
    let (opened, unopened) = keyring.open_all().await?;
    if let (0, Some(first)) = (opened, unopened.first()) {
        bail!(
            "{first} (no data key opens with the configured master key: is it the right one? {} workspace(s) are affected)",
            unopened.len()
        );
    }
    for error in &unopened {
        tracing::error!(workspace_id = error.workspace_id(), "{error}");
    }
    Ok(())
}

/// With no user yet: create the configured bootstrap owner, or hand out a one-time set-up link.
async fn bootstrap(state: &AppState, config: &Config) -> anyhow::Result<Option<String>> {
    if accounts::count(&state.db).await? > 0 {
        return Ok(None);
    }
    match (&config.bootstrap_email, &config.bootstrap_password) {
        (Some(email), Some(password)) => {
            let email = accounts::parse_email("WHEELHOUSE_BOOTSTRAP_EMAIL", email)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            accounts::password::check_policy(
                "WHEELHOUSE_BOOTSTRAP_PASSWORD",
                password.expose_secret(),
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let hash = accounts::password::hash(password.clone())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut tx = state.db.begin().await?;
            let name = email.split('@').next().unwrap_or("Owner").to_string();
            let user_id = accounts::insert(&mut tx, &email, &name, &hash, true)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            sqlx::query(
                "INSERT INTO instance_facts (key, value, created_at) VALUES ('first_owner', $1, $2)
                 ON CONFLICT (key) DO NOTHING",
            )
            .bind(&user_id)
            .bind(time::now_ms())
            .execute(&mut *tx)
            .await?;
            workspaces::insert(
                &mut tx,
                &Actor::system("bootstrap"),
                "My workspace",
                &user_id,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            tx.commit().await?;
            tracing::info!(%email, "created the instance owner from WHEELHOUSE_BOOTSTRAP_EMAIL");
            Ok(None)
        }
        (Some(_), None) | (None, Some(_)) => {
            bail!(
                "set both WHEELHOUSE_BOOTSTRAP_EMAIL and WHEELHOUSE_BOOTSTRAP_PASSWORD, or neither"
            )
        }
        (None, None) => {
            let (token, _, _) = ids::new_token("setup");
            let mut url = state.public_url.join("/setup")?;
            url.query_pairs_mut().append_pair("token", &token);
            *state.setup_token.lock().expect("setup token") = Some(token);
            Ok(Some(url.to_string()))
        }
    }
}
