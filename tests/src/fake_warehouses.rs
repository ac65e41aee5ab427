//! Local servers that speak the protocols of warehouses this machine cannot run or reach: ClickHouse's HTTP
//! interface, Snowflake's SQL API v2, and BigQuery's REST API v2 with Google's OAuth token endpoint and Cloud
//! Storage's XML API (where BigQuery stages). They are not mocks of Wheelhouse's code: they answer the documented
//! wire protocol (status codes, headers, bodies and error codes as the vendors document them), keep the
//! state a statement changes (grants, tables), check credentials the way the real service does (Snowflake:
//! the RS256 key-pair JWT against the user's public key and its SHA-256 fingerprint; Google: the service
//! account's signed assertion, and its self-signed JWT for Cloud Storage), and record every
//! statement so that tests can show nothing was touched outside the destination's own schema.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the fake warehouse");
    let address = listener.local_addr().expect("its address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    address
}

/// `GRANT A, B ON <object> TO <grantee>;` → (privileges, object).
fn parse_grant(statement: &str) -> (Vec<String>, String) {
    let statement = statement.trim().trim_end_matches(';');
    let rest = statement.strip_prefix("GRANT ").expect("a GRANT statement");
    let (privileges, rest) = rest.split_once(" ON ").expect("GRANT … ON …");
    let object = rest.split(" TO ").next().expect("GRANT … TO …").trim();
    (
        privileges
            .split(',')
            .map(|p| p.trim().to_string())
            .collect(),
        object.to_string(),
    )
}

// ---- ClickHouse ------------------------------------------------------------------------------------------

#[derive(Default)]
struct ClickHouseState {
    user: String,
    password: String,
    databases: HashSet<String>,
    /// Privileges on `` `db`.* ``.
    grants: HashSet<String>,
    tables: HashSet<String>,
    statements: Vec<String>,
}

/// ClickHouse's HTTP interface, for one user and the databases given.
pub struct FakeClickHouse {
    pub address: SocketAddr,
    state: Arc<Mutex<ClickHouseState>>,
}

impl FakeClickHouse {
    pub async fn start(user: &str, password: &str, databases: &[&str]) -> FakeClickHouse {
        let state = Arc::new(Mutex::new(ClickHouseState {
            user: user.into(),
            password: password.into(),
            databases: databases.iter().map(|d| d.to_string()).collect(),
            ..Default::default()
        }));
        let router = Router::new()
            .route("/", post(clickhouse))
            .with_state(state.clone());
        FakeClickHouse {
            address: serve(router).await,
            state,
        }
    }

    /// Runs a `GRANT … ON `db`.* TO …;` as an administrator would.
    pub fn grant(&self, statement: &str) {
        let (privileges, _) = parse_grant(statement);
        self.state.lock().unwrap().grants.extend(privileges);
    }

    pub fn tables(&self) -> Vec<String> {
        self.state.lock().unwrap().tables.iter().cloned().collect()
    }

    pub fn statements(&self) -> Vec<String> {
        self.state.lock().unwrap().statements.clone()
    }
}

fn clickhouse_error(status: StatusCode, code: u32, message: &str, name: &str) -> Response {
    (
        status,
        [("X-ClickHouse-Exception-Code", code.to_string())],
        format!("Code: {code}. DB::Exception: {message}. ({name}) (version 24.3.1.1)\n"),
    )
        .into_response()
}

async fn clickhouse(
    State(state): State<Arc<Mutex<ClickHouseState>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sql = String::from_utf8_lossy(&body).trim().to_string();
    let mut state = state.lock().unwrap();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    if header("X-ClickHouse-User") != state.user || header("X-ClickHouse-Key") != state.password {
        return clickhouse_error(
            StatusCode::UNAUTHORIZED,
            516,
            &format!(
                "{}: Authentication failed: password is incorrect, or there is no user with such name",
                header("X-ClickHouse-User")
            ),
            "AUTHENTICATION_FAILED",
        );
    }
    state.statements.push(sql.clone());
    let denied = |privilege: &str, user: &str| {
        clickhouse_error(
            StatusCode::FORBIDDEN,
            497,
            &format!(
                "{user}: Not enough privileges. To execute this query, it's necessary to have the grant {privilege}"
            ),
            "ACCESS_DENIED",
        )
    };
    let user = state.user.clone();
    if sql == "SELECT version()" {
        return "24.3.1.1\n".into_response();
    }
    if let Some(name) = sql.strip_prefix("SELECT count() FROM system.databases WHERE name = ") {
        let name = name.trim_matches('\'');
        return format!("{}\n", u8::from(state.databases.contains(name))).into_response();
    }
    if sql.starts_with("SELECT count() FROM system.columns") {
        return "0\n".into_response();
    }
    if let Some(rest) = sql.strip_prefix("CHECK GRANT ") {
        let privilege = rest.split(" ON ").next().unwrap_or("");
        return format!("{}\n", u8::from(state.grants.contains(privilege))).into_response();
    }
    let table = |prefix: &str| {
        sql.strip_prefix(prefix)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
    };
    if let Some(name) = table("CREATE TABLE ") {
        if !state.grants.contains("CREATE TABLE") {
            return denied("CREATE TABLE", &user);
        }
        state.tables.insert(name);
        return "".into_response();
    }
    if let Some(name) = table("ALTER TABLE ") {
        if !state.grants.contains("ALTER ADD COLUMN") {
            return denied("ALTER ADD COLUMN", &user);
        }
        assert!(
            state.tables.contains(&name),
            "altering {name}, never created"
        );
        return "".into_response();
    }
    if let Some(name) = table("INSERT INTO ") {
        if !state.grants.contains("INSERT") {
            return denied("INSERT", &user);
        }
        assert!(
            state.tables.contains(&name),
            "inserting into {name}, never created"
        );
        return "".into_response();
    }
    if let Some(name) = table("DROP TABLE IF EXISTS ") {
        if state.tables.contains(&name) && !state.grants.contains("DROP TABLE") {
            return denied("DROP TABLE", &user);
        }
        state.tables.remove(&name);
        return "".into_response();
    }
    clickhouse_error(
        StatusCode::BAD_REQUEST,
        62,
        &format!("Syntax error: failed at position 1 ({sql})"),
        "SYNTAX_ERROR",
    )
}

// ---- Snowflake ---------------------------------------------------------------------------------------------

struct SnowflakeState {
    /// `ACCOUNT.USER`, upper-cased, and the user's public key.
    subject: String,
    public_key_pem: String,
    fingerprint: String,
    role: String,
    /// Privileges of the role per object (`DATABASE "DB"`, `SCHEMA "DB"."S"`, `WAREHOUSE "WH"`).
    grants: HashMap<String, HashSet<String>>,
    schemas: HashSet<String>,
    tables: HashSet<String>,
    /// Tables the source reads (`"DB"."S"."T"`), listed by `SHOW TABLES`.
    readable: Vec<String>,
    statements: Vec<String>,
}

/// Snowflake's SQL API v2 (`POST /api/v2/statements`) for one user with a key pair and one role.
pub struct FakeSnowflake {
    pub address: SocketAddr,
    state: Arc<Mutex<SnowflakeState>>,
}

impl FakeSnowflake {
    /// `fingerprint`: `SHA256:<base64>` of the public key's DER, as `DESC USER` shows it.
    pub async fn start(
        account: &str,
        user: &str,
        role: &str,
        public_key_pem: &str,
        fingerprint: &str,
        schemas: &[&str],
    ) -> FakeSnowflake {
        let state = Arc::new(Mutex::new(SnowflakeState {
            subject: format!("{}.{}", account.to_uppercase(), user.to_uppercase()),
            public_key_pem: public_key_pem.into(),
            fingerprint: fingerprint.into(),
            role: role.into(),
            grants: HashMap::new(),
            schemas: schemas.iter().map(|s| s.to_string()).collect(),
            tables: HashSet::new(),
            readable: Vec::new(),
            statements: Vec::new(),
        }));
        let router = Router::new()
            .route("/api/v2/statements", post(snowflake))
            .with_state(state.clone());
        FakeSnowflake {
            address: serve(router).await,
            state,
        }
    }

    /// Runs `GRANT … ON <object> TO ROLE …;` as an administrator would.
    pub fn grant(&self, statement: &str) {
        let (privileges, object) = parse_grant(statement);
        self.state
            .lock()
            .unwrap()
            .grants
            .entry(object)
            .or_default()
            .extend(privileges);
    }

    pub fn tables(&self) -> Vec<String> {
        self.state.lock().unwrap().tables.iter().cloned().collect()
    }

    pub fn statements(&self) -> Vec<String> {
        self.state.lock().unwrap().statements.clone()
    }

    /// Adds a table of the source's data (`"DB"."S"."T"`) and, when the administrator makes it, a schema.
    pub fn add_table(&self, qualified: &str) {
        self.state.lock().unwrap().readable.push(qualified.into());
    }

    /// `CREATE SCHEMA …` as an administrator runs it.
    pub fn create_schema(&self, name: &str) {
        self.state.lock().unwrap().schemas.insert(name.into());
    }
}

fn snowflake_error(status: StatusCode, code: &str, message: &str, sql_state: &str) -> Response {
    (
        status,
        Json(
            json!({"code": code, "message": message, "sqlState": sql_state,
            "statementHandle": "01b2c3d4-0000-0000-0000-000000000001"}),
        ),
    )
        .into_response()
}

fn result(columns: &[&str], rows: Vec<Vec<String>>) -> Response {
    Json(json!({
        "resultSetMetaData": {
            "numRows": rows.len(),
            "format": "jsonv2",
            "rowType": columns.iter().map(|c| json!({"name": c, "type": "text", "nullable": true})).collect::<Vec<_>>(),
        },
        "data": rows,
        "code": "090001",
        "statementStatusUrl": "/api/v2/statements/01b2c3d4-0000-0000-0000-000000000001?requestId=1",
        "sqlState": "00000",
        "statementHandle": "01b2c3d4-0000-0000-0000-000000000001",
        "message": "Statement executed successfully.",
    }))
    .into_response()
}

async fn snowflake(
    State(state): State<Arc<Mutex<SnowflakeState>>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut state = state.lock().unwrap();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let invalid = || {
        snowflake_error(
            StatusCode::UNAUTHORIZED,
            "390144",
            "JWT token is invalid.",
            "08001",
        )
    };
    if header("X-Snowflake-Authorization-Token-Type") != "KEYPAIR_JWT" {
        return invalid();
    }
    let Some(token) = header("Authorization")
        .strip_prefix("Bearer ")
        .map(str::to_string)
    else {
        return invalid();
    };
    let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(state.public_key_pem.as_bytes()) else {
        return invalid();
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.required_spec_claims = ["exp", "iat", "iss", "sub"]
        .into_iter()
        .map(String::from)
        .collect();
    let Ok(claims) = jsonwebtoken::decode::<Value>(&token, &key, &validation) else {
        return invalid();
    };
    let expected_issuer = format!("{}.{}", state.subject, state.fingerprint);
    if claims.claims["iss"] != expected_issuer.as_str()
        || claims.claims["sub"] != state.subject.as_str()
    {
        return invalid();
    }
    let sql = body["statement"].as_str().unwrap_or("").trim().to_string();
    state.statements.push(sql.clone());
    let role = state.role.clone();
    let insufficient = |object: &str| {
        snowflake_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "003001",
            &format!("SQL access control error: Insufficient privileges to operate on {object}"),
            "42501",
        )
    };
    if sql == "SELECT CURRENT_VERSION(), CURRENT_ROLE(), CURRENT_USER()" {
        let user = state.subject.split('.').nth(1).unwrap_or("").to_string();
        return result(
            &["CURRENT_VERSION()", "CURRENT_ROLE()", "CURRENT_USER()"],
            vec![vec!["8.40.1".into(), role, user]],
        );
    }
    if let Some(rest) = sql.strip_prefix("SHOW SCHEMAS LIKE '") {
        let name = rest.split('\'').next().unwrap_or("");
        let rows = if state.schemas.contains(name) {
            vec![vec!["2026-01-01 00:00:00".into(), name.to_string()]]
        } else {
            Vec::new()
        };
        return result(&["created_on", "name"], rows);
    }
    if let Some(object) = sql.strip_prefix("SHOW GRANTS ON ") {
        let rows = state
            .grants
            .get(object)
            .into_iter()
            .flatten()
            .map(|privilege| {
                vec![
                    "2026-01-01 00:00:00".to_string(),
                    privilege.clone(),
                    object.split(' ').next().unwrap_or("").to_string(),
                    object.to_string(),
                    "ROLE".to_string(),
                    role.clone(),
                    "false".to_string(),
                    "ACCOUNTADMIN".to_string(),
                ]
            })
            .collect();
        return result(
            &[
                "created_on",
                "privilege",
                "granted_on",
                "name",
                "granted_to",
                "grantee_name",
                "grant_option",
                "granted_by",
            ],
            rows,
        );
    }
    if sql.starts_with("SHOW TABLES IN DATABASE ") {
        let rows = state
            .readable
            .iter()
            .map(|t| vec!["2026-01-01 00:00:00".to_string(), t.clone()])
            .collect();
        return result(&["created_on", "name"], rows);
    }
    if let Some(rest) = sql.strip_prefix("SELECT * FROM ") {
        let table = rest.split_whitespace().next().unwrap_or("").to_string();
        let held = state.grants.get(&format!("TABLE {table}"));
        if !held.is_some_and(|h| h.contains("SELECT")) {
            return insufficient(&format!("table {table}"));
        }
        return result(&["ID"], Vec::new());
    }
    if sql.starts_with("SHOW COLUMNS IN SCHEMA ") {
        return result(&["table_name", "schema_name", "column_name"], Vec::new());
    }
    let table_of = |prefix: &str| {
        sql.strip_prefix(prefix)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string)
    };
    // The schema a table name is in: `"DB"."S"."T"` → `SCHEMA "DB"."S"`.
    let schema_of = |table: &str| {
        let parts: Vec<&str> = table.rsplitn(2, '.').collect();
        format!("SCHEMA {}", parts.get(1).copied().unwrap_or(""))
    };
    let may_create = |state: &SnowflakeState, table: &str| {
        state.grants.get(&schema_of(table)).is_some_and(|held| {
            ["CREATE TABLE", "OWNERSHIP", "ALL PRIVILEGES"]
                .iter()
                .any(|p| held.contains(*p))
        })
    };
    if let Some(table) = table_of("CREATE TEMPORARY TABLE ") {
        if !may_create(&state, &table) {
            return insufficient(&format!("schema {}", schema_of(&table)));
        }
        state.tables.insert(table);
        return result(
            &["status"],
            vec![vec!["Table successfully created.".into()]],
        );
    }
    for prefix in ["ALTER TABLE ", "INSERT INTO "] {
        if let Some(table) = table_of(prefix) {
            assert!(
                state.tables.contains(&table),
                "{prefix}{table}, never created"
            );
            return result(&["status"], vec![vec!["ok".into()]]);
        }
    }
    if let Some(table) = table_of("DROP TABLE IF EXISTS ") {
        state.tables.remove(&table);
        return result(&["status"], vec![vec!["dropped".into()]]);
    }
    snowflake_error(
        StatusCode::UNPROCESSABLE_ENTITY,
        "001003",
        &format!("SQL compilation error: syntax error line 1 at position 0 unexpected '{sql}'."),
        "42000",
    )
}

// ---- BigQuery ----------------------------------------------------------------------------------------------

struct BigQueryState {
    email: String,
    public_key_pem: String,
    token_uri: String,
    token: String,
    /// The roles the service account holds (`roles/bigquery.…`), in the project and on its datasets.
    roles: HashSet<String>,
    datasets: HashSet<String>,
    /// Tables the validation created (`dataset.table`).
    tables: HashSet<String>,
    /// Tables that were there before (`dataset.table`), which a reverse-ETL source reads.
    existing_tables: HashSet<String>,
    calls: Vec<String>,
    /// Google Cloud Storage: the buckets, their objects (`bucket/name` → body), and the storage roles the
    /// service account holds on them (`roles/storage.…`).
    buckets: HashSet<String>,
    objects: HashMap<String, Bytes>,
    storage_roles: HashSet<String>,
}

impl BigQueryState {
    /// Whether the roles held grant `permission` (each role's permissions as Google documents them, reduced
    /// to those validation needs).
    fn allows(&self, permission: &str) -> bool {
        let granted = |role: &str| -> &[&str] {
            match role {
                "roles/bigquery.user" => &["datasets.list", "datasets.create", "jobs.create"],
                "roles/bigquery.jobUser" => &["jobs.create"],
                "roles/bigquery.dataViewer" => &[
                    "datasets.list",
                    "datasets.get",
                    "tables.list",
                    "tables.get",
                    "tables.getData",
                ],
                "roles/bigquery.dataEditor" | "roles/bigquery.dataOwner" => &[
                    "datasets.list",
                    "datasets.get",
                    "datasets.create",
                    "tables.list",
                    "tables.get",
                    "tables.getData",
                    "tables.create",
                    "tables.update",
                    "tables.updateData",
                    "tables.delete",
                ],
                _ => &[],
            }
        };
        self.roles
            .iter()
            .any(|role| granted(role).contains(&permission))
    }
}

/// BigQuery's REST API v2 and Google's OAuth token endpoint, for one service account.
pub struct FakeBigQuery {
    pub address: SocketAddr,
    state: Arc<Mutex<BigQueryState>>,
}

impl FakeBigQuery {
    pub async fn start(email: &str, public_key_pem: &str, datasets: &[&str]) -> FakeBigQuery {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port");
        let address = listener.local_addr().expect("its address");
        let state = Arc::new(Mutex::new(BigQueryState {
            email: email.into(),
            public_key_pem: public_key_pem.into(),
            token_uri: format!("http://{address}/token"),
            token: format!("ya29.{}", crate::random_suffix(24)),
            roles: HashSet::new(),
            datasets: datasets.iter().map(|d| d.to_string()).collect(),
            tables: HashSet::new(),
            existing_tables: HashSet::new(),
            calls: Vec::new(),
            buckets: HashSet::new(),
            objects: HashMap::new(),
            storage_roles: HashSet::new(),
        }));
        let base = "/bigquery/v2/projects/{project}";
        let router = Router::new()
            .route("/token", post(bigquery_token))
            .route(
                &format!("{base}/datasets"),
                axum::routing::get(bigquery_api).post(bigquery_api),
            )
            .route(
                &format!("{base}/datasets/{{dataset}}"),
                axum::routing::get(bigquery_api).delete(bigquery_api),
            )
            .route(
                &format!("{base}/datasets/{{dataset}}/tables"),
                axum::routing::get(bigquery_api).post(bigquery_api),
            )
            .route(
                &format!("{base}/datasets/{{dataset}}/tables/{{table}}"),
                // POST: `{table}:testIamPermissions`.
                axum::routing::patch(bigquery_api)
                    .delete(bigquery_api)
                    .post(bigquery_api),
            )
            .route(
                &format!("{base}/datasets/{{dataset}}/tables/{{table}}/data"),
                axum::routing::get(bigquery_api),
            )
            .route(
                &format!("{base}/datasets/{{dataset}}/tables/{{table}}/insertAll"),
                post(bigquery_api),
            )
            .route(&format!("{base}/queries"), post(bigquery_api))
            // Everything else is Google Cloud Storage's XML API: `/{bucket}/{object}`.
            .fallback(cloud_storage)
            .with_state(state.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeBigQuery { address, state }
    }

    pub fn token_uri(&self) -> String {
        self.state.lock().unwrap().token_uri.clone()
    }

    /// A Cloud Storage bucket (served at this server's root, as the XML API is).
    pub fn create_bucket(&self, bucket: &str) {
        self.state.lock().unwrap().buckets.insert(bucket.into());
    }

    /// The names of the objects in the buckets, as `bucket/name`.
    pub fn objects(&self) -> Vec<String> {
        self.state.lock().unwrap().objects.keys().cloned().collect()
    }

    /// Runs a `gcloud projects add-iam-policy-binding … --role="roles/…"`, a DCL `GRANT `roles/…` ON SCHEMA …`
    /// or a `gcloud storage buckets add-iam-policy-binding … --role="roles/storage.…"`.
    pub fn grant(&self, statement: &str) {
        if statement.contains("roles/storage.") {
            let role = statement
                .split("roles/storage.")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("a storage role");
            self.state
                .lock()
                .unwrap()
                .storage_roles
                .insert(format!("roles/storage.{role}"));
            return;
        }
        let role = statement
            .split("roles/")
            .nth(1)
            .and_then(|rest| rest.split(['"', '`']).next())
            .expect("a role");
        self.state
            .lock()
            .unwrap()
            .roles
            .insert(format!("roles/{role}"));
    }

    pub fn tables(&self) -> Vec<String> {
        self.state.lock().unwrap().tables.iter().cloned().collect()
    }

    /// A table that is there before validation (`dataset.table`), in a dataset that is there too.
    pub fn add_table(&self, qualified: &str) {
        let mut state = self.state.lock().unwrap();
        let dataset = qualified.split('.').next().expect("dataset.table");
        state.datasets.insert(dataset.to_string());
        state.existing_tables.insert(qualified.to_string());
    }

    /// Runs a `CREATE SCHEMA `project.dataset` …`.
    pub fn create_dataset(&self, statement: &str) {
        let dataset = statement
            .split('`')
            .nth(1)
            .and_then(|name| name.split('.').nth(1))
            .expect("CREATE SCHEMA `project.dataset`");
        self.state
            .lock()
            .unwrap()
            .datasets
            .insert(dataset.to_string());
    }

    pub fn datasets(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .datasets
            .iter()
            .cloned()
            .collect()
    }
}

async fn bigquery_token(
    State(state): State<Arc<Mutex<BigQueryState>>>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let state = state.lock().unwrap();
    let refuse = |description: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": description})),
        )
            .into_response()
    };
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return refuse("Invalid grant_type");
    }
    let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(state.public_key_pem.as_bytes()) else {
        return refuse("no key");
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[state.token_uri.as_str()]);
    validation.set_issuer(&[state.email.as_str()]);
    let assertion = form.get("assertion").cloned().unwrap_or_default();
    match jsonwebtoken::decode::<Value>(&assertion, &key, &validation) {
        Ok(claims)
            if claims.claims["scope"]
                .as_str()
                .is_some_and(|s| s.contains("auth/bigquery")) =>
        {
            Json(json!({"access_token": state.token, "expires_in": 3599, "token_type": "Bearer"}))
                .into_response()
        }
        _ => refuse("Invalid JWT Signature."),
    }
}

async fn bigquery_api(
    State(state): State<Arc<Mutex<BigQueryState>>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    let error = |status: StatusCode, message: &str| {
        (status, Json(json!({"error": {"code": status.as_u16(), "message": message,
            "status": if status == StatusCode::FORBIDDEN { "PERMISSION_DENIED" } else { "NOT_FOUND" }}}))).into_response()
    };
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {}", state.token));
    if !authorized {
        return error(
            StatusCode::UNAUTHORIZED,
            "Request is missing required authentication credential.",
        );
    }
    let path = uri.path().to_string();
    state.calls.push(format!("{method} {path}"));
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let parts: Vec<&str> = path
        .trim_start_matches("/bigquery/v2/projects/")
        .split('/')
        .collect();
    let denied = |permission: &str| {
        error(
            StatusCode::FORBIDDEN,
            &format!(
                "Access Denied: Permission bigquery.{permission} denied (or it may not exist)."
            ),
        )
    };
    let need = |state: &BigQueryState, permission: &str| state.allows(permission);
    match (method.as_str(), parts.as_slice()) {
        ("GET", [_, "datasets"]) => {
            if !need(&state, "datasets.list") {
                return denied("datasets.list");
            }
            Json(json!({"datasets": state.datasets.iter().map(|d| json!({"datasetReference": {"datasetId": d}})).collect::<Vec<_>>()})).into_response()
        }
        ("GET", [_, "datasets", dataset]) => {
            if !need(&state, "datasets.get") {
                return denied("datasets.get");
            }
            if !state.datasets.contains(*dataset) {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("Not found: Dataset {dataset}"),
                );
            }
            Json(json!({"datasetReference": {"datasetId": dataset}})).into_response()
        }
        ("POST", [_, "datasets"]) => {
            if !need(&state, "datasets.create") {
                return denied("datasets.create");
            }
            let id = body["datasetReference"]["datasetId"]
                .as_str()
                .unwrap_or("")
                .to_string();
            state.datasets.insert(id.clone());
            Json(json!({"datasetReference": {"datasetId": id}})).into_response()
        }
        ("DELETE", [_, "datasets", dataset]) => {
            state.datasets.remove(*dataset);
            StatusCode::NO_CONTENT.into_response()
        }
        ("GET", [_, "datasets", dataset, "tables"]) => {
            if !need(&state, "tables.list") {
                return denied("tables.list");
            }
            if !state.datasets.contains(*dataset) {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("Not found: Dataset {dataset}"),
                );
            }
            let prefix = format!("{dataset}.");
            let tables: Vec<Value> = state
                .existing_tables
                .iter()
                .chain(&state.tables)
                .filter_map(|t| t.strip_prefix(&prefix))
                .map(|t| json!({"tableReference": {"datasetId": dataset, "tableId": t}}))
                .collect();
            Json(json!({"tables": tables})).into_response()
        }
        ("POST", [_, "datasets", dataset, "tables", call])
            if call.ends_with(":testIamPermissions") =>
        {
            // No permission is needed to ask; the answer is the subset held (none for a missing table).
            let table = format!("{dataset}.{}", call.trim_end_matches(":testIamPermissions"));
            let held: Vec<&Value> = if state.existing_tables.contains(&table) {
                body["permissions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|p| {
                        p.as_str()
                            .and_then(|p| p.strip_prefix("bigquery."))
                            .is_some_and(|p| state.allows(p))
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Json(json!({"permissions": held})).into_response()
        }
        ("GET", [_, "datasets", dataset, "tables", table, "data"]) => {
            if !need(&state, "tables.getData") {
                return denied("tables.getData");
            }
            if !state
                .existing_tables
                .contains(&format!("{dataset}.{table}"))
            {
                return error(
                    StatusCode::NOT_FOUND,
                    &format!("Not found: Table {dataset}.{table}"),
                );
            }
            Json(json!({"kind": "bigquery#tableDataList", "totalRows": "0", "rows": []}))
                .into_response()
        }
        ("POST", [_, "datasets", dataset, "tables"]) => {
            if !need(&state, "tables.create") {
                return denied("tables.create");
            }
            assert!(
                body["expirationTime"].is_string(),
                "a probe table expires: {body}"
            );
            let table = format!(
                "{dataset}.{}",
                body["tableReference"]["tableId"].as_str().unwrap_or("")
            );
            state.tables.insert(table);
            Json(body).into_response()
        }
        ("PATCH", [_, "datasets", dataset, "tables", table]) => {
            if !need(&state, "tables.update") {
                return denied("tables.update");
            }
            assert!(
                state.tables.contains(&format!("{dataset}.{table}")),
                "patching {table}, never created"
            );
            Json(body).into_response()
        }
        ("DELETE", [_, "datasets", dataset, "tables", table]) => {
            state.tables.remove(&format!("{dataset}.{table}"));
            StatusCode::NO_CONTENT.into_response()
        }
        ("POST", [_, "datasets", dataset, "tables", table, "insertAll"]) => {
            if !need(&state, "tables.updateData") {
                return denied("tables.updateData");
            }
            assert!(
                state.tables.contains(&format!("{dataset}.{table}")),
                "inserting into {table}, never created"
            );
            Json(json!({"kind": "bigquery#tableDataInsertAllResponse"})).into_response()
        }
        ("POST", [_, "queries"]) => {
            if !need(&state, "jobs.create") {
                return denied("jobs.create");
            }
            assert_eq!(body["dryRun"], true, "validation only dry-runs queries");
            Json(json!({"kind": "bigquery#queryResponse", "totalBytesProcessed": "0", "jobComplete": true})).into_response()
        }
        _ => error(
            StatusCode::NOT_FOUND,
            &format!("no such call: {method} {path}"),
        ),
    }
}

/// Google Cloud Storage's XML API (`PUT`, `GET`, `DELETE /{bucket}/{object}`), authenticated the way a
/// service account's key signs requests without a token exchange: a self-signed RS256 JWT (`iss` and `sub` the
/// account's email, a `scope`) as the bearer token. Errors are the XML API's `<Error><Code>…`.
async fn cloud_storage(
    State(state): State<Arc<Mutex<BigQueryState>>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    let error = |status: StatusCode, code: &str, message: &str| {
        (
            status,
            [("content-type", "application/xml; charset=UTF-8")],
            format!("<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>"),
        )
            .into_response()
    };
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let Ok(key) = jsonwebtoken::DecodingKey::from_rsa_pem(state.public_key_pem.as_bytes()) else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", "no key");
    };
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_aud = false;
    validation.set_issuer(&[state.email.as_str()]);
    let signed = jsonwebtoken::decode::<Value>(bearer, &key, &validation)
        .is_ok_and(|claims| claims.claims["sub"] == state.email.as_str());
    if !signed {
        return error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Authentication required.",
        );
    }
    // Clients may percent-encode every reserved character of a name, as Google decodes them.
    let path = percent_encoding::percent_decode_str(uri.path().trim_start_matches('/'))
        .decode_utf8_lossy()
        .to_string();
    let Some((bucket, _)) = path.split_once('/') else {
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidArgument",
            "no object named",
        );
    };
    if !state.buckets.contains(bucket) {
        return error(
            StatusCode::NOT_FOUND,
            "NoSuchBucket",
            "The specified bucket does not exist.",
        );
    }
    let allowed = |state: &BigQueryState, permission: &str| {
        state.storage_roles.iter().any(|role| {
            let granted: &[&str] = match role.as_str() {
                "roles/storage.objectAdmin" => &["create", "get", "delete"],
                "roles/storage.objectCreator" => &["create"],
                "roles/storage.objectViewer" => &["get"],
                _ => &[],
            };
            granted.contains(&permission)
        })
    };
    let denied = |permission: &str| {
        error(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            &format!(
                "{} does not have storage.objects.{permission} access to the Google Cloud Storage object.",
                state.email
            ),
        )
    };
    match method.as_str() {
        "PUT" if allowed(&state, "create") => {
            let etag = etag(&body);
            state.objects.insert(path, body);
            (StatusCode::OK, [("etag", etag)]).into_response()
        }
        "PUT" => denied("create"),
        "GET" if allowed(&state, "get") => match state.objects.get(&path) {
            Some(body) => (
                [
                    ("etag", etag(body)),
                    ("last-modified", "Sat, 28 Nov 2026 12:00:00 GMT".to_string()),
                ],
                body.clone(),
            )
                .into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            ),
        },
        "GET" => denied("get"),
        "DELETE" if allowed(&state, "delete") => match state.objects.remove(&path) {
            Some(_) => StatusCode::NO_CONTENT.into_response(),
            None => error(
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.",
            ),
        },
        "DELETE" => denied("delete"),
        _ => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "not supported here",
        ),
    }
}

/// An entity tag for an object's body (Google's is its MD5; any digest of the body serves a client).
fn etag(body: &Bytes) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut hasher);
    format!("\"{:016x}\"", hasher.finish())
}
