//! Tracking plans (`../shared/reference/rudderstack-protocol.md` §3): drafts, immutable versions and their
//! diff, links to sources served as `dgSourceTrackingPlanConfig`, the plan as rudder-transformer fetches it,
//! validation, import from captured traffic and impact preview, and the violation counts data planes report.

use serde_json::{json, Value};
use wheelhouse_tests::*;

both_backends!(
    drafts_publish_as_immutable_versions,
    invalid_plans_are_refused_naming_the_problem,
    a_linked_source_serves_its_plan_settings_to_data_planes,
    bad_links_are_refused_naming_the_field,
    the_transformer_fetches_a_version_in_its_shape,
    validation_classifies_violations_like_the_transformer,
    a_plan_is_learnt_from_captured_traffic_and_previewed_against_it,
    violation_counts_come_from_the_validators_reports,
    viewers_read_and_validate_but_do_not_change,
);

struct Setup {
    app: TestApp,
    owner: Client,
    ws: String,
    source: Value,
}

async fn setup(backend: Backend) -> Setup {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let source = owner.create_source(&ws, "Javascript", "Website").await;
    Setup {
        app,
        owner,
        ws,
        source,
    }
}

fn plans_path(ws: &str) -> String {
    format!("/api/v1/workspaces/{ws}/tracking-plans")
}

/// A track event's rules: its `properties` have these property schemas, the named ones required.
fn track_rules(properties: Value, required: &[&str]) -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "type": "object",
        "properties": {"properties": {
            "type": "object", "properties": properties, "required": required,
        }},
        "required": ["properties"],
    })
}

fn order_completed() -> Value {
    json!({"name": "Order Completed", "eventType": "track", "description": "A checkout finished",
        "rules": track_rules(json!({
            "price": {"type": "number", "minimum": 0},
            "currency": {"type": "string", "enum": ["EUR", "USD"]},
        }), &["price"])})
}

async fn create_plan(s: &Setup, name: &str, events: Value) -> Value {
    s.owner
        .post(&plans_path(&s.ws), json!({"name": name, "events": events}))
        .await
        .expect(201)
}

async fn publish(s: &Setup, plan: &str) -> i64 {
    s.owner
        .post(&format!("{}/{plan}/publish", plans_path(&s.ws)), json!({}))
        .await
        .expect(200)["version"]
        .as_i64()
        .expect("version")
}

async fn drafts_publish_as_immutable_versions(backend: Backend) {
    let s = setup(backend).await;
    let plan = create_plan(&s, "Checkout", json!([order_completed()])).await;
    let plan_id = id(&plan);
    let path = format!("{}/{plan_id}", plans_path(&s.ws));
    assert_eq!(plan["latestVersion"], Value::Null);
    assert_eq!(plan["hasUnpublishedChanges"], true);
    assert_eq!(plan["events"][0]["rules"], order_completed()["rules"]);

    assert_eq!(publish(&s, &plan_id).await, 1);
    // Nothing changed since version 1: no second, identical version.
    s.owner
        .post(&format!("{path}/publish"), json!({}))
        .await
        .expect_error(422, "validation_failed", Some("id"));
    let listed = s.owner.get(&plans_path(&s.ws)).await.expect(200);
    assert_eq!(listed[0]["latestVersion"], 1);
    assert_eq!(listed[0]["hasUnpublishedChanges"], false);
    assert_eq!(listed[0]["eventCount"], 1);

    // A change to the draft, made on a revision that is no longer the stored one, is refused.
    let stale = plan["revision"].as_str().unwrap().to_string();
    let signed_up = json!({"name": "Signed Up", "eventType": "track", "rules": track_rules(json!({"plan": {"type": "string"}}), &[])});
    let mut changed = order_completed();
    changed["rules"]["properties"]["properties"]["properties"]["price"]["type"] = json!("integer");
    let draft = s
        .owner
        .patch(&path, json!({"events": [changed, signed_up]}))
        .await
        .expect(200);
    assert_eq!(draft["hasUnpublishedChanges"], true);
    s.owner
        .request(reqwest::Method::PATCH, &path)
        .header("if-match", &format!("\"{stale}\""))
        .json(&json!({"name": "Lost update"}))
        .send()
        .await
        .expect_error(409, "stale_revision", None);

    // Version 1 is what was published, whatever the draft became.
    let v1 = s.owner.get(&format!("{path}/versions/1")).await.expect(200);
    assert_eq!(v1["events"], json!([order_completed()]));
    assert_eq!(v1["publishedBy"], "owner@example.com");
    assert_eq!(publish(&s, &plan_id).await, 2);
    let v1_again = s.owner.get(&format!("{path}/versions/1")).await.expect(200);
    assert_eq!(v1_again, v1);
    let versions = s.owner.get(&format!("{path}/versions")).await.expect(200);
    let numbers: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, [2, 1]);
    s.owner
        .get(&format!("{path}/versions/3"))
        .await
        .expect_error(404, "not_found", None);

    // The diff between the two versions: an event added, a rule changed.
    let diff = s
        .owner
        .get(&format!("{path}/diff?from=1&to=2"))
        .await
        .expect(200);
    assert_eq!(diff["from"], "1");
    assert_eq!(diff["to"], "2");
    let events = diff["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{diff}");
    assert_eq!(events[0]["name"], "Order Completed");
    assert_eq!(events[0]["change"], "changed");
    assert_eq!(
        events[0]["changes"],
        json!([{"path": "/properties/properties/properties/price/type", "change": "changed",
            "before": "number", "after": "integer"}])
    );
    assert_eq!(events[1]["name"], "Signed Up");
    assert_eq!(events[1]["change"], "added");
    // By default: the newest version against the draft (nothing changed since).
    let unchanged = s.owner.get(&format!("{path}/diff")).await.expect(200);
    assert_eq!(unchanged["from"], "2");
    assert_eq!(unchanged["to"], "draft");
    assert_eq!(unchanged["events"], json!([]));
    s.owner
        .get(&format!("{path}/diff?from=zero"))
        .await
        .expect_error(422, "validation_failed", Some("from"));
    s.owner
        .get(&format!("{path}/diff?since=1"))
        .await
        .expect_error(422, "validation_failed", Some("since"));

    // Deleting takes the versions along; the audit log tells the story.
    s.owner.delete(&path).await.expect(204);
    s.owner
        .get(&format!("{path}/versions/1"))
        .await
        .expect_error(404, "not_found", None);
    let log = s
        .owner
        .get(&format!("/api/v1/workspaces/{}/audit-log", s.ws))
        .await
        .expect(200);
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["resourceType"] == "tracking_plan")
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "tracking_plan.deleted",
            "tracking_plan.published",
            "tracking_plan.updated",
            "tracking_plan.published",
            "tracking_plan.created"
        ]
    );
    s.app.assert_no_server_errors();
}

async fn invalid_plans_are_refused_naming_the_problem(backend: Backend) {
    let s = setup(backend).await;
    let path = plans_path(&s.ws);
    let bad_type = json!({"name": "Order Refunded", "eventType": "track",
        "rules": track_rules(json!({"price": {"type": "nubmer"}}), &[])});
    let refused = s
        .owner
        .post(
            &path,
            json!({"name": "Bad", "events": [order_completed(), bad_type]}),
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    let field = refused.error_field().unwrap_or_default().to_string();
    assert!(field.starts_with("events[1]"), "{field}");
    // The message says where in the schema the problem is.
    assert!(
        refused.text.contains("price"),
        "the error names the place: {}",
        refused.text
    );
    for (events, field) in [
        (
            json!([{"name": "", "eventType": "track", "rules": {}}]),
            "events[0]",
        ),
        (
            json!([{"name": "", "eventType": "alias", "rules": {}}]),
            "events[0]",
        ),
        (json!([order_completed(), order_completed()]), "events[1]"),
        (
            json!([{"name": "", "eventType": "identify", "rules": "not a schema"}]),
            "events[0]",
        ),
    ] {
        let refused = s
            .owner
            .post(&path, json!({"name": "Bad", "events": events}))
            .await;
        assert_eq!(refused.status, 422, "{events}: {}", refused.text);
        assert!(
            refused.error_field().is_some_and(|f| f.starts_with(field)),
            "{events}: {}",
            refused.text
        );
    }
    s.owner
        .post(&path, json!({"name": "  ", "events": []}))
        .await
        .expect_error(422, "validation_failed", Some("name"));
    create_plan(&s, "Checkout", json!([])).await;
    s.owner
        .post(&path, json!({"name": "Checkout", "events": []}))
        .await
        .expect_error(409, "conflict", Some("name"));
    // An empty draft is not published.
    let empty = create_plan(&s, "Empty", json!([])).await;
    s.owner
        .post(&format!("{path}/{}/publish", id(&empty)), json!({}))
        .await
        .expect_error(422, "validation_failed", Some("events"));
    // Nothing was stored by the refused calls.
    let listed = s.owner.get(&path).await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    s.app.assert_no_server_errors();
}

async fn link(s: &Setup, plan: &str, version: i64, config: Value) -> Resp {
    s.owner
        .put(
            &format!(
                "/api/v1/workspaces/{}/sources/{}/tracking-plan",
                s.ws,
                id(&s.source)
            ),
            json!({"trackingPlanId": plan, "version": version, "config": config}),
        )
        .await
}

fn served_source<'a>(config: &'a Value, source_id: &str) -> &'a Value {
    config["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == source_id)
        .expect("the source is served")
}

async fn a_linked_source_serves_its_plan_settings_to_data_planes(backend: Backend) {
    let s = setup(backend).await;
    let data_plane = s.app.data_plane(&s.owner, &s.ws).await;
    let plan = create_plan(&s, "Checkout", json!([order_completed()])).await;
    let plan_id = id(&plan);
    publish(&s, &plan_id).await;
    let before = data_plane.get("/workspaceConfig?fetchAll=true").await;
    let etag_before = before.header("etag").unwrap().to_string();
    assert!(served_source(&before.json, &id(&s.source))
        .get("dgSourceTrackingPlanConfig")
        .is_none());

    let linked = link(
        &s,
        &plan_id,
        1,
        json!({
            "global": {"allowUnplannedEvents": false, "unplannedProperties": "DROP",
                "anyOtherViolation": "forward", "propagateValidationErrors": false,
                "sendViolatedEventsTo": "procErrors"},
            "identify": {"allowUnplannedEvents": "true", "ajvOptions": {"strictRequired": false}},
        }),
    )
    .await
    .expect(200);
    assert_eq!(linked["linkVersion"], 1);
    let after = data_plane.get("/workspaceConfig?fetchAll=true").await;
    assert_ne!(after.header("etag").unwrap(), etag_before);
    // Strings where the readers compare strings: rudder-server's `propagateValidationErrors == "false"`.
    assert_eq!(
        served_source(&after.json, &id(&s.source))["dgSourceTrackingPlanConfig"],
        json!({
            "sourceId": id(&s.source),
            "version": 1,
            "config": {
                "global": {"allowUnplannedEvents": "false", "unplannedProperties": "drop",
                    "anyOtherViolation": "forward", "propagateValidationErrors": "false",
                    "sendViolatedEventsTo": "procerrors"},
                "identify": {"allowUnplannedEvents": "true", "ajvOptions": {"strictRequired": false}},
            },
            "mergedConfig": null,
            "deleted": false,
            "trackingPlan": {"id": plan_id, "version": 1},
        })
    );
    let plan = s
        .owner
        .get(&format!("{}/{plan_id}", plans_path(&s.ws)))
        .await
        .expect(200);
    assert_eq!(plan["links"][0]["sourceId"], id(&s.source).as_str());

    // Moving to version 2 is a change of the link: its version counts up.
    s.owner
        .patch(
            &format!("{}/{plan_id}", plans_path(&s.ws)),
            json!({"description": "v2"}),
        )
        .await
        .expect(200);
    publish(&s, &plan_id).await;
    assert_eq!(
        link(&s, &plan_id, 2, json!({})).await.expect(200)["linkVersion"],
        2
    );
    let served = data_plane.get("/workspaceConfig?fetchAll=true").await.json;
    assert_eq!(
        served_source(&served, &id(&s.source))["dgSourceTrackingPlanConfig"]["trackingPlan"],
        json!({"id": plan_id, "version": 2})
    );

    // A linked plan cannot be deleted; unlinked, the source is served without one.
    s.owner
        .delete(&format!("{}/{plan_id}", plans_path(&s.ws)))
        .await
        .expect_error(422, "validation_failed", Some("id"));
    let link_path = format!(
        "/api/v1/workspaces/{}/sources/{}/tracking-plan",
        s.ws,
        id(&s.source)
    );
    s.owner.delete(&link_path).await.expect(204);
    s.owner
        .get(&link_path)
        .await
        .expect_error(404, "not_found", None);
    s.owner
        .delete(&link_path)
        .await
        .expect_error(404, "not_found", None);
    let served = data_plane.get("/workspaceConfig?fetchAll=true").await.json;
    assert!(served_source(&served, &id(&s.source))
        .get("dgSourceTrackingPlanConfig")
        .is_none());
    s.owner
        .delete(&format!("{}/{plan_id}", plans_path(&s.ws)))
        .await
        .expect(204);
    s.app.assert_no_server_errors();
}

async fn bad_links_are_refused_naming_the_field(backend: Backend) {
    let s = setup(backend).await;
    let plan = create_plan(&s, "Checkout", json!([order_completed()])).await;
    let plan_id = id(&plan);
    link(&s, &plan_id, 1, json!({}))
        .await
        .expect_error(422, "validation_failed", Some("version"));
    publish(&s, &plan_id).await;
    link(&s, "no-such-plan", 1, json!({})).await.expect_error(
        422,
        "validation_failed",
        Some("trackingPlanId"),
    );
    link(&s, &plan_id, 2, json!({}))
        .await
        .expect_error(422, "validation_failed", Some("version"));
    link(&s, &plan_id, 1, json!({"alias": {}}))
        .await
        .expect_error(422, "validation_failed", Some("config.alias"));
    link(
        &s,
        &plan_id,
        1,
        json!({"global": {"unplannedProperties": "keep"}}),
    )
    .await
    .expect_error(
        422,
        "validation_failed",
        Some("config.global.unplannedProperties"),
    );
    link(
        &s,
        &plan_id,
        1,
        json!({"track": {"propagateValidationErrors": "no"}}),
    )
    .await
    .expect_error(
        422,
        "validation_failed",
        Some("config.track.propagateValidationErrors"),
    );
    // A setting neither reader knows is refused rather than silently doing nothing.
    let unknown = link(
        &s,
        &plan_id,
        1,
        json!({"global": {"dropUnplannedEvents": true}}),
    )
    .await;
    assert!(
        unknown.status == 422 || unknown.status == 400,
        "{}",
        unknown.text
    );
    assert!(
        unknown.text.contains("dropUnplannedEvents"),
        "{}",
        unknown.text
    );
    // A source of another workspace is not found.
    let other_ws = s.app.workspace(&s.owner, "Other").await;
    s.owner
        .put(
            &format!(
                "/api/v1/workspaces/{other_ws}/sources/{}/tracking-plan",
                id(&s.source)
            ),
            json!({"trackingPlanId": plan_id, "version": 1}),
        )
        .await
        .expect_error(404, "not_found", None);
    s.app.assert_no_server_errors();
}

async fn the_transformer_fetches_a_version_in_its_shape(backend: Backend) {
    let s = setup(backend).await;
    let identify = json!({"name": "", "eventType": "identify",
        "rules": {"type": "object", "properties": {"traits": {"type": "object", "required": ["email"]}}}});
    let plan = create_plan(&s, "Checkout", json!([order_completed(), identify])).await;
    let plan_id = id(&plan);
    publish(&s, &plan_id).await;
    let token = s.app.data_plane_token(&s.owner, &s.ws).await;
    let path = format!("/workspaces/{}/tracking-plans/{plan_id}?version=1", s.ws);
    let fetched = s.app.basic(&token).get(&path).await.expect(200);
    // The new format: each event with the name the transformer matches (empty for non-track events).
    assert_eq!(fetched["events"], json!([order_completed(), identify]));
    assert_eq!(fetched["version"], 1);
    // The draft moves on; version 1 is what it was.
    s.owner
        .patch(
            &format!("{}/{plan_id}", plans_path(&s.ws)),
            json!({"events": [identify]}),
        )
        .await
        .expect(200);
    assert_eq!(s.app.basic(&token).get(&path).await.expect(200), fetched);

    s.app
        .anonymous()
        .get(&path)
        .await
        .expect_error(401, "unauthorized", None);
    s.app
        .basic("whk_dp_wrong")
        .get(&path)
        .await
        .expect_error(401, "unauthorized", None);
    // Another workspace's data plane does not learn that the plan exists.
    let other_ws = s.app.workspace(&s.owner, "Other").await;
    let other_token = s.app.data_plane_token(&s.owner, &other_ws).await;
    s.app
        .basic(&other_token)
        .get(&path)
        .await
        .expect_error(404, "not_found", None);
    s.app
        .basic(&token)
        .get(&format!(
            "/workspaces/{}/tracking-plans/{plan_id}?version=2",
            s.ws
        ))
        .await
        .expect_error(404, "not_found", None);
    s.app
        .basic(&token)
        .get(&format!("/workspaces/{}/tracking-plans/{plan_id}", s.ws))
        .await
        .expect_error(422, "validation_failed", Some("version"));
    s.app.assert_no_server_errors();
}

fn types_and_properties(result: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = result["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["type"].as_str().unwrap().to_string(),
                v["property"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn validation_classifies_violations_like_the_transformer(backend: Backend) {
    let s = setup(backend).await;
    let mut strict = order_completed();
    strict["rules"]["properties"]["properties"]["additionalProperties"] = json!(false);
    let plan = create_plan(&s, "Checkout", json!([strict])).await;
    let plan_id = id(&plan);
    publish(&s, &plan_id).await;
    let path = format!("{}/{plan_id}/validate", plans_path(&s.ws));
    let validate = |event: Value, version: Option<i64>| {
        let owner = &s.owner;
        let path = path.clone();
        async move {
            let mut body = json!({"event": event});
            if let Some(v) = version {
                body["version"] = json!(v);
            }
            owner.post(&path, body).await.expect(200)
        }
    };

    let good = json!({"type": "track", "event": "Order Completed", "properties": {"price": 12.5, "currency": "EUR"}});
    assert_eq!(validate(good, Some(1)).await["violations"], json!([]));

    let unplanned = validate(
        json!({"type": "track", "event": "Refunded", "properties": {}}),
        Some(1),
    )
    .await;
    assert_eq!(unplanned["violations"][0]["type"], "Unplanned-Event");
    assert_eq!(
        unplanned["violations"][0]["message"],
        "no schema for event: Refunded"
    );

    let bad = validate(
        json!({"type": "track", "event": "Order Completed",
            "properties": {"currency": "GBP", "coupon": "X"}}),
        Some(1),
    )
    .await;
    assert_eq!(
        types_and_properties(&bad),
        [
            ("Additional-Properties".to_string(), "coupon".to_string()),
            ("Advance-Rules-Violation".to_string(), String::new()),
            ("Required-Missing".to_string(), "price".to_string()),
        ],
        "{bad}"
    );
    for violation in bad["violations"].as_array().unwrap() {
        assert!(violation["meta"]["schemaPath"].is_string(), "{violation}");
        assert!(violation["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let mistyped = validate(
        json!({"type": "track", "event": "Order Completed", "properties": {"price": "12"}}),
        None,
    )
    .await;
    assert_eq!(mistyped["version"], Value::Null);
    assert_eq!(
        types_and_properties(&mistyped),
        [("Datatype-Mismatch".to_string(), String::new())]
    );
    // Only track events are unplanned; alias is never validated.
    assert_eq!(
        validate(json!({"type": "identify", "traits": {}}), Some(1)).await["violations"],
        json!([])
    );
    assert_eq!(
        validate(json!({"type": "alias", "previousId": "a"}), Some(1)).await["violations"],
        json!([])
    );

    s.owner
        .post(&path, json!({"event": "not an object"}))
        .await
        .expect_error(422, "validation_failed", Some("event"));
    s.owner
        .post(&path, json!({"event": {"type": "track"}, "version": 9}))
        .await
        .expect_error(404, "not_found", None);
    s.app.assert_no_server_errors();
}

/// rudder-server's source debugger upload of these events (§2.2), by a data plane of the workspace.
async fn upload(s: &Setup, data_plane: &Client, events: &[Value]) {
    let write_key = s.source["writeKey"].as_str().unwrap().to_string();
    let items: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({"payload": e, "receivedAt": "2026-11-27T10:00:00.000Z",
                "eventName": e["event"].as_str().unwrap_or(""), "eventType": e["type"],
                "errorResponse": {}, "errorCode": 200})
        })
        .collect();
    data_plane
        .post(
            "/dataplane/v2/eventUploads",
            json!({"version": "v2", write_key: items}),
        )
        .await
        .expect(200);
}

async fn captured_count(s: &Setup) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM captured_events WHERE source_id = $1")
        .bind(id(&s.source))
        .fetch_one(&s.app.db().pool)
        .await
        .unwrap()
}

async fn a_plan_is_learnt_from_captured_traffic_and_previewed_against_it(backend: Backend) {
    let s = setup(backend).await;
    let data_plane = s.app.data_plane(&s.owner, &s.ws).await;
    // Nothing captured yet: nothing to learn from.
    s.owner
        .post(
            &format!("{}/import", plans_path(&s.ws)),
            json!({"name": "Learnt", "sourceIds": [id(&s.source)]}),
        )
        .await
        .expect_error(422, "validation_failed", Some("sourceIds"));
    let mut events = Vec::new();
    for i in 0..30 {
        let mut properties = json!({"price": 10 + i, "currency": "EUR"});
        if i % 3 == 0 {
            properties["coupon"] = json!("SPRING");
        }
        events.push(json!({"type": "track", "event": "Order Completed", "properties": properties}));
    }
    events.push(json!({"type": "identify", "traits": {"email": "ada@example.com"}}));
    upload(&s, &data_plane, &events).await;
    for _ in 0..200 {
        if captured_count(&s).await == events.len() as i64 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(captured_count(&s).await, events.len() as i64);

    let learnt = s
        .owner
        .post(
            &format!("{}/import", plans_path(&s.ws)),
            json!({"name": "Learnt", "sourceIds": [id(&s.source)]}),
        )
        .await
        .expect(201);
    let order = learnt["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "Order Completed")
        .expect("the track event is learnt");
    let properties = &order["rules"]["properties"]["properties"];
    assert_eq!(properties["properties"]["price"]["type"], "integer");
    assert_eq!(properties["properties"]["currency"]["type"], "string");
    // Required where always present.
    let mut required: Vec<&str> = properties["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    required.sort();
    assert_eq!(required, ["currency", "price"]);
    assert!(learnt["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["eventType"] == "identify"));

    // The impact of a stricter draft on the same traffic: the events with a coupon would violate.
    let mut strict = order_completed();
    strict["rules"]["properties"]["properties"]["additionalProperties"] = json!(false);
    let plan = create_plan(&s, "Strict", json!([strict])).await;
    let impact = s
        .owner
        .post(
            &format!("{}/{}/impact", plans_path(&s.ws), id(&plan)),
            json!({"sourceIds": [id(&s.source)]}),
        )
        .await
        .expect(200);
    // The identify event has no schema in this plan and passes; every event is checked.
    assert_eq!(impact["checked"], 31, "{impact}");
    assert_eq!(impact["violating"], 10, "{impact}");
    let order = &impact["events"][0];
    assert_eq!(order["name"], "Order Completed");
    assert_eq!(order["violating"], 10);
    assert_eq!(order["violations"][0]["type"], "Additional-Properties");
    assert_eq!(order["violations"][0]["property"], "coupon");
    assert_eq!(order["violations"][0]["count"], 10);
    s.owner
        .post(
            &format!("{}/{}/impact", plans_path(&s.ws), id(&plan)),
            json!({"sourceIds": ["no-such-source"]}),
        )
        .await
        .expect_error(422, "validation_failed", Some("sourceIds[0]"));
    s.app.assert_no_server_errors();
}

async fn violation_counts_come_from_the_validators_reports(backend: Backend) {
    let s = setup(backend).await;
    let plan = create_plan(&s, "Checkout", json!([order_completed()])).await;
    let plan_id = id(&plan);
    publish(&s, &plan_id).await;
    let data_plane = s.app.data_plane(&s.owner, &s.ws).await;
    let now = server::time::now_ms();
    let minute = now - now % 60_000 - 5 * 60_000;
    let entry = |state: &str, count: i64, error_type: &str, violations: i64| {
        json!({"state": state, "count": count, "statusCode": 200, "sampleResponse": "", "sampleEvent": {},
            "eventName": "Order Completed", "eventType": "track", "errorType": error_type,
            "violationCount": violations})
    };
    let report = json!({
        "workspaceId": s.ws, "namespace": "", "instanceId": "rudder-0", "sourceId": id(&s.source),
        "destinationId": "", "sourceDefinitionId": "def", "trackingPlanId": plan_id, "trackingPlanVersion": 1,
        "inReportedBy": "destination_filter", "reportedBy": "tracking_plan_validator", "terminalState": false,
        "initialState": false, "reportedAt": minute, "bucket": minute,
        "reports": [
            entry("succeeded_with_violations", 4, "", 0),
            entry("succeeded_with_violations", 4, "Required-Missing", 5),
            entry("succeeded_with_violations", 1, "Datatype-Mismatch", 1),
            entry("succeeded_without_violations", 6, "", 0),
        ],
    });
    data_plane
        .post("/metrics?version=v1", report.clone())
        .await
        .expect(200);
    // Sent again (rudder-server retries): counted once.
    data_plane
        .post("/metrics?version=v1", report)
        .await
        .expect(200);
    let counts = s
        .owner
        .get(&format!("{}/{plan_id}/violations", plans_path(&s.ws)))
        .await
        .expect(200);
    let series = counts["series"].as_array().unwrap();
    assert_eq!(series.len(), 1, "{counts}");
    assert_eq!(series[0]["sourceId"], id(&s.source).as_str());
    assert_eq!(series[0]["version"], 1);
    let sum = |key: &str| -> u64 {
        series[0][key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("withViolations"), 4);
    assert_eq!(sum("withoutViolations"), 6);
    assert_eq!(sum("violations"), 6);
    assert_eq!(
        counts["byType"],
        json!([{"type": "Required-Missing", "count": 5}, {"type": "Datatype-Mismatch", "count": 1}])
    );
    assert_eq!(
        counts["buckets"].as_array().unwrap().len(),
        sum_len(&series[0])
    );
    // The validator's events are counted once in the volume too (not once per violation type).
    let stored: i64 = sqlx::query_scalar(
        "SELECT CAST(SUM(count) AS BIGINT) FROM volume_counts WHERE stage = 'tracking_plan' AND granularity = 'minute'",
    )
    .fetch_one(&s.app.db().pool)
    .await
    .unwrap();
    assert_eq!(stored, 10);
    s.owner
        .get(&format!(
            "{}/{plan_id}/violations?from=yesterday",
            plans_path(&s.ws)
        ))
        .await
        .expect_error(422, "validation_failed", Some("from"));
    s.app.assert_no_server_errors();
}

fn sum_len(series: &Value) -> usize {
    series["violations"].as_array().unwrap().len()
}

async fn viewers_read_and_validate_but_do_not_change(backend: Backend) {
    let s = setup(backend).await;
    let viewer = s
        .app
        .member(&s.ws, "viewer@example.com", Role::Viewer)
        .await;
    let plan = create_plan(&s, "Checkout", json!([order_completed()])).await;
    let plan_id = id(&plan);
    let path = format!("{}/{plan_id}", plans_path(&s.ws));
    viewer.get(&path).await.expect(200);
    viewer
        .post(
            &format!("{path}/validate"),
            json!({"event": {"type": "track", "event": "Order Completed", "properties": {"price": 1}}}),
        )
        .await
        .expect(200);
    viewer
        .patch(&path, json!({"name": "Mine"}))
        .await
        .expect_error(403, "forbidden", None);
    viewer
        .post(&format!("{path}/publish"), json!({}))
        .await
        .expect_error(403, "forbidden", None);
    viewer
        .delete(&path)
        .await
        .expect_error(403, "forbidden", None);
    // Someone else's workspace: not even its plans' existence.
    let stranger = s.app.user("stranger@example.com").await;
    stranger
        .get(&path)
        .await
        .expect_error(404, "not_found", None);
    assert_eq!(s.owner.get(&path).await.expect(200)["name"], "Checkout");
}
