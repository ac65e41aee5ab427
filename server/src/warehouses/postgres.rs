//! PostgreSQL and Redshift (which speaks PostgreSQL's wire protocol and has the same privilege functions).
//!
//! Introspection first: `has_database_privilege`, `has_schema_privilege` and `has_table_privilege`, each
//! privilege asked alone (a list answers true when *any* is held), by OID (the name form errors when the
//! schema is missing). They honour role membership and superusers. Then a probe, only inside the
//! destination's own schema or `_rudderstack`, always in a transaction that is rolled back: PostgreSQL's DDL
//! is transactional, so nothing is left behind, even when a step times out mid-way (the connection is
//! dropped and the server rolls back).

use std::time::Duration;

use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgSslMode};
use sqlx::{Connection, Row};

use super::checks::{quoted, within, Checks, Outcome};
use super::network::NetworkPolicy;
use super::{config_str, probe_suffix, Target};

/// rudder-server's validation steps for warehouse destinations, in its order and with its names.
pub const DESTINATION_STEPS: [&str; 6] = [
    "Verifying Object Storage",
    "Verifying Connections",
    "Verifying Create Schema",
    "Verifying Create and Alter Table",
    "Verifying Fetch Schema",
    "Verifying Load Table",
];

/// A reverse-ETL source's steps (RudderStack's own validator is closed; these follow its UI's checks).
pub const SOURCE_STEPS: [&str; 4] = [
    "Verifying Connections",
    "Verifying List Schemas and Tables",
    "Verifying Read Tables",
    "Verifying RudderStack Schema",
];

/// Where reverse-ETL keeps its snapshot and diff tables (RudderStack's name on PostgreSQL and Redshift).
pub const RUDDERSTACK_SCHEMA: &str = "_rudderstack";

/// Schemas are named after each source when a destination sets no namespace; the probe uses this name.
const PROBE_SCHEMA: &str = "rudderstack_setup_test";

struct Settings {
    host: String,
    port: u16,
    database: String,
    user: String,
    password: Option<String>,
    ssl_mode: PgSslMode,
}

fn settings(config: &Value) -> Result<Settings, Outcome> {
    let required = |key: &str| {
        config_str(config, key)
            .map(str::to_string)
            .ok_or_else(|| Outcome::failed(format!("config.{key} is not set")))
    };
    let port = match config_str(config, "port") {
        None => 5432,
        Some(port) => port.parse::<u16>().map_err(|_| {
            Outcome::failed("config.port is not a port number (1 to 65535)".to_string())
        })?,
    };
    Ok(Settings {
        host: required("host")?,
        port,
        database: required("database")?,
        user: required("user")?,
        password: config_str(config, "password").map(str::to_string),
        ssl_mode: match config_str(config, "sslMode") {
            Some("require") => PgSslMode::Require,
            Some("verify-ca") => PgSslMode::VerifyCa,
            Some("verify-full") => PgSslMode::VerifyFull,
            _ => PgSslMode::Disable,
        },
    })
}

/// Who we are connected as, where.
struct Session {
    conn: PgConnection,
    user: String,
    database: String,
}

async fn connect(
    settings: &Settings,
    policy: &NetworkPolicy,
    limit: Duration,
) -> Result<(Session, String), Outcome> {
    let addresses = policy
        .resolve(&settings.host, settings.port)
        .await
        .map_err(|refused| Outcome::failed(refused.0))?;
    let mut last = None;
    for address in addresses {
        let mut options = PgConnectOptions::new()
            .host(&address.ip().to_string())
            .port(address.port())
            .username(&settings.user)
            .database(&settings.database)
            .ssl_mode(settings.ssl_mode)
            .application_name("wheelhouse-validation")
            .options([(
                "statement_timeout",
                format!("{}", limit.as_millis().max(1000)),
            )]);
        if let Some(password) = &settings.password {
            options = options.password(password);
        }
        let attempt = tokio::time::timeout(limit, PgConnection::connect_with(&options)).await;
        match attempt {
            Ok(Ok(mut conn)) => {
                let row =
                    sqlx::query("SELECT current_user::text, current_database()::text, version()")
                        .fetch_one(&mut conn)
                        .await
                        .map_err(|e| Outcome::failed(describe(&e)))?;
                let version: String = row.get(2);
                let session = Session {
                    user: row.get(0),
                    database: row.get(1),
                    conn,
                };
                let product = version
                    .split(" on ")
                    .next()
                    .unwrap_or(&version)
                    .split(',')
                    .next()
                    .unwrap_or("")
                    .to_string();
                let reason = format!(
                    "connected to {}:{} as {} to database {} ({product})",
                    settings.host, settings.port, session.user, session.database
                );
                return Ok((session, reason));
            }
            Ok(Err(error)) => last = Some(connect_failure(settings, &error)),
            Err(_) => {
                last = Some(Outcome::failed(format!(
                    "{}:{} accepted no connection within {} s",
                    settings.host,
                    settings.port,
                    limit.as_secs_f64()
                )))
            }
        }
    }
    Err(last.unwrap_or_else(|| Outcome::failed("no address to connect to")))
}

fn connect_failure(settings: &Settings, error: &sqlx::Error) -> Outcome {
    let reason = describe(error);
    match sqlstate(error).as_deref() {
        // permission denied for database: CONNECT was revoked from PUBLIC and not granted to the user.
        Some("42501") => Outcome::missing(
            reason,
            format!(
                "GRANT CONNECT ON DATABASE {} TO {};",
                quoted(&settings.database),
                quoted(&settings.user)
            ),
        ),
        _ => Outcome::failed(reason),
    }
}

fn sqlstate(error: &sqlx::Error) -> Option<String> {
    error
        .as_database_error()
        .and_then(|e| e.code().map(|c| c.into_owned()))
}

/// The driver's words: the server's message and SQLSTATE, or what went wrong on the way there. Never the
/// connection options (they hold the password; `Checks` scrubs it anyway).
fn describe(error: &sqlx::Error) -> String {
    match error {
        sqlx::Error::Database(e) => match e.code() {
            Some(code) => format!("{} (SQLSTATE {code})", e.message()),
            None => e.message().to_string(),
        },
        sqlx::Error::Io(e) => format!("could not connect: {e}"),
        sqlx::Error::Tls(e) => format!("TLS: {e}"),
        sqlx::Error::PoolTimedOut => "timed out".into(),
        other => other.to_string(),
    }
}

/// `Failed` for a statement the role may not run, with what fixes it.
fn denied(error: &sqlx::Error, remediation: impl FnOnce() -> String) -> Outcome {
    if sqlstate(error).as_deref() == Some("42501") {
        Outcome::missing(describe(error), remediation())
    } else {
        Outcome::failed(describe(error))
    }
}

/// The schema's OID and whether the role may use it and create in it; `None` when it does not exist.
async fn schema_privileges(
    conn: &mut PgConnection,
    schema: &str,
) -> sqlx::Result<Option<(bool, bool)>> {
    let row = sqlx::query(
        "SELECT has_schema_privilege(oid, 'USAGE'), has_schema_privilege(oid, 'CREATE')
         FROM pg_catalog.pg_namespace WHERE nspname = $1",
    )
    .bind(schema)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

async fn database_privilege(conn: &mut PgConnection, privilege: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT has_database_privilege(current_database(), $1)")
        .bind(privilege)
        .fetch_one(conn)
        .await
}

/// The `GRANT` for the schema privileges a role lacks.
fn grant_on_schema(schema: &str, user: &str, usage: bool, create: bool) -> String {
    let missing: Vec<&str> = [("USAGE", usage), ("CREATE", create)]
        .into_iter()
        .filter(|(_, held)| !held)
        .map(|(p, _)| p)
        .collect();
    format!(
        "GRANT {} ON SCHEMA {} TO {};",
        missing.join(", "),
        quoted(schema),
        quoted(user)
    )
}

pub async fn validate_destination(target: &Target, policy: &NetworkPolicy, checks: &mut Checks) {
    let limit = checks.step_timeout;
    checks.start_step();
    let settings = match settings(&target.config) {
        Ok(settings) => settings,
        Err(outcome) => return checks.record(outcome).await,
    };
    let mut session = match connect(&settings, policy, limit).await {
        Ok((session, reason)) => {
            checks.record(Outcome::Passed(reason)).await;
            session
        }
        Err(outcome) => return checks.record(outcome).await,
    };
    let namespace = config_str(&target.config, "namespace").map(str::to_string);
    let schema = namespace
        .clone()
        .unwrap_or_else(|| PROBE_SCHEMA.to_string());
    let outcome = within(
        limit,
        create_schema(&mut session, &schema, namespace.is_some()),
    )
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    let outcome = within(limit, create_and_alter_table(&mut session, &schema)).await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    let outcome = within(limit, fetch_schema(&mut session, &schema)).await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    let outcome = within(limit, load_table(&mut session, &schema)).await;
    checks.record(outcome).await;
}

async fn create_schema(session: &mut Session, schema: &str, configured: bool) -> Outcome {
    let Session {
        conn,
        user,
        database,
    } = session;
    match schema_privileges(conn, schema).await {
        Err(e) => Outcome::failed(describe(&e)),
        Ok(Some((true, true))) => Outcome::Passed(format!(
            "schema {schema} exists; {user} may use it and create tables in it"
        )),
        Ok(Some((usage, create))) => Outcome::missing(
            format!(
                "schema {schema} exists, but {user} lacks {} on it",
                [("USAGE", usage), ("CREATE", create)]
                    .into_iter()
                    .filter(|(_, held)| !held)
                    .map(|(p, _)| p)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            grant_on_schema(schema, user, usage, create),
        ),
        Ok(None) => {
            let grant = format!(
                "GRANT CREATE ON DATABASE {} TO {};",
                quoted(database),
                quoted(user)
            );
            match database_privilege(conn, "CREATE").await {
                Err(e) => return Outcome::failed(describe(&e)),
                Ok(false) => {
                    return Outcome::missing(
                        format!(
                            "schema {schema} does not exist and {user} may not create schemas in database {database} (CREATE on the database)"
                        ),
                        grant,
                    )
                }
                Ok(true) => {}
            }
            let probe = async {
                let mut tx = conn.begin().await?;
                sqlx::query(&format!("CREATE SCHEMA {}", quoted(schema)))
                    .execute(&mut *tx)
                    .await?;
                tx.rollback().await
            };
            match probe.await {
                Ok(()) if configured => Outcome::Passed(format!(
                    "schema {schema} does not exist yet; {user} may create it (created and rolled back)"
                )),
                Ok(()) => Outcome::Passed(format!(
                    "no namespace is set, so the data plane creates a schema per source; {user} may create schemas (checked with {schema}, rolled back)"
                )),
                Err(e) => denied(&e, || grant),
            }
        }
    }
}

/// Creates the schema when it is missing, inside the caller's transaction. (Not `IF NOT EXISTS`: PostgreSQL
/// checks CREATE on the database before it looks whether the schema exists.)
async fn ensure_schema(conn: &mut PgConnection, schema: &str) -> sqlx::Result<()> {
    let exists: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)",
    )
    .bind(schema)
    .fetch_one(&mut *conn)
    .await?;
    if !exists {
        sqlx::query(&format!("CREATE SCHEMA {}", quoted(schema)))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Runs the statements in a transaction, in `schema` (created in it when missing), and rolls it all back.
async fn rolled_back(
    conn: &mut PgConnection,
    schema: &str,
    statements: &[String],
) -> sqlx::Result<()> {
    let mut tx = conn.begin().await?;
    ensure_schema(&mut tx, schema).await?;
    for statement in statements {
        sqlx::query(statement).execute(&mut *tx).await?;
    }
    tx.rollback().await
}

async fn create_and_alter_table(session: &mut Session, schema: &str) -> Outcome {
    let table = format!("setup_test_staging_{}", probe_suffix());
    let qualified = format!("{}.{}", quoted(schema), quoted(&table));
    let Session { conn, user, .. } = session;
    let statements = [
        format!("CREATE TABLE {qualified} (id BIGINT, val TEXT)"),
        format!("ALTER TABLE {qualified} ADD COLUMN val_alter TEXT"),
    ];
    let probe = rolled_back(conn, schema, &statements);
    match probe.await {
        Ok(()) => Outcome::Passed(format!(
            "created table {schema}.{table} and added a column (rolled back)"
        )),
        Err(e) => denied(&e, || grant_on_schema(schema, user, false, false)),
    }
}

async fn fetch_schema(session: &mut Session, schema: &str) -> Outcome {
    let Session { conn, user, .. } = session;
    let columns = sqlx::query(
        "SELECT count(DISTINCT table_name), count(*) FROM information_schema.columns WHERE table_schema = $1",
    )
    .bind(schema)
    .fetch_one(&mut *conn)
    .await;
    let (tables, columns): (i64, i64) = match columns {
        Ok(row) => (row.get(0), row.get(1)),
        Err(e) => return Outcome::failed(describe(&e)),
    };
    // The data plane alters the tables it loads (new columns): only their owner may.
    let foreign: Vec<String> = match sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_catalog.pg_class c
         JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND NOT pg_has_role(c.relowner, 'USAGE')
         ORDER BY c.relname LIMIT 20",
    )
    .bind(schema)
    .fetch_all(&mut *conn)
    .await
    {
        Ok(names) => names,
        Err(e) => return Outcome::failed(describe(&e)),
    };
    if foreign.is_empty() {
        Outcome::Passed(format!(
            "read the schema of {schema}: {tables} tables, {columns} columns"
        ))
    } else {
        Outcome::Warning {
            reason: format!(
                "{user} does not own {} in {schema}, so it cannot add the columns new events bring",
                foreign.join(", ")
            ),
            remediation: Some(
                foreign
                    .iter()
                    .map(|t| {
                        format!(
                            "ALTER TABLE {}.{} OWNER TO {};",
                            quoted(schema),
                            quoted(t),
                            quoted(user)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        }
    }
}

async fn load_table(session: &mut Session, schema: &str) -> Outcome {
    let Session {
        conn,
        user,
        database,
    } = session;
    // Loads go through temporary staging tables (RudderStack's documentation requires TEMPORARY).
    match database_privilege(conn, "TEMPORARY").await {
        Err(e) => return Outcome::failed(describe(&e)),
        Ok(false) => {
            return Outcome::missing(
                format!(
                    "{user} may not create temporary tables in database {database}, which loads stage rows in"
                ),
                format!(
                    "GRANT TEMPORARY ON DATABASE {} TO {};",
                    quoted(database),
                    quoted(user)
                ),
            )
        }
        Ok(true) => {}
    }
    let table = format!("setup_test_load_{}", probe_suffix());
    let qualified = format!("{}.{}", quoted(schema), quoted(&table));
    let staging = quoted(&format!("{table}_staging"));
    let statements = [
        format!("CREATE TABLE {qualified} (id BIGINT, val TEXT)"),
        format!("CREATE TEMPORARY TABLE {staging} (LIKE {qualified}) ON COMMIT DROP"),
        format!("INSERT INTO {staging} VALUES (1, 'RudderStack')"),
        format!("INSERT INTO {qualified} SELECT * FROM {staging}"),
    ];
    let probe = rolled_back(conn, schema, &statements);
    match probe.await {
        Ok(()) => Outcome::Passed(format!(
            "loaded a row into a table of {schema} through a temporary staging table (rolled back)"
        )),
        Err(e) => denied(&e, || grant_on_schema(schema, user, false, false)),
    }
}

pub async fn validate_source(target: &Target, policy: &NetworkPolicy, checks: &mut Checks) {
    let limit = checks.step_timeout;
    checks.start_step();
    let settings = match settings(&target.config) {
        Ok(settings) => settings,
        Err(outcome) => return checks.record(outcome).await,
    };
    let mut session = match connect(&settings, policy, limit).await {
        Ok((session, reason)) => {
            checks.record(Outcome::Passed(reason)).await;
            session
        }
        Err(outcome) => return checks.record(outcome).await,
    };
    let outcome = within(limit, list_tables(&mut session)).await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    let tables = super::chosen_tables(&target.config);
    let outcome = within(limit, read_tables(&mut session, &tables)).await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    let outcome = within(limit, rudderstack_schema(&mut session)).await;
    checks.record(outcome).await;
}

async fn list_tables(session: &mut Session) -> Outcome {
    let row = sqlx::query(
        "SELECT count(DISTINCT table_schema), count(*) FROM information_schema.tables
         WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_schema NOT LIKE 'pg_toast%'",
    )
    .fetch_one(&mut session.conn)
    .await;
    match row {
        Err(e) => Outcome::failed(describe(&e)),
        Ok(row) => {
            let (schemas, tables): (i64, i64) = (row.get(0), row.get(1));
            if tables == 0 {
                Outcome::Warning {
                    reason: format!(
                        "{} sees no table: it needs USAGE on the schemas and SELECT on the tables it syncs",
                        session.user
                    ),
                    remediation: None,
                }
            } else {
                Outcome::Passed(format!("lists {tables} tables in {schemas} schemas"))
            }
        }
    }
}

async fn read_tables(session: &mut Session, tables: &[(String, String)]) -> Outcome {
    if tables.is_empty() {
        return Outcome::Skipped(
            "no tables are chosen (the source's tables setting); each is checked once chosen"
                .into(),
        );
    }
    let Session { conn, user, .. } = session;
    let mut problems = Vec::new();
    let mut fixes = Vec::new();
    for (schema, table) in tables {
        let name = format!("{schema}.{table}");
        let row = sqlx::query(
            "SELECT has_schema_privilege(n.oid, 'USAGE'),
                    (SELECT has_table_privilege(c.oid, 'SELECT') FROM pg_catalog.pg_class c
                     WHERE c.relnamespace = n.oid AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f'))
             FROM pg_catalog.pg_namespace n WHERE n.nspname = $1",
        )
        .bind(schema)
        .bind(table)
        .fetch_optional(&mut *conn)
        .await;
        let (usage, select): (bool, Option<bool>) = match row {
            Err(e) => return Outcome::failed(describe(&e)),
            Ok(None) => {
                problems.push(format!("schema {schema} does not exist"));
                continue;
            }
            Ok(Some(row)) => (row.get(0), row.get(1)),
        };
        let Some(select) = select else {
            problems.push(format!("table {name} does not exist"));
            continue;
        };
        if !usage {
            problems.push(format!("{user} lacks USAGE on schema {schema}"));
            fixes.push(format!(
                "GRANT USAGE ON SCHEMA {} TO {};",
                quoted(schema),
                quoted(user)
            ));
        }
        if !select {
            problems.push(format!("{user} lacks SELECT on {name}"));
            fixes.push(format!(
                "GRANT SELECT ON TABLE {}.{} TO {};",
                quoted(schema),
                quoted(table),
                quoted(user)
            ));
        }
        if usage && select {
            if let Err(e) = sqlx::query(&format!(
                "SELECT * FROM {}.{} LIMIT 0",
                quoted(schema),
                quoted(table)
            ))
            .execute(&mut *conn)
            .await
            {
                problems.push(format!("reading {name}: {}", describe(&e)));
            }
        }
    }
    fixes.dedup();
    match (problems.is_empty(), fixes.is_empty()) {
        (true, _) => Outcome::Passed(format!(
            "{user} may read {}",
            tables
                .iter()
                .map(|(s, t)| format!("{s}.{t}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
        (false, true) => Outcome::failed(problems.join("; ")),
        (false, false) => Outcome::missing(problems.join("; "), fixes.join("\n")),
    }
}

async fn rudderstack_schema(session: &mut Session) -> Outcome {
    let schema = RUDDERSTACK_SCHEMA;
    let Session {
        conn,
        user,
        database,
    } = session;
    match schema_privileges(conn, schema).await {
        Err(e) => return Outcome::failed(describe(&e)),
        Ok(Some((true, true))) => {}
        Ok(Some((usage, create))) => {
            return Outcome::missing(
                format!("{user} may not create its snapshot and diff tables in {schema}"),
                grant_on_schema(schema, user, usage, create),
            )
        }
        Ok(None) => match database_privilege(conn, "CREATE").await {
            Err(e) => return Outcome::failed(describe(&e)),
            Ok(false) => {
                return Outcome::missing(
                    format!(
                        "schema {schema} does not exist and {user} may not create it in database {database}"
                    ),
                    format!(
                        "CREATE SCHEMA {};\nGRANT USAGE, CREATE ON SCHEMA {} TO {};",
                        quoted(schema),
                        quoted(schema),
                        quoted(user)
                    ),
                )
            }
            Ok(true) => {}
        },
    }
    let table = format!("wheelhouse_probe_{}", probe_suffix());
    let qualified = format!("{}.{}", quoted(schema), quoted(&table));
    let statements = [
        format!("CREATE TABLE {qualified} (id BIGINT)"),
        format!("ALTER TABLE {qualified} ADD COLUMN rudder_operation_type TEXT"),
        format!("INSERT INTO {qualified} VALUES (1, 'insert')"),
        format!("DROP TABLE {qualified}"),
    ];
    let probe = rolled_back(conn, schema, &statements);
    match probe.await {
        Ok(()) => Outcome::Passed(format!(
            "created, altered and dropped a table in {schema} (rolled back)"
        )),
        Err(e) => denied(&e, || grant_on_schema(schema, user, false, false)),
    }
}
