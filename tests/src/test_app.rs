//! [`TestApp`]: the real server on `127.0.0.1:0`, with its own data directory and database.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use app::api::workspaces::Role;
use secrecy::SecretString;
use serde_json::{json, Value};
use server::config::Config;
use server::db::Db;
use server::secrets::MasterKey;
use server::Server;
use tokio::sync::OnceCell;

use crate::client::{Auth, Client, Exchange, Shared};
use crate::db::{Backend, PgDatabase, TempDir};
use crate::mail::{Mailbox, SmtpSink};

/// How to start a [`TestApp`]; `TestApp::start(backend)` takes the defaults.
pub struct TestAppBuilder {
    backend: Backend,
    smtp: Smtp,
    bootstrap: Option<(String, String)>,
    master_key: Option<String>,
    fast_jobs: bool,
    configure: Option<ConfigChange>,
}

/// A change to the server's config, made before it starts.
type ConfigChange = Box<dyn FnOnce(&mut Config) + Send>;

/// Where the server sends mail.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Smtp {
    /// The outbox folder.
    None,
    /// A real SMTP server process.
    Up,
    /// A port nothing listens on, until `TestApp::start_smtp` starts the SMTP server there.
    Down,
}

impl TestAppBuilder {
    /// Sends mail over SMTP to a real SMTP server process (`app.mailbox()` reads it).
    pub fn with_smtp(mut self) -> Self {
        self.smtp = Smtp::Up;
        self
    }

    /// Sends mail over SMTP to a port where nothing listens yet: mail fails (and is retried) until
    /// `app.start_smtp()` starts the SMTP server there.
    pub fn with_smtp_down(mut self) -> Self {
        self.smtp = Smtp::Down;
        self
    }

    /// Background jobs polled every 20 ms and retried after 50 ms (at most 200 ms), so that tests of
    /// retries do not wait for production's backoff.
    pub fn fast_jobs(mut self) -> Self {
        self.fast_jobs = true;
        self
    }

    /// `WHEELHOUSE_BOOTSTRAP_EMAIL` / `WHEELHOUSE_BOOTSTRAP_PASSWORD`.
    pub fn bootstrap(mut self, email: &str, password: &str) -> Self {
        self.bootstrap = Some((email.into(), password.into()));
        self
    }

    /// `WHEELHOUSE_MASTER_KEY` (base64). Default: the key file the server generates in its data directory.
    pub fn master_key(mut self, base64: &str) -> Self {
        self.master_key = Some(base64.into());
        self
    }

    /// Changes the server's config before it starts (a setting no other method covers).
    pub fn configure(mut self, change: impl FnOnce(&mut Config) + Send + 'static) -> Self {
        self.configure = Some(Box::new(change));
        self
    }

    pub async fn start(self) -> TestApp {
        crate::logs::init();
        let data_dir = TempDir::new();
        let pg = match self.backend {
            Backend::Postgres => Some(PgDatabase::create().await),
            Backend::Sqlite => None,
        };
        let smtp = match self.smtp {
            Smtp::Up => Some(SmtpSink::start(data_dir.path().join("smtp-received")).await),
            Smtp::None | Smtp::Down => None,
        };
        let smtp_down_port = (self.smtp == Smtp::Down).then(free_port);
        let mut config = Config::for_data_dir(data_dir.path().join("data"));
        config.database_url = pg.as_ref().map(|pg| pg.url.clone());
        config.smtp_url = match (&smtp, smtp_down_port) {
            (Some(sink), _) => Some(SecretString::from(sink.url())),
            (None, Some(port)) => Some(SecretString::from(format!("smtp://127.0.0.1:{port}"))),
            (None, None) => None,
        };
        if self.fast_jobs {
            config.job_poll_ms = 20;
            config.job_retry_base_ms = 50;
            config.job_retry_max_ms = 200;
        }
        config.master_key = self.master_key.map(SecretString::from);
        config.site_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/site");
        if let Some((email, password)) = self.bootstrap {
            config.bootstrap_email = Some(email);
            config.bootstrap_password = Some(SecretString::from(password));
        }
        if let Some(change) = self.configure {
            change(&mut config);
        }
        let server = server::start(config.clone())
            .await
            .unwrap_or_else(|e| panic!("starting the server ({:?}): {e:#}", self.backend));
        let shared = Arc::new(Shared {
            base_url: RwLock::new(server.url()),
            transcript: Mutex::new(Vec::new()),
        });
        TestApp {
            backend: self.backend,
            shared,
            server: Some(server),
            config,
            password: format!("pw-{}-{}", crate::random_suffix(8), crate::random_suffix(8)),
            password_hash: OnceCell::new(),
            mailbox: smtp.as_ref().map(|s| Mailbox::new(s.dir.clone())),
            smtp,
            smtp_down_port,
            pg,
            _data_dir: data_dir,
        }
    }
}

/// A port nothing listens on now (the OS gave it out and it was closed again).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// One running server and everything it owns. Dropping it stops the server, drops its PostgreSQL database,
/// stops its SMTP server and removes its data directory. It also fails the test if any answer it saw was a 500.
pub struct TestApp {
    pub backend: Backend,
    shared: Arc<Shared>,
    server: Option<Server>,
    config: Config,
    /// Every user `user()` creates has this password (unique to this app, so tests can look for it in logs).
    password: String,
    password_hash: OnceCell<String>,
    mailbox: Option<Mailbox>,
    // Dropped after the server (fields drop in declaration order).
    smtp: Option<SmtpSink>,
    smtp_down_port: Option<u16>,
    pg: Option<PgDatabase>,
    _data_dir: TempDir,
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            smtp: Smtp::None,
            bootstrap: None,
            master_key: None,
            fast_jobs: false,
            configure: None,
        }
    }

    pub async fn start(backend: Backend) -> TestApp {
        TestApp::builder(backend).start().await
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().expect("the server is stopped")
    }

    /// Takes the running server out (e.g. to call `Server::shutdown` concurrently with requests).
    pub fn take_server(&mut self) -> Server {
        self.server.take().expect("the server is stopped")
    }

    pub fn url(&self) -> String {
        self.shared.base_url.read().expect("base url").clone()
    }

    pub fn db(&self) -> &Db {
        &self.server().state.db
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn data_dir(&self) -> &Path {
        &self.config.data_dir
    }

    /// The first-run set-up link the server printed (no bootstrap account configured, no user yet).
    pub fn setup_url(&self) -> Option<String> {
        self.server().setup_url.clone()
    }

    /// The master key in use, when it lives in the data directory's key file.
    pub fn master_key_file(&self) -> PathBuf {
        self.config.data_dir.join(server::secrets::rotate::KEY_FILE)
    }

    pub fn master_key(&self) -> MasterKey {
        match &self.config.master_key {
            Some(key) => MasterKey::from_base64(secrecy::ExposeSecret::expose_secret(key))
                .expect("master key"),
            None => MasterKey::read_file(&self.master_key_file()).expect("master key file"),
        }
    }

    /// Starts the SMTP server on the port the app (`with_smtp_down`) has been failing to reach.
    pub async fn start_smtp(&mut self) {
        let port = self
            .smtp_down_port
            .expect("start the app with TestApp::builder(backend).with_smtp_down()");
        let sink = SmtpSink::start_on(self._data_dir.path().join("smtp-received"), port).await;
        self.mailbox = Some(Mailbox::new(sink.dir.clone()));
        self.smtp = Some(sink);
    }

    pub fn mailbox(&self) -> &Mailbox {
        self.mailbox
            .as_ref()
            .expect("start the app with TestApp::builder(backend).with_smtp()")
    }

    /// Stops the server gracefully; its data directory and database stay.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await.expect("graceful shutdown");
        }
    }

    /// Stops the server (if running) and starts it again on the same data directory and database, with the
    /// config changed by `change`. Clients keep working (they follow the new address; sessions are stored).
    pub async fn restart_with(&mut self, change: impl FnOnce(&mut Config)) {
        self.stop().await;
        change(&mut self.config);
        let server = server::start(self.config.clone())
            .await
            .unwrap_or_else(|e| panic!("restarting the server: {e:#}"));
        *self.shared.base_url.write().expect("base url") = server.url();
        self.server = Some(server);
    }

    pub async fn restart(&mut self) {
        self.restart_with(|_| {}).await
    }

    /// Everything every client of this app sent and received so far.
    pub fn transcript(&self) -> Vec<Exchange> {
        self.shared.transcript.lock().expect("transcript").clone()
    }

    // ---- clients -------------------------------------------------------------------------------------

    /// A browser that is not signed in.
    pub fn anonymous(&self) -> Client {
        Client::new(self.shared.clone(), Auth::None)
    }

    /// A client sending `Authorization: Bearer <token>`.
    pub fn bearer(&self, token: &str) -> Client {
        Client::new(self.shared.clone(), Auth::Bearer(token.into()))
    }

    /// A data plane or SDK: `Authorization: Basic base64(<username>:)`.
    pub fn basic(&self, username: &str) -> Client {
        Client::new(self.shared.clone(), Auth::Basic(username.into()))
    }

    /// What the JavaScript SDK loads for `source` (a source as the API returns it): `/sourceConfig/` with its
    /// write key, which must answer 200.
    pub async fn sdk_config(&self, source: &Value) -> Value {
        let write_key = source["writeKey"].as_str().expect("the source's writeKey");
        self.basic(write_key)
            .get("/sourceConfig/")
            .await
            .expect(200)
    }

    /// The password of every user `user()` creates.
    pub fn password(&self) -> &str {
        &self.password
    }

    async fn password_hash(&self) -> &str {
        self.password_hash
            .get_or_init(|| async {
                server::accounts::password::hash(SecretString::from(self.password.clone()))
                    .await
                    .expect("hashing the test password")
            })
            .await
    }

    /// Creates an account directly in the database (with `password()`), signed in nowhere. Returns its id.
    pub async fn create_user(&self, email: &str, instance_admin: bool) -> String {
        let hash = self.password_hash().await.to_string();
        let mut conn = self.db().pool.acquire().await.expect("connection");
        let name = email.split('@').next().unwrap_or("someone");
        server::accounts::insert(&mut conn, email, name, &hash, instance_admin)
            .await
            .unwrap_or_else(|e| panic!("creating user {email}: {e}"))
    }

    /// Signs in through `POST /api/v1/auth/login`.
    pub async fn sign_in(&self, email: &str, password: &str) -> Client {
        let client = self.anonymous();
        let me = client
            .post(
                "/api/v1/auth/login",
                json!({"email": email, "password": password}),
            )
            .await
            .expect(200);
        let id = me["user"]["id"].as_str().expect("user id").to_string();
        client.signed_in_as(id, email.to_string())
    }

    /// A new user, signed in.
    pub async fn user(&self, email: &str) -> Client {
        self.create_user(email, false).await;
        self.sign_in(email, &self.password.clone()).await
    }

    /// A new instance administrator (manages namespaces), signed in.
    pub async fn instance_admin(&self, email: &str) -> Client {
        self.create_user(email, true).await;
        self.sign_in(email, &self.password.clone()).await
    }

    /// Creates a workspace through the API; `owner` becomes its owner. Returns its id.
    pub async fn workspace(&self, owner: &Client, name: &str) -> String {
        owner
            .post("/api/v1/workspaces", json!({ "name": name }))
            .await
            .expect(201)["id"]
            .as_str()
            .expect("workspace id")
            .to_string()
    }

    /// Gives a user a role in a workspace, directly in the database (set-up, not what is under test).
    pub async fn add_member(&self, workspace_id: &str, user: &Client, role: Role) {
        self.set_role(workspace_id, user.user_id(), role).await
    }

    pub async fn set_role(&self, workspace_id: &str, user_id: &str, role: Role) {
        let mut conn = self.db().pool.acquire().await.expect("connection");
        server::workspaces::upsert_member(&mut conn, workspace_id, user_id, role)
            .await
            .expect("adding a member");
    }

    /// A new user with `role` in the workspace, signed in.
    pub async fn member(&self, workspace_id: &str, email: &str, role: Role) -> Client {
        let user = self.user(email).await;
        self.add_member(workspace_id, &user, role).await;
        user
    }

    /// An API token created by `creator` through `POST /api/v1/tokens`, as a client.
    pub async fn api_token(&self, creator: &Client, workspace_id: &str, role: Role) -> Client {
        let created = creator
            .post(
                "/api/v1/tokens",
                json!({"name": format!("{role} token"), "workspaceId": workspace_id, "role": role}),
            )
            .await
            .expect(201);
        self.bearer(created["token"].as_str().expect("token"))
    }

    /// A data-plane token created by `admin`, as the data plane (rudder-server) that uses it.
    pub async fn data_plane(&self, admin: &Client, workspace_id: &str) -> Client {
        self.basic(&self.data_plane_token(admin, workspace_id).await)
    }

    /// A data-plane token created by `admin`.
    pub async fn data_plane_token(&self, admin: &Client, workspace_id: &str) -> String {
        let created = admin
            .post(
                &format!("/api/v1/workspaces/{workspace_id}/data-plane-tokens"),
                json!({"name": "rudder-server"}),
            )
            .await
            .expect(201);
        created["token"].as_str().expect("token").to_string()
    }

    // ---- the database, raw ---------------------------------------------------------------------------

    /// Every byte the database holds: the SQLite files, or a `pg_dump` of the PostgreSQL database (or, without
    /// pg_dump, every text value of every table).
    pub async fn database_dump(&self) -> Vec<u8> {
        match self.backend {
            Backend::Sqlite => {
                let mut bytes = Vec::new();
                for entry in std::fs::read_dir(&self.config.data_dir).expect("data dir") {
                    let path = entry.expect("entry").path();
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    if name.starts_with("wheelhouse.db") {
                        bytes.extend(std::fs::read(&path).expect("reading the SQLite file"));
                    }
                }
                assert!(!bytes.is_empty(), "no SQLite file in the data directory");
                bytes
            }
            Backend::Postgres => {
                let url = &self.pg.as_ref().expect("postgres").url;
                match tokio::process::Command::new("pg_dump")
                    .arg("--no-owner")
                    .arg(format!("--dbname={url}"))
                    .output()
                    .await
                {
                    Ok(output) if output.status.success() => output.stdout,
                    _ => self.select_every_text_value().await,
                }
            }
        }
    }

    async fn select_every_text_value(&self) -> Vec<u8> {
        let columns: Vec<(String, String)> = sqlx::query_as(
            "SELECT table_name::text, column_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea')",
        )
        .fetch_all(&self.db().pool)
        .await
        .expect("listing columns");
        let mut out = Vec::new();
        for (table, column) in columns {
            let values: Vec<Option<String>> =
                sqlx::query_scalar(&format!("SELECT \"{column}\"::text FROM \"{table}\""))
                    .fetch_all(&self.db().pool)
                    .await
                    .expect("reading a column");
            for value in values.into_iter().flatten() {
                out.extend(value.into_bytes());
                out.push(b'\n');
            }
        }
        out
    }

    /// Runs a statement directly on the database (for set-up and tampering), binding `args` as text.
    pub async fn execute(&self, sql: &str, args: &[&str]) -> u64 {
        let mut query = sqlx::query(sql);
        for arg in args {
            query = query.bind(*arg);
        }
        query
            .execute(&self.db().pool)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .rows_affected()
    }

    /// Fails when any answer this app gave was a 500.
    pub fn assert_no_server_errors(&self) {
        let errors: Vec<String> = self
            .transcript()
            .into_iter()
            .filter(|e| e.status >= 500 && e.status != 503)
            .map(|e| format!("{} {} → {}: {}", e.method, e.path, e.status, e.body))
            .collect();
        assert!(
            errors.is_empty(),
            "the server answered with a server error:\n{}",
            errors.join("\n")
        );
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.assert_no_server_errors();
        }
    }
}
