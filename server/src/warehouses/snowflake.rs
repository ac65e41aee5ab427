//! Snowflake, through its SQL API v2 (`POST /api/v2/statements`, one statement per request, answered with
//! `resultSetMetaData.rowType` and `data` as rows of strings, or an error `{code, message, sqlState}`),
//! authenticated with key-pair JWTs: RS256, `iss` = `ACCOUNT.USER.SHA256:<base64 of the SHA-256 of the public
//! key's DER>`, `sub` = `ACCOUNT.USER`, valid for at most an hour. The SQL API takes no passwords.
//!
//! Introspection first, with SHOW commands (they need no running warehouse): `SHOW SCHEMAS LIKE`, `SHOW
//! GRANTS ON DATABASE | SCHEMA | WAREHOUSE`, read for the current role (like rudder-server's check, without
//! following role inheritance: a privilege held through a parent role is reported missing, and the probe
//! then decides). Then a probe in the destination's own schema, with temporary tables dropped afterwards.
//! Snowflake cannot be reached from here: tests run against a local server that speaks the SQL API and checks
//! the JWT (`tests/tests/api/warehouse_engines.rs`).

use std::collections::HashSet;

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::checks::{quoted, timed, within, Checks, Outcome};
use super::{config_str, now_secs, probe_suffix, Target, ValidationSettings};

pub use super::postgres::DESTINATION_STEPS;

/// The schema probed when the destination names none (data planes then name one per source).
const PROBE_SCHEMA: &str = "RUDDERSTACK_SETUP_TEST";

/// A key-pair JWT for `account` and `user`, signed with `private_key_pem` (PKCS#8 or PKCS#1, unencrypted).
pub fn key_pair_jwt(
    account: &str,
    user: &str,
    private_key_pem: &str,
    now: u64,
) -> Result<String, String> {
    let pem = private_key_pem.trim();
    if pem.contains("ENCRYPTED") {
        return Err(
            "the private key is encrypted; Wheelhouse reads unencrypted keys only (openssl pkcs8 -nocrypt)"
                .into(),
        );
    }
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(pem))
        .map_err(|_| "privateKey is not an RSA private key in PEM form".to_string())?;
    let public = key
        .to_public_key()
        .to_public_key_der()
        .map_err(|e| format!("the public key could not be derived: {e}"))?;
    let fingerprint =
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(public.as_bytes()));
    // The account locator without its region or cloud, upper-cased, as Snowflake expects in the claims.
    let account = account.split('.').next().unwrap_or(account).to_uppercase();
    let user = user.to_uppercase();
    let claims = json!({
        "iss": format!("{account}.{user}.SHA256:{fingerprint}"),
        "sub": format!("{account}.{user}"),
        "iat": now,
        "exp": now + 600,
    });
    let signing = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|_| "privateKey is not an RSA private key in PEM form".to_string())?;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &signing,
    )
    .map_err(|e| format!("signing the token: {e}"))
}

struct Client {
    http: reqwest::Client,
    url: url::Url,
    token: String,
    database: String,
    warehouse: String,
    role: Option<String>,
    timeout_secs: u64,
}

/// A statement's rows, by column name.
struct Rows {
    columns: Vec<String>,
    data: Vec<Vec<Value>>,
}

impl Rows {
    fn column<'a>(&'a self, row: &'a [Value], name: &str) -> &'a str {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .and_then(|i| row.get(i))
            .and_then(Value::as_str)
            .unwrap_or("")
    }
}

/// Snowflake's error: its code (`003001`: insufficient privileges) and message.
struct Failure {
    code: String,
    message: String,
}

impl Client {
    async fn run(&self, statement: &str) -> Result<Rows, Failure> {
        let mut body = json!({
            "statement": statement,
            "timeout": self.timeout_secs,
            "database": self.database,
            "warehouse": self.warehouse,
        });
        if let Some(role) = &self.role {
            body["role"] = json!(role);
        }
        let response = self
            .http
            .post(self.url.clone())
            .bearer_auth(&self.token)
            .header("X-Snowflake-Authorization-Token-Type", "KEYPAIR_JWT")
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(|e| Failure {
                code: String::new(),
                message: super::http::describe(&e),
            })?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.as_u16() == 202 {
            return Err(Failure {
                code: answer["code"].as_str().unwrap_or("").into(),
                message: format!(
                    "the statement was still running after {} s (is the warehouse resuming?)",
                    self.timeout_secs
                ),
            });
        }
        if !status.is_success() {
            return Err(Failure {
                code: answer["code"].as_str().unwrap_or("").into(),
                message: answer["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("HTTP {status}")),
            });
        }
        let columns = answer["resultSetMetaData"]["rowType"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["name"].as_str().map(str::to_string))
            .collect();
        let data = answer["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r.as_array().cloned())
            .collect();
        Ok(Rows { columns, data })
    }

    /// The privileges `role` holds on an object, from `SHOW GRANTS ON …`.
    async fn privileges(&self, on: &str, role: &str) -> Result<HashSet<String>, Failure> {
        let rows = self.run(&format!("SHOW GRANTS ON {on}")).await?;
        Ok(rows
            .data
            .iter()
            .filter(|row| rows.column(row, "grantee_name").eq_ignore_ascii_case(role))
            .map(|row| rows.column(row, "privilege").to_uppercase())
            .collect())
    }
}

fn failed(failure: Failure) -> Outcome {
    Outcome::failed(if failure.code.is_empty() {
        failure.message
    } else {
        format!("{} (Snowflake error {})", failure.message, failure.code)
    })
}

/// What of `needed` the privileges lack (ownership and ALL cover everything).
fn lacking<'a>(held: &HashSet<String>, needed: &[&'a str]) -> Vec<&'a str> {
    if held.contains("OWNERSHIP") || held.contains("ALL") || held.contains("ALL PRIVILEGES") {
        return Vec::new();
    }
    needed
        .iter()
        .copied()
        .filter(|p| !held.contains(*p))
        .collect()
}

/// Signs in (a key-pair JWT) and asks who we are: the client, the role in use, and the Connections step's
/// reason. Every failure is that step's.
async fn connect(
    config: &Value,
    settings: &ValidationSettings,
    limit: std::time::Duration,
) -> Result<(Client, String, String), Outcome> {
    let (Some(account), Some(user), Some(database), Some(warehouse)) = (
        config_str(config, "account"),
        config_str(config, "user"),
        config_str(config, "database"),
        config_str(config, "warehouse"),
    ) else {
        return Err(Outcome::failed(
            "config.account, config.user, config.database and config.warehouse must be set",
        ));
    };
    let key = match (
        config.get("useKeyPairAuth").and_then(Value::as_bool),
        config_str(config, "privateKey"),
    ) {
        (Some(true), Some(key)) => key,
        _ => {
            return Err(Outcome::failed(
                "Snowflake's SQL API takes key-pair authentication, not passwords: turn on useKeyPairAuth and set privateKey (the public key set on the user with ALTER USER … SET RSA_PUBLIC_KEY)",
            ))
        }
    };
    let token = key_pair_jwt(account, user, key, now_secs()).map_err(Outcome::failed)?;
    let url = url::Url::parse(&settings.snowflake_url.replace("{account}", account))
        .and_then(|base| base.join("/api/v2/statements"))
        .map_err(|_| {
            Outcome::failed("config.account does not make a host name (e.g. xy12345.us-east-1)")
        })?;
    let http = super::http::pinned_client(&settings.policy, &url, limit).await?;
    let mut client = Client {
        http,
        url,
        token,
        database: database.to_string(),
        warehouse: warehouse.to_string(),
        role: config_str(config, "role").map(str::to_string),
        timeout_secs: limit.as_secs().max(1),
    };
    let rows = timed(limit, async {
        client
            .run("SELECT CURRENT_VERSION(), CURRENT_ROLE(), CURRENT_USER()")
            .await
            .map_err(failed)
    })
    .await?;
    let row = rows.data.first().cloned().unwrap_or_default();
    let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or("").to_string();
    let role = text(1);
    let reason = format!(
        "connected to {account} as {} with role {role} (Snowflake {})",
        text(2),
        text(0)
    );
    client.role.get_or_insert(role.clone());
    Ok((client, role, reason))
}

pub async fn validate_destination(
    target: &Target,
    settings: &ValidationSettings,
    checks: &mut Checks,
) {
    let limit = checks.step_timeout;
    let config = &target.config;
    checks.start_step();
    let (client, role) = match connect(config, settings, limit).await {
        Ok((client, role, reason)) => {
            checks.record(Outcome::Passed(reason)).await;
            (client, role)
        }
        Err(outcome) => return checks.record(outcome).await,
    };
    let (database, warehouse) = (client.database.clone(), client.warehouse.clone());
    let (database, warehouse) = (database.as_str(), warehouse.as_str());
    let schema = config_str(config, "namespace")
        .map(str::to_uppercase)
        .unwrap_or_else(|| PROBE_SCHEMA.to_string());
    let qualified_schema = format!("{}.{}", quoted(database), quoted(&schema));
    let to_role = format!("TO ROLE {}", quoted(&role));

    // Create schema: by the grants alone (SHOW needs no warehouse; creating and dropping a schema would
    // change what others may see meanwhile).
    let exists = timed(limit, async {
        client
            .run(&format!(
                "SHOW SCHEMAS LIKE '{}' IN DATABASE {}",
                schema.replace('\'', "''"),
                quoted(database)
            ))
            .await
            .map(|rows| !rows.data.is_empty())
            .map_err(failed)
    })
    .await;
    let exists = match exists {
        Ok(exists) => exists,
        Err(outcome) => return checks.record(outcome).await,
    };
    let outcome = within(limit, async {
        let (on, needed, grant) = if exists {
            (
                format!("SCHEMA {qualified_schema}"),
                &["USAGE", "CREATE TABLE"][..],
                format!("ON SCHEMA {qualified_schema}"),
            )
        } else {
            (
                format!("DATABASE {}", quoted(database)),
                &["USAGE", "CREATE SCHEMA"][..],
                format!("ON DATABASE {}", quoted(database)),
            )
        };
        match client.privileges(&on, &role).await {
            Err(failure) => Outcome::Warning {
                reason: format!(
                    "could not read the grants on {on} ({}); the probes below decide",
                    failure.message
                ),
                remediation: None,
            },
            Ok(held) => {
                let missing = lacking(&held, needed);
                if missing.is_empty() {
                    Outcome::Passed(if exists {
                        format!("schema {schema} exists; role {role} may use it and create tables in it")
                    } else {
                        format!("schema {schema} does not exist yet; role {role} may create it")
                    })
                } else {
                    Outcome::missing(
                        format!("role {role} lacks {} on {on}", missing.join(", ")),
                        format!("GRANT {} {grant} {to_role};", missing.join(", ")),
                    )
                }
            }
        }
    })
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    let table = format!(
        "{qualified_schema}.{}",
        quoted(&format!(
            "SETUP_TEST_STAGING_{}",
            probe_suffix().to_uppercase()
        ))
    );
    let grant_tables = format!("GRANT USAGE, CREATE TABLE ON SCHEMA {qualified_schema} {to_role};");
    // Create and alter table.
    let outcome = within(limit, async {
        if !exists {
            return Outcome::Passed(format!(
                "checked by the grants: schema {schema} does not exist yet"
            ));
        }
        probe(
            &client,
            &table,
            &[
                format!("CREATE TEMPORARY TABLE {table} (ID INT, VAL VARCHAR)"),
                format!("ALTER TABLE {table} ADD COLUMN VAL_ALTER VARCHAR"),
            ],
            &grant_tables,
            format!("created and altered a table in {schema}, then dropped it"),
        )
        .await
    })
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    // Fetch schema.
    let outcome = within(limit, async {
        if !exists {
            return Outcome::Passed(format!("schema {schema} has nothing to fetch yet"));
        }
        match client
            .run(&format!("SHOW COLUMNS IN SCHEMA {qualified_schema}"))
            .await
        {
            Ok(rows) => Outcome::Passed(format!(
                "read the schema of {schema}: {} columns",
                rows.data.len()
            )),
            Err(failure) => failed(failure),
        }
    })
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    // Load table: loads run on the warehouse.
    let outcome = within(limit, async {
        let on = format!("WAREHOUSE {}", quoted(warehouse));
        match client.privileges(&on, &role).await {
            Ok(held) if !lacking(&held, &["USAGE"]).is_empty() => {
                return Outcome::missing(
                    format!("role {role} may not use warehouse {warehouse}, which runs the loads"),
                    format!("GRANT USAGE ON {on} {to_role};"),
                )
            }
            Ok(_) => {}
            Err(failure) => {
                return Outcome::Warning {
                    reason: format!("could not read the grants on {on}: {}", failure.message),
                    remediation: None,
                }
            }
        }
        if !exists {
            return Outcome::Passed(format!(
                "role {role} may use warehouse {warehouse}; schema {schema} does not exist yet"
            ));
        }
        probe(
            &client,
            &table,
            &[
                format!("CREATE TEMPORARY TABLE {table} (ID INT, VAL VARCHAR)"),
                format!("INSERT INTO {table} VALUES (1, 'RudderStack')"),
            ],
            &grant_tables,
            format!(
                "loaded a row into a table of {schema} on warehouse {warehouse}, then dropped it"
            ),
        )
        .await
    })
    .await;
    checks.record(outcome).await;
}

/// Runs the statements and always drops the table afterwards (Snowflake's DDL commits at once).
async fn probe(
    client: &Client,
    table: &str,
    statements: &[String],
    grant: &str,
    passed: String,
) -> Outcome {
    let mut outcome = Outcome::Passed(passed);
    for statement in statements {
        if let Err(failure) = client.run(statement).await {
            outcome = if failure.code == "003001" {
                Outcome::missing(failure.message, grant.to_string())
            } else {
                failed(failure)
            };
            break;
        }
    }
    let _ = client.run(&format!("DROP TABLE IF EXISTS {table}")).await;
    outcome
}

/// Where reverse-ETL keeps its snapshot and diff tables on Snowflake (RudderStack's name there).
pub const RUDDERSTACK_SCHEMA: &str = "_RUDDERSTACK";

/// A reverse-ETL source: connection, the tables it can list, the chosen tables it may read (USAGE on their
/// schema, SELECT on them, then `SELECT … LIMIT 0`), and `_RUDDERSTACK` (USAGE and CREATE TABLE, then a
/// temporary table created, altered, loaded and dropped).
pub async fn validate_source(target: &Target, settings: &ValidationSettings, checks: &mut Checks) {
    let limit = checks.step_timeout;
    let config = &target.config;
    checks.start_step();
    let (client, role) = match connect(config, settings, limit).await {
        Ok((client, role, reason)) => {
            checks.record(Outcome::Passed(reason)).await;
            (client, role)
        }
        Err(outcome) => return checks.record(outcome).await,
    };
    let database = client.database.clone();
    let to_role = format!("TO ROLE {}", quoted(&role));
    let outcome = within(limit, async {
        match client
            .run(&format!("SHOW TABLES IN DATABASE {}", quoted(&database)))
            .await
        {
            Ok(rows) if rows.data.is_empty() => Outcome::Warning {
                reason: format!(
                    "role {role} sees no table in {database}: it needs USAGE on the schemas and SELECT on the tables it syncs"
                ),
                remediation: None,
            },
            Ok(rows) => Outcome::Passed(format!(
                "lists {} tables in {database}",
                rows.data.len()
            )),
            Err(failure) => failed(failure),
        }
    })
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    let tables = super::chosen_tables(config);
    let outcome = within(limit, async {
        if tables.is_empty() {
            return Outcome::Skipped(
                "no tables are chosen (the source's tables setting); each is checked once chosen"
                    .into(),
            );
        }
        let mut problems = Vec::new();
        let mut fixes = Vec::new();
        for (schema, table) in &tables {
            let (schema, table) = (schema.to_uppercase(), table.to_uppercase());
            let in_schema = format!("{}.{}", quoted(&database), quoted(&schema));
            let qualified = format!("{in_schema}.{}", quoted(&table));
            match client
                .privileges(&format!("SCHEMA {in_schema}"), &role)
                .await
            {
                Ok(held) if !lacking(&held, &["USAGE"]).is_empty() => {
                    problems.push(format!("role {role} lacks USAGE on schema {schema}"));
                    fixes.push(format!("GRANT USAGE ON SCHEMA {in_schema} {to_role};"));
                }
                Ok(_) => {}
                Err(failure) => problems.push(format!("schema {schema}: {}", failure.message)),
            }
            match client
                .privileges(&format!("TABLE {qualified}"), &role)
                .await
            {
                Ok(held) if !lacking(&held, &["SELECT"]).is_empty() => {
                    problems.push(format!("role {role} lacks SELECT on {schema}.{table}"));
                    fixes.push(format!("GRANT SELECT ON TABLE {qualified} {to_role};"));
                }
                Ok(_) => {}
                Err(failure) => problems.push(format!("{schema}.{table}: {}", failure.message)),
            }
            if problems.is_empty() {
                if let Err(failure) = client
                    .run(&format!("SELECT * FROM {qualified} LIMIT 0"))
                    .await
                {
                    problems.push(format!("reading {schema}.{table}: {}", failure.message));
                }
            }
        }
        fixes.dedup();
        match (problems.is_empty(), fixes.is_empty()) {
            (true, _) => Outcome::Passed(format!(
                "role {role} may read {}",
                tables
                    .iter()
                    .map(|(s, t)| format!("{}.{}", s.to_uppercase(), t.to_uppercase()))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            (false, true) => Outcome::failed(problems.join("; ")),
            (false, false) => Outcome::missing(problems.join("; "), fixes.join("\n")),
        }
    })
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    let in_schema = format!("{}.{}", quoted(&database), quoted(RUDDERSTACK_SCHEMA));
    let outcome = within(limit, async {
        let exists = match client
            .run(&format!(
                "SHOW SCHEMAS LIKE '{RUDDERSTACK_SCHEMA}' IN DATABASE {}",
                quoted(&database)
            ))
            .await
        {
            Ok(rows) => !rows.data.is_empty(),
            Err(failure) => return failed(failure),
        };
        if !exists {
            return Outcome::missing(
                format!("schema {RUDDERSTACK_SCHEMA} does not exist in {database}"),
                format!(
                    "CREATE SCHEMA {in_schema};\nGRANT ALL PRIVILEGES ON SCHEMA {in_schema} {to_role};"
                ),
            );
        }
        match client.privileges(&format!("SCHEMA {in_schema}"), &role).await {
            Ok(held) => {
                let missing = lacking(&held, &["USAGE", "CREATE TABLE"]);
                if !missing.is_empty() {
                    return Outcome::missing(
                        format!(
                            "role {role} lacks {} on {RUDDERSTACK_SCHEMA}, where snapshots and diffs are kept",
                            missing.join(", ")
                        ),
                        format!("GRANT {} ON SCHEMA {in_schema} {to_role};", missing.join(", ")),
                    );
                }
            }
            Err(failure) => return failed(failure),
        }
        let table = format!(
            "{in_schema}.{}",
            quoted(&format!("WHEELHOUSE_PROBE_{}", probe_suffix().to_uppercase()))
        );
        probe(
            &client,
            &table,
            &[
                format!("CREATE TEMPORARY TABLE {table} (ID INT)"),
                format!("ALTER TABLE {table} ADD COLUMN RUDDER_OPERATION_TYPE VARCHAR"),
                format!("INSERT INTO {table} VALUES (1, 'insert')"),
            ],
            &format!("GRANT USAGE, CREATE TABLE ON SCHEMA {in_schema} {to_role};"),
            format!("created, altered and loaded a table in {RUDDERSTACK_SCHEMA}, then dropped it"),
        )
        .await
    })
    .await;
    checks.record(outcome).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lacking_privileges_are_listed_and_ownership_covers_all() {
        let held: HashSet<String> = ["USAGE".to_string()].into();
        assert_eq!(lacking(&held, &["USAGE", "CREATE TABLE"]), ["CREATE TABLE"]);
        let owner: HashSet<String> = ["OWNERSHIP".to_string()].into();
        assert!(lacking(&owner, &["USAGE", "CREATE TABLE"]).is_empty());
    }
}
