//! Configuration: environment variables, each with a matching command-line flag.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

// No Debug: the database URL may hold a password.
#[derive(Args, Clone)]
pub struct Config {
    /// Address to listen on.
    #[arg(
        global = true,
        long = "addr",
        env = "WHEELHOUSE_ADDR",
        default_value = "127.0.0.1:3000"
    )]
    pub addr: SocketAddr,

    /// `sqlite://…` or `postgres://…`. Default: a SQLite file in the data directory.
    #[arg(
        global = true,
        long = "database-url",
        env = "DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Where the SQLite file, the generated master key and the mail outbox live.
    #[arg(
        global = true,
        long = "data-dir",
        env = "WHEELHOUSE_DATA_DIR",
        default_value = "./data"
    )]
    pub data_dir: PathBuf,

    /// Base64 of 32 bytes. When absent, a key is generated into `<data dir>/master.key` (mode 0600).
    #[arg(
        global = true,
        long = "master-key",
        env = "WHEELHOUSE_MASTER_KEY",
        hide_env_values = true
    )]
    pub master_key: Option<SecretString>,

    /// The master key before the last `wheelhouse keys rotate`, while replicas restart.
    #[arg(
        global = true,
        long = "previous-master-key",
        env = "WHEELHOUSE_PREVIOUS_MASTER_KEY",
        hide_env_values = true
    )]
    pub previous_master_key: Option<SecretString>,

    /// The URL people reach Wheelhouse at (links in emails, same-origin checks). Default: http://<addr>.
    #[arg(global = true, long = "public-url", env = "WHEELHOUSE_PUBLIC_URL")]
    pub public_url: Option<url::Url>,

    /// `smtp://user:pass@host:port` (plain; add `?tls=required` for STARTTLS) or `smtps://…` (TLS).
    /// When unset, mail is written to `<data dir>/outbox` and logged.
    #[arg(
        global = true,
        long = "smtp-url",
        env = "WHEELHOUSE_SMTP_URL",
        hide_env_values = true
    )]
    pub smtp_url: Option<SecretString>,

    /// The From address of mail Wheelhouse sends.
    #[arg(
        global = true,
        long = "mail-from",
        env = "WHEELHOUSE_MAIL_FROM",
        default_value = "Wheelhouse <wheelhouse@localhost>"
    )]
    pub mail_from: String,

    /// On start with no users: create this instance owner (with a first workspace).
    #[arg(
        global = true,
        long = "bootstrap-email",
        env = "WHEELHOUSE_BOOTSTRAP_EMAIL"
    )]
    pub bootstrap_email: Option<String>,

    #[arg(
        global = true,
        long = "bootstrap-password",
        env = "WHEELHOUSE_BOOTSTRAP_PASSWORD",
        hide_env_values = true
    )]
    pub bootstrap_password: Option<SecretString>,

    /// The built UI (wasm, JS, CSS, assets), as `scripts/build-site` leaves it.
    #[arg(
        global = true,
        long = "site-root",
        env = "WHEELHOUSE_SITE_ROOT",
        default_value = "target/site"
    )]
    pub site_root: PathBuf,

    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose `X-Forwarded-For` is believed: behind
    /// them, the client that sign-in throttling counts is the nearest address they did not add.
    #[arg(
        global = true,
        long = "trusted-proxies",
        env = "WHEELHOUSE_TRUSTED_PROXIES",
        value_delimiter = ',',
        value_parser = parse_proxy
    )]
    pub trusted_proxies: Vec<IpNet>,

    /// The first retry of a failed background job (a mail during an SMTP outage) waits this long (ms); each
    /// further retry twice as long, up to `--job-retry-max-ms`.
    #[arg(
        global = true,
        long = "job-retry-base-ms",
        env = "WHEELHOUSE_JOB_RETRY_BASE_MS",
        default_value_t = 10_000
    )]
    pub job_retry_base_ms: u64,

    /// The longest wait between two retries of a background job (ms).
    #[arg(
        global = true,
        long = "job-retry-max-ms",
        env = "WHEELHOUSE_JOB_RETRY_MAX_MS",
        default_value_t = 3_600_000
    )]
    pub job_retry_max_ms: u64,

    /// How often an idle worker looks for due background jobs (ms).
    #[arg(
        global = true,
        long = "job-poll-ms",
        env = "WHEELHOUSE_JOB_POLL_MS",
        default_value_t = 1_000
    )]
    pub job_poll_ms: u64,

    /// Networks warehouse validation may connect to (CIDR ranges, comma-separated). Empty: every network
    /// not refused otherwise. Link-local and cloud metadata addresses are refused whatever this says.
    #[arg(
        global = true,
        long = "validation-allow",
        env = "WHEELHOUSE_VALIDATION_ALLOW",
        value_delimiter = ',',
        value_parser = parse_proxy
    )]
    pub validation_allow: Vec<IpNet>,

    /// Networks warehouse validation never connects to (CIDR ranges, comma-separated), e.g. this instance's
    /// own private network.
    #[arg(
        global = true,
        long = "validation-deny",
        env = "WHEELHOUSE_VALIDATION_DENY",
        value_delimiter = ',',
        value_parser = parse_proxy
    )]
    pub validation_deny: Vec<IpNet>,

    /// How long one validation step may take before it fails (ms). rudder-server allows 25 s per query.
    #[arg(
        global = true,
        long = "validation-step-timeout-ms",
        env = "WHEELHOUSE_VALIDATION_STEP_TIMEOUT_MS",
        default_value_t = 20_000
    )]
    pub validation_step_timeout_ms: u64,

    /// Where Snowflake's SQL API is reached, `{account}` standing for a destination's account identifier.
    /// Change it only to test against a local server that speaks the API.
    #[arg(
        global = true,
        long = "snowflake-api-url",
        env = "WHEELHOUSE_SNOWFLAKE_API_URL",
        default_value = "https://{account}.snowflakecomputing.com"
    )]
    pub snowflake_api_url: String,

    /// Where BigQuery's REST API is reached. Change it only to test against a local server that speaks it.
    #[arg(
        global = true,
        long = "bigquery-api-url",
        env = "WHEELHOUSE_BIGQUERY_API_URL",
        default_value = "https://bigquery.googleapis.com"
    )]
    pub bigquery_api_url: String,

    /// Where S3, Google Cloud Storage and Azure Blob Storage requests go instead of AWS, Google and Azure
    /// (path-style: `{url}/{bucket}/…`, `{url}/{account}/{container}/…`). Set it only to test against a
    /// local server that speaks those APIs.
    #[arg(
        global = true,
        long = "object-storage-url",
        env = "WHEELHOUSE_OBJECT_STORAGE_URL"
    )]
    pub object_storage_url: Option<String>,

    /// Log format: `text` or `json`.
    #[arg(
        global = true,
        long = "log-format",
        env = "WHEELHOUSE_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: String,
}

impl Config {
    /// Defaults for a server in a temporary directory (tests, tools).
    pub fn for_data_dir(data_dir: PathBuf) -> Config {
        Config {
            addr: "127.0.0.1:0".parse().expect("address"),
            database_url: None,
            data_dir,
            master_key: None,
            previous_master_key: None,
            public_url: None,
            smtp_url: None,
            mail_from: "Wheelhouse <wheelhouse@localhost>".into(),
            bootstrap_email: None,
            bootstrap_password: None,
            site_root: PathBuf::from("target/site"),
            log_format: "text".into(),
            trusted_proxies: Vec::new(),
            job_retry_base_ms: 10_000,
            job_retry_max_ms: 3_600_000,
            job_poll_ms: 1_000,
            validation_allow: Vec::new(),
            validation_deny: Vec::new(),
            validation_step_timeout_ms: 20_000,
            snowflake_api_url: "https://{account}.snowflakecomputing.com".into(),
            bigquery_api_url: "https://bigquery.googleapis.com".into(),
            object_storage_url: None,
        }
    }

    pub fn job_settings(&self) -> crate::jobs::JobSettings {
        crate::jobs::JobSettings {
            poll: std::time::Duration::from_millis(self.job_poll_ms.max(10)),
            retry_base: std::time::Duration::from_millis(self.job_retry_base_ms),
            retry_max: std::time::Duration::from_millis(
                self.job_retry_max_ms.max(self.job_retry_base_ms),
            ),
            ..Default::default()
        }
    }

    pub fn validation_settings(&self) -> crate::warehouses::ValidationSettings {
        crate::warehouses::ValidationSettings {
            policy: crate::warehouses::network::NetworkPolicy {
                allow: self.validation_allow.clone(),
                deny: self.validation_deny.clone(),
            },
            step_timeout: std::time::Duration::from_millis(
                self.validation_step_timeout_ms.max(100),
            ),
            snowflake_url: self.snowflake_api_url.clone(),
            bigquery_url: self.bigquery_api_url.clone(),
            object_storage_url: self.object_storage_url.clone(),
        }
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("wheelhouse.db").display()),
        }
    }

    /// The public URL, or one built from the bound address.
    pub fn public_url_for(&self, bound: SocketAddr) -> url::Url {
        self.public_url.clone().unwrap_or_else(|| {
            url::Url::parse(&format!("http://{bound}")).expect("a socket address makes a URL")
        })
    }

    pub fn smtp_url(&self) -> Option<&str> {
        self.smtp_url.as_ref().map(|s| s.expose_secret())
    }
}

/// `10.0.0.7` or `10.0.0.0/8` (also for the validation networks).
fn parse_proxy(value: &str) -> Result<IpNet, String> {
    let value = value.trim();
    value
        .parse::<IpNet>()
        .or_else(|_| value.parse::<std::net::IpAddr>().map(IpNet::from))
        .map_err(|_| format!("{value:?} is neither an IP address nor a CIDR range"))
}
