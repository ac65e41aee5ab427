//! Compatibility: what rudder-server (`/workspaceConfig`, namespace config, settings) and the RudderStack
//! JavaScript SDK (`/sourceConfig`) pull, field for field as `../shared/reference/rudderstack-protocol.md`
//! describes the real clients (§1 and §5).

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use server::time::{format_ms, parse_rfc3339_ms};
use wheelhouse_tests::*;

both_backends!(
    workspace_config_has_every_field_rudder_server_reads,
    config_is_resolved_per_source_type,
    source_config_has_the_javascript_sdk_shape,
    etags_and_not_modified,
    gzip_for_clients_that_accept_it,
    data_plane_endpoints_need_a_data_plane_token,
    changes_are_visible_in_the_next_poll,
    namespace_config_for_multi_tenant_data_planes,
    data_plane_settings_answer_204,
    connections_list_only_what_the_data_plane_gets,
    hybrid_mode_tells_the_data_plane_what_to_deliver_from_the_cloud,
    incremental_polls_never_miss_a_workspace,
    a_failed_rebuild_keeps_the_change_and_is_retried,
    a_workspace_that_cannot_be_built_does_not_stop_the_others,
    revoked_credentials_stop_at_once_even_when_the_config_cannot_be_rebuilt,
);

/// The JSON types rudder-server's Go structs decode (a mismatch fails its whole config poll).
#[derive(Clone, Copy, Debug)]
enum Kind {
    Str,
    Bool,
    Obj,
    Arr,
    /// RFC 3339 with milliseconds, UTC: `2006-01-02T15:04:05.000Z` (Go's `time.Time`, and the incremental cursor).
    Time,
}

fn at<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(value, |v, key| match key.parse::<usize>() {
            Ok(i) => v.get(i),
            Err(_) => v.get(key),
        })
}

fn is_wire_time(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Checks each (path, kind); collects every mismatch into one failure.
fn assert_shape(document: &Value, expected: &[(&str, Kind)]) {
    let problems: Vec<String> = expected
        .iter()
        .filter_map(|(path, kind)| {
            let value = at(document, path);
            let ok = match (kind, value) {
                (Kind::Str, Some(Value::String(_))) => true,
                (Kind::Bool, Some(Value::Bool(_))) => true,
                (Kind::Obj, Some(Value::Object(_))) => true,
                (Kind::Arr, Some(Value::Array(_))) => true,
                (Kind::Time, Some(Value::String(s))) => is_wire_time(s),
                _ => false,
            };
            (!ok).then(|| format!("{path}: expected {kind:?}, got {value:?}"))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "{}\nin {document:#}",
        problems.join("\n")
    );
}

/// A `ConfigT` as rudder-server reads it (backend-config/types.go).
fn assert_config_t(config: &Value) {
    use Kind::*;
    assert_shape(
        config,
        &[
            ("updatedAt", Time),
            ("enableMetrics", Bool),
            ("sources", Arr),
            ("libraries", Arr),
            ("settings", Obj),
            ("settings.dataRetention", Obj),
            ("settings.dataRetention.disableReportingPii", Bool),
            ("settings.dataRetention.useSelfStorage", Bool),
            ("settings.dataRetention.storagePreferences", Obj),
            (
                "settings.dataRetention.storagePreferences.gatewayDumps",
                Bool,
            ),
            ("settings.dataRetention.retentionPeriod", Str),
            ("settings.eventAuditEnabled", Bool),
            ("settings.eventBlocking.events", Obj),
            ("flags", Obj),
            ("flags.url", Str),
            ("flags.services", Obj),
            ("eventReplays", Obj),
            ("credentials", Obj),
            ("connections", Obj),
            ("accounts", Obj),
            ("accountDefinitions", Obj),
        ],
    );
    for (i, source) in config["sources"].as_array().unwrap().iter().enumerate() {
        let _ = i;
        assert_shape(
            source,
            &[
                ("id", Str),
                ("name", Str),
                ("writeKey", Str),
                ("enabled", Bool),
                ("workspaceId", Str),
                ("config", Obj),
                ("sourceDefinition", Obj),
                ("sourceDefinition.id", Str),
                ("sourceDefinition.name", Str),
                ("sourceDefinition.displayName", Str),
                ("sourceDefinition.type", Str),
                ("destinations", Arr),
                ("transient", Bool),
                ("geoEnrichment.enabled", Bool),
            ],
        );
        let category = &source["sourceDefinition"]["category"];
        assert!(
            category.is_null() || category.is_string(),
            "category: {category}"
        );
        for destination in source["destinations"].as_array().unwrap() {
            assert_shape(
                destination,
                &[
                    ("id", Str),
                    ("name", Str),
                    ("enabled", Bool),
                    ("workspaceId", Str),
                    ("config", Obj),
                    ("config.connectionMode", Str),
                    ("isProcessorEnabled", Bool),
                    ("revisionId", Str),
                    ("transformations", Arr),
                    ("destinationDefinition", Obj),
                    ("destinationDefinition.id", Str),
                    ("destinationDefinition.name", Str),
                    ("destinationDefinition.displayName", Str),
                    ("destinationDefinition.config", Obj),
                    ("destinationDefinition.config.supportedSourceTypes", Arr),
                ],
            );
        }
    }
    for connection in config["connections"].as_object().unwrap().values() {
        assert_shape(
            connection,
            &[
                ("sourceId", Str),
                ("destinationId", Str),
                ("enabled", Bool),
                ("config", Obj),
                ("processorEnabled", Bool),
            ],
        );
    }
}

async fn workspace_config(data_plane: &Client) -> Value {
    data_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .expect(200)
}

/// `/workspaceConfig?fetchAll=true` is one ConfigT with every field rudder-server reads, of the type it
/// expects; destinations carry their secrets (decrypted) and flat, resolved values.
async fn workspace_config_has_every_field_rudder_server_reads(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let web = ada.create_source(&ws, "Javascript", "Website").await;
    let watch = ada.create_source(&ws, "watchOS", "Watch app").await;
    let hook_source = ada.create_source(&ws, "webhook", "Incoming").await;
    let secret = canary();
    let hook = ada
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com/hook", &[("Authorization", &secret)]),
        )
        .await;
    let amplitude = ada
        .create_destination(
            &ws,
            "AM",
            "Amplitude",
            amplitude_config("am-key", "am-secret"),
        )
        .await;
    let connection = ada.connect(&ws, &id(&web), &id(&hook)).await;
    ada.connect(&ws, &id(&web), &id(&amplitude)).await;
    ada.connect(&ws, &id(&watch), &id(&hook)).await;

    let data_plane = app.data_plane(&ada, &ws).await;
    let response = data_plane.get("/workspaceConfig?fetchAll=true").await;
    assert_eq!(response.header("content-type"), Some("application/json"));
    let config = response.expect(200);
    assert_config_t(&config);
    assert_eq!(
        config["workspaceId"],
        ws.as_str(),
        "single-tenant rudder-server keys its config by workspaceId"
    );
    assert_eq!(config["sources"].as_array().unwrap().len(), 3);

    let source = config_source(&config, &id(&web)).unwrap();
    assert_eq!(source["writeKey"], web["writeKey"]);
    assert_eq!(source["workspaceId"], ws.as_str());
    assert_eq!(
        source["sourceDefinition"],
        json!({"id": source["sourceDefinition"]["id"], "name": "Javascript", "displayName": "JavaScript", "category": null, "type": "web"})
    );
    let watch_definition = &config_source(&config, &id(&watch)).unwrap()["sourceDefinition"];
    assert_eq!(
        (
            watch_definition["name"].as_str(),
            watch_definition["type"].as_str()
        ),
        (Some("iOS"), Some("ios")),
        "watchOS is the iOS definition to a data plane"
    );
    assert_eq!(
        config_source(&config, &id(&hook_source)).unwrap()["sourceDefinition"]["category"],
        "webhook"
    );

    let destination = config_destination(&config, &id(&web), &id(&hook)).unwrap();
    assert_eq!(destination["isProcessorEnabled"], true);
    assert_eq!(destination["config"]["connectionMode"], "cloud");
    assert_eq!(
        destination["config"]["webhookUrl"],
        "https://example.com/hook"
    );
    assert_eq!(
        destination["config"]["headers"],
        json!([{"from": "Authorization", "to": secret}]),
        "the data plane gets the secret"
    );
    assert_eq!(destination["destinationDefinition"]["name"], "WEBHOOK");
    assert_eq!(
        destination["destinationDefinition"]["displayName"],
        "Webhook"
    );
    assert_eq!(
        destination["destinationDefinition"]["config"]["transformAtV1"],
        "processor"
    );
    let am = config_destination(&config, &id(&web), &id(&amplitude)).unwrap();
    assert_eq!(am["config"]["apiSecret"], "am-secret");
    assert_eq!(
        am["destinationDefinition"]["config"]["transformAtV1"],
        "router"
    );

    assert_eq!(
        config["connections"][id(&connection)],
        json!({"sourceId": id(&web), "destinationId": id(&hook), "enabled": true, "config": {}, "processorEnabled": true})
    );
}

/// Per-source-type keys (`connectionMode: {"web": "device"}`) are resolved for the type of the source a
/// destination is connected to: device mode for the web source (not processed by the data plane), cloud
/// for the Android one.
async fn config_is_resolved_per_source_type(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let web = ada.create_source(&ws, "Javascript", "Website").await;
    let android = ada.create_source(&ws, "Android", "App").await;
    let mut config = amplitude_config("am-key", "am-secret");
    config["connectionMode"] = json!({"web": "device", "android": "cloud"});
    config["useNativeSDK"] = json!({"web": true});
    let amplitude = ada.create_destination(&ws, "AM", "Amplitude", config).await;
    ada.connect(&ws, &id(&web), &id(&amplitude)).await;
    ada.connect(&ws, &id(&android), &id(&amplitude)).await;

    let config = workspace_config(&app.data_plane(&ada, &ws).await).await;
    let for_web = config_destination(&config, &id(&web), &id(&amplitude)).unwrap();
    assert_eq!(for_web["config"]["connectionMode"], "device");
    assert_eq!(for_web["config"]["useNativeSDK"], true);
    assert_eq!(for_web["isProcessorEnabled"], false);
    let for_android = config_destination(&config, &id(&android), &id(&amplitude)).unwrap();
    assert_eq!(for_android["config"]["connectionMode"], "cloud");
    assert_eq!(for_android["isProcessorEnabled"], true);
    assert!(
        for_android["config"].get("useNativeSDK").is_none(),
        "{for_android}"
    );

    let sdk = app.sdk_config(&web).await;
    assert_eq!(
        sdk["source"]["destinations"][0]["config"]["connectionMode"],
        "device"
    );
    assert_eq!(
        sdk["source"]["destinations"][0]["config"]["apiKey"],
        "am-key"
    );
}

/// `/sourceConfig/?writeKey=` answers in the JavaScript SDK's shape, cross-origin (CORS), listing only the
/// destinations the browser itself delivers to (device and hybrid mode: the SDK loads the script of every
/// destination listed, so a cloud-mode one would get each event twice), with only the keys a browser may
/// see: never a secret.
async fn source_config_has_the_javascript_sdk_shape(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let web = ada.create_source(&ws, "Javascript", "Website").await;
    let write_key = str_of(&web, "writeKey");
    let secret = canary();
    let mut in_the_browser = amplitude_config("am-key", &secret);
    in_the_browser["connectionMode"] = json!({"web": "device"});
    let amplitude = ada
        .create_destination(&ws, "AM", "Amplitude", in_the_browser)
        .await;
    let hook = ada
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com/hook", &[("X-Key", &secret)]),
        )
        .await;
    let mut disabled_config = amplitude_config("k2", "s2");
    disabled_config["connectionMode"] = json!({"web": "device"});
    let disabled = ada
        .create_destination(&ws, "AM", "Disabled", disabled_config)
        .await;
    for d in [&amplitude, &hook, &disabled] {
        ada.connect(&ws, &id(&web), &id(d)).await;
    }
    ada.patch(
        &format!("{}/{}", destinations_path(&ws), id(&disabled)),
        json!({"enabled": false}),
    )
    .await
    .expect(200);

    // As the SDK asks: query parameters, and the write key as Basic auth.
    let path = format!("/sourceConfig/?p=npm&v=3.31.6&build=modern&writeKey={write_key}&lockIntegrationsVersion=false&lockPluginsVersion=false");
    let response = app
        .basic(&write_key)
        .request(Method::GET, &path)
        .header("accept", "application/json")
        .send()
        .await;
    assert_eq!(response.header("access-control-allow-origin"), Some("*"));
    assert!(
        !response.text.contains(&secret),
        "a secret reached the browser: {}",
        response.text
    );
    let document = response.expect(200);
    let source = &document["source"];
    assert_eq!(source["id"], id(&web).as_str());
    assert_eq!(source["name"], "Website");
    assert_eq!(source["workspaceId"], ws.as_str());
    assert_eq!(source["enabled"], true);
    assert!(source["config"].is_object());
    let destinations = source["destinations"]
        .as_array()
        .expect("destinations is an array");
    assert_eq!(
        destinations.len(),
        1,
        "the cloud-mode and the disabled destinations are left out: {document:#}"
    );
    let amplitude_definition = ada.get("/api/v1/catalog/destinations/AM").await.expect(200);
    let include_keys: Vec<&str> = amplitude_definition["includeKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    for destination in destinations {
        assert_eq!(destination["enabled"], true);
        assert_eq!(
            destination["config"]["connectionMode"], "device",
            "{destination}"
        );
        assert!(destination["destinationDefinition"]["displayName"].is_string());
        assert_eq!(destination["shouldApplyDeviceModeTransformation"], false);
        assert_eq!(destination["propagateEventsUntransformedOnError"], false);
    }
    let am = destinations
        .iter()
        .find(|d| d["id"] == id(&amplitude).as_str())
        .unwrap();
    assert_eq!(am["destinationDefinition"]["displayName"], "Amplitude");
    assert_eq!(am["config"]["apiKey"], "am-key");
    for key in am["config"].as_object().unwrap().keys() {
        assert!(
            key == "connectionMode" || include_keys.contains(&key.as_str()),
            "{key} is not a browser key"
        );
    }
    assert!(
        !destinations.iter().any(|d| d["id"] == id(&hook).as_str()),
        "a cloud-mode destination is delivered by the data plane, not the browser"
    );

    // The write key as a query parameter alone works too, with or without the trailing slash.
    assert_eq!(
        app.anonymous()
            .get(&format!("/sourceConfig/?writeKey={write_key}"))
            .await
            .expect(200),
        document
    );
    assert_eq!(
        app.anonymous()
            .get(&format!("/sourceConfig?writeKey={write_key}"))
            .await
            .expect(200),
        document
    );

    // The CORS preflight the SDK's Authorization header triggers.
    for path in ["/sourceConfig/", "/sourceConfig"] {
        let preflight = app
            .anonymous()
            .request(Method::OPTIONS, &format!("{path}?writeKey={write_key}"))
            .header("origin", "https://shop.example")
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
            .await;
        assert!(
            (200..300).contains(&preflight.status),
            "preflight answered {}",
            preflight.status
        );
        assert_eq!(preflight.header("access-control-allow-origin"), Some("*"));
        let allowed = preflight
            .header("access-control-allow-headers")
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            allowed.split(',').any(|h| h.trim() == "authorization"),
            "{allowed}"
        );
        let methods = preflight
            .header("access-control-allow-methods")
            .unwrap_or_default();
        assert!(methods.contains("GET"), "{methods}");
    }

    let unknown = app.basic("not-a-write-key").get("/sourceConfig/").await;
    unknown.expect_error(401, "unauthorized", None);
    assert_eq!(unknown.header("access-control-allow-origin"), Some("*"));
    app.anonymous()
        .get("/sourceConfig/")
        .await
        .expect_error(401, "unauthorized", None);

    // A disabled source: the SDK reads `enabled: false` and stops.
    ada.patch(
        &format!("{}/{}", sources_path(&ws), id(&web)),
        json!({"enabled": false}),
    )
    .await
    .expect(200);
    let disabled_source = app
        .basic(&write_key)
        .get("/sourceConfig/")
        .await
        .expect(200);
    assert_eq!(disabled_source["source"]["enabled"], false);
    assert_eq!(disabled_source["source"]["destinations"], json!([]));
}

/// Strong ETags: `If-None-Match` with the current one (alone, in a list, weak, or `*`) is a 304;
/// rudder-server, which never sends it, always gets a 200; a change gives a new ETag.
async fn etags_and_not_modified(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let web = ada.create_source(&ws, "Javascript", "Website").await;
    let data_plane = app.data_plane(&ada, &ws).await;
    let sdk = app.basic(&str_of(&web, "writeKey"));

    for (client, path) in [
        (&data_plane, "/workspaceConfig?fetchAll=true"),
        (&sdk, "/sourceConfig/"),
    ] {
        let first = client.get(path).await;
        assert_eq!(first.status, 200);
        let etag = first.header("etag").expect("an ETag").to_string();
        assert!(
            etag.starts_with('"') && etag.ends_with('"'),
            "a strong ETag: {etag}"
        );
        let again = client.get(path).await;
        assert_eq!(
            (again.status, again.header("etag")),
            (200, Some(etag.as_str()))
        );
        assert_eq!(again.text, first.text);
        let cached = client
            .request(Method::GET, path)
            .header("if-none-match", &etag)
            .send()
            .await;
        assert_eq!(cached.status, 304, "{path}");
        assert!(cached.text.is_empty());
        assert_eq!(cached.header("etag"), Some(etag.as_str()));
        let other = client
            .request(Method::GET, path)
            .header("if-none-match", "\"something-else\"")
            .send()
            .await;
        assert_eq!(other.status, 200);
        // RFC 9110: a list, `*`, and weak comparison (a proxy may have weakened the tag).
        for header in [
            format!("W/{etag}"),
            format!("\"something-else\", {etag}"),
            "*".to_string(),
        ] {
            let status = client
                .request(Method::GET, path)
                .header("if-none-match", &header)
                .send()
                .await
                .status;
            assert_eq!(status, 304, "If-None-Match: {header}");
        }
    }

    let before = data_plane.get("/workspaceConfig?fetchAll=true").await;
    let old_etag = before.header("etag").unwrap().to_string();
    ada.patch(
        &format!("{}/{}", sources_path(&ws), id(&web)),
        json!({"name": "Renamed"}),
    )
    .await
    .expect(200);
    let after = data_plane
        .request(Method::GET, "/workspaceConfig?fetchAll=true")
        .header("if-none-match", &old_etag)
        .send()
        .await;
    assert_eq!(after.status, 200);
    assert_ne!(after.header("etag"), Some(old_etag.as_str()));
    assert_eq!(after.json["sources"][0]["name"], "Renamed");
}

/// Clients that accept gzip (rudder-server's Go client and browsers ask for it on their own) get the
/// document compressed, as a representation of its own: its own strong ETag, and a 304 only for the
/// representation they would get. The others get it as it is; `Vary` tells caches which is which.
async fn gzip_for_clients_that_accept_it(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let web = ada.create_source(&ws, "Javascript", "Website").await;
    // In device mode, so that the browser's document lists it and is worth compressing.
    let mut in_the_browser = amplitude_config("am-key", "am-secret");
    in_the_browser["connectionMode"] = json!({"web": "device"});
    let amplitude = ada
        .create_destination(&ws, "AM", "Amplitude", in_the_browser)
        .await;
    let hook = ada
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com", &[]),
        )
        .await;
    ada.connect(&ws, &id(&web), &id(&amplitude)).await;
    ada.connect(&ws, &id(&web), &id(&hook)).await;
    let data_plane = app.data_plane(&ada, &ws).await;
    let sdk = app.basic(&str_of(&web, "writeKey"));

    for (client, path) in [
        (&data_plane, "/workspaceConfig?fetchAll=true"),
        (&sdk, "/sourceConfig/"),
    ] {
        let get = |accept_encoding: &'static str, if_none_match: Option<String>| async move {
            let mut request = client.request(Method::GET, path);
            if !accept_encoding.is_empty() {
                request = request.header("accept-encoding", accept_encoding);
            }
            if let Some(etag) = if_none_match {
                request = request.header("if-none-match", &etag);
            }
            request.send().await
        };
        let plain = get("", None).await;
        assert_eq!(plain.status, 200);
        assert_eq!(plain.header("content-encoding"), None, "{path}");
        assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
        let plain_etag = plain.header("etag").unwrap().to_string();

        let gzipped = get("gzip, deflate, br, zstd", None).await;
        assert_eq!(gzipped.status, 200);
        assert_eq!(gzipped.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(gzipped.header("vary"), Some("Accept-Encoding"));
        assert_eq!(
            gzipped.text, plain.text,
            "{path}: decoded, the same document"
        );
        assert!(
            gzipped.raw.len() < plain.raw.len(),
            "{path}: {} bytes gzipped, {} plain",
            gzipped.raw.len(),
            plain.raw.len()
        );
        let gzip_etag = gzipped.header("etag").unwrap().to_string();
        assert_ne!(
            gzip_etag, plain_etag,
            "{path}: one strong ETag per representation"
        );

        let cached = get("gzip", Some(gzip_etag.clone())).await;
        assert_eq!(
            (cached.status, cached.header("etag")),
            (304, Some(gzip_etag.as_str())),
            "{path}"
        );
        let cached = get("", Some(plain_etag.clone())).await;
        assert_eq!(
            (cached.status, cached.header("etag")),
            (304, Some(plain_etag.as_str()))
        );
        // The tag of the other representation: the client does not have what it would get.
        let other = get("", Some(gzip_etag.clone())).await;
        assert_eq!(
            (other.status, other.header("content-encoding")),
            (200, None)
        );
        let other = get("gzip", Some(plain_etag.clone())).await;
        assert_eq!(
            (other.status, other.header("content-encoding")),
            (200, Some("gzip"))
        );
        // gzip refused by weight: as it is.
        let refused = get("gzip;q=0, identity", None).await;
        assert_eq!(
            (refused.status, refused.header("content-encoding")),
            (200, None)
        );
        assert_eq!(refused.header("etag"), Some(plain_etag.as_str()));
    }
}

/// Wrong or missing credentials are a 401: not a data-plane token, an API token, another kind of auth.
async fn data_plane_endpoints_need_a_data_plane_token(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let api_token = app.api_token(&ada, &ws, Role::Owner).await;
    let path = "/workspaceConfig?fetchAll=true";
    app.anonymous()
        .get(path)
        .await
        .expect_error(401, "unauthorized", None);
    app.basic("whk_dp_wrong")
        .get(path)
        .await
        .expect_error(401, "unauthorized", None);
    api_token
        .get(path)
        .await
        .expect_error(401, "unauthorized", None);
    let api_token_value = api_token_value(&app, &ada, &ws).await;
    app.basic(&api_token_value)
        .get(path)
        .await
        .expect_error(401, "unauthorized", None);
    ada.get(path).await.expect_error(401, "unauthorized", None);
    app.data_plane(&ada, &ws).await.get(path).await.expect(200);
}

/// Each write is visible in the very next poll; disabled and deleted sources, destinations and
/// connections are gone from it; `updatedAt` and the destination's `revisionId` move.
async fn changes_are_visible_in_the_next_poll(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let data_plane = app.data_plane(&ada, &ws).await;
    let web = ada.create_source(&ws, "Javascript", "Website").await;
    let hook = ada
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com/a", &[]),
        )
        .await;
    let connection = ada.connect(&ws, &id(&web), &id(&hook)).await;
    let (source_path, hook_path) = (
        format!("{}/{}", sources_path(&ws), id(&web)),
        format!("{}/{}", destinations_path(&ws), id(&hook)),
    );

    let first = workspace_config(&data_plane).await;
    let first_revision = str_of(
        config_destination(&first, &id(&web), &id(&hook)).unwrap(),
        "revisionId",
    );

    let mut config = hook["config"].clone();
    config["webhookUrl"] = json!("https://example.com/b");
    ada.patch(&hook_path, json!({"config": config}))
        .await
        .expect(200);
    let second = workspace_config(&data_plane).await;
    let destination = config_destination(&second, &id(&web), &id(&hook)).unwrap();
    assert_eq!(destination["config"]["webhookUrl"], "https://example.com/b");
    assert_ne!(str_of(destination, "revisionId"), first_revision);
    assert!(str_of(&second, "updatedAt") > str_of(&first, "updatedAt"));

    ada.patch(&hook_path, json!({"enabled": false}))
        .await
        .expect(200);
    assert!(
        config_destination(&workspace_config(&data_plane).await, &id(&web), &id(&hook)).is_none()
    );
    ada.patch(&hook_path, json!({"enabled": true}))
        .await
        .expect(200);
    assert!(
        config_destination(&workspace_config(&data_plane).await, &id(&web), &id(&hook)).is_some()
    );

    ada.delete(&format!("{}/{}", connections_path(&ws), id(&connection)))
        .await
        .expect(204);
    let now = workspace_config(&data_plane).await;
    assert!(config_destination(&now, &id(&web), &id(&hook)).is_none());
    assert_eq!(now["connections"], json!({}));
    ada.connect(&ws, &id(&web), &id(&hook)).await;

    ada.patch(&source_path, json!({"enabled": false}))
        .await
        .expect(200);
    assert!(config_source(&workspace_config(&data_plane).await, &id(&web)).is_none());
    ada.patch(&source_path, json!({"enabled": true}))
        .await
        .expect(200);
    assert!(config_source(&workspace_config(&data_plane).await, &id(&web)).is_some());

    ada.delete(&hook_path).await.expect(204);
    let now = workspace_config(&data_plane).await;
    assert_eq!(
        config_source(&now, &id(&web)).unwrap()["destinations"],
        json!([])
    );
    ada.delete(&source_path).await.expect(204);
    assert_eq!(workspace_config(&data_plane).await["sources"], json!([]));
}

/// Namespaces (instance admins) group workspaces for a multi-tenant rudder-server: a map of workspace id
/// → ConfigT; with `updatedAfter`, every workspace is listed and those served well before it are `null`.
async fn namespace_config_for_multi_tenant_data_planes(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.instance_admin("root@example.com").await;
    let ada = app.user("ada@example.com").await;
    let acme = app.workspace(&ada, "Acme").await;
    let beta = app.workspace(&ada, "Beta").await;
    let spare = app.workspace(&ada, "Spare").await;
    let web = ada.create_source(&acme, "Javascript", "Website").await;
    let hook = ada
        .create_destination(
            &acme,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com", &[("Authorization", "Bearer abc")]),
        )
        .await;
    ada.connect(&acme, &id(&web), &id(&hook)).await;

    ada.post(
        "/api/v1/namespaces",
        json!({"name": "eu", "workspaceIds": [acme]}),
    )
    .await
    .expect_error(403, "forbidden", None);
    admin
        .post(
            "/api/v1/namespaces",
            json!({"name": "EU West!", "workspaceIds": []}),
        )
        .await
        .expect_error(422, "validation_failed", Some("name"));
    admin
        .post(
            "/api/v1/namespaces",
            json!({"name": "eu", "workspaceIds": ["nope"]}),
        )
        .await
        .expect_error(422, "validation_failed", Some("workspaceIds.0"));
    let created = admin
        .post(
            "/api/v1/namespaces",
            json!({"name": "eu", "workspaceIds": [acme, beta]}),
        )
        .await
        .expect(201);
    let secret = str_of(&created, "secret");
    let namespace_id = id(&created["namespace"]);
    assert!(secret.starts_with("whk_ns_"));
    admin
        .post(
            "/api/v1/namespaces",
            json!({"name": "eu", "workspaceIds": []}),
        )
        .await
        .expect_error(409, "conflict", Some("name"));
    admin
        .post(
            "/api/v1/namespaces",
            json!({"name": "us", "workspaceIds": [acme]}),
        )
        .await
        .expect_error(409, "conflict", Some("workspaceIds.0"));
    let listed = admin.get("/api/v1/namespaces").await.expect(200);
    assert_eq!(listed[0]["name"], "eu");
    assert!(!listed.to_string().contains(&secret));
    // The instance's workspaces, whoever their members: the admin is in none of Ada's.
    let everywhere = admin.get("/api/v1/instance/workspaces").await.expect(200);
    let namespace_of = |ws: &str| {
        everywhere
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["id"] == ws)
            .map(|w| w["namespaceId"].clone())
    };
    assert_eq!(namespace_of(&acme), Some(json!(namespace_id)));
    assert_eq!(namespace_of(&spare), Some(Value::Null));
    ada.get("/api/v1/instance/workspaces")
        .await
        .expect_error(403, "forbidden", None);
    app.api_token(&ada, &acme, Role::Owner)
        .await
        .get("/api/v1/instance/workspaces")
        .await
        .expect_error(403, "forbidden", None);

    let data_plane = app.basic(&secret);
    let path = "/data-plane/v1/namespaces/eu/config";
    let full = data_plane.get(path).await.expect(200);
    let map = full.as_object().expect("a map of workspace id to config");
    assert_eq!(map.len(), 2);
    assert_config_t(&full[&acme]);
    assert_config_t(&full[&beta]);
    let hook_config = &config_destination(&full[&acme], &id(&web), &id(&hook)).unwrap()["config"];
    assert_eq!(hook_config["headers"][0]["to"], "Bearer abc");

    // The incremental cursor, formatted as rudder-server formats it.
    let cursor = [
        str_of(&full[&acme], "updatedAt"),
        str_of(&full[&beta], "updatedAt"),
    ]
    .into_iter()
    .max()
    .unwrap();
    // Served moments ago, so sent again: a cursor this recent may come from a change stamped after theirs
    // but served before them. A minute later, they are `null`.
    let recent = data_plane
        .get(&format!("{path}?updatedAfter={cursor}"))
        .await
        .expect(200);
    assert_eq!(recent, full);
    let a_minute_later = format_ms(parse_rfc3339_ms(&cursor).unwrap() + 60_000);
    let unchanged = data_plane
        .get(&format!("{path}?updatedAfter={a_minute_later}"))
        .await
        .expect(200);
    assert_eq!(unchanged, json!({acme.clone(): null, beta.clone(): null}));
    ada.patch(
        &format!("{}/{}", sources_path(&acme), id(&web)),
        json!({"name": "Renamed"}),
    )
    .await
    .expect(200);
    let changed = data_plane
        .get(&format!("{path}?updatedAfter={cursor}"))
        .await
        .expect(200);
    assert_eq!(changed[&acme]["sources"][0]["name"], "Renamed");
    assert_eq!(
        changed.as_object().unwrap().len(),
        2,
        "every workspace of the namespace is listed"
    );
    data_plane
        .get(&format!("{path}?updatedAfter=yesterday"))
        .await
        .expect_error(400, "bad_request", Some("updatedAfter"));

    let etag = data_plane
        .get(path)
        .await
        .header("etag")
        .unwrap()
        .to_string();
    assert_eq!(
        data_plane
            .request(Method::GET, path)
            .header("if-none-match", &etag)
            .send()
            .await
            .status,
        304
    );

    app.basic("whk_ns_wrong")
        .get(path)
        .await
        .expect_error(401, "unauthorized", None);
    data_plane
        .get("/data-plane/v1/namespaces/us/config")
        .await
        .expect_error(401, "unauthorized", None);
    app.anonymous()
        .get(path)
        .await
        .expect_error(401, "unauthorized", None);
    data_plane
        .post(
            "/data-plane/v1/namespaces/eu/settings",
            json!({"features": {}}),
        )
        .await
        .expect(204);

    let updated = admin
        .patch(
            &format!("/api/v1/namespaces/{namespace_id}"),
            json!({"workspaceIds": [beta, spare]}),
        )
        .await
        .expect(200);
    assert_eq!(updated["workspaceIds"].as_array().unwrap().len(), 2);
    let now = data_plane.get(path).await.expect(200);
    let mut keys: Vec<&String> = now.as_object().unwrap().keys().collect();
    keys.sort();
    let mut expected = vec![&beta, &spare];
    expected.sort();
    assert_eq!(keys, expected);

    let rotated = admin
        .post_empty(&format!("/api/v1/namespaces/{namespace_id}/rotate-secret"))
        .await
        .expect(200);
    data_plane
        .get(path)
        .await
        .expect_error(401, "unauthorized", None);
    let data_plane = app.basic(&str_of(&rotated, "secret"));
    data_plane.get(path).await.expect(200);
    admin
        .delete(&format!("/api/v1/namespaces/{namespace_id}"))
        .await
        .expect(204);
    data_plane
        .get(path)
        .await
        .expect_error(401, "unauthorized", None);
    admin
        .delete(&format!("/api/v1/namespaces/{namespace_id}"))
        .await
        .expect_error(404, "not_found", None);
}

/// rudder-server advertises its features at start and expects 204.
async fn data_plane_settings_answer_204(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let other = app.workspace(&ada, "Other").await;
    let data_plane = app.data_plane(&ada, &ws).await;
    let features = json!({"components": [{"name": "warehouse", "features": ["upload"]}]});
    data_plane
        .post(
            &format!("/data-plane/v1/workspaces/{ws}/settings"),
            features.clone(),
        )
        .await
        .expect(204);
    data_plane
        .post(
            &format!("/data-plane/v1/workspaces/{other}/settings"),
            features.clone(),
        )
        .await
        .expect_error(404, "not_found", None);
    app.anonymous()
        .post(
            &format!("/data-plane/v1/workspaces/{ws}/settings"),
            features,
        )
        .await
        .expect_error(401, "unauthorized", None);
}

/// The `connections` map lists what the data plane gets: a connection whose source or destination is
/// disabled is left out, and `processorEnabled` is the destination's `isProcessorEnabled` (false in device
/// mode).
async fn connections_list_only_what_the_data_plane_gets(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let web = ada.create_source(&ws, "Javascript", "Website").await;
    let old_site = ada.create_source(&ws, "Javascript", "Old site").await;
    let hook = ada
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com/a", &[]),
        )
        .await;
    let mut device_config = amplitude_config("am-key", "am-secret");
    device_config["connectionMode"] = json!({"web": "device"});
    let device = ada
        .create_destination(&ws, "AM", "Amplitude", device_config)
        .await;
    let paused = ada
        .create_destination(
            &ws,
            "WEBHOOK",
            "Paused",
            webhook_config("https://example.com/b", &[]),
        )
        .await;
    let to_hook = ada.connect(&ws, &id(&web), &id(&hook)).await;
    let to_device = ada.connect(&ws, &id(&web), &id(&device)).await;
    ada.connect(&ws, &id(&web), &id(&paused)).await;
    ada.connect(&ws, &id(&old_site), &id(&hook)).await;
    for path in [
        format!("{}/{}", sources_path(&ws), id(&old_site)),
        format!("{}/{}", destinations_path(&ws), id(&paused)),
    ] {
        ada.patch(&path, json!({"enabled": false}))
            .await
            .expect(200);
    }

    let config = workspace_config(&app.data_plane(&ada, &ws).await).await;
    let entry = |destination: &Value, processor_enabled: bool| {
        json!({"sourceId": id(&web), "destinationId": id(destination), "enabled": true, "config": {},
               "processorEnabled": processor_enabled})
    };
    assert_eq!(
        config["connections"],
        json!({id(&to_hook): entry(&hook, true), id(&to_device): entry(&device, false)})
    );
    assert_eq!(
        config_destination(&config, &id(&web), &id(&device)).unwrap()["isProcessorEnabled"],
        false
    );
}

/// Hybrid mode (GA4 on a web source): rudder-server processes the destination, and
/// `destinationDefinition.config.hybridModeCloudEventsFilter` (RudderStack's value) tells it which message
/// types it still delivers from the cloud; the browser SDK sends the rest.
async fn hybrid_mode_tells_the_data_plane_what_to_deliver_from_the_cloud(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let web = ada.create_source(&ws, "Javascript", "Website").await;
    let ga4 = ada
        .create_destination(
            &ws,
            "GA4",
            "GA4",
            json!({"typesOfClient": "gtag", "apiSecret": "ga4-secret", "measurementId": "G-TEST",
                   "connectionMode": {"web": "hybrid"}}),
        )
        .await;
    ada.connect(&ws, &id(&web), &id(&ga4)).await;

    let config = workspace_config(&app.data_plane(&ada, &ws).await).await;
    let destination = config_destination(&config, &id(&web), &id(&ga4)).unwrap();
    assert_eq!(destination["config"]["connectionMode"], "hybrid");
    assert_eq!(destination["isProcessorEnabled"], true);
    assert_eq!(
        destination["destinationDefinition"]["config"]["hybridModeCloudEventsFilter"],
        json!({"web": {"messageType": ["track", "group"]}})
    );
    let sdk = app.sdk_config(&web).await;
    assert_eq!(
        sdk["source"]["destinations"][0]["config"]["connectionMode"],
        "hybrid"
    );
}

/// `updatedAfter` never hides a workspace the data plane lacks: not one whose change was stamped before the
/// cursor but served after it (a slow or retried build, a replica that heard late), not one that just
/// joined the namespace. Joining or leaving a namespace moves a workspace's `updatedAt`.
async fn incremental_polls_never_miss_a_workspace(backend: Backend) {
    let app = TestApp::start(backend).await;
    let admin = app.instance_admin("root@example.com").await;
    let ada = app.user("ada@example.com").await;
    let acme = app.workspace(&ada, "Acme").await;
    let beta = app.workspace(&ada, "Beta").await;
    let spare = app.workspace(&ada, "Spare").await;
    let created = admin
        .post(
            "/api/v1/namespaces",
            json!({"name": "eu", "workspaceIds": [acme, beta]}),
        )
        .await
        .expect(201);
    let namespace_path = format!("/api/v1/namespaces/{}", id(&created["namespace"]));
    let data_plane = app.basic(&str_of(&created, "secret"));
    let path = "/data-plane/v1/namespaces/eu/config";

    // Acme's change was stamped an hour ago, and its snapshot is only being served now.
    app.execute(
        "UPDATE workspaces SET config_updated_at = config_updated_at - 3600000 WHERE id = $1",
        &[&acme],
    )
    .await;
    let state = &app.server().state;
    state.snapshot.rebuild(&acme).await.unwrap();
    let full = data_plane.get(path).await.expect(200);
    let cursor = str_of(&full[&beta], "updatedAt");
    assert!(str_of(&full[&acme], "updatedAt") < cursor);
    let incremental = data_plane
        .get(&format!("{path}?updatedAfter={cursor}"))
        .await
        .expect(200);
    assert_eq!(incremental[&acme], full[&acme]);

    let spare_before = str_of(
        &workspace_config(&app.data_plane(&ada, &spare).await).await,
        "updatedAt",
    );
    let beta_data_plane = app.data_plane(&ada, &beta).await;
    let beta_before = str_of(&workspace_config(&beta_data_plane).await, "updatedAt");
    admin
        .patch(&namespace_path, json!({"workspaceIds": [acme, spare]}))
        .await
        .expect(200);
    let joined = data_plane
        .get(&format!("{path}?updatedAfter={cursor}"))
        .await
        .expect(200);
    assert_eq!(
        joined.as_object().unwrap().len(),
        2,
        "Beta left the namespace: {joined}"
    );
    assert_config_t(&joined[&spare]);
    assert!(str_of(&joined[&spare], "updatedAt") > spare_before);
    assert!(str_of(&workspace_config(&beta_data_plane).await, "updatedAt") > beta_before);
}

/// Makes the workspace's data key unusable (its master key unknown), and so every build of its config.
async fn break_data_key(app: &TestApp, ws: &str) {
    let broken = app
        .execute(
            "UPDATE data_keys SET master_key_id = 'gone-' || master_key_id WHERE workspace_id = $1",
            &[ws],
        )
        .await;
    assert_eq!(broken, 1);
    app.server().state.keyring.forget(ws);
}

async fn repair_data_key(app: &TestApp, ws: &str) {
    app.execute(
        "UPDATE data_keys SET master_key_id = SUBSTR(master_key_id, 6) WHERE workspace_id = $1",
        &[ws],
    )
    .await;
}

/// A workspace with a source and a destination holding a secret (so that building its config needs its
/// data key); returns the workspace id and the source.
async fn workspace_with_a_secret(
    app: &TestApp,
    owner: &Client,
    name: &str,
    secret: &str,
) -> (String, Value) {
    let ws = app.workspace(owner, name).await;
    let web = owner.create_source(&ws, "Javascript", "Website").await;
    let hook = owner
        .create_destination(
            &ws,
            "WEBHOOK",
            "Hook",
            webhook_config("https://example.com", &[("Authorization", secret)]),
        )
        .await;
    owner.connect(&ws, &id(&web), &id(&hook)).await;
    (ws, web)
}

/// A change is stored even when the config snapshot cannot be rebuilt right after: the call succeeds, data
/// planes keep the previous config, the failure is logged (never a secret), and a background retry serves
/// the change once building works again.
async fn a_failed_rebuild_keeps_the_change_and_is_retried(backend: Backend) {
    let app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let secret = canary();
    let (ws, web) = workspace_with_a_secret(&app, &ada, "Acme", &secret).await;
    let data_plane = app.data_plane(&ada, &ws).await;
    let source_name = |config: &Value| config["sources"][0]["name"].clone();
    assert_eq!(source_name(&workspace_config(&data_plane).await), "Website");
    let source_path = format!("{}/{}", sources_path(&ws), id(&web));

    break_data_key(&app, &ws).await;
    ada.patch(&source_path, json!({"name": "Renamed"}))
        .await
        .expect(200);
    assert_eq!(ada.get(&source_path).await.expect(200)["name"], "Renamed");
    assert_eq!(source_name(&workspace_config(&data_plane).await), "Website");
    assert!(
        logs::lines_with(&ws)
            .iter()
            .any(|line| line.contains("could not rebuild the config snapshot")),
        "the failure is logged"
    );

    repair_data_key(&app, &ws).await;
    eventually(
        "the change, served after a retry",
        Duration::from_secs(15),
        || async { (source_name(&workspace_config(&data_plane).await) == "Renamed").then_some(()) },
    )
    .await;
    logs::assert_never_logged(&secret, "a secret");
}

/// At start-up each workspace's config is built on its own: one that cannot be built (logged) does not keep
/// the server from starting nor the others from being served, and is served once a retry succeeds.
async fn a_workspace_that_cannot_be_built_does_not_stop_the_others(backend: Backend) {
    let mut app = TestApp::start(backend).await;
    let ada = app.user("ada@example.com").await;
    let secret = canary();
    let (broken, _) = workspace_with_a_secret(&app, &ada, "Broken", &secret).await;
    let (fine, _) = workspace_with_a_secret(&app, &ada, "Fine", &canary()).await;
    let broken_plane = app.data_plane(&ada, &broken).await;
    let fine_plane = app.data_plane(&ada, &fine).await;

    break_data_key(&app, &broken).await;
    app.restart().await;
    workspace_config(&fine_plane).await;
    broken_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .expect_error(401, "unauthorized", None);
    assert!(
        logs::lines_with(&broken)
            .iter()
            .any(|line| line.contains("could not build a workspace's config snapshot")),
        "the failure is logged"
    );

    repair_data_key(&app, &broken).await;
    eventually(
        "the workspace, served after a retry",
        Duration::from_secs(15),
        || async {
            let response = broken_plane.get("/workspaceConfig?fetchAll=true").await;
            (response.status == 200).then_some(())
        },
    )
    .await;
    logs::assert_never_logged(&secret, "a secret");
}

/// The raw value of a fresh API token (to present it the wrong way).
async fn api_token_value(_app: &TestApp, creator: &Client, ws: &str) -> String {
    let created = creator
        .post(
            "/api/v1/tokens",
            json!({"name": "raw", "workspaceId": ws, "role": "viewer"}),
        )
        .await
        .expect(201);
    str_of(&created, "token")
}

/// Two replicas on one PostgreSQL database: a change made through one is served by the other's in-memory
/// snapshot soon after (LISTEN/NOTIFY), without a restart. PostgreSQL only: one process serves a SQLite file,
/// there is no second replica to tell.
#[tokio::test]
async fn a_change_through_one_replica_reaches_the_other_postgres() {
    let app = TestApp::start(Backend::Postgres).await;
    let ada = app.user("ada@example.com").await;
    let ws = app.workspace(&ada, "Acme").await;
    let replica = server::start(app.config().clone())
        .await
        .expect("a second replica");
    // Both listen as soon as `start` returns: a replica that began listening after its first build missed
    // what changed in between.
    let listening: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%wheelhouse_config%'",
    )
    .fetch_one(&app.db().pool)
    .await
    .unwrap();
    assert_eq!(listening, 2);
    let poll_replica = |token: String| {
        let url = format!("{}/workspaceConfig?fetchAll=true", replica.url());
        async move {
            let response = reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap()
                .get(url)
                .basic_auth(token, Some(""))
                .send()
                .await
                .unwrap();
            if response.status() != 200 {
                return None;
            }
            response.json::<Value>().await.ok()
        }
    };
    let wait = std::time::Duration::from_secs(10);

    // A data-plane token created through the first replica works on the second.
    let created = ada
        .post(
            &format!("/api/v1/workspaces/{ws}/data-plane-tokens"),
            json!({"name": "dp"}),
        )
        .await
        .expect(201);
    let token = str_of(&created, "token");
    eventually("the token on the other replica", wait, || {
        poll_replica(token.clone())
    })
    .await;

    let web = ada.create_source(&ws, "Javascript", "Website").await;
    eventually("the new source on the other replica", wait, || async {
        let config = poll_replica(token.clone()).await?;
        config_source(&config, &id(&web)).map(|_| ())
    })
    .await;
    ada.patch(
        &format!("{}/{}", sources_path(&ws), id(&web)),
        json!({"enabled": false}),
    )
    .await
    .expect(200);
    eventually(
        "the disabled source gone from the other replica",
        wait,
        || async {
            let config = poll_replica(token.clone()).await?;
            config_source(&config, &id(&web)).is_none().then_some(())
        },
    )
    .await;
    ada.delete(&format!(
        "/api/v1/workspaces/{ws}/data-plane-tokens/{}",
        id(&created)
    ))
    .await
    .expect(204);
    eventually(
        "the revoked token refused by the other replica",
        wait,
        || async { poll_replica(token.clone()).await.is_none().then_some(()) },
    )
    .await;
    replica.shutdown().await.unwrap();
}

/// Revoking a data-plane token, rotating a namespace's secret or deleting the namespace takes effect on the
/// next poll, even while the workspace's config cannot be rebuilt (its data key is unusable): revocation never
/// waits for a build that may fail.
async fn revoked_credentials_stop_at_once_even_when_the_config_cannot_be_rebuilt(backend: Backend) {
    let app = TestApp::start(backend).await;
    let root = app.instance_admin("root@example.com").await;
    let (ws, _) = workspace_with_a_secret(&app, &root, "Acme", &canary()).await;
    let created = root
        .post(
            &format!("/api/v1/workspaces/{ws}/data-plane-tokens"),
            json!({"name": "rudder-server"}),
        )
        .await
        .expect(201);
    let data_plane = app.basic(&str_of(&created, "token"));
    workspace_config(&data_plane).await;
    let namespace = root
        .post(
            "/api/v1/namespaces",
            json!({"name": "eu", "workspaceIds": [ws]}),
        )
        .await
        .expect(201);
    let namespace_id = id(&namespace["namespace"]);
    let hosted = app.basic(&str_of(&namespace, "secret"));
    let namespace_config = "/data-plane/v1/namespaces/eu/config";
    hosted.get(namespace_config).await.expect(200);

    break_data_key(&app, &ws).await;
    root.delete(&format!(
        "/api/v1/workspaces/{ws}/data-plane-tokens/{}",
        id(&created)
    ))
    .await
    .expect(204);
    data_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .expect_error(401, "unauthorized", None);

    let rotated = root
        .post_empty(&format!("/api/v1/namespaces/{namespace_id}/rotate-secret"))
        .await
        .expect(200);
    hosted
        .get(namespace_config)
        .await
        .expect_error(401, "unauthorized", None);
    let rotated = app.basic(&str_of(&rotated, "secret"));
    rotated.get(namespace_config).await.expect(200);
    root.delete(&format!("/api/v1/namespaces/{namespace_id}"))
        .await
        .expect(204);
    rotated
        .get(namespace_config)
        .await
        .expect_error(401, "unauthorized", None);
}
