//! Sync history and alert mail through a real SMTP server process: a failing sync mails each subscriber once,
//! a repeated failure mails no one, a recovery mails each once; SMTP down then up, or the server stopped with
//! mail in its outbox and started again, still delivers each mail once.

use std::time::Duration;

use serde_json::{json, Value};
use wheelhouse_tests::*;

const WAIT: Duration = Duration::from_secs(15);

both_backends!(
    a_failing_sync_mails_each_subscriber_once_and_once_more_when_it_recovers,
    alert_mail_survives_an_smtp_outage_and_a_restart,
);

struct Setup {
    app: TestApp,
    owner: Client,
    ws: String,
    token: String,
    destination: String,
}

async fn setup(app: TestApp) -> Setup {
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let token = app.data_plane_token(&owner, &ws).await;
    // Nothing listens on port 1: its validation on save fails at once (and a first failure alerts no one).
    let destination = id(&owner
        .create_destination(
            &ws,
            "POSTGRES",
            "Warehouse",
            json!({"host": "127.0.0.1", "port": "1", "database": "analytics", "user": "loader",
                "password": "pw", "sslMode": "disable", "syncFrequency": "30", "useRudderStorage": true}),
        )
        .await);
    Setup {
        app,
        owner,
        ws,
        token,
        destination,
    }
}

fn run(s: &Setup, frame_id: &str, run_id: &str, status: &str, error: Option<&str>) -> Value {
    let mut frame = json!({"type": "syncRun", "id": frame_id, "workspaceId": s.ws, "runId": run_id,
        "kind": "warehouseUpload", "destinationId": s.destination, "status": status,
        "startedAt": "2026-11-27T10:00:00Z", "rows": 120});
    if status != "started" {
        frame["finishedAt"] = json!("2026-11-27T10:05:00Z");
    }
    if let Some(error) = error {
        frame["error"] = json!(error);
    }
    frame
}

async fn send(dp: &mut Ws, frame: Value) {
    let id = frame["id"].clone();
    dp.send_json(&frame).await;
    let ack = dp.next_of("ack", WAIT).await;
    assert_eq!(ack["id"], id);
}

async fn alerts(s: &Setup) -> Vec<Value> {
    s.owner
        .get(&format!("/api/v1/workspaces/{}/alerts", s.ws))
        .await
        .expect(200)["alerts"]
        .as_array()
        .unwrap()
        .clone()
}

async fn all_sent(s: &Setup, count: usize) -> Vec<Value> {
    eventually("every alert to be sent", WAIT, || async {
        let alerts = alerts(s).await;
        (alerts.len() == count && alerts.iter().all(|a| a["status"] == "sent")).then_some(alerts)
    })
    .await
}

async fn a_failing_sync_mails_each_subscriber_once_and_once_more_when_it_recovers(
    backend: Backend,
) {
    let s = setup(
        TestApp::builder(backend)
            .with_smtp()
            .fast_jobs()
            .start()
            .await,
    )
    .await;
    let alerts_path = format!(
        "/api/v1/workspaces/{}/destinations/{}/alerts",
        s.ws, s.destination
    );
    // Admins and owners get alerts unless they opt out; others when they opt in.
    let admin = s.app.member(&s.ws, "admin@example.com", Role::Admin).await;
    let editor = s
        .app
        .member(&s.ws, "editor@example.com", Role::Editor)
        .await;
    let viewer = s
        .app
        .member(&s.ws, "viewer@example.com", Role::Viewer)
        .await;
    let muted = s.app.member(&s.ws, "muted@example.com", Role::Owner).await;
    assert_eq!(
        admin.get(&alerts_path).await.expect(200)["subscribed"],
        true
    );
    assert_eq!(
        viewer.get(&alerts_path).await.expect(200)["subscribed"],
        false
    );
    admin
        .put(&alerts_path, json!({"subscribed": false}))
        .await
        .expect(200);
    let chosen = editor
        .put(&alerts_path, json!({"subscribed": true}))
        .await
        .expect(200);
    assert_eq!(chosen["source"], "chosen");
    let settings = muted
        .put("/api/v1/me/notifications", json!({"muteAll": true}))
        .await
        .expect(200);
    assert_eq!(settings["muteAll"], true);
    let listed = editor.get("/api/v1/me/notifications").await.expect(200);
    assert_eq!(listed["subscriptions"][0]["resourceName"], "Warehouse");

    let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
    dp.send_json(&json!({"type": "hello", "protocol": 1, "instanceId": "dp-1", "software": "rudder-server", "version": "1.50.0"}))
        .await;
    dp.next_of("welcome", WAIT).await;
    let error = "pq: permission denied for schema analytics (42501)";
    send(&mut dp, run(&s, "f-1", "u-1", "started", None)).await;
    send(&mut dp, run(&s, "f-2", "u-1", "failed", Some(error))).await;
    let mail = s.app.mailbox().wait_for("owner@example.com").await;
    assert!(
        mail.subject.contains("Failing: Warehouse"),
        "{}",
        mail.subject
    );
    assert!(mail.body.contains(error), "{}", mail.body);
    assert!(
        mail.body.contains(&format!(
            "/w/{}/destinations/{}/warehouse",
            s.ws, s.destination
        )),
        "{}",
        mail.body
    );
    let html = mail.html.as_deref().expect("an HTML part");
    assert!(html.contains("permission denied for schema analytics"));
    s.app.mailbox().wait_for("editor@example.com").await;
    all_sent(&s, 2).await;

    // The same incident goes on: no new mail.
    send(&mut dp, run(&s, "f-3", "u-2", "failed", Some(error))).await;
    // The recovery.
    send(&mut dp, run(&s, "f-4", "u-3", "succeeded", None)).await;
    let recovered = s.app.mailbox().wait_for("owner@example.com").await;
    assert!(
        recovered.subject.starts_with("Recovered"),
        "{}",
        recovered.subject
    );
    s.app.mailbox().wait_for("editor@example.com").await;
    let sent = all_sent(&s, 4).await;
    for who in [
        "admin@example.com",
        "viewer@example.com",
        "muted@example.com",
    ] {
        assert!(s.app.mailbox().all_to(who).is_empty(), "{who} got mail");
    }
    for who in ["owner@example.com", "editor@example.com"] {
        assert_eq!(s.app.mailbox().all_to(who).len(), 2, "{who}");
    }
    let events: Vec<&str> = sent.iter().map(|a| a["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["recovered", "recovered", "failing", "failing"]);

    // The history: newest first, with the error; the destination is healthy again.
    let history = viewer
        .get(&format!(
            "/api/v1/workspaces/{}/destinations/{}/syncs?from=2026-11-27T00:00:00Z&to=2026-11-28T00:00:00Z",
            s.ws, s.destination
        ))
        .await
        .expect(200);
    let runs = history["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "{history:#}");
    let failed = runs.iter().find(|r| r["runId"] == "u-1").unwrap();
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"], error);
    assert_eq!(failed["rows"], 120);
    assert_eq!(history["health"], "healthy");
    let hour = history["hours"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hour"] == "2026-11-27T10:00:00.000Z")
        .unwrap_or_else(|| panic!("{history:#}"));
    assert_eq!(
        (hour["failed"].clone(), hour["succeeded"].clone()),
        (json!(2), json!(1))
    );

    // rudder-server's reporting: an aborted upload is a failure too, with its error from sampleResponse.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let reported_at = now - now % 60_000;
    let metric = json!({"workspaceId": s.ws, "instanceId": "dp-1", "sourceId": "src-1",
        "destinationId": s.destination, "inReportedBy": "batch_router", "reportedBy": "warehouse",
        "terminalState": true, "reportedAt": reported_at,
        "reports": [{"state": "aborted", "count": 40, "statusCode": 400,
            "sampleResponse": "\"loading table tracks: pq: disk full\"", "eventName": "", "eventType": ""}]});
    s.app
        .basic(&s.token)
        .post("/metrics?version=v1", metric)
        .await
        .expect(200);
    let mail = s.app.mailbox().wait_for("owner@example.com").await;
    assert!(
        mail.body.contains("loading table tracks: pq: disk full"),
        "{}",
        mail.body
    );

    // A run of something the workspace does not have is refused, naming the field.
    dp.send_json(
        &json!({"type": "syncRun", "id": "f-9", "workspaceId": s.ws, "runId": "x",
        "kind": "warehouseUpload", "destinationId": "nope", "status": "failed",
        "startedAt": "2026-11-27T10:00:00Z"}),
    )
    .await;
    let refused = dp.next_of("error", WAIT).await;
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("destinationId"),
        "{refused}"
    );
}

/// SMTP is down when the sync fails, and the server stops with the mail still queued, one of them leased
/// by a worker that dies (its lease expires). Started again with SMTP up: each mail arrives, once.
async fn alert_mail_survives_an_smtp_outage_and_a_restart(backend: Backend) {
    let mut s = setup(
        TestApp::builder(backend)
            .with_smtp_down()
            .fast_jobs()
            .start()
            .await,
    )
    .await;
    let _editor = s.app.member(&s.ws, "admin@example.com", Role::Admin).await;
    let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
    dp.send_json(&json!({"type": "hello", "protocol": 1, "instanceId": "dp-1", "software": "rudder-server", "version": "1.50.0"}))
        .await;
    dp.next_of("welcome", WAIT).await;
    send(&mut dp, run(&s, "f-1", "u-1", "failed", Some("boom"))).await;
    dp.close().await;
    eventually("failed attempts", WAIT, || async {
        let alerts = alerts(&s).await;
        (alerts.len() == 2 && alerts.iter().all(|a| a["status"] == "queued")).then_some(())
    })
    .await;
    // One of them as if a worker had leased it and died mid-send: no one else may take it until its lease
    // expires (after the restart, below).
    s.app
        .execute(
            "UPDATE jobs SET state = 'running', lease_owner = 'dead-worker', lease_expires_at = 9000000000000
             WHERE id = (SELECT min(id) FROM jobs WHERE kind = 'mail.alert')",
            &[],
        )
        .await;
    s.app.stop().await;
    s.app.start_smtp().await;
    s.app.restart().await;
    // The dead worker's lease expires; the other mail's backoff is over.
    s.app
        .execute(
            "UPDATE jobs SET lease_expires_at = 1 WHERE lease_owner = 'dead-worker'",
            &[],
        )
        .await;
    s.app
        .execute(
            "UPDATE jobs SET run_at = 0 WHERE kind = 'mail.alert' AND state = 'queued'",
            &[],
        )
        .await;
    all_sent(&s, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for who in ["owner@example.com", "admin@example.com"] {
        assert_eq!(s.app.mailbox().all_to(who).len(), 1, "{who}");
    }
    let ids: Vec<String> = s
        .app
        .mailbox()
        .all()
        .iter()
        .map(|m| m.message_id.clone())
        .collect();
    assert!(ids.iter().all(|id| id.starts_with('<')), "{ids:?}");
}

/// Two replicas on one PostgreSQL database work the same outbox: each alert is mailed once, by one of them.
/// A day later the incident goes on, and the daily reminder goes out once too.
#[tokio::test]
async fn two_replicas_mail_each_alert_once_and_remind_once_a_day_postgres() {
    let s = setup(
        TestApp::builder(Backend::Postgres)
            .with_smtp()
            .fast_jobs()
            .start()
            .await,
    )
    .await;
    let replica = server::start(s.app.config().clone())
        .await
        .expect("a second replica");
    let mut admins = vec!["owner@example.com".to_string()];
    for i in 0..10 {
        let email = format!("admin{i}@example.com");
        s.app.member(&s.ws, &email, Role::Admin).await;
        admins.push(email);
    }
    let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
    dp.send_json(&json!({"type": "hello", "protocol": 1, "instanceId": "dp-1", "software": "rudder-server", "version": "1.50.0"}))
        .await;
    dp.next_of("welcome", WAIT).await;
    send(&mut dp, run(&s, "f-1", "u-1", "failed", Some("boom"))).await;
    for email in &admins {
        s.app.mailbox().wait_for(email).await;
    }
    all_sent(&s, admins.len()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for email in &admins {
        assert_eq!(s.app.mailbox().all_to(email).len(), 1, "{email}");
    }

    // A day later, still failing: one reminder each, however often the hourly job runs.
    s.app
        .execute(
            "UPDATE resource_health SET last_reminded_at = last_reminded_at - 90000000",
            &[],
        )
        .await;
    let state = &s.app.server().state;
    assert_eq!(server::alerts::remind_due(state).await.unwrap(), 1);
    assert_eq!(server::alerts::remind_due(&replica.state).await.unwrap(), 0);
    for email in &admins {
        let reminder = s.app.mailbox().wait_for(email).await;
        assert!(
            reminder.subject.starts_with("Still failing"),
            "{}",
            reminder.subject
        );
        assert!(reminder.body.contains("boom"), "{}", reminder.body);
    }
    all_sent(&s, 2 * admins.len()).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for email in &admins {
        assert_eq!(s.app.mailbox().all_to(email).len(), 2, "{email}");
    }
    replica.shutdown().await.unwrap();
}
