//! Every route works: a tour of the whole HTTP surface, each call answered with success, then checked
//! against the OpenAPI document (`/api/v1/openapi.json`): every operation it lists was exercised, and every
//! `/api/v1` call made is one it lists. Plus the endpoints outside `/api/v1` (health, data planes, SDKs).

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};
use wheelhouse_tests::*;

both_backends!(every_route_answers_and_the_openapi_document_lists_them_all,);

/// Does `path` (concrete) fit `template` (`/api/v1/workspaces/{ws}/sources/{id}`)?
fn fits(template: &str, path: &str) -> bool {
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

/// The most literal template a path fits.
fn template_of<'a>(
    templates: &'a [(String, String)],
    method: &str,
    path: &str,
) -> Option<&'a (String, String)> {
    templates
        .iter()
        .filter(|(m, t)| m == method && fits(t, path))
        .max_by_key(|(_, t)| t.split('/').filter(|s| !s.starts_with('{')).count())
}

fn operations(openapi: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in openapi["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// The tour: first run, accounts, workspaces, members, invites, tokens, catalog, sources, destinations,
/// connections, namespaces, data planes, SDKs, and deletion, every call a success.
async fn every_route_answers_and_the_openapi_document_lists_them_all(backend: Backend) {
    let app = TestApp::builder(backend).with_smtp().start().await;
    let url = app.url();
    let browser = app.anonymous();

    // Operations: health.
    browser.get("/healthz").await.ok();
    browser.get("/readyz").await.ok();
    let openapi = browser.get("/api/v1/openapi.json").await.ok();
    assert_eq!(openapi["openapi"], "3.1.0");
    assert!(openapi["info"]["title"].is_string());
    // Outside tools learn from the document how to authenticate, and which operations need nobody.
    let schemes = &openapi["components"]["securitySchemes"];
    assert_eq!(schemes["apiToken"]["scheme"], "bearer", "{schemes}");
    assert_eq!(schemes["session"]["in"], "cookie", "{schemes}");
    assert_eq!(
        openapi["security"],
        json!([{"apiToken": []}, {"session": []}])
    );
    assert_eq!(
        openapi["paths"]["/api/v1/auth/login"]["post"]["security"],
        json!([{}])
    );
    assert!(openapi["paths"]["/api/v1/me"]["get"]
        .get("security")
        .is_none());

    // First run.
    assert_eq!(browser.get("/api/v1/setup").await.ok()["needsSetup"], true);
    let setup_token = url::Url::parse(&app.setup_url().unwrap())
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();
    let me = browser
        .post(
            "/api/v1/setup",
            json!({"token": setup_token, "email": "root@example.com", "name": "Root",
            "password": "root's first password", "workspaceName": "First"}),
        )
        .await
        .ok();
    let root = browser;
    let first_ws = str_of(&me["workspaces"][0], "id");

    // Accounts.
    root.get("/api/v1/me").await.ok();
    root.post("/api/v1/me/password", json!({"currentPassword": "root's first password", "newPassword": "root's second password"})).await.ok();
    root.post_empty("/api/v1/auth/logout").await.ok();
    root.post(
        "/api/v1/auth/login",
        json!({"email": "root@example.com", "password": "root's second password"}),
    )
    .await
    .ok();
    app.anonymous()
        .post(
            "/api/v1/auth/password-reset",
            json!({"email": "root@example.com"}),
        )
        .await
        .ok();
    let reset = app
        .mailbox()
        .wait_for("root@example.com")
        .await
        .token(&format!("{url}/reset-password?token="));
    app.anonymous()
        .post(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": reset, "newPassword": "root's third password"}),
        )
        .await
        .ok();
    let root = app
        .sign_in("root@example.com", "root's third password")
        .await;

    // Workspaces and members.
    root.get("/api/v1/workspaces").await.ok();
    let ws = id(&root
        .post("/api/v1/workspaces", json!({"name": "Tour"}))
        .await
        .ok());
    root.get(&format!("/api/v1/workspaces/{ws}")).await.ok();
    root.patch(
        &format!("/api/v1/workspaces/{ws}"),
        json!({"name": "Grand tour"}),
    )
    .await
    .ok();
    let member = app.member(&ws, "member@example.com", Role::Viewer).await;
    let leaver = app.member(&ws, "leaver@example.com", Role::Viewer).await;
    root.get(&format!("/api/v1/workspaces/{ws}/members"))
        .await
        .ok();
    root.patch(
        &format!("/api/v1/workspaces/{ws}/members/{}", member.user_id()),
        json!({"role": "admin"}),
    )
    .await
    .ok();
    root.delete(&format!(
        "/api/v1/workspaces/{ws}/members/{}",
        leaver.user_id()
    ))
    .await
    .ok();

    // Invites.
    let invite = root
        .post(
            &format!("/api/v1/workspaces/{ws}/invites"),
            json!({"email": "guest@example.com", "role": "editor"}),
        )
        .await
        .ok();
    root.get(&format!("/api/v1/workspaces/{ws}/invites"))
        .await
        .ok();
    let token = app
        .mailbox()
        .wait_for("guest@example.com")
        .await
        .token(&format!("{url}/invite?token="));
    let guest = app.anonymous();
    guest
        .get(&format!("/api/v1/invites/preview?token={token}"))
        .await
        .ok();
    guest
        .post(
            "/api/v1/invites/accept",
            json!({"token": token, "name": "Guest", "password": "the guest's password"}),
        )
        .await
        .ok();
    let revoked = root
        .post(
            &format!("/api/v1/workspaces/{ws}/invites"),
            json!({"email": "late@example.com", "role": "viewer"}),
        )
        .await
        .ok();
    root.delete(&format!("/api/v1/workspaces/{ws}/invites/{}", id(&revoked)))
        .await
        .ok();
    let _ = invite;

    // API tokens.
    let created = root
        .post(
            "/api/v1/tokens",
            json!({"name": "CI", "workspaceId": ws, "role": "editor"}),
        )
        .await
        .ok();
    root.get("/api/v1/tokens").await.ok();
    let ci = app.bearer(&str_of(&created, "token"));

    // Catalog.
    ci.get("/api/v1/catalog/sources").await.ok();
    ci.get("/api/v1/catalog/sources/Javascript").await.ok();
    ci.get("/api/v1/catalog/destinations").await.ok();
    ci.get("/api/v1/catalog/destinations/AM").await.ok();

    // Sources, destinations, connections (through the API token).
    let source = ci
        .post(
            &sources_path(&ws),
            json!({"name": "Web", "type": "Javascript"}),
        )
        .await
        .ok();
    let source_path = format!("{}/{}", sources_path(&ws), id(&source));
    ci.get(&sources_path(&ws)).await.ok();
    ci.get(&source_path).await.ok();
    ci.patch(&source_path, json!({"name": "Website"}))
        .await
        .ok();
    let source = ci
        .post_empty(&format!("{source_path}/rotate-write-key"))
        .await
        .ok();
    let destination = ci
        .post(
            &destinations_path(&ws),
            json!({"name": "Amplitude", "type": "AM", "config": amplitude_config("k", "s")}),
        )
        .await
        .ok();
    let destination_path = format!("{}/{}", destinations_path(&ws), id(&destination));
    ci.get(&destinations_path(&ws)).await.ok();
    ci.get(&destination_path).await.ok();
    ci.patch(&destination_path, json!({"enabled": true}))
        .await
        .ok();
    let connection = ci
        .post(
            &connections_path(&ws),
            json!({"sourceId": id(&source), "destinationId": id(&destination)}),
        )
        .await
        .ok();
    ci.get(&connections_path(&ws)).await.ok();

    // Consent settings and the simulator.
    let consent_path = format!("/api/v1/workspaces/{ws}/consent");
    ci.put(
        &consent_path,
        json!({"providers": [{"provider": "oneTrust", "categories": [{"id": "C0002", "label": "Performance"}]}]}),
    )
    .await
    .ok();
    ci.get(&consent_path).await.ok();
    ci.put(
        &format!("{destination_path}/consent"),
        json!({"providers": [{"provider": "oneTrust", "consents": ["C0002"]}]}),
    )
    .await
    .ok();
    ci.get(&format!("{destination_path}/consent")).await.ok();
    ci.post(
        &format!("{consent_path}/simulate"),
        json!({"provider": "oneTrust", "deniedConsentIds": ["C0002"]}),
    )
    .await
    .ok();

    // Warehouses: validation, its schedule, sync history, alerts and notification settings.
    let warehouse = ci
        .post(
            &destinations_path(&ws),
            json!({"name": "Warehouse", "type": "POSTGRES", "config": {"host": "127.0.0.1", "port": "1",
                "database": "analytics", "user": "loader", "password": "pw", "sslMode": "disable",
                "syncFrequency": "30", "useRudderStorage": true}}),
        )
        .await
        .ok();
    let warehouse_path = format!("{}/{}", destinations_path(&ws), id(&warehouse));
    let started = ci
        .post_empty(&format!("{warehouse_path}/validate"))
        .await
        .ok();
    ci.get(&format!(
        "/api/v1/workspaces/{ws}/validations/{}",
        str_of(&started, "jobId")
    ))
    .await
    .ok();
    ci.get(&format!("{warehouse_path}/validations")).await.ok();
    ci.put(
        &format!("{warehouse_path}/validation-schedule"),
        json!({"recheckEveryHours": 6}),
    )
    .await
    .ok();
    ci.get(&format!("{warehouse_path}/syncs")).await.ok();
    ci.get(&format!("{warehouse_path}/alerts")).await.ok();
    ci.put(
        &format!("{warehouse_path}/alerts"),
        json!({"subscribed": true}),
    )
    .await
    .ok();
    let tables = ci
        .post(
            &sources_path(&ws),
            json!({"name": "Tables", "type": "postgres", "config": {"host": "127.0.0.1", "port": "1",
                "database": "analytics", "user": "loader", "password": "pw", "tables": ["public.users"]}}),
        )
        .await
        .ok();
    let tables_path = format!("{}/{}", sources_path(&ws), id(&tables));
    ci.post_empty(&format!("{tables_path}/validate")).await.ok();
    ci.get(&format!("{tables_path}/validations")).await.ok();
    ci.put(
        &format!("{tables_path}/validation-schedule"),
        json!({"recheckEveryHours": 0}),
    )
    .await
    .ok();
    ci.get(&format!("{tables_path}/syncs")).await.ok();
    ci.get(&format!("{tables_path}/alerts")).await.ok();
    ci.put(
        &format!("{tables_path}/alerts"),
        json!({"subscribed": null}),
    )
    .await
    .ok();
    ci.get(&format!("/api/v1/workspaces/{ws}/alerts"))
        .await
        .ok();
    ci.get("/api/v1/me/notifications").await.ok();
    ci.put("/api/v1/me/notifications", json!({"muteAll": false}))
        .await
        .ok();

    // Data planes: a workspace token, the SDK, the settings call.
    let dp_token = root
        .post(
            &format!("/api/v1/workspaces/{ws}/data-plane-tokens"),
            json!({"name": "dp"}),
        )
        .await
        .ok();
    root.get(&format!("/api/v1/workspaces/{ws}/data-plane-tokens"))
        .await
        .ok();
    let data_plane = app.basic(&str_of(&dp_token, "token"));
    data_plane.get("/workspaceConfig?fetchAll=true").await.ok();
    // Data planes talking back: the websocket (not in the transcript, which is HTTP), the debugger uploads,
    // the data planes list, and the live stream (a websocket too).
    let mut dp_socket = Ws::data_plane(&app.url(), &str_of(&dp_token, "token")).await;
    dp_socket
        .send_json(&json!({"type": "hello", "protocol": 1, "instanceId": "tour", "software": "tour", "version": "1"}))
        .await;
    dp_socket
        .next_of("welcome", std::time::Duration::from_secs(10))
        .await;
    let write_key = str_of(&source, "writeKey");
    data_plane
        .post(
            "/dataplane/v2/eventUploads",
            json!({"version": "v2", write_key: [{"payload": {"type": "track"}, "eventName": "x", "eventType": "track"}]}),
        )
        .await
        .ok();
    data_plane
        .post(
            "/dataplane/v2/eventDeliveryStatus",
            json!({"version": "v2", id(&destination): [{"destinationId": id(&destination), "jobState": "succeeded"}]}),
        )
        .await
        .ok();
    data_plane
        .post(
            "/dataplane/eventTransformStatus",
            json!({"payload": [{"transformationId": "t", "destinationId": id(&destination), "eventBefore": {}}]}),
        )
        .await
        .ok();
    root.get(&format!("/api/v1/workspaces/{ws}/data-planes"))
        .await
        .ok();
    let volume = "from=2026-11-27T10:00:00Z&to=2026-11-27T12:00:00Z";
    root.get(&format!(
        "/api/v1/workspaces/{ws}/sources/{}/volume?{volume}&groupBy=eventName",
        id(&source)
    ))
    .await
    .ok();
    root.get(&format!(
        "/api/v1/workspaces/{ws}/destinations/{}/volume?{volume}&groupBy=status",
        id(&destination)
    ))
    .await
    .ok();
    root.get(&format!(
        "/api/v1/workspaces/{ws}/destinations/{}/errors?{volume}",
        id(&destination)
    ))
    .await
    .ok();
    root.get(&format!("/api/v1/workspaces/{ws}/volume/summary?{volume}"))
        .await
        .ok();

    // Tracking plans: a draft, published, linked to the source, fetched as rudder-transformer does, learnt
    // from captured traffic.
    let plans_path = format!("/api/v1/workspaces/{ws}/tracking-plans");
    let plan = ci
        .post(
            &plans_path,
            json!({"name": "Checkout", "events": [{"name": "Order Completed", "eventType": "track",
                "rules": {"type": "object", "properties": {"properties": {"type": "object",
                    "properties": {"price": {"type": "number"}}, "required": ["price"]}}}}]}),
        )
        .await
        .ok();
    let plan_path = format!("{plans_path}/{}", id(&plan));
    ci.get(&plans_path).await.ok();
    ci.get(&plan_path).await.ok();
    ci.patch(&plan_path, json!({"description": "What checkout sends"}))
        .await
        .ok();
    ci.post(&format!("{plan_path}/publish"), json!({}))
        .await
        .ok();
    ci.get(&format!("{plan_path}/versions")).await.ok();
    ci.get(&format!("{plan_path}/versions/1")).await.ok();
    ci.get(&format!("{plan_path}/diff?from=1&to=draft"))
        .await
        .ok();
    ci.post(
        &format!("{plan_path}/validate"),
        json!({"event": {"type": "track", "event": "Order Completed", "properties": {"price": "12"}}, "version": 1}),
    )
    .await
    .ok();
    ci.post(&format!("{plan_path}/impact"), json!({}))
        .await
        .ok();
    ci.get(&format!("{plan_path}/violations?{volume}"))
        .await
        .ok();
    let link_path = format!("{}/{}/tracking-plan", sources_path(&ws), id(&source));
    ci.put(
        &link_path,
        json!({"trackingPlanId": id(&plan), "version": 1, "config": {"global": {"allowUnplannedEvents": "true"}}}),
    )
    .await
    .ok();
    ci.get(&link_path).await.ok();
    data_plane
        .get(&format!(
            "/workspaces/{ws}/tracking-plans/{}?version=1",
            id(&plan)
        ))
        .await
        .ok();
    ci.delete(&link_path).await.ok();
    data_plane
        .post(
            "/dataplane/v2/eventUploads",
            json!({"version": "v2", str_of(&source, "writeKey"): [{"payload": {"type": "track", "event": "Signed Up",
                "properties": {"plan": "pro"}}, "eventName": "Signed Up", "eventType": "track"}]}),
        )
        .await
        .ok();
    for _ in 0..200 {
        let kept: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM captured_events WHERE source_id = $1 AND event_name = 'Signed Up'")
                .bind(id(&source))
                .fetch_one(&app.db().pool)
                .await
                .unwrap();
        if kept > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    ci.post(
        &format!("{plans_path}/import"),
        json!({"name": "Learnt", "sourceIds": [id(&source)]}),
    )
    .await
    .ok();
    ci.delete(&plan_path).await.ok();
    let mut live = Ws::connect(
        &app.url(),
        &format!("/api/v1/workspaces/{ws}/live"),
        &[ci.authorization()],
    )
    .await
    .expect("the live stream");
    live.next_of("capture", std::time::Duration::from_secs(10))
        .await;
    live.close().await;
    dp_socket.close().await;
    let exercised_by_websocket = [
        (
            "GET".to_string(),
            "/api/v1/workspaces/{ws}/live".to_string(),
        ),
        ("GET".to_string(), "/data-plane/v1/ws".to_string()),
    ];
    data_plane
        .post(
            &format!("/data-plane/v1/workspaces/{ws}/settings"),
            json!({}),
        )
        .await
        .ok();
    let sdk = app.basic(&str_of(&source, "writeKey"));
    sdk.get(&format!(
        "/sourceConfig/?writeKey={}",
        str_of(&source, "writeKey")
    ))
    .await
    .ok();
    sdk.request(Method::OPTIONS, "/sourceConfig/")
        .header("origin", "https://shop.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .ok();

    // Namespaces (instance administration) and multi-tenant data planes.
    let namespace = root
        .post(
            "/api/v1/namespaces",
            json!({"name": "tour", "workspaceIds": [ws]}),
        )
        .await
        .ok();
    let namespace_id = id(&namespace["namespace"]);
    root.get("/api/v1/namespaces").await.ok();
    let everywhere = root.get("/api/v1/instance/workspaces").await.ok();
    assert!(everywhere
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["id"] == ws.as_str() && w["namespaceId"] == namespace_id.as_str()));
    root.patch(
        &format!("/api/v1/namespaces/{namespace_id}"),
        json!({"workspaceIds": [ws, first_ws]}),
    )
    .await
    .ok();
    let rotated = root
        .post_empty(&format!("/api/v1/namespaces/{namespace_id}/rotate-secret"))
        .await
        .ok();
    let hosted = app.basic(&str_of(&rotated, "secret"));
    hosted
        .get("/data-plane/v1/namespaces/tour/config")
        .await
        .ok();
    hosted
        .get("/data-plane/v1/namespaces/tour/config?updatedAfter=2024-05-01T10:00:00.000Z")
        .await
        .ok();
    hosted
        .post("/data-plane/v1/namespaces/tour/settings", json!({}))
        .await
        .ok();
    root.delete(&format!("/api/v1/namespaces/{namespace_id}"))
        .await
        .ok();

    // The audit log, and the background jobs (a dead one retried).
    root.get(&format!("/api/v1/workspaces/{ws}/audit-log?limit=5"))
        .await
        .ok();
    let jobs = root.get("/api/v1/instance/jobs").await.ok();
    let job = id(&jobs[0]);
    app.execute("UPDATE jobs SET state = 'dead' WHERE id = $1", &[&job])
        .await;
    root.get("/api/v1/instance/jobs?state=dead").await.ok();
    root.post_empty(&format!("/api/v1/instance/jobs/{job}/retry"))
        .await
        .ok();

    // Taking it all down.
    ci.delete(&format!("{}/{}", connections_path(&ws), id(&connection)))
        .await
        .ok();
    ci.delete(&destination_path).await.ok();
    ci.delete(&source_path).await.ok();
    root.delete(&format!(
        "/api/v1/workspaces/{ws}/data-plane-tokens/{}",
        id(&dp_token)
    ))
    .await
    .ok();
    root.delete(&format!("/api/v1/tokens/{}", id(&created)))
        .await
        .ok();
    root.post(
        &format!("/api/v1/workspaces/{ws}/transfer"),
        json!({"userId": member.user_id()}),
    )
    .await
    .ok();
    member
        .delete(&format!("/api/v1/workspaces/{ws}"))
        .await
        .ok();

    // Compare with the OpenAPI document.
    let documented = operations(&openapi);
    assert!(
        documented.len() >= 45,
        "only {} operations documented",
        documented.len()
    );
    let transcript = app.transcript();
    let mut exercised: BTreeSet<(String, String)> = exercised_by_websocket.into_iter().collect();
    let mut undocumented = BTreeSet::new();
    for exchange in &transcript {
        assert!(
            (200..300).contains(&exchange.status),
            "{} {} → {}",
            exchange.method,
            exchange.path,
            exchange.status
        );
        if exchange.path == "/api/v1/openapi.json" {
            continue;
        }
        match template_of(&documented, &exchange.method, &exchange.path) {
            Some(operation) => {
                exercised.insert(operation.clone());
            }
            // Outside /api/v1 only the data planes' uploads are documented (config polls, health checks and
            // pages are not API operations).
            None if exchange.path.starts_with("/api/v1/") => {
                undocumented.insert(format!("{} {}", exchange.method, exchange.path));
            }
            None => {}
        }
    }
    let missed: Vec<String> = documented
        .iter()
        .filter(|op| !exercised.contains(*op))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        missed.is_empty(),
        "documented but never exercised:\n{}",
        missed.join("\n")
    );
    assert!(
        undocumented.is_empty(),
        "called but not in the OpenAPI document:\n{undocumented:#?}"
    );

    // And the routes outside /api/v1 that data planes and SDKs rely on.
    for (method, path) in [
        ("GET", "/healthz"),
        ("GET", "/readyz"),
        ("GET", "/workspaceConfig"),
        ("GET", "/sourceConfig/"),
        ("OPTIONS", "/sourceConfig/"),
        ("GET", "/data-plane/v1/namespaces/tour/config"),
        ("POST", "/data-plane/v1/namespaces/tour/settings"),
        ("POST", "/dataplane/v2/eventUploads"),
        ("POST", "/dataplane/v2/eventDeliveryStatus"),
        ("POST", "/dataplane/eventTransformStatus"),
    ] {
        assert!(
            transcript
                .iter()
                .any(|e| e.method == method && e.path == path),
            "{method} {path} was not exercised"
        );
    }
    assert!(transcript
        .iter()
        .any(|e| e.method == "POST" && fits("/data-plane/v1/workspaces/{ws}/settings", &e.path)));
}

#[test]
fn templates_fit_concrete_paths() {
    assert!(fits(
        "/api/v1/workspaces/{ws}/sources/{id}",
        "/api/v1/workspaces/a/sources/b"
    ));
    assert!(!fits(
        "/api/v1/workspaces/{ws}/sources/{id}",
        "/api/v1/workspaces/a/sources"
    ));
    assert!(!fits("/api/v1/workspaces/{ws}", "/api/v1/workspaces/"));
    let templates = vec![
        ("GET".to_string(), "/api/v1/invites/preview".to_string()),
        ("GET".to_string(), "/api/v1/{thing}/preview".to_string()),
    ];
    assert_eq!(
        template_of(&templates, "GET", "/api/v1/invites/preview")
            .unwrap()
            .1,
        "/api/v1/invites/preview"
    );
}
