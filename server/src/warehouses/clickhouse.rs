//! ClickHouse, through its HTTP interface (`POST /?database=…` with the statement as the body, the user and
//! password in `X-ClickHouse-User` / `X-ClickHouse-Key`; an error is a non-200 answer whose body starts
//! `Code: N. DB::Exception: …`). The destination's `port` is the native protocol's (what rudder-server
//! speaks); the HTTP interface listens beside it: 9000 → 8123, 9440 → 8443, any other port is taken as an
//! HTTP port (ClickHouse Cloud's 8443).
//!
//! Introspection first: `CHECK GRANT <privilege> ON db.*` answers 1 or 0 for the current user, roles
//! included. Then a probe, only in the destination's own database: a `Memory` table created, altered,
//! loaded and dropped (ClickHouse has no transactional DDL, so the drop is always attempted). Tests run
//! against a local server that speaks this interface (`tests/tests/api/warehouse_engines.rs`); no ClickHouse
//! server is installed here.

use serde_json::Value;
use url::Url;

use super::checks::{within, Checks, Outcome};
use super::network::NetworkPolicy;
use super::{config_str, probe_suffix, Target};

pub use super::postgres::DESTINATION_STEPS;

/// `` `name` `` with inner backquotes doubled.
fn quoted(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"))
}

struct Client {
    http: reqwest::Client,
    url: Url,
    user: String,
    password: Option<String>,
}

/// A failed statement: ClickHouse's error code, when it gave one, and its message.
struct Failure {
    code: Option<u32>,
    message: String,
}

impl Client {
    async fn query(&self, sql: &str) -> Result<String, Failure> {
        let mut request = self
            .http
            .post(self.url.clone())
            .header("X-ClickHouse-User", &self.user)
            .body(sql.to_string());
        if let Some(password) = &self.password {
            request = request.header("X-ClickHouse-Key", password);
        }
        let response = request.send().await.map_err(|e| Failure {
            code: None,
            message: super::http::describe(&e),
        })?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if status.is_success() {
            return Ok(text);
        }
        let text = text.trim().to_string();
        let code = text
            .strip_prefix("Code: ")
            .and_then(|rest| rest.split('.').next())
            .and_then(|n| n.trim().parse().ok());
        Err(Failure {
            code,
            message: if text.is_empty() {
                format!("HTTP {status}")
            } else {
                text.chars().take(1000).collect()
            },
        })
    }

    /// Whether the user holds `privilege` on `database.*`; `None` when the server cannot say (before
    /// `CHECK GRANT` existed).
    async fn holds(&self, privilege: &str, database: &str) -> Result<Option<bool>, Failure> {
        match self
            .query(&format!(
                "CHECK GRANT {privilege} ON {}.*",
                quoted(database)
            ))
            .await
        {
            Ok(answer) => Ok(Some(answer.trim() == "1")),
            // 62: syntax error (an older server).
            Err(Failure { code: Some(62), .. }) => Ok(None),
            Err(failure) => Err(failure),
        }
    }
}

fn http_url(config: &Value) -> Result<Url, Outcome> {
    let host =
        config_str(config, "host").ok_or_else(|| Outcome::failed("config.host is not set"))?;
    let secure = config.get("secure").and_then(Value::as_bool) == Some(true);
    let native: u16 = match config_str(config, "port") {
        None => 9000,
        Some(port) => port
            .parse()
            .map_err(|_| Outcome::failed("config.port is not a port number (1 to 65535)"))?,
    };
    let port = match native {
        9000 => 8123,
        9440 => 8443,
        other => other,
    };
    let scheme = if secure { "https" } else { "http" };
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    Url::parse(&format!("{scheme}://{host}:{port}/"))
        .map_err(|_| Outcome::failed("config.host is not a host name or address"))
}

fn failed(failure: Failure) -> Outcome {
    Outcome::failed(match failure.code {
        Some(code) => format!("{} (code {code})", first_line(&failure.message)),
        None => failure.message,
    })
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}

pub async fn validate_destination(target: &Target, policy: &NetworkPolicy, checks: &mut Checks) {
    let limit = checks.step_timeout;
    checks.start_step();
    let (Some(user), Some(database)) = (
        config_str(&target.config, "user"),
        config_str(&target.config, "database"),
    ) else {
        return checks
            .record(Outcome::failed(
                "config.user and config.database must be set",
            ))
            .await;
    };
    let mut url = match http_url(&target.config) {
        Ok(url) => url,
        Err(outcome) => return checks.record(outcome).await,
    };
    let http = match super::http::pinned_client(policy, &url, limit).await {
        Ok(http) => http,
        Err(outcome) => return checks.record(outcome).await,
    };
    url.query_pairs_mut()
        .append_pair("default_format", "TabSeparated");
    let client = Client {
        http,
        url: url.clone(),
        user: user.to_string(),
        password: config_str(&target.config, "password").map(str::to_string),
    };
    let outcome = within(limit, async {
        match client.query("SELECT version()").await {
            Ok(version) => Outcome::Passed(format!(
                "connected to {} as {user} (ClickHouse {}) over its HTTP interface",
                url.host_str().unwrap_or(""),
                version.trim()
            )),
            Err(failure) => failed(failure),
        }
    })
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    let exists = match client
        .query(&format!(
            "SELECT count() FROM system.databases WHERE name = {}",
            literal(database)
        ))
        .await
    {
        Ok(count) => count.trim() != "0",
        Err(failure) => return checks.record(failed(failure)).await,
    };
    let steps: [(&[&str], Probe); 4] = [
        (&["CREATE DATABASE"], Probe::None),
        (
            &["CREATE TABLE", "ALTER ADD COLUMN", "DROP TABLE"],
            Probe::CreateAndAlter,
        ),
        (&["SHOW COLUMNS"], Probe::FetchSchema),
        (&["CREATE TABLE", "INSERT", "DROP TABLE"], Probe::Load),
    ];
    for (index, (privileges, probe)) in steps.into_iter().enumerate() {
        // The database exists: creating it is not needed.
        let privileges: &[&str] = if index == 0 && exists {
            &[]
        } else {
            privileges
        };
        let outcome = within(
            limit,
            check(&client, user, database, exists, privileges, probe),
        )
        .await;
        checks.record(outcome).await;
        if checks.failed().is_some() {
            return;
        }
    }
}

#[derive(Clone, Copy)]
enum Probe {
    None,
    CreateAndAlter,
    FetchSchema,
    Load,
}

async fn check(
    client: &Client,
    user: &str,
    database: &str,
    exists: bool,
    privileges: &[&str],
    probe: Probe,
) -> Outcome {
    let mut missing = Vec::new();
    let mut unknown = false;
    for privilege in privileges {
        match client.holds(privilege, database).await {
            Ok(Some(true)) => {}
            Ok(Some(false)) => missing.push(*privilege),
            Ok(None) => unknown = true,
            Err(failure) => return failed(failure),
        }
    }
    if !missing.is_empty() {
        return Outcome::missing(
            format!("{user} lacks {} on {database}", missing.join(", ")),
            format!(
                "GRANT {} ON {}.* TO {};",
                missing.join(", "),
                quoted(database),
                quoted(user)
            ),
        );
    }
    if !exists {
        return match probe {
            Probe::None => Outcome::Passed(format!(
                "database {database} does not exist yet; {user} may create it"
            )),
            _ => Outcome::Passed(format!(
                "{user} holds {} on {database} (nothing to probe until the database exists)",
                privileges.join(", ")
            )),
        };
    }
    let table = format!(
        "{}.{}",
        quoted(database),
        quoted(&format!("setup_test_staging_{}", probe_suffix()))
    );
    let statements: Vec<String> = match probe {
        Probe::None => {
            return Outcome::Passed(format!("database {database} exists"));
        }
        Probe::FetchSchema => {
            return match client
                .query(&format!(
                    "SELECT count() FROM system.columns WHERE database = {}",
                    literal(database)
                ))
                .await
            {
                Ok(count) => Outcome::Passed(format!(
                    "read the schema of {database}: {} columns",
                    count.trim()
                )),
                Err(failure) => failed(failure),
            };
        }
        Probe::CreateAndAlter => vec![
            format!("CREATE TABLE {table} (id Int64, val String) ENGINE = Memory"),
            format!("ALTER TABLE {table} ADD COLUMN val_alter String"),
        ],
        Probe::Load => vec![
            format!("CREATE TABLE {table} (id Int64, val String) ENGINE = Memory"),
            format!("INSERT INTO {table} VALUES (1, 'RudderStack')"),
        ],
    };
    let mut outcome = None;
    for statement in &statements {
        if let Err(failure) = client.query(statement).await {
            outcome = Some(if failure.code == Some(497) {
                Outcome::missing(
                    first_line(&failure.message).to_string(),
                    format!(
                        "GRANT CREATE TABLE, ALTER ADD COLUMN, INSERT, DROP TABLE ON {}.* TO {};",
                        quoted(database),
                        quoted(user)
                    ),
                )
            } else {
                failed(failure)
            });
            break;
        }
    }
    // Always cleaned up, whatever failed after the table was created.
    let dropped = client
        .query(&format!("DROP TABLE IF EXISTS {table} SYNC"))
        .await;
    if let Some(outcome) = outcome {
        return outcome;
    }
    if let Err(failure) = dropped {
        return Outcome::Warning {
            reason: format!(
                "the probe table {table} could not be dropped: {}",
                first_line(&failure.message)
            ),
            remediation: Some(format!("DROP TABLE IF EXISTS {table};")),
        };
    }
    let note = if unknown {
        " (this server cannot answer CHECK GRANT, so only the probe decided)"
    } else {
        ""
    };
    Outcome::Passed(match probe {
        Probe::Load => format!("loaded a row into a table of {database} and dropped it{note}"),
        _ => format!("created and altered a table in {database}, then dropped it{note}"),
    })
}
