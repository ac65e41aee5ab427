//! Data planes talk back: the data-plane websocket (`docs/data-plane-protocol.md`), rudder-server's debugger
//! uploads (`../shared/reference/rudderstack-protocol.md` §2.2–2.4), the live debugger's stream with its
//! capture flags, and the data planes list. Every socket here is a real websocket over TCP.

use std::time::Duration;

use serde_json::{json, Value};
use wheelhouse_tests::*;

both_backends!(
    the_protocol_round_trips_over_a_real_websocket,
    a_frame_sent_again_after_a_reconnect_counts_once,
    bad_frames_get_error_frames_and_the_server_keeps_serving,
    capture_flags_follow_the_watchers,
    live_events_reach_only_those_allowed_to_see_them,
    a_data_plane_cannot_send_for_another_workspace,
    rudder_server_uploads_feed_the_live_stream,
    rudder_server_uploads_refuse_bad_bodies_and_credentials,
    a_workspace_can_keep_no_payloads,
    the_live_stream_checks_its_caller_and_its_query,
    the_data_planes_list_shows_pollers_and_connections,
);

const WAIT: Duration = Duration::from_secs(10);

/// A workspace with a JavaScript source connected to a webhook destination, and a data-plane token.
struct Setup {
    app: TestApp,
    owner: Client,
    ws: String,
    source: Value,
    destination: Value,
    token: String,
}

async fn setup(backend: Backend) -> Setup {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let source = owner.create_source(&ws, "Javascript", "Website").await;
    let destination = owner
        .create_destination(
            &ws,
            "WEBHOOK",
            "Orders hook",
            webhook_config("https://hooks.example.com/orders", &[]),
        )
        .await;
    owner.connect(&ws, &id(&source), &id(&destination)).await;
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

fn hello(instance: &str) -> Value {
    json!({"type": "hello", "protocol": 1, "instanceId": instance, "software": "rudder-server", "version": "1.50.0"})
}

fn live_event(stage: &str, source: &str, destination: Option<&str>, name: &str) -> Value {
    let mut event = json!({"stage": stage, "sourceId": source, "eventName": name, "eventType": "track",
        "status": if stage == "source" { "received" } else { "failed" }, "statusCode": 200,
        "time": "2026-11-27T10:00:00.123Z",
        "payload": {"type": "track", "event": name, "context": {"traits": {"email": "ada@example.com"}}}});
    if let Some(destination) = destination {
        event["destinationId"] = json!(destination);
        event["statusCode"] = json!(500);
        event["response"] = json!({"error": "upstream timed out"});
    }
    event
}

/// A live-debugger stream opened with `client`'s `Authorization` header.
async fn watch(app: &TestApp, client: &Client, ws: &str, query: &str) -> Ws {
    let mut stream = Ws::connect(
        &app.url(),
        &format!("/api/v1/workspaces/{ws}/live{query}"),
        &[client.authorization()],
    )
    .await
    .expect("the live stream opens");
    let capture = stream.next_of("capture", WAIT).await;
    assert!(capture["until"].is_string(), "{capture}");
    stream
}

/// The events of the next `events` frame.
async fn next_events(stream: &mut Ws) -> Vec<Value> {
    let frame = stream.next_of("events", WAIT).await;
    frame["events"].as_array().expect("events").clone()
}

async fn workspace_config(app: &TestApp, token: &str) -> (Value, String) {
    let response = app.basic(token).get("/workspaceConfig?fetchAll=true").await;
    let etag = response.header("etag").expect("an ETag").to_string();
    (response.expect(200), etag)
}

/// hello → welcome with the current revision; a committed change → configChanged with the next; configApplied
/// → the data planes list says it runs it; frames with ids are acknowledged.
async fn the_protocol_round_trips_over_a_real_websocket(backend: Backend) {
    let s = setup(backend).await;
    for auth in [
        format!("Bearer {}", s.token),
        s.app.basic(&s.token).authorization().1,
    ] {
        let mut dp = Ws::connect(
            &s.app.url(),
            "/data-plane/v1/ws",
            &[("authorization", auth)],
        )
        .await
        .expect("connects");
        dp.send_json(&hello("dp-1")).await;
        let welcome = dp.next_of("welcome", WAIT).await;
        assert_eq!(welcome["protocol"], 1);
        assert_eq!(welcome["workspaces"][0]["workspaceId"], s.ws.as_str());
        dp.close().await;
    }
    let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
    dp.send_json(&hello("dp-1")).await;
    let welcome = dp.next_of("welcome", WAIT).await;
    let revision = welcome["workspaces"][0]["revision"].as_i64().unwrap();

    s.owner.create_source(&s.ws, "Android", "App").await;
    let changed = dp.next_of("configChanged", WAIT).await;
    assert_eq!(changed["workspaceId"], s.ws.as_str());
    assert_eq!(changed["revision"].as_i64().unwrap(), revision + 1);
    let (config, _) = workspace_config(&s.app, &s.token).await;
    assert_eq!(changed["updatedAt"], config["updatedAt"]);

    dp.send_json(&json!({"type": "configApplied", "workspaceId": s.ws, "revision": revision + 1}))
        .await;
    let frames = [
        json!({"type": "liveEvents", "id": "b-1", "workspaceId": s.ws,
            "events": [live_event("source", &id(&s.source), None, "Order Completed")]}),
        json!({"type": "metrics", "id": "m-1", "workspaceId": s.ws, "bucket": "2026-11-27T10:00:00Z",
            "reports": [{"stage": "gateway", "sourceId": id(&s.source), "eventName": "Order Completed",
                "eventType": "track", "status": "succeeded", "statusCode": 200, "count": 12}]}),
        json!({"type": "syncRun", "id": "r-1", "workspaceId": s.ws, "runId": "u-1", "kind": "warehouseUpload",
            "destinationId": id(&s.destination), "status": "failed", "startedAt": "2026-11-27T10:00:00Z",
            "error": "permission denied for schema analytics", "rows": 0}),
        json!({"type": "pong", "time": "2026-11-27T10:00:00Z"}),
    ];
    for frame in &frames {
        dp.send_json(frame).await;
    }
    for expected in ["b-1", "m-1", "r-1"] {
        let ack = dp.next_of("ack", WAIT).await;
        assert_eq!(ack["id"], expected);
    }
    let list = eventually("the data plane to report its revision", WAIT, || async {
        let list = s
            .owner
            .get(&format!("/api/v1/workspaces/{}/data-planes", s.ws))
            .await
            .expect(200);
        let dp = list["dataPlanes"]
            .as_array()?
            .iter()
            .find(|d| d["instanceId"] == "dp-1")?
            .clone();
        (dp["appliedRevision"] == revision + 1).then_some(dp)
    })
    .await;
    assert_eq!(list["transport"], "websocket");
    assert_eq!(list["connected"], true);
    assert_eq!(list["software"], "rudder-server");
    assert_eq!(list["revisionsBehind"], 0);

    // The protocol is written down, served, and linked from the OpenAPI document.
    let document = s.app.anonymous().get("/docs/data-plane-protocol.md").await;
    assert_eq!(document.status, 200);
    assert!(document.text.contains("configChanged") && document.text.contains("liveEvents"));
    let openapi = s
        .app
        .anonymous()
        .get("/api/v1/openapi.json")
        .await
        .expect(200);
    let live_tag = openapi["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "live")
        .unwrap()
        .clone();
    assert_eq!(
        live_tag["externalDocs"]["url"],
        "/docs/data-plane-protocol.md"
    );
}

/// A frame whose id the server acknowledged before a drop, sent again on a new connection, is not delivered
/// twice.
async fn a_frame_sent_again_after_a_reconnect_counts_once(backend: Backend) {
    let s = setup(backend).await;
    let mut stream = watch(&s.app, &s.owner_token().await, &s.ws, "").await;
    let frame = json!({"type": "liveEvents", "id": "batch-7", "workspaceId": s.ws,
        "events": [live_event("source", &id(&s.source), None, "Signed Up")]});
    for _ in 0..2 {
        let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
        dp.send_json(&hello("dp-again")).await;
        dp.next_of("welcome", WAIT).await;
        dp.send_json(&frame).await;
        assert_eq!(dp.next_of("ack", WAIT).await["id"], "batch-7");
        dp.close().await;
    }
    let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
    dp.send_json(&hello("dp-again")).await;
    dp.next_of("welcome", WAIT).await;
    dp.send_json(
        &json!({"type": "liveEvents", "id": "batch-8", "workspaceId": s.ws,
        "events": [live_event("source", &id(&s.source), None, "Marker")]}),
    )
    .await;
    let mut names = Vec::new();
    while !names.contains(&"Marker".to_string()) {
        names.extend(
            next_events(&mut stream)
                .await
                .iter()
                .map(|e| e["eventName"].as_str().unwrap().to_string()),
        );
    }
    assert_eq!(names, ["Signed Up", "Marker"]);
}

impl Setup {
    /// An editor's API token, as a client.
    async fn owner_token(&self) -> Client {
        self.app
            .api_token(&self.owner, &self.ws, Role::Editor)
            .await
    }
}

async fn bad_frames_get_error_frames_and_the_server_keeps_serving(backend: Backend) {
    let s = setup(backend).await;
    let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
    dp.send_json(&json!({"type": "liveEvents", "workspaceId": s.ws, "events": []}))
        .await;
    assert_eq!(dp.next_of("error", WAIT).await["code"], "hello_first");
    dp.send_json(&hello("dp-bad")).await;
    dp.next_of("welcome", WAIT).await;
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "malformed"),
        (r#"{"type":"teleport"}"#.into(), "unknown_type"),
        (
            r#"{"type":"configApplied","workspaceId":"w","revision":"seven"}"#.into(),
            "invalid",
        ),
        (
            format!(
                r#"{{"type":"pong","time":"{}"}}"#,
                "x".repeat(2 * 1024 * 1024)
            ),
            "too_large",
        ),
    ];
    for (text, code) in cases {
        dp.send_text(text).await;
        let error = dp.next_of("error", WAIT).await;
        assert_eq!(error["code"], code, "{error}");
        assert!(error["message"].as_str().unwrap().len() > 10);
    }
    dp.send_binary(vec![1, 2, 3]).await;
    assert_eq!(dp.next_of("error", WAIT).await["code"], "malformed");
    // Still connected: a good frame is taken.
    dp.send_json(
        &json!({"type": "liveEvents", "id": "ok-1", "workspaceId": s.ws,
        "events": [live_event("source", &id(&s.source), None, "Fine")]}),
    )
    .await;
    assert_eq!(dp.next_of("ack", WAIT).await["id"], "ok-1");
    // A data plane that keeps misbehaving is disconnected, and only it.
    for _ in 0..25 {
        dp.send_text("{".into()).await;
    }
    assert_eq!(
        dp.closed(WAIT).await,
        Some(tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Policy)
    );
    let list = eventually("the rejected frames to be counted", WAIT, || async {
        let list = s
            .owner
            .get(&format!("/api/v1/workspaces/{}/data-planes", s.ws))
            .await
            .expect(200);
        let dp = list["dataPlanes"][0].clone();
        (dp["framesRejected"].as_i64()? >= 20 && dp["connected"] == false).then_some(dp)
    })
    .await;
    assert_eq!(list["eventsReceived"], 1);
    s.app.anonymous().get("/healthz").await.expect(200);
    let mut again = Ws::data_plane(&s.app.url(), &s.token).await;
    again.send_json(&hello("dp-bad")).await;
    again.next_of("welcome", WAIT).await;
}

/// Watching turns rudder-server's upload flags on (a config change: new ETag, pushed over the websocket);
/// the last watcher leaving turns them off.
async fn capture_flags_follow_the_watchers(backend: Backend) {
    let s = setup(backend).await;
    let (source_id, destination_id) = (id(&s.source), id(&s.destination));
    let (before, etag_before) = workspace_config(&s.app, &s.token).await;
    assert!(config_source(&before, &source_id).unwrap()["config"]
        .get("eventUpload")
        .is_none());
    let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
    dp.send_json(&hello("dp-flags")).await;
    dp.next_of("welcome", WAIT).await;

    let editor = s.owner_token().await;
    let stream = watch(&s.app, &editor, &s.ws, &format!("?sourceId={source_id}")).await;
    let (during, etag_during) = workspace_config(&s.app, &s.token).await;
    assert_ne!(etag_during, etag_before);
    assert_eq!(
        config_source(&during, &source_id).unwrap()["config"]["eventUpload"],
        true
    );
    assert!(
        config_destination(&during, &source_id, &destination_id).unwrap()["config"]
            .get("eventDelivery")
            .is_none()
    );
    dp.next_of("configChanged", WAIT).await;
    let capture = dp.next_of("capture", WAIT).await;
    assert_eq!(capture["sources"], json!([source_id]));
    assert_eq!(capture["destinations"], json!([]));
    assert!(capture["until"].is_string());

    // A second watcher of the destination; the first leaves: the source's flag goes, the destination's stays.
    let second = watch(
        &s.app,
        &editor,
        &s.ws,
        &format!("?destinationId={destination_id}"),
    )
    .await;
    stream.close().await;
    let config = eventually("the source's flag to go", WAIT, || async {
        let (config, _) = workspace_config(&s.app, &s.token).await;
        config_source(&config, &source_id).unwrap()["config"]
            .get("eventUpload")
            .is_none()
            .then_some(config)
    })
    .await;
    assert_eq!(
        config_destination(&config, &source_id, &destination_id).unwrap()["config"]
            ["eventDelivery"],
        true
    );
    second.close().await;
    let (after, _) = eventually("every flag to go", WAIT, || async {
        let (config, etag) = workspace_config(&s.app, &s.token).await;
        config_destination(&config, &source_id, &destination_id).unwrap()["config"]
            .get("eventDelivery")
            .is_none()
            .then_some((config, etag))
    })
    .await;
    let namespace_free = after["sources"][0]["config"].get("eventUpload").is_none();
    assert!(namespace_free);
    let capture = loop {
        let capture = dp.next_of("capture", WAIT).await;
        if capture["destinations"] == json!([]) {
            break capture;
        }
    };
    assert_eq!(capture["sources"], json!([]));
}

/// Editors see payloads, viewers see everything else, another workspace sees nothing.
async fn live_events_reach_only_those_allowed_to_see_them(backend: Backend) {
    let s = setup(backend).await;
    let source_id = id(&s.source);
    // An admin's API token with the viewer role: it acts as a viewer.
    let viewer_token = s.app.api_token(&s.owner, &s.ws, Role::Viewer).await;
    let mut as_viewer = watch(&s.app, &viewer_token, &s.ws, "").await;
    let mut as_editor = watch(
        &s.app,
        &s.owner_token().await,
        &s.ws,
        &format!("?sourceId={source_id}"),
    )
    .await;
    let outsider = s.app.user("outsider@example.com").await;
    let other_ws = s.app.workspace(&outsider, "Elsewhere").await;
    let outsider_token = s.app.api_token(&outsider, &other_ws, Role::Owner).await;
    let mut elsewhere = watch(&s.app, &outsider_token, &other_ws, "").await;

    let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
    dp.send_json(&hello("dp-roles")).await;
    dp.next_of("welcome", WAIT).await;
    dp.send_json(
        &json!({"type": "liveEvents", "workspaceId": s.ws, "events": [
            live_event("source", &source_id, None, "Order Completed"),
            live_event("destination", &source_id, Some(&id(&s.destination)), "Order Completed"),
        ]}),
    )
    .await;
    let shown = next_events(&mut as_editor).await;
    assert_eq!(shown.len(), 2);
    assert_eq!(
        shown[0]["payload"]["context"]["traits"]["email"],
        "ada@example.com"
    );
    assert_eq!(shown[1]["response"]["error"], "upstream timed out");
    assert_eq!(shown[1]["stage"], "destination");
    assert_eq!(shown[1]["statusCode"], 500);
    assert_eq!(shown[0]["dataPlane"], "dp-roles");
    let hidden = next_events(&mut as_viewer).await;
    assert_eq!(hidden.len(), 2);
    for event in &hidden {
        assert!(
            event.get("payload").is_none() && event.get("response").is_none(),
            "{event}"
        );
        assert_eq!(event["eventName"], "Order Completed");
    }
    // The viewer was told why.
    // (Its capture frame came first; `watch` checked it exists.)
    let silent = tokio::time::timeout(Duration::from_millis(500), elsewhere.next(WAIT)).await;
    assert!(silent.is_err(), "another workspace received {silent:?}");
}

async fn a_data_plane_cannot_send_for_another_workspace(backend: Backend) {
    let s = setup(backend).await;
    let outsider = s.app.user("outsider@example.com").await;
    let other_ws = s.app.workspace(&outsider, "Elsewhere").await;
    let other_source = outsider
        .create_source(&other_ws, "Javascript", "Their site")
        .await;
    let outsider_token = s.app.api_token(&outsider, &other_ws, Role::Owner).await;
    let mut theirs = watch(&s.app, &outsider_token, &other_ws, "").await;

    let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
    dp.send_json(
        &json!({"type": "hello", "protocol": 1, "instanceId": "dp-a", "software": "x",
        "version": "1", "workspaces": [s.ws, other_ws]}),
    )
    .await;
    let refused = dp.next_of("error", WAIT).await;
    assert_eq!(refused["code"], "not_served");
    let welcome = dp.next_of("welcome", WAIT).await;
    assert_eq!(welcome["workspaces"].as_array().unwrap().len(), 1);
    dp.send_json(
        &json!({"type": "liveEvents", "id": "x-1", "workspaceId": other_ws,
        "events": [live_event("source", &id(&other_source), None, "Stolen")]}),
    )
    .await;
    let error = dp.next_of("error", WAIT).await;
    assert_eq!(error["code"], "not_served");
    assert_eq!(error["id"], "x-1");
    // Their source named under our workspace is not ours either.
    dp.send_json(&json!({"type": "liveEvents", "workspaceId": s.ws,
        "events": [live_event("source", &id(&other_source), None, "Stolen"),
                   live_event("source", &id(&s.source), None, "Ours")]}))
        .await;
    let error = dp.next_of("error", WAIT).await;
    assert_eq!(error["code"], "unknown_entity");
    assert!(error["message"].as_str().unwrap().contains("1 of 2"));
    let silent = tokio::time::timeout(Duration::from_millis(500), theirs.next(WAIT)).await;
    assert!(silent.is_err(), "workspace B received {silent:?}");
}

/// The three upload shapes rudder-server sends, each reaching the live stream.
async fn rudder_server_uploads_feed_the_live_stream(backend: Backend) {
    let s = setup(backend).await;
    let (source_id, destination_id) = (id(&s.source), id(&s.destination));
    let write_key = str_of(&s.source, "writeKey");
    let mut stream = watch(&s.app, &s.owner_token().await, &s.ws, "").await;
    let rudder = s.app.basic(&s.token);

    let answer = rudder
        .post(
            "/dataplane/v2/eventUploads",
            json!({"version": "v2", write_key.clone(): [{
                "payload": {"type": "track", "event": "Order Completed", "messageId": "m1"},
                "receivedAt": "2024-05-01T10:00:00.123Z", "eventName": "Order Completed",
                "eventType": "track", "errorResponse": {}, "errorCode": 200}]}),
        )
        .await
        .expect(200);
    assert_eq!(answer, json!({"accepted": 1, "refused": 0}));
    let events = next_events(&mut stream).await;
    assert_eq!(events[0]["stage"], "source");
    assert_eq!(events[0]["sourceId"], source_id.as_str());
    assert_eq!(events[0]["status"], "received");
    assert_eq!(events[0]["time"], "2024-05-01T10:00:00.123Z");
    assert_eq!(events[0]["payload"]["messageId"], "m1");

    rudder
        .post(
            "/dataplane/v2/eventDeliveryStatus",
            json!({"version": "v2", destination_id.clone(): [{
                "destinationId": destination_id, "sourceId": format!("{source_id},other"),
                "payload": {"body": {"JSON": {"event": "Order Completed"}}}, "attemptNum": 3,
                "jobState": "failed", "errorCode": "502", "errorResponse": {"message": "bad gateway"},
                "sentAt": "2024-05-01T10:00:01.000Z", "eventName": "Order Completed", "eventType": "track"}]}),
        )
        .await
        .expect(200);
    let events = next_events(&mut stream).await;
    assert_eq!(events[0]["stage"], "destination");
    assert_eq!(events[0]["sourceId"], source_id.as_str());
    assert_eq!(events[0]["status"], "failed");
    assert_eq!(events[0]["statusCode"], 502);
    assert_eq!(events[0]["attempt"], 3);
    assert_eq!(events[0]["response"]["message"], "bad gateway");

    rudder
        .post(
            "/dataplane/eventTransformStatus",
            json!({"payload": [{"transformationId": "tr-1", "sourceId": source_id,
                "destinationId": destination_id, "error": false,
                "eventBefore": {"eventName": "Order Completed", "eventType": "track",
                    "receivedAt": "2024-05-01T10:00:02.000Z", "payload": {"event": "Order Completed"}},
                "eventsAfter": {"receivedAt": "2024-05-01T10:00:02.010Z", "isDropped": true, "error": "",
                    "statusCode": 298, "payload": []}}]}),
        )
        .await
        .expect(200);
    let events = next_events(&mut stream).await;
    assert_eq!(events[0]["stage"], "transformation");
    assert_eq!(events[0]["transformationId"], "tr-1");
    assert_eq!(events[0]["status"], "dropped");
    assert_eq!(events[0]["statusCode"], 298);
}

async fn rudder_server_uploads_refuse_bad_bodies_and_credentials(backend: Backend) {
    let s = setup(backend).await;
    let rudder = s.app.basic(&s.token);
    for path in [
        "/dataplane/v2/eventUploads",
        "/dataplane/v2/eventDeliveryStatus",
        "/dataplane/eventTransformStatus",
    ] {
        s.app
            .anonymous()
            .post(path, json!({"version": "v2"}))
            .await
            .expect_error(401, "unauthorized", None);
        s.app
            .basic("whk_dp_wrong")
            .post(path, json!({"version": "v2"}))
            .await
            .expect_error(401, "unauthorized", None);
        rudder
            .request(reqwest::Method::POST, path)
            .body("application/json", b"{not json".to_vec())
            .send()
            .await
            .expect_error(400, "bad_request", None);
    }
    let answer = rudder
        .post(
            "/dataplane/v2/eventUploads",
            json!({"version": "v2", "wk": [{"nopayload": 1}]}),
        )
        .await;
    answer.expect_error(400, "bad_request", None);
    // Another workspace's write key: nothing this credential serves.
    let outsider = s.app.user("outsider@example.com").await;
    let other_ws = s.app.workspace(&outsider, "Elsewhere").await;
    let other_source = outsider
        .create_source(&other_ws, "Javascript", "Their site")
        .await;
    rudder
        .post(
            "/dataplane/v2/eventUploads",
            json!({"version": "v2", str_of(&other_source, "writeKey"): [{"payload": {}}]}),
        )
        .await
        .expect_error(403, "forbidden", None);
}

async fn a_workspace_can_keep_no_payloads(backend: Backend) {
    let s = setup(backend).await;
    let viewer = s
        .app
        .member(&s.ws, "viewer@example.com", Role::Viewer)
        .await;
    viewer
        .patch(
            &format!("/api/v1/workspaces/{}", s.ws),
            json!({"livePayloads": false}),
        )
        .await
        .expect(403);
    let updated = s
        .owner
        .patch(
            &format!("/api/v1/workspaces/{}", s.ws),
            json!({"livePayloads": false}),
        )
        .await
        .expect(200);
    assert_eq!(updated["livePayloads"], false);
    let mut stream = Ws::connect(
        &s.app.url(),
        &format!("/api/v1/workspaces/{}/live", s.ws),
        &[s.owner_token().await.authorization()],
    )
    .await
    .unwrap();
    let capture = stream.next_of("capture", WAIT).await;
    assert_eq!(capture["payloads"], false);
    assert!(capture["payloadsHiddenBecause"]
        .as_str()
        .unwrap()
        .contains("does not capture payloads"));
    let mut dp = Ws::data_plane(&s.app.url(), &s.token).await;
    dp.send_json(&hello("dp-nopayload")).await;
    dp.next_of("welcome", WAIT).await;
    dp.send_json(&json!({"type": "liveEvents", "workspaceId": s.ws,
        "events": [live_event("source", &id(&s.source), None, "Order Completed")]}))
        .await;
    let events = next_events(&mut stream).await;
    assert!(events[0].get("payload").is_none());
    let audit = s
        .owner
        .get(&format!(
            "/api/v1/workspaces/{}/audit-log?action=workspace.updated",
            s.ws
        ))
        .await
        .expect(200);
    assert!(audit.to_string().contains("livePayloads"), "{audit}");
}

async fn the_live_stream_checks_its_caller_and_its_query(backend: Backend) {
    let s = setup(backend).await;
    let path = format!("/api/v1/workspaces/{}/live", s.ws);
    let editor = s.owner_token().await;
    // Not a websocket request.
    editor
        .get(&path)
        .await
        .expect_error(400, "bad_request", None);
    // Bad filters, before any capture starts.
    for query in ["?sourceId=nope", "?destinationId=nope"] {
        let refused = editor.get(&format!("{path}{query}")).await;
        refused.expect_error(404, "not_found", None);
        assert!(refused.text.contains("nope"), "{}", refused.text);
    }
    for (query, field) in [
        ("?minutes=0", "minutes"),
        ("?minutes=61", "minutes"),
        ("?eventType=", "eventType"),
        ("?colour=blue", "query"),
    ] {
        editor.get(&format!("{path}{query}")).await.expect_error(
            422,
            "validation_failed",
            Some(field),
        );
    }
    let refused = Ws::connect(&s.app.url(), &path, &[]).await.err().unwrap();
    assert_eq!(refused.status, 401);
    let outsider = s.app.user("outsider@example.com").await;
    let other_ws = s.app.workspace(&outsider, "Elsewhere").await;
    let outsider_token = s.app.api_token(&outsider, &other_ws, Role::Owner).await;
    let refused = Ws::connect(&s.app.url(), &path, &[outsider_token.authorization()])
        .await
        .err()
        .unwrap();
    assert_eq!(refused.status, 404);

    // The session cookie: from our own origin only.
    let login = s
        .app
        .anonymous()
        .post(
            "/api/v1/auth/login",
            json!({"email": "owner@example.com", "password": s.app.password()}),
        )
        .await;
    let cookie = login
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("wheelhouse_session="))
        .unwrap();
    let cookie = cookie.split(';').next().unwrap().to_string();
    let refused = Ws::connect(
        &s.app.url(),
        &path,
        &[
            ("cookie", cookie.clone()),
            ("origin", "https://evil.example".into()),
        ],
    )
    .await
    .err()
    .unwrap();
    assert_eq!(refused.status, 403);
    let mut ok = Ws::connect(
        &s.app.url(),
        &path,
        &[("cookie", cookie), ("origin", s.app.url())],
    )
    .await
    .expect("same-origin with the cookie");
    assert_eq!(ok.next_of("capture", WAIT).await["payloads"], true);
    // Extending, and a bad command.
    ok.send_json(&json!({"type": "extend", "minutes": 30}))
        .await;
    let extended = ok.next_of("capture", WAIT).await;
    assert!(extended["until"].is_string());
    ok.send_json(&json!({"type": "extend", "minutes": 600}))
        .await;
    assert!(ok.next_of("error", WAIT).await["message"]
        .as_str()
        .unwrap()
        .contains("1 to 60"));
    ok.send_text("rubbish".into()).await;
    ok.next_of("error", WAIT).await;
    let audit = s
        .owner
        .get(&format!(
            "/api/v1/workspaces/{}/audit-log?action=live_capture.started",
            s.ws
        ))
        .await
        .expect(200);
    assert!(!audit["entries"].as_array().unwrap().is_empty(), "{audit}");
}

async fn the_data_planes_list_shows_pollers_and_connections(backend: Backend) {
    let s = setup(backend).await;
    let list_path = format!("/api/v1/workspaces/{}/data-planes", s.ws);
    assert_eq!(
        s.owner.get(&list_path).await.expect(200)["dataPlanes"],
        json!([])
    );
    s.app
        .basic(&s.token)
        .request(reqwest::Method::GET, "/workspaceConfig?fetchAll=true")
        .header("user-agent", "Go-http-client/1.1")
        .send()
        .await
        .expect(200);
    let poller = eventually("the poller to be listed", WAIT, || async {
        let list = s.owner.get(&list_path).await.expect(200);
        list["dataPlanes"].as_array()?.first().cloned()
    })
    .await;
    assert_eq!(poller["transport"], "polling");
    assert_eq!(poller["software"], "Go-http-client");
    assert_eq!(poller["address"], "127.0.0.1");
    assert_eq!(poller["revisionsBehind"], 0);
    // A change it has not polled for yet: one revision behind.
    s.owner.create_source(&s.ws, "Android", "App").await;
    let list = s.owner.get(&list_path).await.expect(200);
    assert_eq!(list["dataPlanes"][0]["revisionsBehind"], 1);
    // Viewers may look; other workspaces may not.
    let viewer = s
        .app
        .member(&s.ws, "viewer@example.com", Role::Viewer)
        .await;
    viewer.get(&list_path).await.expect(200);
    let outsider = s.app.user("outsider@example.com").await;
    outsider.get(&list_path).await.expect(404);
}

/// Two Wheelhouse processes on one PostgreSQL database: a browser on one sees what a data plane sends to the
/// other (small events in the notification, a large one through `live_spill`), and a change made on one is
/// pushed to data planes connected to the other.
#[tokio::test]
async fn two_processes_share_live_events_and_config_pushes() {
    let s = setup(Backend::Postgres).await;
    let other = server::start(s.app.config().clone())
        .await
        .expect("a second process on the same database");
    let (a, b) = (s.app.url(), other.url());
    let editor = s.owner_token().await;

    // Browser on B, data plane on A.
    let mut stream = Ws::connect(
        &b,
        &format!("/api/v1/workspaces/{}/live", s.ws),
        &[editor.authorization()],
    )
    .await
    .unwrap();
    stream.next_of("capture", WAIT).await;
    let mut dp_on_a = Ws::data_plane(&a, &s.token).await;
    dp_on_a.send_json(&hello("dp-on-a")).await;
    dp_on_a.next_of("welcome", WAIT).await;
    // A hears of B's capture through NOTIFY, then relays; resend until it has.
    let big = "x".repeat(20_000);
    let mut seen_small = false;
    for attempt in 0..100 {
        let mut large = live_event("source", &id(&s.source), None, "Large");
        large["payload"]["properties"] = json!({"blob": big});
        dp_on_a
            .send_json(&json!({"type": "liveEvents", "workspaceId": s.ws,
                "events": [live_event("source", &id(&s.source), None, &format!("Small {attempt}")), large]}))
            .await;
        let frame =
            tokio::time::timeout(Duration::from_millis(200), stream.next_of("events", WAIT)).await;
        if let Ok(frame) = frame {
            let mut events = frame["events"].as_array().unwrap().clone();
            while !events.iter().any(|e| e["eventName"] == "Large") {
                events.extend(next_events(&mut stream).await);
            }
            let large = events.iter().find(|e| e["eventName"] == "Large").unwrap();
            assert_eq!(
                large["payload"]["properties"]["blob"]
                    .as_str()
                    .unwrap()
                    .len(),
                20_000
            );
            assert_eq!(large["dataPlane"], "dp-on-a");
            seen_small = events
                .iter()
                .any(|e| e["eventName"].as_str().unwrap().starts_with("Small"));
            break;
        }
    }
    assert!(seen_small, "no event crossed from process A to process B");

    // Data plane on B, change on A.
    let mut dp_on_b = Ws::data_plane(&b, &s.token).await;
    dp_on_b.send_json(&hello("dp-on-b")).await;
    let revision = dp_on_b.next_of("welcome", WAIT).await["workspaces"][0]["revision"]
        .as_i64()
        .unwrap();
    s.owner.create_source(&s.ws, "Android", "App").await;
    let changed = loop {
        let changed = dp_on_b.next_of("configChanged", WAIT).await;
        if changed["revision"].as_i64().unwrap() > revision {
            break changed;
        }
    };
    assert_eq!(changed["workspaceId"], s.ws.as_str());
    stream.close().await;
    dp_on_a.close().await;
    dp_on_b.close().await;
    other.shutdown().await.unwrap();
}
