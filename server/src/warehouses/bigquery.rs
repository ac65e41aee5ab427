//! BigQuery, through its REST API v2 with a service account: a JWT signed with the account's key (RS256,
//! `iss` its email, `aud` its `token_uri`, scope `bigquery`) exchanged at `token_uri` for an access token
//! (`grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`), then `datasets`, `tables`, `insertAll` and a
//! dry-run query.
//!
//! BigQuery has no grant introspection for datasets (no `datasets.testIamPermissions`), so the checks are
//! small probes in the destination's own dataset, each cleaned up: a table that expires within the hour is
//! created, altered, loaded through `insertAll` and deleted; a missing dataset is created and deleted again.
//! A refusal (HTTP 403) names the role that grants what failed: `GRANT` in BigQuery's DCL for a dataset,
//! `gcloud` for the project (datasets are created and jobs run at the project level). BigQuery cannot be
//! reached from here: tests run against a local server that speaks this API and checks the signed token
//! (`tests/tests/api/warehouse_engines.rs`).

use serde_json::{json, Value};

use super::checks::{timed, within, Checks, Outcome};
use super::{config_str, now_secs, probe_suffix, Target, ValidationSettings};

pub use super::postgres::DESTINATION_STEPS;

/// The dataset probed when the destination names none (data planes then name one per source).
const PROBE_DATASET: &str = "rudderstack_setup_test";
const SCOPE: &str = "https://www.googleapis.com/auth/bigquery";

/// What validation reads of a service account's JSON key.
struct ServiceAccount {
    email: String,
    private_key: String,
    token_uri: String,
}

fn service_account(config: &Value) -> Result<ServiceAccount, Outcome> {
    let text = config_str(config, "credentials").ok_or_else(|| {
        Outcome::failed("config.credentials (the service account's JSON key) is not set")
    })?;
    let key: Value = serde_json::from_str(text)
        .map_err(|_| Outcome::failed("config.credentials is not a service account's JSON key"))?;
    let field = |name: &str| {
        key[name]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Outcome::failed(format!("config.credentials has no {name}")))
    };
    Ok(ServiceAccount {
        email: field("client_email")?,
        private_key: field("private_key")?,
        token_uri: key["token_uri"]
            .as_str()
            .unwrap_or("https://oauth2.googleapis.com/token")
            .to_string(),
    })
}

/// The signed assertion exchanged for an access token.
pub fn assertion(
    email: &str,
    private_key_pem: &str,
    token_uri: &str,
    now: u64,
) -> Result<String, String> {
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(private_key_pem.as_bytes()).map_err(|_| {
            "the service account's private_key is not an RSA key in PEM form".to_string()
        })?;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &json!({"iss": email, "scope": SCOPE, "aud": token_uri, "iat": now, "exp": now + 600}),
        &key,
    )
    .map_err(|e| format!("signing the token: {e}"))
}

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

/// An answer that is not a success: its status and BigQuery's message.
struct Failure {
    status: u16,
    message: String,
}

impl Client {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Failure> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| Failure {
            status: 0,
            message: super::http::describe(&e),
        })?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(answer)
        } else {
            Err(Failure {
                status: status.as_u16(),
                message: answer["error"]["message"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("HTTP {status}")),
            })
        }
    }
}

fn failed(failure: Failure) -> Outcome {
    Outcome::failed(if failure.status == 0 {
        failure.message
    } else {
        format!("{} (HTTP {})", failure.message, failure.status)
    })
}

/// A 403 names the role that fixes it; anything else is the error as it is.
fn refused(failure: Failure, remediation: &str) -> Outcome {
    if failure.status == 403 {
        Outcome::missing(format!("{} (HTTP 403)", failure.message), remediation)
    } else {
        failed(failure)
    }
}

/// Where the BigQuery API is reached (a local server in tests).
pub fn api_base(settings: &ValidationSettings) -> &str {
    settings.bigquery_url.trim_end_matches('/')
}

/// A signed-in client and who it is.
struct Session {
    client: Client,
    project: String,
    email: String,
    /// `serviceAccount:<email>`, as IAM and BigQuery's DCL name the grantee.
    member: String,
}

impl Session {
    /// The `gcloud` command that grants a BigQuery role on the project.
    fn project_role(&self, role: &str) -> String {
        format!(
            "gcloud projects add-iam-policy-binding {} --member=\"{}\" --role=\"roles/bigquery.{role}\"",
            self.project, self.member
        )
    }

    /// The DCL statement that grants a BigQuery role on a dataset (`SCHEMA`) or a table (`TABLE`).
    fn grant(&self, role: &str, on: &str, object: &str) -> String {
        format!(
            "GRANT `roles/bigquery.{role}` ON {on} `{}.{object}` TO \"{}\";",
            self.project, self.member
        )
    }
}

/// Connections: a token for the service account, then the project's datasets (how many are visible).
async fn connect(
    config: &Value,
    settings: &ValidationSettings,
    limit: std::time::Duration,
) -> Result<(Session, usize), Outcome> {
    let project = config_str(config, "project")
        .ok_or_else(|| Outcome::failed("config.project is not set"))?
        .to_string();
    let account = service_account(config)?;
    timed(limit, async {
        let token_url = url::Url::parse(&account.token_uri)
            .map_err(|_| Outcome::failed("the service account's token_uri is not a URL"))?;
        let token_http = super::http::pinned_client(&settings.policy, &token_url, limit).await?;
        let assertion = assertion(
            &account.email,
            &account.private_key,
            &account.token_uri,
            now_secs(),
        )
        .map_err(Outcome::failed)?;
        let response = token_http
            .post(token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| {
                Outcome::failed(format!("the token endpoint: {}", super::http::describe(&e)))
            })?;
        let status = response.status();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let Some(token) = answer["access_token"]
            .as_str()
            .filter(|_| status.is_success())
        else {
            return Err(Outcome::failed(format!(
                "the token endpoint refused the service account {}: {} (HTTP {status})",
                account.email,
                answer["error_description"]
                    .as_str()
                    .or(answer["error"].as_str())
                    .unwrap_or("no reason given")
            )));
        };
        let base = url::Url::parse(api_base(settings))
            .map_err(|_| Outcome::failed("the BigQuery API address is not a URL"))?;
        let http = super::http::pinned_client(&settings.policy, &base, limit).await?;
        let session = Session {
            client: Client {
                http,
                base: format!("{}/bigquery/v2/projects/{project}", api_base(settings)),
                token: token.to_string(),
            },
            member: format!("serviceAccount:{}", account.email),
            email: account.email,
            project,
        };
        let datasets = session
            .client
            .call(
                reqwest::Method::GET,
                "/datasets?all=true&maxResults=1000",
                None,
            )
            .await
            .map_err(|f| refused(f, &session.project_role("user")))?;
        let visible = datasets["datasets"].as_array().map_or(0, Vec::len);
        Ok((session, visible))
    })
    .await
}

pub async fn validate_destination(
    target: &Target,
    settings: &ValidationSettings,
    checks: &mut Checks,
) {
    let limit = checks.step_timeout;
    let config = &target.config;
    checks.start_step();
    let session = match connect(config, settings, limit).await {
        Ok((session, _)) => {
            checks
                .record(Outcome::Passed(format!(
                    "signed in as {} and listed the datasets of {}",
                    session.email, session.project
                )))
                .await;
            session
        }
        Err(outcome) => return checks.record(outcome).await,
    };
    let (client, project) = (&session.client, session.project.as_str());
    let dataset = config_str(config, "namespace")
        .unwrap_or(PROBE_DATASET)
        .to_string();
    let location = config_str(config, "location").unwrap_or("US").to_string();
    let project_role = |role: &str| session.project_role(role);
    let dataset_grant = session.grant("dataEditor", "SCHEMA", &dataset);

    // Create schema: the dataset exists, or it can be created (and is deleted again).
    let outcome = within(limit, async {
        match client
            .call(reqwest::Method::GET, &format!("/datasets/{dataset}"), None)
            .await
        {
            Ok(_) => Outcome::Passed(format!("dataset {dataset} exists")),
            Err(Failure { status: 404, .. }) => {
                let created = client
                    .call(
                        reqwest::Method::POST,
                        "/datasets",
                        Some(json!({"datasetReference": {"projectId": project, "datasetId": dataset},
                            "location": location})),
                    )
                    .await;
                match created {
                    Ok(_) => {
                        let _ = client
                            .call(reqwest::Method::DELETE, &format!("/datasets/{dataset}?deleteContents=true"), None)
                            .await;
                        Outcome::Passed(format!(
                            "dataset {dataset} does not exist yet; {} may create it (created and deleted)",
                            session.email
                        ))
                    }
                    Err(failure) => refused(failure, &project_role("dataEditor")),
                }
            }
            Err(failure) => refused(failure, &project_role("dataViewer")),
        }
    })
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    let exists = client
        .call(reqwest::Method::GET, &format!("/datasets/{dataset}"), None)
        .await
        .is_ok();
    let table = format!("setup_test_staging_{}", probe_suffix());
    let tables = format!("/datasets/{dataset}/tables");
    let create = || {
        client.call(
            reqwest::Method::POST,
            &tables,
            Some(json!({
                "tableReference": {"projectId": project, "datasetId": dataset, "tableId": table},
                "schema": {"fields": [{"name": "id", "type": "INTEGER"}, {"name": "val", "type": "STRING"}]},
                // Gone within the hour even if the delete below never runs.
                "expirationTime": ((now_secs() + 3600) * 1000).to_string(),
            })),
        )
    };
    let probe_table = format!("{tables}/{table}");
    let delete = || client.call(reqwest::Method::DELETE, &probe_table, None);

    // Create and alter table.
    let outcome = within(limit, async {
        if !exists {
            return Outcome::Passed(format!(
                "dataset {dataset} does not exist yet; the data plane creates it"
            ));
        }
        if let Err(failure) = create().await {
            return refused(failure, &dataset_grant);
        }
        let altered = client
            .call(
                reqwest::Method::PATCH,
                &format!("{tables}/{table}"),
                Some(
                    json!({"schema": {"fields": [{"name": "id", "type": "INTEGER"},
                    {"name": "val", "type": "STRING"}, {"name": "val_alter", "type": "STRING"}]}}),
                ),
            )
            .await;
        let _ = delete().await;
        match altered {
            Ok(_) => Outcome::Passed(format!(
                "created and altered a table in {dataset}, then deleted it"
            )),
            Err(failure) => refused(failure, &dataset_grant),
        }
    })
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    // Fetch schema.
    let outcome = within(limit, async {
        if !exists {
            return Outcome::Passed(format!("dataset {dataset} has nothing to fetch yet"));
        }
        match client
            .call(
                reqwest::Method::GET,
                &format!("{tables}?maxResults=1000"),
                None,
            )
            .await
        {
            Ok(list) => Outcome::Passed(format!(
                "read the tables of {dataset}: {}",
                list["tables"].as_array().map_or(0, Vec::len)
            )),
            Err(failure) => refused(failure, &dataset_grant),
        }
    })
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }
    // Load table: loads run as jobs in the project (a dry run checks that without running anything), and
    // write rows into the dataset.
    let outcome = within(limit, async {
        let dry_run = client
            .call(
                reqwest::Method::POST,
                "/queries",
                Some(json!({"query": "SELECT 1", "dryRun": true, "useLegacySql": false})),
            )
            .await;
        if let Err(failure) = dry_run {
            return refused(failure, &project_role("jobUser"));
        }
        if !exists {
            return Outcome::Passed(format!(
                "{} may run load jobs in {project}; dataset {dataset} does not exist yet",
                session.email
            ));
        }
        if let Err(failure) = create().await {
            return refused(failure, &dataset_grant);
        }
        let inserted = client
            .call(
                reqwest::Method::POST,
                &format!("{tables}/{table}/insertAll"),
                Some(json!({"rows": [{"json": {"id": 1, "val": "RudderStack"}}]})),
            )
            .await;
        let _ = delete().await;
        match inserted {
            Ok(answer)
                if answer["insertErrors"]
                    .as_array()
                    .is_some_and(|e| !e.is_empty()) =>
            {
                Outcome::failed(format!("the row was refused: {}", answer["insertErrors"]))
            }
            Ok(_) => Outcome::Passed(format!(
                "{} may run load jobs; loaded a row into a table of {dataset} and deleted it",
                session.email
            )),
            Err(failure) => refused(failure, &dataset_grant),
        }
    })
    .await;
    checks.record(outcome).await;
}

/// Where reverse-ETL keeps its snapshot and diff tables on BigQuery (RudderStack's name there: dataset
/// names may not start with `_` outside hidden datasets).
pub const RUDDERSTACK_DATASET: &str = "rudderstack_";

/// A reverse-ETL source: connection, the datasets and tables it can list, the chosen tables it may read
/// (`tables.testIamPermissions`, then a read of no rows and a dry-run query, which needs `jobs.create`), and
/// `rudderstack_` (a table that expires within the hour created, altered, loaded and deleted).
pub async fn validate_source(target: &Target, settings: &ValidationSettings, checks: &mut Checks) {
    let limit = checks.step_timeout;
    let config = &target.config;
    checks.start_step();
    let (session, visible) = match connect(config, settings, limit).await {
        Ok((session, visible)) => {
            checks
                .record(Outcome::Passed(format!(
                    "signed in as {} to project {}",
                    session.email, session.project
                )))
                .await;
            (session, visible)
        }
        Err(outcome) => return checks.record(outcome).await,
    };
    let client = &session.client;
    let tables = super::chosen_tables(config);
    let mut datasets: Vec<&str> = tables.iter().map(|(d, _)| d.as_str()).collect();
    datasets.dedup();

    // List schemas and tables: the datasets, and the tables of each dataset a chosen table is in.
    let outcome = within(limit, async {
        if visible == 0 && datasets.is_empty() {
            return Outcome::Warning {
                reason: format!(
                    "{} sees no dataset in {}: it needs roles/bigquery.dataViewer on the datasets it syncs",
                    session.email, session.project
                ),
                remediation: None,
            };
        }
        let mut listed = 0;
        for dataset in &datasets {
            match client
                .call(
                    reqwest::Method::GET,
                    &format!("/datasets/{dataset}/tables?maxResults=1000"),
                    None,
                )
                .await
            {
                Ok(list) => listed += list["tables"].as_array().map_or(0, Vec::len),
                Err(failure @ Failure { status: 404, .. }) => {
                    return Outcome::failed(format!(
                        "dataset {dataset} was not found in {}: {}",
                        session.project, failure.message
                    ))
                }
                Err(failure) => {
                    return refused(failure, &session.grant("dataViewer", "SCHEMA", dataset))
                }
            }
        }
        Outcome::Passed(format!(
            "lists {visible} datasets, and {listed} tables in {}",
            if datasets.is_empty() {
                "no chosen dataset".to_string()
            } else {
                datasets.join(", ")
            }
        ))
    })
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }

    // Read tables.
    let outcome = within(limit, async {
        if tables.is_empty() {
            return Outcome::Skipped(
                "no tables are chosen (the source's tables setting); each is checked once chosen"
                    .into(),
            );
        }
        let mut problems = Vec::new();
        let mut fixes = Vec::new();
        for (dataset, table) in &tables {
            let path = format!("/datasets/{dataset}/tables/{table}");
            let asked = json!({"permissions": ["bigquery.tables.get", "bigquery.tables.getData"]});
            let held = match client
                .call(
                    reqwest::Method::POST,
                    &format!("{path}:testIamPermissions"),
                    Some(asked),
                )
                .await
            {
                Ok(answer) => answer["permissions"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default(),
                Err(failure) => {
                    problems.push(format!("{dataset}.{table}: {}", failure.message));
                    continue;
                }
            };
            let missing: Vec<&str> = ["bigquery.tables.get", "bigquery.tables.getData"]
                .into_iter()
                .filter(|p| !held.iter().any(|h| h == p))
                .collect();
            if !missing.is_empty() {
                problems.push(format!(
                    "{} lacks {} on {dataset}.{table}",
                    session.email,
                    missing.join(", ")
                ));
                fixes.push(session.grant("dataViewer", "TABLE", &format!("{dataset}.{table}")));
                continue;
            }
            // testIamPermissions may fail open: reading no rows is the answer.
            if let Err(failure) = client
                .call(
                    reqwest::Method::GET,
                    &format!("{path}/data?maxResults=0"),
                    None,
                )
                .await
            {
                problems.push(format!("reading {dataset}.{table}: {}", failure.message));
            }
        }
        if !problems.is_empty() {
            return if fixes.is_empty() {
                Outcome::failed(problems.join("; "))
            } else {
                Outcome::missing(problems.join("; "), fixes.join("\n"))
            };
        }
        // Syncs read through query jobs, which run in the project.
        let (dataset, table) = &tables[0];
        let query = format!(
            "SELECT * FROM `{}.{dataset}.{table}` LIMIT 0",
            session.project
        );
        match client
            .call(
                reqwest::Method::POST,
                "/queries",
                Some(json!({"query": query, "dryRun": true, "useLegacySql": false})),
            )
            .await
        {
            Ok(_) => Outcome::Passed(format!(
                "{} may read {} and run query jobs in {}",
                session.email,
                tables
                    .iter()
                    .map(|(d, t)| format!("{d}.{t}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                session.project
            )),
            Err(failure) => refused(failure, &session.project_role("jobUser")),
        }
    })
    .await;
    checks.record(outcome).await;
    if checks.failed().is_some() {
        return;
    }

    // RudderStack schema: the dataset exists, and a table in it can be created, altered, loaded and deleted.
    let owner_grant = session.grant("dataOwner", "SCHEMA", RUDDERSTACK_DATASET);
    let outcome = within(limit, async {
        match client
            .call(
                reqwest::Method::GET,
                &format!("/datasets/{RUDDERSTACK_DATASET}"),
                None,
            )
            .await
        {
            Ok(_) => {}
            Err(Failure { status: 404, .. }) => {
                let location = config_str(config, "location").unwrap_or("US");
                return Outcome::missing(
                    format!(
                        "dataset {RUDDERSTACK_DATASET} does not exist in {}",
                        session.project
                    ),
                    format!(
                        "CREATE SCHEMA `{}.{RUDDERSTACK_DATASET}` OPTIONS (location = \"{location}\");\n{owner_grant}",
                        session.project
                    ),
                );
            }
            Err(failure) => return refused(failure, &owner_grant),
        }
        let table = format!("wheelhouse_probe_{}", probe_suffix());
        let tables = format!("/datasets/{RUDDERSTACK_DATASET}/tables");
        let probe_table = format!("{tables}/{table}");
        let created = client
            .call(
                reqwest::Method::POST,
                &tables,
                Some(json!({
                    "tableReference": {"projectId": session.project, "datasetId": RUDDERSTACK_DATASET, "tableId": table},
                    "schema": {"fields": [{"name": "id", "type": "INTEGER"}]},
                    "expirationTime": ((now_secs() + 3600) * 1000).to_string(),
                })),
            )
            .await;
        if let Err(failure) = created {
            return refused(failure, &owner_grant);
        }
        let altered = client
            .call(
                reqwest::Method::PATCH,
                &probe_table,
                Some(json!({"schema": {"fields": [{"name": "id", "type": "INTEGER"},
                    {"name": "rudder_operation_type", "type": "STRING"}]}})),
            )
            .await;
        let loaded = match altered {
            Ok(_) => client
                .call(
                    reqwest::Method::POST,
                    &format!("{probe_table}/insertAll"),
                    Some(json!({"rows": [{"json": {"id": 1, "rudder_operation_type": "insert"}}]})),
                )
                .await,
            Err(failure) => Err(failure),
        };
        let deleted = client
            .call(reqwest::Method::DELETE, &probe_table, None)
            .await;
        match (loaded, deleted) {
            (Err(failure), _) | (Ok(_), Err(failure)) => refused(failure, &owner_grant),
            (Ok(_), Ok(_)) => Outcome::Passed(format!(
                "created, altered and loaded a table in {RUDDERSTACK_DATASET}, then deleted it"
            )),
        }
    })
    .await;
    checks.record(outcome).await;
}
