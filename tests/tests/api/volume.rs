//! Event volume: the reports rudder-server's reporting service sends (`POST /metrics?version=v1`,
//! `POST /recordErrors`, `../shared/reference/rudderstack-protocol.md` §2.5, gzip included) and the data-plane
//! websocket's `metrics` frames, stored once per stage and once per report.

use std::io::Write;
use std::time::Duration;

use serde_json::{json, Value};
use wheelhouse_tests::*;

both_backends!(
    each_event_is_counted_once_per_stage,
    a_report_sent_again_is_counted_once,
    gzip_reports_are_read,
    a_report_for_another_workspace_stores_nothing,
    bad_reports_are_refused_naming_the_field,
    error_reports_keep_samples_unless_the_workspace_says_not_to,
    websocket_metrics_are_stored_once_per_frame,
    rolling_up_never_changes_a_total,
    the_volume_api_counts_exactly_at_every_granularity,
    errors_are_grouped_by_code_and_normalized_message,
    the_summary_totals_every_source_and_destination,
    bad_volume_queries_are_refused_naming_the_parameter,
    retention_follows_the_workspace_settings,
);

struct Setup {
    app: TestApp,
    owner: Client,
    ws: String,
    source: String,
    destination: String,
    token: String,
}

async fn setup(backend: Backend) -> Setup {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let source = id(&owner.create_source(&ws, "Javascript", "Website").await);
    let destination = id(&owner
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://hooks.example.com", &[]),
        )
        .await);
    let token = app.data_plane_token(&owner, &ws).await;
    Setup {
        app,
        owner,
        ws,
        source,
        destination,
        token,
    }
}

/// A minute a while ago, as rudder-server stamps `reportedAt` (epoch ms of the minute).
fn minute() -> i64 {
    let now = server::time::now_ms();
    now - now % 60_000 - 10 * 60_000
}

fn metric(s: &Setup, reported_by: &str, terminal: bool, reports: Value) -> Value {
    json!({
        "workspaceId": s.ws, "namespace": "", "instanceId": "rudder-0", "sourceId": s.source,
        "destinationId": if reported_by == "gateway" { "" } else { s.destination.as_str() },
        "sourceTaskRunId": "", "sourceJobId": "", "sourceJobRunId": "", "sourceDefinitionId": "def",
        "DestinationDefinitionId": "", "sourceCategory": "", "transformationId": "", "transformationVersionId": "",
        "trackingPlanId": "", "trackingPlanVersion": 0, "inReportedBy": "dest_transformer",
        "reportedBy": reported_by, "terminalState": terminal, "initialState": reported_by == "gateway",
        "reportedAt": minute(), "bucket": minute(), "reports": reports,
    })
}

fn entry(state: &str, code: u16, count: i64, name: &str) -> Value {
    json!({"state": state, "count": count, "statusCode": code, "sampleResponse": "", "sampleEvent": {},
        "eventName": name, "eventType": "track", "errorType": "", "violationCount": 0})
}

/// The stored minute counts of a stage: (entity, status, code, count), in a stable order. Only the minute
/// rows: in the first minutes of an hour the rollup job may already have passed `minute()`'s hour, and a late
/// report is then also added to its hour and day rows.
async fn counts(s: &Setup, stage: &str) -> Vec<(String, String, i64, i64)> {
    sqlx::query_as(
        "SELECT entity_id, status, status_code, CAST(SUM(count) AS BIGINT) FROM volume_counts
         WHERE workspace_id = $1 AND stage = $2 AND granularity = 'minute' GROUP BY entity_id, status, status_code
         ORDER BY entity_id, status, status_code",
    )
    .bind(&s.ws)
    .bind(stage)
    .fetch_all(&s.app.db().pool)
    .await
    .unwrap()
}

async fn post_metric(s: &Setup, body: &Value) -> Resp {
    s.app
        .basic(&s.token)
        .post("/metrics?version=v1", body.clone())
        .await
}

async fn each_event_is_counted_once_per_stage(backend: Backend) {
    let s = setup(backend).await;
    let name = "Order Completed";
    for (reported_by, terminal, reports) in [
        ("gateway", false, json!([entry("succeeded", 200, 10, name)])),
        (
            "router",
            true,
            json!([
                entry("succeeded", 200, 7, name),
                entry("aborted", 400, 2, name)
            ]),
        ),
        // The same events passing stages in between: not volume.
        ("router", false, json!([entry("failed", 500, 4, name)])),
        (
            "dest_transformer",
            true,
            json!([entry("succeeded", 200, 9, name)]),
        ),
        (
            "tracking_plan_validator",
            false,
            json!([entry("succeeded_with_violations", 200, 1, name)]),
        ),
    ] {
        post_metric(&s, &metric(&s, reported_by, terminal, reports))
            .await
            .expect(200);
    }
    assert_eq!(
        counts(&s, "source").await,
        vec![(s.source.clone(), "succeeded".into(), 200, 10)]
    );
    assert_eq!(
        counts(&s, "destination").await,
        vec![
            (s.destination.clone(), "aborted".into(), 400, 2),
            (s.destination.clone(), "succeeded".into(), 200, 7)
        ]
    );
    assert_eq!(
        counts(&s, "tracking_plan").await,
        vec![(s.source.clone(), "succeeded_with_violations".into(), 200, 1)]
    );
    let buckets: Vec<i64> =
        sqlx::query_scalar(
            "SELECT DISTINCT bucket FROM volume_counts WHERE workspace_id = $1 AND granularity = 'minute'",
        )
            .bind(&s.ws)
            .fetch_all(&s.app.db().pool)
            .await
            .unwrap();
    assert_eq!(buckets, vec![minute()]);
}

async fn a_report_sent_again_is_counted_once(backend: Backend) {
    let s = setup(backend).await;
    let report = metric(
        &s,
        "router",
        true,
        json!([entry("succeeded", 200, 5, "Signed Up")]),
    );
    for _ in 0..3 {
        post_metric(&s, &report).await.expect(200);
    }
    assert_eq!(
        counts(&s, "destination").await,
        vec![(s.destination.clone(), "succeeded".into(), 200, 5)]
    );
    // Another report of the same minute and dimensions (another instance) adds up.
    let mut other = report.clone();
    other["instanceId"] = json!("rudder-1");
    post_metric(&s, &other).await.expect(200);
    assert_eq!(counts(&s, "destination").await[0].3, 10);
}

async fn gzip_reports_are_read(backend: Backend) {
    let s = setup(backend).await;
    let body = metric(
        &s,
        "gateway",
        false,
        json!([entry("succeeded", 200, 3, "Page")]),
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.to_string().as_bytes()).unwrap();
    s.app
        .basic(&s.token)
        .request(reqwest::Method::POST, "/metrics?version=v1")
        .header("content-encoding", "gzip")
        .body("application/json; charset=utf-8", gz.finish().unwrap())
        .send()
        .await
        .expect(200);
    assert_eq!(counts(&s, "source").await[0].3, 3);
    s.app
        .basic(&s.token)
        .request(reqwest::Method::POST, "/metrics?version=v1")
        .header("content-encoding", "gzip")
        .body("application/json", b"not gzip at all".to_vec())
        .send()
        .await
        .expect_error(400, "bad_request", None);
    s.app
        .basic(&s.token)
        .request(reqwest::Method::POST, "/metrics?version=v1")
        .header("content-encoding", "br")
        .body("application/json", body.to_string().into_bytes())
        .send()
        .await
        .expect_error(415, "unsupported_media_type", None);
}

async fn a_report_for_another_workspace_stores_nothing(backend: Backend) {
    let s = setup(backend).await;
    let outsider = s.app.user("outsider@example.com").await;
    let other_ws = s.app.workspace(&outsider, "Elsewhere").await;
    let mut report = metric(
        &s,
        "gateway",
        false,
        json!([entry("succeeded", 200, 3, "Page")]),
    );
    report["workspaceId"] = json!(other_ws);
    post_metric(&s, &report)
        .await
        .expect_error(403, "forbidden", None);
    s.app
        .anonymous()
        .post("/metrics?version=v1", report.clone())
        .await
        .expect_error(401, "unauthorized", None);
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM volume_counts")
        .fetch_one(&s.app.db().pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

async fn bad_reports_are_refused_naming_the_field(backend: Backend) {
    let s = setup(backend).await;
    let cases = [
        (
            json!([entry("succeeded", 200, -1, "x")]),
            None,
            "reports[0].count",
        ),
        (
            json!([entry("teleported", 200, 1, "x")]),
            None,
            "reports[0].state",
        ),
        (
            json!([entry("succeeded", 2000, 1, "x")]),
            None,
            "reports[0].statusCode",
        ),
        (
            json!([entry("succeeded", 200, 1, "x")]),
            Some(server::time::now_ms() + 86_400_000),
            "reportedAt",
        ),
        (
            json!([entry("succeeded", 200, 1, "x")]),
            Some(12),
            "reportedAt",
        ),
    ];
    for (reports, reported_at, field) in cases {
        let mut report = metric(&s, "gateway", false, reports);
        if let Some(at) = reported_at {
            report["reportedAt"] = json!(at);
        }
        post_metric(&s, &report)
            .await
            .expect_error(422, "validation_failed", Some(field));
    }
    let mut wrong_type = metric(
        &s,
        "gateway",
        false,
        json!([entry("succeeded", 200, 1, "x")]),
    );
    wrong_type["reports"][0]["count"] = json!("many");
    let refused = post_metric(&s, &wrong_type).await;
    refused.expect_error(400, "bad_request", Some("reports[0].count"));
    // A refused report stores nothing, not even its good entries.
    let mut half = metric(
        &s,
        "gateway",
        false,
        json!([
            entry("succeeded", 200, 5, "a"),
            entry("succeeded", 200, -5, "b")
        ]),
    );
    half["instanceId"] = json!("half");
    post_metric(&s, &half).await.expect(422);
    assert!(counts(&s, "source").await.is_empty());
    s.app.anonymous().get("/healthz").await.expect(200);
}

async fn error_reports_keep_samples_unless_the_workspace_says_not_to(backend: Backend) {
    let s = setup(backend).await;
    let report = |message: &str| {
        json!({"workspaceId": s.ws, "namespace": "", "reportedBy": "router", "reportedAt": minute(),
            "bucket": minute(), "sourceId": s.source, "destinationId": s.destination, "sourceDefinitionId": "",
            "destinationDefinitionId": "", "destinationDefinitionName": "WEBHOOK",
            "errors": [{"statusCode": 401, "errorCode": "auth", "errorMessage": message, "eventType": "track",
                "eventName": "Order Completed", "sampleResponse": "{\"error\":\"bad key\"}",
                "sampleEvent": {"email": "ada@example.com"}, "count": 4}]})
    };
    let rudder = s.app.basic(&s.token);
    rudder
        .post("/recordErrors", report("Invalid API key"))
        .await
        .expect(200);
    rudder
        .post("/recordErrors", report("Invalid API key"))
        .await
        .expect(200);
    let path = format!("/api/v1/workspaces/{}", s.ws);
    let editor = s
        .app
        .member(&s.ws, "editor@example.com", Role::Editor)
        .await;
    editor
        .patch(&path, json!({"disableReportingPii": true}))
        .await
        .expect_error(403, "forbidden", None);
    let updated = s
        .app
        .sign_in("owner@example.com", s.app.password())
        .await
        .patch(&path, json!({"disableReportingPii": true}))
        .await
        .expect(200);
    assert_eq!(updated["disableReportingPii"], true);
    rudder
        .post("/recordErrors", report("Invalid API key for account 42"))
        .await
        .expect(200);
    let rows: Vec<(String, i64, i64, Option<String>)> = sqlx::query_as(
        "SELECT message, status_code, count, sample_event FROM volume_errors WHERE workspace_id = $1 ORDER BY created_at",
    )
    .bind(&s.ws)
    .fetch_all(&s.app.db().pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "the repeated report is kept once: {rows:?}");
    assert_eq!(rows[0].0, "Invalid API key");
    assert_eq!((rows[0].1, rows[0].2), (401, 4));
    assert!(rows[0].3.as_deref().unwrap().contains("ada@example.com"));
    assert_eq!(
        rows[1].3, None,
        "samples are blanked once the workspace disables them"
    );
}

async fn websocket_metrics_are_stored_once_per_frame(backend: Backend) {
    let s = setup(backend).await;
    let bucket = server::time::format_ms(minute());
    let frame = json!({"type": "metrics", "id": "m-1", "workspaceId": s.ws, "bucket": bucket, "reports": [
        {"stage": "gateway", "sourceId": s.source, "eventName": "Order Completed", "eventType": "track",
         "status": "succeeded", "statusCode": 200, "count": 6},
        {"stage": "router", "sourceId": s.source, "destinationId": s.destination, "eventName": "Order Completed",
         "eventType": "track", "status": "failed", "statusCode": 500, "count": 2, "terminal": true,
         "errorSamples": [{"message": "upstream timed out", "event": {"a": 1}, "response": {"error": "timeout"}}]}]});
    for _ in 0..2 {
        let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
        dp.send_json(&json!({"type": "hello", "protocol": 1, "instanceId": "dp-m", "software": "x", "version": "1"}))
            .await;
        dp.next_of("welcome", Duration::from_secs(10)).await;
        dp.send_json(&frame).await;
        assert_eq!(
            dp.next_of("ack", Duration::from_secs(10)).await["id"],
            "m-1"
        );
        dp.close().await;
    }
    assert_eq!(
        counts(&s, "source").await,
        vec![(s.source.clone(), "succeeded".into(), 200, 6)]
    );
    assert_eq!(
        counts(&s, "destination").await,
        vec![(s.destination.clone(), "failed".into(), 500, 2)]
    );
    let errors: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM volume_errors WHERE workspace_id = $1")
            .bind(&s.ws)
            .fetch_one(&s.app.db().pool)
            .await
            .unwrap();
    assert_eq!(errors, 1);

    // Error samples that say how many events failed with their message: the errors view counts them.
    let failed = |id: &str, count: u64, samples: Value| {
        json!({"type": "metrics", "id": id, "workspaceId": s.ws, "bucket": bucket, "reports": [
            {"stage": "router", "sourceId": s.source, "destinationId": s.destination, "eventName": "Signed Up",
             "eventType": "track", "status": "aborted", "statusCode": 504, "count": count, "terminal": true,
             "errorSamples": samples}]})
    };
    let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
    dp.send_json(&json!({"type": "hello", "protocol": 1, "instanceId": "dp-m", "software": "x", "version": "1"}))
        .await;
    dp.next_of("welcome", Duration::from_secs(10)).await;
    dp.send_json(&failed(
        "m-2",
        5,
        json!([{"message": "gateway timeout after 30 s", "count": 3},
            {"message": "gateway timeout after 12 s", "count": 2}]),
    ))
    .await;
    assert_eq!(
        dp.next_of("ack", Duration::from_secs(10)).await["id"],
        "m-2"
    );
    dp.send_json(&failed(
        "m-3",
        1,
        json!([{"message": "gateway timeout after 9 s", "count": 4}]),
    ))
    .await;
    let refused = dp.next_of("error", Duration::from_secs(10)).await;
    assert_eq!(refused["code"], "invalid", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("errorSamples"),
        "{refused}"
    );
    dp.close().await;
    let groups = s
        .owner
        .get(&format!(
            "/api/v1/workspaces/{}/destinations/{}/errors",
            s.ws, s.destination
        ))
        .await
        .ok();
    let timeouts: Vec<&Value> = groups["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["statusCode"] == 504)
        .collect();
    assert_eq!(timeouts.len(), 1, "{groups}");
    assert_eq!(timeouts[0]["message"], "gateway timeout after <number> s");
    assert_eq!(timeouts[0]["count"], 5);
}

/// Total counts of each granularity.
async fn totals(s: &Setup) -> (i64, i64, i64) {
    let mut out = [0i64; 3];
    for (i, granularity) in ["minute", "hour", "day"].iter().enumerate() {
        let sum: Option<i64> = sqlx::query_scalar(
            "SELECT CAST(SUM(count) AS BIGINT) FROM volume_counts WHERE workspace_id = $1 AND granularity = $2",
        )
        .bind(&s.ws)
        .bind(granularity)
        .fetch_one(&s.app.db().pool)
        .await
        .unwrap();
        out[i] = sum.unwrap_or(0);
    }
    (out[0], out[1], out[2])
}

/// Minutes roll up into hours and hours into days, each once; a late report for a minute already rolled up
/// adds to the coarser rows too; retention deletes minutes only once they are in the hours.
async fn rolling_up_never_changes_a_total(backend: Backend) {
    let s = setup(backend).await;
    let now = server::time::now_ms();
    let hour = 3_600_000;
    let base = now - now % hour - 5 * hour;
    let at = |minutes: i64, count: i64, instance: &str| {
        let mut report = metric(
            &s,
            "gateway",
            false,
            json!([entry("succeeded", 200, count, "Page")]),
        );
        report["reportedAt"] = json!(base + minutes * 60_000);
        report["instanceId"] = json!(instance);
        report
    };
    for (minutes, count) in [(1, 5), (59, 7), (61, 11), (125, 13)] {
        post_metric(&s, &at(minutes, count, &format!("i{minutes}")))
            .await
            .expect(200);
    }
    // (The scheduled rollup may already have run: it is the same function, and running it again is a no-op.)
    assert_eq!(totals(&s).await.0, 36);

    let rolled = server::volume::roll_up(s.app.db(), now).await.unwrap();
    assert_eq!(totals(&s).await.0, 36);
    assert_eq!(totals(&s).await.1, 36);
    // Soon after midnight (UTC) yesterday's hours are in the day rows as well.
    let in_days = |hour_counts: &[(i64, i64)]| -> i64 {
        hour_counts
            .iter()
            .filter(|(bucket, _)| *bucket < rolled.days_until)
            .map(|(_, count)| count)
            .sum()
    };
    let hours: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT bucket, count FROM volume_counts WHERE workspace_id = $1 AND granularity = 'hour' ORDER BY bucket",
    )
    .bind(&s.ws)
    .fetch_all(&s.app.db().pool)
    .await
    .unwrap();
    assert_eq!(
        hours,
        vec![(base, 12), (base + hour, 11), (base + 2 * hour, 13)]
    );
    let days = in_days(&hours);
    // Again: nothing new to roll, nothing doubled.
    server::volume::roll_up(s.app.db(), now).await.unwrap();
    assert_eq!(totals(&s).await, (36, 36, days));

    // A late report for a minute already rolled up.
    post_metric(&s, &at(2, 100, "late")).await.expect(200);
    assert_eq!(totals(&s).await, (136, 136, days + in_days(&[(base, 100)])));

    // Days later: the days roll up, and the minutes, now past 48 hours, are deleted (they are in the hours).
    let later = now + 3 * 24 * hour;
    server::volume::roll_up(s.app.db(), later).await.unwrap();
    assert_eq!(totals(&s).await, (0, 136, 136));
}

/// A metric report of one minute (`at`, epoch ms), from one instance.
fn metric_at(s: &Setup, reported_by: &str, terminal: bool, at: i64, reports: Value) -> Value {
    let mut report = metric(s, reported_by, terminal, reports);
    report["reportedAt"] = json!(at);
    report["bucket"] = json!(at);
    report["instanceId"] = json!(format!("rudder-{at}-{reported_by}-{terminal}"));
    report
}

/// Posts `metric_at`'s report, which must be stored.
async fn post_at(s: &Setup, reported_by: &str, terminal: bool, at: i64, reports: Value) {
    post_metric(s, &metric_at(s, reported_by, terminal, at, reports))
        .await
        .expect(200);
}

fn rfc3339(ms: i64) -> String {
    server::time::format_ms(ms)
}

/// `(time, count, status)` of a series' rows (status empty when not grouped by).
fn rows_of(series: &Value) -> Vec<(String, i64, String)> {
    series["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["time"].as_str().unwrap().to_string(),
                r["count"].as_i64().unwrap(),
                r["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Reports in three hours, then every granularity gives the same exact counts, before and after the rollup.
async fn the_volume_api_counts_exactly_at_every_granularity(backend: Backend) {
    let s = setup(backend).await;
    let hour = 3_600_000;
    let now = server::time::now_ms();
    let mut base = now - now % hour - 3 * hour;
    // The two hours must be of one day (UTC): the day rows are checked to hold both.
    if base % (24 * hour) == 23 * hour {
        base -= hour;
    }
    let (m1, m2, m3) = (base + 60_000, base + 30 * 60_000, base + hour + 5 * 60_000);
    for (at, reports) in [
        (
            m1,
            json!([
                entry("succeeded", 200, 5, "Order Completed"),
                entry("failed", 500, 2, "Order Completed")
            ]),
        ),
        (
            m2,
            json!([
                entry("succeeded", 200, 7, "Signed Up"),
                entry("aborted", 400, 1, "Signed Up")
            ]),
        ),
        (m3, json!([entry("succeeded", 200, 11, "Order Completed")])),
    ] {
        post_at(&s, "router", true, at, reports).await;
    }
    // Not terminal: a retry on its way, not volume.
    post_at(
        &s,
        "router",
        false,
        m1,
        json!([entry("failed", 500, 100, "Order Completed")]),
    )
    .await;
    post_at(
        &s,
        "gateway",
        false,
        m1,
        json!([entry("succeeded", 200, 30, "Order Completed")]),
    )
    .await;

    let destination = format!(
        "/api/v1/workspaces/{}/destinations/{}/volume",
        s.ws, s.destination
    );
    let range = format!("from={}&to={}", rfc3339(base), rfc3339(base + 3 * hour));
    let check = |label: &'static str| {
        let (s, destination, range) = (&s, destination.clone(), range.clone());
        async move {
            let minutes = s
                .owner
                .get(&format!(
                    "{destination}?{range}&granularity=minute&groupBy=status"
                ))
                .await
                .ok();
            assert_eq!(minutes["granularity"], "minute", "{label}");
            assert_eq!(
                rows_of(&minutes),
                vec![
                    (rfc3339(m1), 2, "failed".into()),
                    (rfc3339(m1), 5, "succeeded".into()),
                    (rfc3339(m2), 1, "aborted".into()),
                    (rfc3339(m2), 7, "succeeded".into()),
                    (rfc3339(m3), 11, "succeeded".into()),
                ],
                "{label}"
            );
            let hours = s
                .owner
                .get(&format!("{destination}?{range}&granularity=hour"))
                .await
                .ok();
            assert_eq!(
                rows_of(&hours),
                vec![
                    (rfc3339(base), 15, String::new()),
                    (rfc3339(base + hour), 11, String::new())
                ],
                "{label}"
            );
            let days = s
                .owner
                .get(&format!(
                    "{destination}?{range}&granularity=day&groupBy=eventName&groupBy=statusCode"
                ))
                .await
                .ok();
            let mut by_name: Vec<(String, i64, i64)> = days["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["eventName"].as_str().unwrap().to_string(),
                        r["statusCode"].as_i64().unwrap(),
                        r["count"].as_i64().unwrap(),
                    )
                })
                .collect();
            by_name.sort();
            assert_eq!(
                by_name.iter().map(|r| r.2).sum::<i64>(),
                26,
                "{label}: every count once, {by_name:?}"
            );
            assert!(
                by_name.contains(&("Order Completed".into(), 200, 16)),
                "{label}: {by_name:?}"
            );
            assert!(
                days["rows"][0].get("status").is_none(),
                "{label}: not grouped by status"
            );
            let source = s
                .owner
                .get(&format!(
                    "/api/v1/workspaces/{}/sources/{}/volume?{range}&granularity=hour",
                    s.ws, s.source
                ))
                .await
                .ok();
            assert_eq!(
                rows_of(&source),
                vec![(rfc3339(base), 30, String::new())],
                "{label}"
            );
        }
    };
    check("as reported").await;
    server::volume::roll_up(s.app.db(), now).await.unwrap();
    check("rolled up").await;
    server::volume::roll_up(s.app.db(), now + 60_000)
        .await
        .unwrap();
    check("rolled up again").await;

    // Without a granularity, one is chosen from the range.
    for (span, expected) in [
        (2 * hour, "minute"),
        (48 * hour, "hour"),
        (60 * 24 * hour, "day"),
    ] {
        let chosen = s
            .owner
            .get(&format!(
                "{destination}?from={}&to={}",
                rfc3339(now - span),
                rfc3339(now)
            ))
            .await
            .ok();
        assert_eq!(chosen["granularity"], expected, "a range of {span} ms");
    }
    // A viewer reads volume too.
    let viewer = s
        .app
        .member(&s.ws, "viewer@example.com", Role::Viewer)
        .await;
    viewer
        .get(&format!("{destination}?{range}"))
        .await
        .expect(200);
}

async fn errors_are_grouped_by_code_and_normalized_message(backend: Backend) {
    let s = setup(backend).await;
    let at = minute();
    let error = |code: u16, message: &str, name: &str, count: i64, at: i64| {
        json!({"statusCode": code, "errorCode": "", "errorMessage": message, "eventType": "track",
            "eventName": name, "sampleResponse": "{\"error\":\"not found\"}",
            "sampleEvent": {"event": name, "userId": "u-1"}, "count": count})
        .as_object()
        .cloned()
        .map(|mut e| {
            e.insert("at".into(), json!(at));
            Value::Object(e)
        })
        .unwrap()
    };
    let send = |errors: Vec<Value>, at: i64| {
        let errors: Vec<Value> = errors
            .into_iter()
            .map(|mut e| {
                e.as_object_mut().unwrap().remove("at");
                e
            })
            .collect();
        let body = json!({"workspaceId": s.ws, "namespace": "", "reportedBy": "router", "reportedAt": at,
            "bucket": at, "sourceId": s.source, "destinationId": s.destination, "sourceDefinitionId": "",
            "destinationDefinitionId": "", "destinationDefinitionName": "WEBHOOK", "errors": errors});
        let rudder = s.app.basic(&s.token);
        async move { rudder.post("/recordErrors", body).await.expect(200) }
    };
    send(
        vec![
            error(
                404,
                "user ada@example.com not found (id 1234)",
                "Order Completed",
                3,
                at,
            ),
            error(401, "Invalid API key", "Signed Up", 1, at),
        ],
        at - 60_000,
    )
    .await;
    send(
        vec![
            error(
                404,
                "user bob@example.org not found (id 98765)",
                "Signed Up",
                4,
                at,
            ),
            // The same words with another status code: another problem.
            error(
                500,
                "user bob@example.org not found (id 98765)",
                "Signed Up",
                2,
                at,
            ),
        ],
        at,
    )
    .await;
    let path = format!(
        "/api/v1/workspaces/{}/destinations/{}/errors?from={}&to={}",
        s.ws,
        s.destination,
        rfc3339(at - 3_600_000),
        rfc3339(at + 60_000)
    );
    let answer = s.owner.get(&path).await.ok();
    let groups = answer["groups"].as_array().unwrap();
    let summary: Vec<(i64, String, i64)> = groups
        .iter()
        .map(|g| {
            (
                g["statusCode"].as_i64().unwrap(),
                g["message"].as_str().unwrap().to_string(),
                g["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (404, "user <email> not found (id <number>)".into(), 7),
            (500, "user <email> not found (id <number>)".into(), 2),
            (401, "Invalid API key".into(), 1),
        ]
    );
    let first = &groups[0];
    assert_eq!(first["firstSeen"], rfc3339(at - 60_000));
    assert_eq!(first["lastSeen"], rfc3339(at));
    assert_eq!(first["eventNames"], json!(["Signed Up", "Order Completed"]));
    let trend_total: i64 = first["trend"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["count"].as_i64().unwrap())
        .sum();
    assert_eq!(trend_total, 7);
    let samples = first["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2, "{samples:?}");
    assert_eq!(
        samples[0]["message"], "user bob@example.org not found (id 98765)",
        "newest first"
    );
    assert_eq!(samples[0]["response"], json!({"error": "not found"}));
    assert_eq!(samples[0]["event"]["userId"], "u-1");
    assert_eq!(first["key"], groups[0]["key"]);

    // Viewers see the groups and counts, never a sample.
    let viewer = s
        .app
        .member(&s.ws, "viewer@example.com", Role::Viewer)
        .await;
    let seen = viewer.get(&path).await.ok();
    assert_eq!(seen["groups"][0]["count"], 7);
    for group in seen["groups"].as_array().unwrap() {
        assert_eq!(group["samples"], json!([]));
    }
    assert!(!seen.to_string().contains("u-1"));
    assert!(!seen.to_string().contains("bob@example.org"));
    // Another workspace's member learns nothing.
    let outsider = s.app.user("outsider@example.com").await;
    outsider
        .get(&path)
        .await
        .expect_error(404, "not_found", None);
}

async fn the_summary_totals_every_source_and_destination(backend: Backend) {
    let s = setup(backend).await;
    let quiet = id(&s
        .owner
        .create_destination(
            &s.ws,
            "WEBHOOK",
            "Quiet hook",
            webhook_config("https://quiet.example.com", &[]),
        )
        .await);
    let at = minute();
    post_at(
        &s,
        "router",
        true,
        at,
        json!([
            entry("succeeded", 200, 30, "a"),
            entry("aborted", 400, 6, "a"),
            entry("filtered", 298, 9, "a")
        ]),
    )
    .await;
    post_at(
        &s,
        "batch_router",
        true,
        at - 60_000,
        json!([entry("failed", 500, 4, "b")]),
    )
    .await;
    post_at(
        &s,
        "gateway",
        false,
        at,
        json!([entry("succeeded", 200, 45, "a")]),
    )
    .await;
    let summary = s
        .owner
        .get(&format!("/api/v1/workspaces/{}/volume/summary", s.ws))
        .await
        .ok();
    let destinations = summary["destinations"].as_array().unwrap();
    assert_eq!(destinations.len(), 2);
    assert_eq!(
        destinations[0]["id"],
        s.destination.as_str(),
        "busiest first"
    );
    assert_eq!(destinations[0]["name"], "Hook");
    assert_eq!(destinations[0]["definitionName"], "WEBHOOK");
    assert_eq!(destinations[0]["delivered"], 30);
    assert_eq!(destinations[0]["failed"], 10);
    assert_eq!(destinations[0]["failureRate"], 0.25);
    assert_eq!(destinations[1]["id"], quiet.as_str());
    assert_eq!(
        (
            destinations[1]["delivered"].as_i64(),
            destinations[1]["failed"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(destinations[1]["failureRate"], 0.0);
    assert_eq!(summary["sources"][0]["received"], 45);
    // The same after the rollup.
    server::volume::roll_up(s.app.db(), server::time::now_ms())
        .await
        .unwrap();
    let again = s
        .owner
        .get(&format!("/api/v1/workspaces/{}/volume/summary", s.ws))
        .await
        .ok();
    assert_eq!(again["destinations"], summary["destinations"]);
    // A range reaching past the hour rows' retention is read from the day rows (and the finer ones past the
    // watermarks): the same totals.
    let now = server::time::now_ms();
    let long = s
        .owner
        .get(&format!(
            "/api/v1/workspaces/{}/volume/summary?from={}&to={}",
            s.ws,
            rfc3339(now - 60 * 86_400_000),
            rfc3339(now)
        ))
        .await
        .ok();
    assert_eq!(long["destinations"], summary["destinations"]);
    assert_eq!(long["sources"], summary["sources"]);
}

async fn bad_volume_queries_are_refused_naming_the_parameter(backend: Backend) {
    let s = setup(backend).await;
    let path = format!(
        "/api/v1/workspaces/{}/destinations/{}/volume",
        s.ws, s.destination
    );
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2026-13-45T00:00:00Z", "to"),
        ("from=2026-11-27T12:00:00Z&to=2026-11-27T10:00:00Z", "from"),
        ("from=2020-01-01T00:00:00Z&to=2026-11-27T10:00:00Z", "from"),
        ("granularity=week", "granularity"),
        ("groupBy=colour", "groupBy"),
        ("groupby=status", "groupby"),
        (
            "from=2026-10-01T00:00:00Z&to=2026-11-27T00:00:00Z&granularity=minute",
            "granularity",
        ),
    ] {
        s.owner.get(&format!("{path}?{query}")).await.expect_error(
            422,
            "validation_failed",
            Some(field),
        );
    }
    s.owner
        .get(&format!(
            "/api/v1/workspaces/{}/volume/summary?granularity=hour",
            s.ws
        ))
        .await
        .expect_error(422, "validation_failed", Some("granularity"));
    s.owner
        .get(&format!(
            "/api/v1/workspaces/{}/destinations/{}/volume",
            s.ws, s.source
        ))
        .await
        .expect_error(404, "not_found", None);
    s.owner
        .get(&format!("/api/v1/workspaces/{}/sources/nope/volume", s.ws))
        .await
        .expect_error(404, "not_found", None);
}

async fn retention_follows_the_workspace_settings(backend: Backend) {
    let s = setup(backend).await;
    let path = format!("/api/v1/workspaces/{}", s.ws);
    let workspace = s.owner.get(&path).await.ok();
    assert_eq!(
        (
            &workspace["volumeMinuteRetentionHours"],
            &workspace["volumeHourRetentionDays"],
            &workspace["volumeDayRetentionDays"],
            &workspace["errorRetentionDays"]
        ),
        (&json!(48), &json!(30), &json!(400), &json!(30))
    );
    for (field, value) in [
        ("volumeMinuteRetentionHours", 0),
        ("volumeMinuteRetentionHours", 169),
        ("volumeHourRetentionDays", 91),
        ("volumeDayRetentionDays", 0),
        ("errorRetentionDays", 366),
    ] {
        s.owner
            .patch(&path, json!({ field: value }))
            .await
            .expect_error(422, "validation_failed", Some(field));
    }
    let editor = s
        .app
        .member(&s.ws, "editor@example.com", Role::Editor)
        .await;
    editor
        .patch(&path, json!({"volumeMinuteRetentionHours": 2}))
        .await
        .expect_error(403, "forbidden", None);
    let updated = s
        .owner
        .patch(
            &path,
            json!({"volumeMinuteRetentionHours": 2, "errorRetentionDays": 1}),
        )
        .await
        .ok();
    assert_eq!(updated["volumeMinuteRetentionHours"], 2);
    assert_eq!(updated["errorRetentionDays"], 1);

    let now = server::time::now_ms();
    let hour = 3_600_000;
    let (old, recent) = (now - now % 60_000 - 3 * hour, now - now % 60_000 - hour);
    for at in [old, recent] {
        post_at(
            &s,
            "gateway",
            false,
            at,
            json!([entry("succeeded", 200, 4, "a")]),
        )
        .await;
    }
    let error = |at: i64| {
        json!({"workspaceId": s.ws, "reportedBy": "router", "reportedAt": at, "sourceId": s.source,
            "destinationId": s.destination, "errors": [{"statusCode": 500, "errorMessage": "boom", "eventType": "track",
            "eventName": "a", "count": 1}]})
    };
    s.app
        .basic(&s.token)
        .post("/recordErrors", error(now - 2 * 24 * hour))
        .await
        .expect(200);
    s.app
        .basic(&s.token)
        .post("/recordErrors", error(recent))
        .await
        .expect(200);
    server::volume::roll_up(s.app.db(), now).await.unwrap();
    let minutes: Vec<i64> = sqlx::query_scalar(
        "SELECT bucket FROM volume_counts WHERE workspace_id = $1 AND granularity = 'minute' ORDER BY bucket",
    )
    .bind(&s.ws)
    .fetch_all(&s.app.db().pool)
    .await
    .unwrap();
    assert_eq!(minutes, vec![recent], "minutes older than 2 hours are gone");
    assert_eq!(totals(&s).await.1, 8, "both are in the hours");
    let errors: Vec<i64> =
        sqlx::query_scalar("SELECT bucket FROM volume_errors WHERE workspace_id = $1")
            .bind(&s.ws)
            .fetch_all(&s.app.db().pool)
            .await
            .unwrap();
    assert_eq!(errors, vec![recent], "errors older than a day are gone");
    // The hour view still counts both.
    let series = s
        .owner
        .get(&format!(
            "/api/v1/workspaces/{}/sources/{}/volume?from={}&to={}&granularity=hour",
            s.ws,
            s.source,
            rfc3339(old - hour),
            rfc3339(now)
        ))
        .await
        .ok();
    assert_eq!(rows_of(&series).iter().map(|r| r.1).sum::<i64>(), 8);
}
