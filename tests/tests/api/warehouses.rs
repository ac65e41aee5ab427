//! Warehouse validation against a real PostgreSQL warehouse (a database and a login role of their own on the
//! local server), with a role missing each privilege in turn: each failure names the statement, and running
//! that statement makes the step pass. Also: where validation may not connect, a warehouse that never
//! answers, and secrets never echoed.

use std::time::Duration;

use serde_json::{json, Value};
use wheelhouse_tests::warehouse::{validate, PgWarehouse};
use wheelhouse_tests::*;

const WAIT: Duration = Duration::from_secs(30);

both_backends!(
    a_fully_privileged_role_passes_every_step_and_leaves_nothing_behind,
    each_missing_privilege_names_the_grant_that_fixes_it,
    a_reverse_etl_source_is_checked_for_its_tables_and_the_rudderstack_schema,
    validation_is_for_editors_and_warehouses_and_results_for_viewers,
    a_privilege_that_drifts_away_alerts_once_and_its_return_too,
);

const DESTINATION_STEPS: [&str; 6] = [
    "Verifying Object Storage",
    "Verifying Connections",
    "Verifying Create Schema",
    "Verifying Create and Alter Table",
    "Verifying Fetch Schema",
    "Verifying Load Table",
];

struct Setup {
    app: TestApp,
    owner: Client,
    ws: String,
}

async fn setup(backend: Backend) -> Setup {
    let app = TestApp::builder(backend).fast_jobs().start().await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    Setup { app, owner, ws }
}

fn step<'a>(validation: &'a Value, name: &str) -> &'a Value {
    validation["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no step {name} in {validation:#}"))
}

/// The remediation of the one failed step, with that step's name.
fn failure(validation: &Value) -> (String, String) {
    let failed: Vec<&Value> = validation["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "failed")
        .collect();
    assert_eq!(failed.len(), 1, "one failed step: {validation:#}");
    (
        failed[0]["name"].as_str().unwrap().to_string(),
        failed[0]["remediation"]
            .as_str()
            .unwrap_or_else(|| panic!("a remediation: {validation:#}"))
            .to_string(),
    )
}

fn assert_passed(validation: &Value) {
    assert_eq!(validation["status"], "passed", "{validation:#}");
    for step in validation["steps"].as_array().unwrap() {
        assert!(
            ["passed", "skipped", "warning"].contains(&step["status"].as_str().unwrap()),
            "{step:#}"
        );
    }
}

async fn a_fully_privileged_role_passes_every_step_and_leaves_nothing_behind(backend: Backend) {
    let s = setup(backend).await;
    let warehouse = PgWarehouse::privileged().await;
    let canary = canary();
    let destination = s
        .owner
        .create_destination(
            &s.ws,
            "POSTGRES",
            "Warehouse",
            warehouse.destination_config("analytics", &canary),
        )
        .await;
    let validation = validate(&s.owner, &s.ws, "destinations", &id(&destination)).await;
    assert_passed(&validation);
    let names: Vec<&str> = validation["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names, DESTINATION_STEPS,
        "rudder-server's steps, in its order"
    );
    assert_eq!(
        step(&validation, "Verifying Object Storage")["status"],
        "skipped"
    );
    assert!(step(&validation, "Verifying Connections")["reason"]
        .as_str()
        .unwrap()
        .contains(&warehouse.role));
    for name in &DESTINATION_STEPS[1..] {
        assert_eq!(
            step(&validation, name)["status"],
            "passed",
            "{validation:#}"
        );
    }
    // Probes ran in transactions that were rolled back.
    assert_eq!(
        warehouse
            .admin_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'analytics'")
            .await,
        0,
        "no schema created"
    );
    assert_eq!(
        warehouse
            .admin_scalar("SELECT count(*) FROM pg_class WHERE relname LIKE 'setup\\_test%'")
            .await,
        0,
        "no table left"
    );
    // Saving the destination validated it too.
    let history = s
        .owner
        .get(&format!(
            "/api/v1/workspaces/{}/destinations/{}/validations",
            s.ws,
            id(&destination)
        ))
        .await
        .expect(200);
    let causes: Vec<&str> = history["validations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["cause"].as_str().unwrap())
        .collect();
    assert!(
        causes.contains(&"saved") && causes.contains(&"requested"),
        "{causes:?}"
    );
    assert_eq!(history["recheckEveryHours"], 24);
    for exchange in s.app.transcript() {
        assert!(
            !exchange.body.contains(&canary),
            "the password came back in {} {}",
            exchange.method,
            exchange.path
        );
    }
}

async fn each_missing_privilege_names_the_grant_that_fixes_it(backend: Backend) {
    let s = setup(backend).await;
    let warehouse = PgWarehouse::create().await;
    let (db, role) = (warehouse.name().to_string(), warehouse.role.clone());
    // The namespace exists, created by someone else: the role needs rights on it.
    warehouse.admin("CREATE SCHEMA analytics").await;
    let destination = id(&s
        .owner
        .create_destination(
            &s.ws,
            "POSTGRES",
            "Warehouse",
            warehouse.destination_config("analytics", "pw"),
        )
        .await);
    let expected = [
        (
            "Verifying Connections",
            format!("GRANT CONNECT ON DATABASE \"{db}\" TO \"{role}\";"),
        ),
        (
            "Verifying Create Schema",
            format!("GRANT USAGE, CREATE ON SCHEMA \"analytics\" TO \"{role}\";"),
        ),
        (
            "Verifying Load Table",
            format!("GRANT TEMPORARY ON DATABASE \"{db}\" TO \"{role}\";"),
        ),
    ];
    for (step_name, statement) in expected {
        let validation = validate(&s.owner, &s.ws, "destinations", &destination).await;
        assert_eq!(validation["status"], "failed", "{validation:#}");
        let (failed, remediation) = failure(&validation);
        assert_eq!(failed, step_name, "{validation:#}");
        assert_eq!(remediation, statement);
        // The steps after it were skipped, naming it.
        let later = validation["steps"]
            .as_array()
            .unwrap()
            .iter()
            .skip_while(|s| s["name"] != step_name)
            .skip(1);
        for skipped in later {
            assert_eq!(skipped["status"], "skipped");
            assert_eq!(skipped["blockedBy"], step_name);
        }
        warehouse.admin(&remediation).await;
    }
    assert_passed(&validate(&s.owner, &s.ws, "destinations", &destination).await);

    // Without the schema, creating it needs CREATE on the database.
    warehouse.admin("DROP SCHEMA analytics").await;
    let validation = validate(&s.owner, &s.ws, "destinations", &destination).await;
    let (failed, remediation) = failure(&validation);
    assert_eq!(failed, "Verifying Create Schema");
    assert_eq!(
        remediation,
        format!("GRANT CREATE ON DATABASE \"{db}\" TO \"{role}\";")
    );
    warehouse.admin(&remediation).await;
    assert_passed(&validate(&s.owner, &s.ws, "destinations", &destination).await);
}

async fn a_reverse_etl_source_is_checked_for_its_tables_and_the_rudderstack_schema(
    backend: Backend,
) {
    let s = setup(backend).await;
    let warehouse = PgWarehouse::create().await;
    let (db, role) = (warehouse.name().to_string(), warehouse.role.clone());
    warehouse
        .admin(&format!(
            "GRANT CONNECT ON DATABASE \"{db}\" TO \"{role}\";
             CREATE SCHEMA sales; CREATE TABLE sales.orders (id BIGINT, total NUMERIC);"
        ))
        .await;
    let source = id(&s
        .owner
        .create_source_with(
            &s.ws,
            "postgres",
            "Orders",
            warehouse.source_config(&["sales.orders"], "pw"),
        )
        .await);
    let validation = validate(&s.owner, &s.ws, "sources", &source).await;
    let names: Vec<&str> = validation["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Verifying Connections",
            "Verifying List Schemas and Tables",
            "Verifying Read Tables",
            "Verifying RudderStack Schema"
        ]
    );
    let (failed, remediation) = failure(&validation);
    assert_eq!(failed, "Verifying Read Tables", "{validation:#}");
    assert_eq!(
        remediation,
        format!(
            "GRANT USAGE ON SCHEMA \"sales\" TO \"{role}\";\nGRANT SELECT ON TABLE \"sales\".\"orders\" TO \"{role}\";"
        )
    );
    warehouse.admin(&remediation).await;

    let validation = validate(&s.owner, &s.ws, "sources", &source).await;
    let (failed, remediation) = failure(&validation);
    assert_eq!(failed, "Verifying RudderStack Schema", "{validation:#}");
    assert_eq!(
        remediation,
        format!(
            "CREATE SCHEMA \"_rudderstack\";\nGRANT USAGE, CREATE ON SCHEMA \"_rudderstack\" TO \"{role}\";"
        )
    );
    warehouse.admin(&remediation).await;
    let validation = validate(&s.owner, &s.ws, "sources", &source).await;
    assert_passed(&validation);
    assert_eq!(
        warehouse
            .admin_scalar(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = '_rudderstack'"
            )
            .await,
        0,
        "the probe table was rolled back"
    );
}

async fn validation_is_for_editors_and_warehouses_and_results_for_viewers(backend: Backend) {
    let s = setup(backend).await;
    let warehouse = PgWarehouse::create().await;
    let destination = id(&s
        .owner
        .create_destination(
            &s.ws,
            "POSTGRES",
            "Warehouse",
            warehouse.destination_config("analytics", "pw"),
        )
        .await);
    let viewer = s
        .app
        .member(&s.ws, "viewer@example.com", Role::Viewer)
        .await;
    let path = format!(
        "/api/v1/workspaces/{}/destinations/{destination}/validate",
        s.ws
    );
    viewer
        .post_empty(&path)
        .await
        .expect_error(403, "forbidden", None);
    let validation = validate(&s.owner, &s.ws, "destinations", &destination).await;
    let job = validation["jobId"].as_str().unwrap();
    viewer
        .get(&format!("/api/v1/workspaces/{}/validations/{job}", s.ws))
        .await
        .expect(200);
    // Another workspace's member learns nothing.
    let stranger = s.app.user("stranger@example.com").await;
    let elsewhere = s.app.workspace(&stranger, "Other").await;
    stranger
        .get(&format!("/api/v1/workspaces/{}/validations/{job}", s.ws))
        .await
        .expect_error(404, "not_found", None);
    stranger
        .get(&format!("/api/v1/workspaces/{elsewhere}/validations/{job}"))
        .await
        .expect_error(404, "not_found", None);
    // Not a warehouse.
    let amplitude = id(&s
        .owner
        .create_destination(&s.ws, "AM", "Amplitude", amplitude_config("k", "s"))
        .await);
    s.owner
        .post_empty(&format!(
            "/api/v1/workspaces/{}/destinations/{amplitude}/validate",
            s.ws
        ))
        .await
        .expect_error(422, "validation_failed", Some("id"));
    s.owner
        .put(
            &format!(
                "/api/v1/workspaces/{}/destinations/{destination}/validation-schedule",
                s.ws
            ),
            json!({"recheckEveryHours": 100000}),
        )
        .await
        .expect_error(422, "validation_failed", Some("recheckEveryHours"));
    s.owner
        .put(
            &format!(
                "/api/v1/workspaces/{}/destinations/{destination}/validation-schedule",
                s.ws
            ),
            json!({"recheckEveryHours": 6}),
        )
        .await
        .expect(200);
}

/// Refused addresses, a warehouse that never answers, and a password the warehouse rejects: each a failed
/// connection step that says why, never repeating the password.
#[tokio::test]
async fn refused_networks_silent_warehouses_and_rejected_passwords_fail_the_connection_step() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    // Accepts connections and never answers.
    let _holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let app = TestApp::builder(Backend::Sqlite)
        .fast_jobs()
        .configure(|config| {
            config.validation_step_timeout_ms = 1_000;
            config.validation_deny = vec!["10.0.0.0/8".parse().unwrap()];
        })
        .start()
        .await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let canary = canary();
    let warehouse = PgWarehouse::create().await;
    let mut config = warehouse.destination_config("analytics", &canary);
    let cases = [
        ("169.254.169.254", "5432", "never connects"),
        ("10.1.2.3", "5432", "WHEELHOUSE_VALIDATION_DENY"),
        ("127.0.0.1", &*silent_port.to_string(), "within 1 s"),
        // A role that does not exist: the warehouse refuses the login.
        ("127.0.0.1", "5432", "does not exist"),
    ];
    for (i, (host, port, expected)) in cases.iter().enumerate() {
        config["host"] = json!(host);
        config["port"] = json!(port);
        if i == 3 {
            config["user"] = json!(format!("nobody_{}", random_suffix(6)));
        }
        let destination = id(&owner
            .create_destination(&ws, "POSTGRES", &format!("Warehouse {i}"), config.clone())
            .await);
        let validation = validate(&owner, &ws, "destinations", &destination).await;
        let connection = step(&validation, "Verifying Connections");
        assert_eq!(connection["status"], "failed", "{validation:#}");
        let reason = connection["reason"].as_str().unwrap();
        assert!(reason.contains(expected), "{host}: {reason}");
        assert!(!reason.contains(&canary));
    }
    for exchange in app.transcript() {
        assert!(!exchange.body.contains(&canary));
    }
    logs::assert_never_logged(&canary, "the warehouse password");
}

/// Permission drift: the scheduled re-check finds a privilege revoked since the last validation passed. The
/// subscribers get one mail naming the statement that fixes it; once it is granted again, one more.
async fn a_privilege_that_drifts_away_alerts_once_and_its_return_too(backend: Backend) {
    let app = TestApp::builder(backend)
        .with_smtp()
        .fast_jobs()
        .start()
        .await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let warehouse = PgWarehouse::privileged().await;
    let (db, role) = (warehouse.name().to_string(), warehouse.role.clone());
    let destination = id(&owner
        .create_destination(
            &ws,
            "POSTGRES",
            "Warehouse",
            warehouse.destination_config("analytics", "pw"),
        )
        .await);
    assert_passed(&validate(&owner, &ws, "destinations", &destination).await);
    let state = &app.server().state;
    let recheck = || async {
        // As if the last check were a day old.
        app.execute(
            "UPDATE warehouse_validations SET created_at = created_at - 90000000",
            &[],
        )
        .await;
        server::warehouses::recheck_due(state).await.unwrap()
    };

    warehouse
        .admin(&format!(
            "REVOKE TEMPORARY ON DATABASE \"{db}\" FROM \"{role}\""
        ))
        .await;
    assert_eq!(recheck().await, 1);
    let mail = app.mailbox().wait_for("owner@example.com").await;
    assert!(
        mail.subject
            .contains("Failing: Warehouse's permission check"),
        "{}",
        mail.subject
    );
    assert!(
        mail.body.contains(&format!(
            "GRANT TEMPORARY ON DATABASE \"{db}\" TO \"{role}\";"
        )),
        "{}",
        mail.body
    );
    // Still failing at the next re-check: no new mail.
    assert_eq!(recheck().await, 1);
    let history = format!("/api/v1/workspaces/{ws}/destinations/{destination}/validations");
    eventually("the second re-check", WAIT, || async {
        let list = owner.get(&history).await.expect(200);
        let scheduled: Vec<&Value> = list["validations"]
            .as_array()?
            .iter()
            .filter(|v| v["cause"] == "scheduled")
            .collect();
        (scheduled.len() == 2 && scheduled.iter().all(|v| v["status"] == "failed")).then_some(())
    })
    .await;

    warehouse
        .admin(&format!(
            "GRANT TEMPORARY ON DATABASE \"{db}\" TO \"{role}\""
        ))
        .await;
    assert_eq!(recheck().await, 1);
    let recovered = app.mailbox().wait_for("owner@example.com").await;
    assert!(
        recovered.subject.starts_with("Recovered"),
        "{}",
        recovered.subject
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.mailbox().all_to("owner@example.com").len(), 2);

    // Never re-checked when its schedule says so.
    owner
        .put(
            &format!("/api/v1/workspaces/{ws}/destinations/{destination}/validation-schedule"),
            json!({"recheckEveryHours": 0}),
        )
        .await
        .expect(200);
    assert_eq!(recheck().await, 0);
}
