//! The audit log: what each change records (who, from where, what changed field by field), never a secret,
//! read by admins with filters and a cursor, and pruned after the workspace's retention. That every
//! mutating route writes one entry naming its caller, and that only admins read the log, is shown route by
//! route in `role_matrix`.

use std::time::Duration;

use serde_json::{json, Value};
use wheelhouse_tests::*;

both_backends!(
    a_change_records_who_from_where_and_what,
    a_secret_never_appears_in_the_audit_log,
    the_log_filters_and_pages_by_cursor,
    bad_filters_are_refused_by_name,
    entries_past_the_retention_are_pruned,
);

fn audit_path(ws: &str) -> String {
    format!("/api/v1/workspaces/{ws}/audit-log")
}

async fn newest(client: &Client, ws: &str) -> Value {
    client
        .get(&format!("{}?limit=1", audit_path(ws)))
        .await
        .expect(200)["entries"][0]
        .clone()
}

async fn a_change_records_who_from_where_and_what(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let hook = ada
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com/a", &[]),
        )
        .await;
    let path = format!("{}/{}", destinations_path(&ws), id(&hook));
    ada.request(reqwest::Method::PATCH, &path)
        .header("user-agent", "audit-test/1.0")
        .json(&json!({"name": "Hook 2", "config": {"webhookUrl": "https://example.com/b", "webhookMethod": "PUT", "headers": []}}))
        .send()
        .await
        .expect(200);
    let entry = newest(&ada, &ws).await;
    assert_eq!(entry["action"], "destination.updated");
    assert_eq!(entry["resourceType"], "destination");
    assert_eq!(entry["resourceId"], id(&hook).as_str());
    assert_eq!(entry["resourceName"], "Hook 2");
    assert_eq!(entry["actor"]["kind"], "user");
    assert_eq!(entry["actor"]["id"], ada.user_id());
    assert_eq!(entry["actor"]["label"], "ada@example.com");
    assert_eq!(entry["ip"], "127.0.0.1");
    assert_eq!(entry["userAgent"], "audit-test/1.0");
    assert!(entry["at"].as_str().unwrap().ends_with('Z'));
    let changes = &entry["changes"];
    assert_eq!(
        changes["name"],
        json!({"before": "Hook", "after": "Hook 2"})
    );
    assert_eq!(
        changes["config.webhookUrl"],
        json!({"before": "https://example.com/a", "after": "https://example.com/b"})
    );
    assert_eq!(
        changes["config.webhookMethod"],
        json!({"before": "POST", "after": "PUT"})
    );
    assert!(changes.get("config.headers").is_none(), "{changes}");

    // An API token is named as itself, with the person it acts for.
    let token = app.api_token(&ada, &ws, Role::Editor).await;
    token
        .patch(&path, json!({"enabled": false}))
        .await
        .expect(200);
    let entry = newest(&ada, &ws).await;
    assert_eq!(entry["actor"]["kind"], "apiToken");
    assert!(
        entry["actor"]["label"]
            .as_str()
            .unwrap()
            .contains("ada@example.com"),
        "{entry}"
    );
    assert_eq!(
        entry["changes"],
        json!({"enabled": {"before": true, "after": false}})
    );
}

/// Setting, changing and clearing secrets (top-level and inside arrays) is logged as a change of a
/// `"[secret]"`, and no byte of the log (API or table) holds a secret's value.
async fn a_secret_never_appears_in_the_audit_log(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let (first, second, header) = (canary(), canary(), canary());
    let amplitude = ada
        .create_destination(&ws, "AM", "Amplitude", amplitude_config("public", &first))
        .await;
    let path = format!("{}/{}", destinations_path(&ws), id(&amplitude));
    ada.patch(
        &path,
        json!({"config": {"apiKey": "public", "apiSecret": second, "residencyServer": "standard"}}),
    )
    .await
    .expect(200);
    let entry = newest(&ada, &ws).await;
    assert_eq!(
        entry["changes"]["config.apiSecret"],
        json!({"before": "[secret]", "after": "[secret]"})
    );
    ada.patch(
        &path,
        json!({"config": {"apiKey": "public", "apiSecret": null, "residencyServer": "standard"}}),
    )
    .await
    .expect(200);
    assert_eq!(
        newest(&ada, &ws).await["changes"]["config.apiSecret"],
        json!({"before": "[secret]"})
    );
    let hook = ada
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com", &[("Authorization", &header)]),
        )
        .await;
    assert_eq!(
        newest(&ada, &ws).await["changes"]["config.headers.0.to"],
        json!({"after": "[secret]"})
    );
    let warehouse = ada
        .create_source_with(
            &ws,
            "snowflake",
            "Warehouse",
            json!({"account": "xy1", "warehouse": "WH", "database": "DB", "user": "u", "password": first}),
        )
        .await;
    ada.delete(&format!("{}/{}", destinations_path(&ws), id(&hook)))
        .await
        .expect(204);
    ada.delete(&format!("{}/{}", sources_path(&ws), id(&warehouse)))
        .await
        .expect(204);

    let log = ada
        .get(&format!("{}?limit=200", audit_path(&ws)))
        .await
        .expect(200);
    let stored: Vec<String> = sqlx::query_scalar("SELECT changes FROM audit_events")
        .fetch_all(&app.db().pool)
        .await
        .unwrap();
    for secret in [&first, &second, &header] {
        assert!(
            !log.to_string().contains(secret.as_str()),
            "the audit API shows a secret"
        );
        assert!(
            stored
                .iter()
                .all(|changes| !changes.contains(secret.as_str())),
            "the audit table holds a secret"
        );
    }
    logs::assert_never_logged(&first, "a secret");
}

/// Filters by actor, resource type, resource, action (or all of a resource type's), and time; pages newest
/// first, each entry once, with the cursor of the previous page.
async fn the_log_filters_and_pages_by_cursor(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let grace = app.member(&ws, "grace@example.com", Role::Editor).await;
    let mut sources = Vec::new();
    for i in 0..7 {
        let who = if i % 2 == 0 { &ada } else { &grace };
        sources.push(
            who.create_source(&ws, "Javascript", &format!("Site {i}"))
                .await,
        );
    }
    let first = id(&sources[0]);
    ada.patch(
        &format!("{}/{first}", sources_path(&ws)),
        json!({"name": "Renamed"}),
    )
    .await
    .expect(200);

    let all = ada
        .get(&format!("{}?limit=200", audit_path(&ws)))
        .await
        .expect(200);
    let all = all["entries"].as_array().unwrap().clone();
    // workspace.created, 7 × source.created, source.updated (adding grace was direct, not audited).
    assert_eq!(all.len(), 9, "{all:#?}");
    let ats: Vec<&str> = all.iter().map(|e| e["at"].as_str().unwrap()).collect();
    assert!(
        ats.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {ats:?}"
    );

    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{}?limit=2&cursor={c}", audit_path(&ws)),
            None => format!("{}?limit=2", audit_path(&ws)),
        };
        let page = ada.get(&url).await.expect(200);
        paged.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(paged, all, "paging walks the whole log, each entry once");

    let count = |query: String| {
        let ada = ada.clone();
        let url = format!("{}?limit=200&{query}", audit_path(&ws));
        async move {
            ada.get(&url).await.expect(200)["entries"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(count("actor=grace@example.com".into()).await, 3);
    assert_eq!(count(format!("actor={}", grace.user_id())).await, 3);
    assert_eq!(count("resourceType=source".into()).await, 8);
    assert_eq!(count(format!("resourceId={first}")).await, 2);
    assert_eq!(count("action=source.updated".into()).await, 1);
    assert_eq!(count("action=source.*".into()).await, 8);
    assert_eq!(count("action=workspace.*".into()).await, 1);
    assert_eq!(count("from=2099-01-01T00:00:00Z".into()).await, 0);
    assert_eq!(count("to=2000-01-01T00:00:00Z".into()).await, 0);
    assert_eq!(
        count("from=2000-01-01T00:00:00Z&to=2099-01-01T00:00:00Z".into()).await,
        9
    );
}

async fn bad_filters_are_refused_by_name(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    for (query, field) in [
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("limit=0", "limit"),
        ("limit=100000", "limit"),
        ("cursor=not-a-cursor", "cursor"),
        ("cursor=MTIzOmFiYydkZWY", "cursor"),
    ] {
        ada.get(&format!("{}?{query}", audit_path(&ws)))
            .await
            .expect_error(422, "validation_failed", Some(field));
    }
    ada.get(&format!("{}?limit=lots", audit_path(&ws)))
        .await
        .expect_error(400, "bad_request", None);
}

/// Entries older than the workspace's retention (400 days unless set) are deleted by the nightly job; a
/// workspace can keep them for less, or longer.
async fn entries_past_the_retention_are_pruned(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    assert_eq!(
        ada.get(&format!("/api/v1/workspaces/{ws}"))
            .await
            .expect(200)["auditRetentionDays"],
        400
    );
    for days in [0, 3651] {
        ada.patch(
            &format!("/api/v1/workspaces/{ws}"),
            json!({"auditRetentionDays": days}),
        )
        .await
        .expect_error(422, "validation_failed", Some("auditRetentionDays"));
    }
    ada.patch(
        &format!("/api/v1/workspaces/{ws}"),
        json!({"auditRetentionDays": 30}),
    )
    .await
    .expect(200);
    let entry = newest(&ada, &ws).await;
    assert_eq!(
        entry["changes"]["auditRetentionDays"],
        json!({"before": 400, "after": 30})
    );
    ada.create_source(&ws, "Javascript", "Kept").await;
    let day = 24 * 60 * 60 * 1000_i64;
    let old = (server::time::now_ms() - 31 * day).to_string();
    app.execute(
        "UPDATE audit_events SET created_at = CAST($1 AS BIGINT) WHERE action = 'workspace.created'",
        &[&old],
    )
    .await;

    app.execute(
        "INSERT INTO jobs (id, kind, payload, state, attempts, max_attempts, run_at, created_at, updated_at)
         VALUES ('prune-now', 'audit.prune', '{}', 'queued', 0, 3, 0, 0, 0)",
        &[],
    )
    .await;
    app.server().state.jobs.wake();
    eventually("the prune job", Duration::from_secs(10), || async {
        let state: String = sqlx::query_scalar("SELECT state FROM jobs WHERE id = 'prune-now'")
            .fetch_one(&app.db().pool)
            .await
            .unwrap();
        (state == "succeeded").then_some(())
    })
    .await;
    let actions: Vec<String> = ada
        .get(&format!("{}?limit=200", audit_path(&ws)))
        .await
        .expect(200)["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(actions, vec!["source.created", "workspace.updated"]);
}
