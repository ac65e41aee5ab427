//! The ClickHouse, Snowflake and BigQuery validation clients against local servers that speak their protocols
//! (`wheelhouse_tests::fake_warehouses`): neither can run or be reached from here. As with PostgreSQL, each
//! missing privilege fails its step with the statement that grants it, and running the statement makes the
//! step pass; probes touch only the destination's own database or schema and leave nothing behind.

use std::process::Command;

use serde_json::{json, Value};
use wheelhouse_tests::fake_warehouses::{FakeBigQuery, FakeClickHouse, FakeSnowflake};
use wheelhouse_tests::warehouse::validate;
use wheelhouse_tests::*;

both_backends!(
    clickhouse_grants_are_checked_then_probed_in_the_destinations_database,
    snowflake_signs_in_with_a_key_pair_and_names_each_missing_grant,
    bigquery_signs_in_as_the_service_account_and_names_each_missing_role,
    a_snowflake_reverse_etl_source_is_checked_for_its_tables_and_rudderstack_schema,
    a_bigquery_reverse_etl_source_is_checked_for_its_tables_and_rudderstack_dataset,
);

/// The failed step's name, reason and remediation.
fn failure(validation: &Value) -> (String, String, String) {
    let step = validation["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "failed")
        .unwrap_or_else(|| panic!("a failed step: {validation:#}"));
    let text = |key: &str| step[key].as_str().unwrap_or("").to_string();
    (text("name"), text("reason"), text("remediation"))
}

fn assert_passed(validation: &Value) {
    assert_eq!(validation["status"], "passed", "{validation:#}");
}

/// Validates once per expected failure, in order: each must fail that step with that remediation, which `fix`
/// then carries out as an administrator would. The validation after the last fix must pass; it is returned.
async fn fix_in_turn<S: AsRef<str>>(
    client: &Client,
    ws: &str,
    kind: &str,
    id: &str,
    expected: &[(&str, S)],
    mut fix: impl FnMut(&str),
) -> Value {
    for (step_name, statement) in expected {
        let validation = validate(client, ws, kind, id).await;
        let (failed, _, remediation) = failure(&validation);
        assert_eq!(
            (failed.as_str(), remediation.as_str()),
            (*step_name, statement.as_ref()),
            "{validation:#}"
        );
        fix(&remediation);
    }
    let validation = validate(client, ws, kind, id).await;
    assert_passed(&validation);
    validation
}

async fn clickhouse_grants_are_checked_then_probed_in_the_destinations_database(backend: Backend) {
    let app = TestApp::builder(backend).fast_jobs().start().await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let password = canary();
    let server = FakeClickHouse::start("loader", &password, &["analytics"]).await;
    let config = |password: &str| {
        json!({"host": "127.0.0.1", "port": server.address.port().to_string(), "database": "analytics",
            "user": "loader", "password": password, "secure": false, "syncFrequency": "30",
            "useRudderStorage": true})
    };
    // A wrong password: ClickHouse's code 516, and the password never repeated.
    let wrong = id(&owner
        .create_destination(&ws, "CLICKHOUSE", "Wrong", config("not-it"))
        .await);
    let (step, reason, _) = failure(&validate(&owner, &ws, "destinations", &wrong).await);
    assert_eq!(step, "Verifying Connections");
    assert!(reason.contains("code 516"), "{reason}");

    let destination = id(&owner
        .create_destination(&ws, "CLICKHOUSE", "Events", config(&password))
        .await);
    let expected = [
        (
            "Verifying Create and Alter Table",
            "GRANT CREATE TABLE, ALTER ADD COLUMN, DROP TABLE ON `analytics`.* TO `loader`;",
        ),
        (
            "Verifying Fetch Schema",
            "GRANT SHOW COLUMNS ON `analytics`.* TO `loader`;",
        ),
        (
            "Verifying Load Table",
            "GRANT INSERT ON `analytics`.* TO `loader`;",
        ),
    ];
    fix_in_turn(
        &owner,
        &ws,
        "destinations",
        &destination,
        &expected,
        |statement| server.grant(statement),
    )
    .await;
    assert!(server.tables().is_empty(), "probe tables dropped");
    for statement in server.statements() {
        if statement.starts_with("CREATE")
            || statement.starts_with("DROP")
            || statement.starts_with("INSERT")
            || statement.starts_with("ALTER")
        {
            assert!(
                statement.contains("`analytics`.`setup_test_staging_"),
                "{statement}"
            );
        }
    }
    for exchange in app.transcript() {
        assert!(!exchange.body.contains(&password));
    }
    logs::assert_never_logged(&password, "the ClickHouse password");
}

/// An RSA key pair made with openssl, and the public key's fingerprint as Snowflake computes it (SHA-256 of
/// the DER, base64): computed by openssl too, so that the server's own computation is checked against it.
fn key_pair(dir: &std::path::Path) -> (String, String, String) {
    let key = dir.join("rsa_key.p8");
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs");
        assert!(
            output.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().unwrap(),
    ]);
    let public =
        String::from_utf8(run(&["pkey", "-in", key.to_str().unwrap(), "-pubout"])).unwrap();
    let der = dir.join("rsa_key.pub.der");
    run(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-outform",
        "DER",
        "-out",
        der.to_str().unwrap(),
    ]);
    let digest = run(&["dgst", "-sha256", "-binary", der.to_str().unwrap()]);
    use base64::Engine as _;
    let fingerprint = format!(
        "SHA256:{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    );
    (std::fs::read_to_string(&key).unwrap(), public, fingerprint)
}

/// A key pair that is nobody's.
fn another_key(keys: &std::path::Path) -> String {
    let dir = keys.join("other");
    std::fs::create_dir_all(&dir).unwrap();
    key_pair(&dir).0
}

/// No answer and no log line ever held a private key.
fn assert_no_private_key_shown(app: &TestApp) {
    for exchange in app.transcript() {
        assert!(
            !exchange.body.contains("PRIVATE KEY"),
            "a private key came back"
        );
    }
    logs::assert_never_logged("PRIVATE KEY", "a private key");
}

async fn snowflake_signs_in_with_a_key_pair_and_names_each_missing_grant(backend: Backend) {
    let keys = std::env::temp_dir().join(format!("wh-snowflake-{}", random_suffix(8)));
    std::fs::create_dir_all(&keys).unwrap();
    let (private_key, public_key, fingerprint) = key_pair(&keys);
    let server = FakeSnowflake::start(
        "xy12345",
        "loader",
        "LOADER_ROLE",
        &public_key,
        &fingerprint,
        &["ANALYTICS"],
    )
    .await;
    let url = format!("http://{}", server.address);
    let app = TestApp::builder(backend)
        .fast_jobs()
        .configure(move |config| config.snowflake_api_url = url)
        .start()
        .await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let config = json!({"account": "xy12345.us-east-1", "warehouse": "LOADING", "database": "RAW",
        "user": "loader", "namespace": "analytics", "useKeyPairAuth": true, "privateKey": private_key,
        "syncFrequency": "30", "useRudderStorage": true});
    let destination = id(&owner
        .create_destination(&ws, "SNOWFLAKE", "Snowflake", config.clone())
        .await);
    let expected = [
        (
            "Verifying Create Schema",
            r#"GRANT USAGE, CREATE TABLE ON SCHEMA "RAW"."ANALYTICS" TO ROLE "LOADER_ROLE";"#,
        ),
        (
            "Verifying Load Table",
            r#"GRANT USAGE ON WAREHOUSE "LOADING" TO ROLE "LOADER_ROLE";"#,
        ),
    ];
    let validation = fix_in_turn(
        &owner,
        &ws,
        "destinations",
        &destination,
        &expected,
        |statement| server.grant(statement),
    )
    .await;
    let connections = &validation["steps"][1];
    assert!(
        connections["reason"]
            .as_str()
            .unwrap()
            .contains("LOADER_ROLE"),
        "{connections}"
    );
    assert!(server.tables().is_empty(), "probe tables dropped");
    for statement in server.statements() {
        if statement.starts_with("CREATE")
            || statement.starts_with("DROP")
            || statement.starts_with("INSERT")
            || statement.starts_with("ALTER")
        {
            assert!(
                statement.contains(r#""RAW"."ANALYTICS"."SETUP_TEST_STAGING_"#),
                "{statement}"
            );
        }
    }

    // Without a key pair (a password), or with a key the user does not have: the connection step says so.
    let mut password = config.clone();
    password["useKeyPairAuth"] = json!(false);
    password["password"] = json!("pw");
    password.as_object_mut().unwrap().remove("privateKey");
    let by_password = id(&owner
        .create_destination(&ws, "SNOWFLAKE", "By password", password)
        .await);
    let (step, reason, _) = failure(&validate(&owner, &ws, "destinations", &by_password).await);
    assert_eq!(step, "Verifying Connections");
    assert!(reason.contains("key-pair"), "{reason}");
    let other_key = another_key(&keys);
    let mut stranger = config.clone();
    stranger["privateKey"] = json!(other_key);
    let stranger = id(&owner
        .create_destination(&ws, "SNOWFLAKE", "Other key", stranger)
        .await);
    let (step, reason, _) = failure(&validate(&owner, &ws, "destinations", &stranger).await);
    assert_eq!(step, "Verifying Connections");
    assert!(reason.contains("390144"), "{reason}");
    assert_no_private_key_shown(&app);
    let _ = std::fs::remove_dir_all(&keys);
}

async fn bigquery_signs_in_as_the_service_account_and_names_each_missing_role(backend: Backend) {
    let keys = std::env::temp_dir().join(format!("wh-bigquery-{}", random_suffix(8)));
    std::fs::create_dir_all(&keys).unwrap();
    let (private_key, public_key, _) = key_pair(&keys);
    let email = "loader@acme.iam.gserviceaccount.com";
    let server = FakeBigQuery::start(email, &public_key, &["analytics"]).await;
    server.create_bucket("acme-staging");
    let url = format!("http://{}", server.address);
    let app = TestApp::builder(backend)
        .fast_jobs()
        .configure(move |config| {
            config.bigquery_api_url = url.clone();
            config.object_storage_url = Some(url);
        })
        .start()
        .await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let credentials = |key: &str| {
        json!({"type": "service_account", "project_id": "acme", "private_key_id": "k1", "private_key": key,
            "client_email": email, "token_uri": server.token_uri()})
        .to_string()
    };
    let config = json!({"project": "acme", "bucketName": "acme-staging", "credentials": credentials(&private_key),
        "namespace": "analytics", "syncFrequency": "30"});
    let destination = id(&owner
        .create_destination(&ws, "BQ", "BigQuery", config.clone())
        .await);
    let member = format!("serviceAccount:{email}");
    let expected = [
        (
            "Verifying Object Storage",
            format!("gcloud storage buckets add-iam-policy-binding gs://acme-staging --member=\"{member}\" --role=\"roles/storage.objectAdmin\""),
        ),
        (
            "Verifying Connections",
            format!("gcloud projects add-iam-policy-binding acme --member=\"{member}\" --role=\"roles/bigquery.user\""),
        ),
        (
            "Verifying Create Schema",
            format!("gcloud projects add-iam-policy-binding acme --member=\"{member}\" --role=\"roles/bigquery.dataViewer\""),
        ),
        (
            "Verifying Create and Alter Table",
            format!("GRANT `roles/bigquery.dataEditor` ON SCHEMA `acme.analytics` TO \"{member}\";"),
        ),
    ];
    fix_in_turn(
        &owner,
        &ws,
        "destinations",
        &destination,
        &expected,
        |statement| server.grant(statement),
    )
    .await;
    assert!(server.tables().is_empty(), "probe tables deleted");
    assert!(server.objects().is_empty(), "the staged object deleted");
    assert_eq!(
        server.datasets(),
        ["analytics"],
        "no dataset created or left"
    );

    // A key that is not the service account's: the token endpoint refuses it.
    let other_key = another_key(&keys);
    let mut stranger = config.clone();
    stranger["credentials"] = json!(credentials(&other_key));
    let stranger = id(&owner
        .create_destination(&ws, "BQ", "Other key", stranger)
        .await);
    let (step, reason, _) = failure(&validate(&owner, &ws, "destinations", &stranger).await);
    // Cloud Storage refuses its self-signed token first: no role is missing, the key is not the account's.
    assert_eq!(step, "Verifying Object Storage");
    assert!(reason.contains("AuthenticationRequired"), "{reason}");
    assert_no_private_key_shown(&app);
    let _ = std::fs::remove_dir_all(&keys);
}

async fn a_snowflake_reverse_etl_source_is_checked_for_its_tables_and_rudderstack_schema(
    backend: Backend,
) {
    let keys = std::env::temp_dir().join(format!("wh-snowflake-source-{}", random_suffix(8)));
    std::fs::create_dir_all(&keys).unwrap();
    let (private_key, public_key, fingerprint) = key_pair(&keys);
    let server = FakeSnowflake::start(
        "xy12345",
        "reader",
        "READER",
        &public_key,
        &fingerprint,
        &[],
    )
    .await;
    server.add_table(r#""RAW"."SALES"."ORDERS""#);
    let url = format!("http://{}", server.address);
    let app = TestApp::builder(backend)
        .fast_jobs()
        .configure(move |config| config.snowflake_api_url = url)
        .start()
        .await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let source = id(&owner
        .create_source_with(
            &ws,
            "snowflake",
            "Orders",
            json!({"account": "xy12345", "warehouse": "READING", "database": "RAW", "user": "reader",
                "useKeyPairAuth": true, "privateKey": private_key, "tables": ["sales.orders"]}),
        )
        .await);
    let expected = [
        (
            "Verifying Read Tables",
            "GRANT USAGE ON SCHEMA \"RAW\".\"SALES\" TO ROLE \"READER\";\nGRANT SELECT ON TABLE \"RAW\".\"SALES\".\"ORDERS\" TO ROLE \"READER\";",
        ),
        (
            "Verifying RudderStack Schema",
            "CREATE SCHEMA \"RAW\".\"_RUDDERSTACK\";\nGRANT ALL PRIVILEGES ON SCHEMA \"RAW\".\"_RUDDERSTACK\" TO ROLE \"READER\";",
        ),
    ];
    fix_in_turn(&owner, &ws, "sources", &source, &expected, |remediation| {
        for statement in remediation.lines() {
            if statement.starts_with("CREATE SCHEMA") {
                server.create_schema("_RUDDERSTACK");
            } else {
                server.grant(statement);
            }
        }
    })
    .await;
    assert!(server.tables().is_empty(), "the probe table was dropped");
    let _ = std::fs::remove_dir_all(&keys);
}

async fn a_bigquery_reverse_etl_source_is_checked_for_its_tables_and_rudderstack_dataset(
    backend: Backend,
) {
    let keys = std::env::temp_dir().join(format!("wh-bigquery-source-{}", random_suffix(8)));
    std::fs::create_dir_all(&keys).unwrap();
    let (private_key, public_key, _) = key_pair(&keys);
    let email = "reader@acme.iam.gserviceaccount.com";
    let server = FakeBigQuery::start(email, &public_key, &[]).await;
    server.add_table("sales.orders");
    let url = format!("http://{}", server.address);
    let app = TestApp::builder(backend)
        .fast_jobs()
        .configure(move |config| config.bigquery_api_url = url)
        .start()
        .await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let credentials =
        json!({"type": "service_account", "project_id": "acme", "private_key": private_key,
        "client_email": email, "token_uri": server.token_uri()})
        .to_string();
    // A table must name its dataset: BigQuery has no default one.
    owner
        .post(
            &format!("/api/v1/workspaces/{ws}/sources"),
            json!({"name": "Orders", "type": "bigquery",
                "config": {"project": "acme", "credentials": credentials, "tables": ["orders"]}}),
        )
        .await
        .expect(422);
    let source = id(&owner
        .create_source_with(
            &ws,
            "bigquery",
            "Orders",
            json!({"project": "acme", "location": "EU", "credentials": credentials, "tables": ["sales.orders"]}),
        )
        .await);
    let member = format!("serviceAccount:{email}");
    let expected = [
        (
            "Verifying Connections",
            format!("gcloud projects add-iam-policy-binding acme --member=\"{member}\" --role=\"roles/bigquery.user\""),
        ),
        (
            "Verifying List Schemas and Tables",
            format!("GRANT `roles/bigquery.dataViewer` ON SCHEMA `acme.sales` TO \"{member}\";"),
        ),
        (
            "Verifying RudderStack Schema",
            format!("CREATE SCHEMA `acme.rudderstack_` OPTIONS (location = \"EU\");\nGRANT `roles/bigquery.dataOwner` ON SCHEMA `acme.rudderstack_` TO \"{member}\";"),
        ),
    ];
    let validation = fix_in_turn(&owner, &ws, "sources", &source, &expected, |remediation| {
        for statement in remediation.lines() {
            if statement.starts_with("CREATE SCHEMA") {
                server.create_dataset(statement);
            } else {
                server.grant(statement);
            }
        }
    })
    .await;
    let read = &validation["steps"][2];
    assert!(
        read["reason"].as_str().unwrap().contains("sales.orders"),
        "{read}"
    );
    assert!(server.tables().is_empty(), "the probe table was deleted");
    let mut datasets = server.datasets();
    datasets.sort();
    assert_eq!(datasets, ["rudderstack_", "sales"], "no dataset created");

    // A chosen table that is not there: its permissions come back empty, and the step names it.
    owner
        .patch(
            &format!("/api/v1/workspaces/{ws}/sources/{source}"),
            json!({"config": {"project": "acme", "location": "EU",
                "tables": ["sales.orders", "sales.refunds"]}}),
        )
        .await
        .expect(200);
    let (step, reason, remediation) = failure(&validate(&owner, &ws, "sources", &source).await);
    assert_eq!(step, "Verifying Read Tables");
    assert!(reason.contains("sales.refunds"), "{reason}");
    assert_eq!(
        remediation,
        format!("GRANT `roles/bigquery.dataViewer` ON TABLE `acme.sales.refunds` TO \"{member}\";")
    );

    // A key that is not the service account's: the token endpoint refuses its assertion.
    let stranger =
        json!({"type": "service_account", "project_id": "acme", "private_key": another_key(&keys),
        "client_email": email, "token_uri": server.token_uri()})
        .to_string();
    let stranger = id(&owner
        .create_source_with(
            &ws,
            "bigquery",
            "Other key",
            json!({"project": "acme", "credentials": stranger}),
        )
        .await);
    let (step, reason, _) = failure(&validate(&owner, &ws, "sources", &stranger).await);
    assert_eq!(step, "Verifying Connections");
    assert!(reason.contains("Invalid JWT Signature"), "{reason}");
    assert_no_private_key_shown(&app);
    let _ = std::fs::remove_dir_all(&keys);
}
