//! Bad input: every malformed, mistyped, missing, unknown, oversized or wrongly typed request gets a 4xx
//! with the standard error body naming the problem, never a 500, and never changes what is stored.

use reqwest::Method;
use serde_json::{json, Value};
use wheelhouse_tests::*;

both_backends!(
    bad_creates_are_4xx_naming_the_problem,
    a_bad_patch_changes_nothing,
    errors_never_echo_submitted_values,
    unknown_routes_methods_and_queries,
    odd_bodies_are_refused_cleanly,
);

/// One bad request and the error it must get.
struct Case {
    what: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

fn case(
    what: &'static str,
    method: Method,
    path: &str,
    body: Value,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    Case {
        what,
        method,
        path: path.to_string(),
        content_type: Some("application/json"),
        body: serde_json::to_vec(&body).unwrap(),
        status,
        code,
        field,
    }
}

fn raw(
    what: &'static str,
    method: Method,
    path: &str,
    content_type: Option<&'static str>,
    body: &[u8],
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        what,
        method,
        path: path.to_string(),
        content_type,
        body: body.to_vec(),
        status,
        code,
        field: None,
    }
}

impl Case {
    fn naming(mut self, field: &'static str) -> Self {
        self.field = Some(field);
        self
    }
}

async fn run_cases(client: &Client, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for c in cases {
        let mut request = client.request(c.method.clone(), &c.path);
        if let Some(content_type) = c.content_type {
            request = request.body(content_type, c.body.clone());
        } else if !c.body.is_empty() {
            request = request.body("", c.body.clone());
        }
        let response = request.send().await;
        let error = &response.json["error"];
        let well_formed = error["message"].as_str().is_some_and(|m| !m.is_empty())
            && response.json.as_object().is_some_and(|o| o.len() == 1);
        if response.status != c.status
            || !well_formed
            || error["code"].as_str() != Some(c.code)
            || error["field"].as_str() != c.field
        {
            failures.push(format!(
                "{}: {} {} → {} {} (expected {} {} field {:?})",
                c.what, c.method, c.path, response.status, response.text, c.status, c.code, c.field
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} bad requests were not answered as expected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// What a data plane and the API show of a workspace: must not change after a refused request.
async fn stored_state(owner: &Client, data_plane: &Client, ws: &str) -> Vec<Value> {
    vec![
        owner.get(&sources_path(ws)).await.expect(200),
        owner.get(&destinations_path(ws)).await.expect(200),
        owner.get(&connections_path(ws)).await.expect(200),
        owner
            .get(&format!("/api/v1/workspaces/{ws}"))
            .await
            .expect(200),
        json!(data_plane
            .get("/workspaceConfig?fetchAll=true")
            .await
            .header("etag")),
    ]
}

/// Missing, mistyped and unknown fields, unknown catalog types and configs failing the schema are 422s
/// naming the field (as a dotted path into the body); malformed JSON is a 400, another content type a
/// 415, a body over 1 MiB a 413. Nothing changes.
async fn bad_creates_are_4xx_naming_the_problem(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let web = owner.create_source(&ws, "Javascript", "Website").await;
    let data_plane = app.data_plane(&owner, &ws).await;
    let before = stored_state(&owner, &data_plane, &ws).await;
    let (sources, destinations, connections) = (
        sources_path(&ws),
        destinations_path(&ws),
        connections_path(&ws),
    );
    let am = |config: Value| json!({"name": "Amplitude", "type": "AM", "config": config});
    let post = Method::POST;
    let oversized = {
        let mut body = br#"{"name": "big", "type": "Javascript", "config": {"x": ""#.to_vec();
        body.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 1024));
        body.extend(br#""}}"#);
        body
    };

    run_cases(&owner, vec![
        case("missing name", post.clone(), &sources, json!({"type": "Javascript"}), 422, "validation_failed", Some("name")),
        case("missing type", post.clone(), &sources, json!({"name": "S"}), 422, "validation_failed", Some("type")),
        case("mistyped name", post.clone(), &sources, json!({"name": 5, "type": "Javascript"}), 422, "validation_failed", Some("name")),
        case("mistyped enabled", post.clone(), &sources, json!({"name": "S", "type": "Javascript", "enabled": "yes"}), 422, "validation_failed", Some("enabled")),
        case("empty name", post.clone(), &sources, json!({"name": "  ", "type": "Javascript"}), 422, "validation_failed", Some("name")),
        case("name too long", post.clone(), &sources, json!({"name": "n".repeat(101), "type": "Javascript"}), 422, "validation_failed", Some("name")),
        case("control character in name", post.clone(), &sources, json!({"name": "a\u{7}b", "type": "Javascript"}), 422, "validation_failed", Some("name")),
        case("unknown source type", post.clone(), &sources, json!({"name": "S", "type": "Carrier pigeon"}), 422, "validation_failed", Some("type")),
        case("destination type as source", post.clone(), &sources, json!({"name": "S", "type": "WEBHOOK"}), 422, "validation_failed", Some("type")),
        case("config not an object", post.clone(), &sources, json!({"name": "S", "type": "Javascript", "config": []}), 422, "validation_failed", Some("config")),
        case("body an array", post.clone(), &sources, json!([]), 422, "validation_failed", Some("body")),
        case("body null", post.clone(), &sources, Value::Null, 422, "validation_failed", Some("body")),
        case("unknown destination type", post.clone(), &destinations, json!({"name": "D", "type": "NOPE", "config": {}}), 422, "validation_failed", Some("type")),
        case("required config missing", post.clone(), &destinations, am(json!({"residencyServer": "EU"})), 422, "validation_failed", Some("config.apiKey")),
        case("config mistyped", post.clone(), &destinations, am(json!({"apiKey": 5})), 422, "validation_failed", Some("config.apiKey")),
        case("config empty string", post.clone(), &destinations, am(json!({"apiKey": ""})), 422, "validation_failed", Some("config.apiKey")),
        case("config not in enum", post.clone(), &destinations, am(json!({"apiKey": "k", "residencyServer": "MARS"})), 422, "validation_failed", Some("config.residencyServer")),
        case("config unknown key", post.clone(), &destinations, am(json!({"apiKey": "k", "bogus": 1})), 422, "validation_failed", Some("config.bogus")),
        case("secret mistyped", post.clone(), &destinations, am(json!({"apiKey": "k", "apiSecret": 42})), 422, "validation_failed", Some("config.apiSecret")),
        case("per-source-type value mistyped", post.clone(), &destinations, am(json!({"apiKey": "k", "connectionMode": {"web": "sideways"}})), 422, "validation_failed", Some("config.connectionMode.web")),
        case("array item mistyped", post.clone(), &destinations, json!({"name": "H", "type": "WEBHOOK", "config": {"webhookUrl": "https://example.com", "headers": [{"from": "A", "to": 5}]}}), 422, "validation_failed", Some("config.headers.0.to")),
        case("not a URL", post.clone(), &destinations, json!({"name": "H", "type": "WEBHOOK", "config": {"webhookUrl": "not a url"}}), 422, "validation_failed", Some("config.webhookUrl")),
        case("connection without destination", post.clone(), &connections, json!({"sourceId": id(&web)}), 422, "validation_failed", Some("destinationId")),
        case("connection mistyped", post.clone(), &connections, json!({"sourceId": id(&web), "destinationId": 7}), 422, "validation_failed", Some("destinationId")),
        case("token without workspace", post.clone(), "/api/v1/tokens", json!({"name": "t", "role": "viewer"}), 422, "validation_failed", Some("workspaceId")),
        case("token with unknown role", post.clone(), "/api/v1/tokens", json!({"name": "t", "workspaceId": ws, "role": "god"}), 422, "validation_failed", Some("role")),
        case("workspace without name", post.clone(), "/api/v1/workspaces", json!({}), 422, "validation_failed", Some("name")),
        case("member role unknown", Method::PATCH, &format!("/api/v1/workspaces/{ws}/members/{}", owner.user_id()), json!({"role": 3}), 422, "validation_failed", Some("role")),
        case("invite without email", post.clone(), &format!("/api/v1/workspaces/{ws}/invites"), json!({"role": "viewer"}), 422, "validation_failed", Some("email")),
        case("login without password", post.clone(), "/api/v1/auth/login", json!({"email": "owner@example.com"}), 422, "validation_failed", Some("password")),
        case("login email mistyped", post.clone(), "/api/v1/auth/login", json!({"email": ["owner@example.com"], "password": "x"}), 422, "validation_failed", Some("email")),
        raw("malformed JSON", post.clone(), &sources, Some("application/json"), br#"{"name": "S", "type": "#, 400, "bad_request"),
        raw("trailing garbage", post.clone(), &sources, Some("application/json"), br#"{"name": "S", "type": "Javascript"} x"#, 400, "bad_request"),
        raw("not UTF-8", post.clone(), &sources, Some("application/json"), b"{\"name\": \"\xff\xfe\", \"type\": \"Javascript\"}", 400, "bad_request"),
        raw("empty body", post.clone(), &sources, Some("application/json"), b"", 400, "bad_request"),
        raw("nested too deep", post.clone(), &sources, Some("application/json"), &[b'['; 10_000], 400, "bad_request"),
        raw("text/plain", post.clone(), &sources, Some("text/plain"), br#"{"name": "S", "type": "Javascript"}"#, 415, "unsupported_media_type"),
        raw("form encoded", post.clone(), &sources, Some("application/x-www-form-urlencoded"), b"name=S&type=Javascript", 415, "unsupported_media_type"),
        raw("no content type", post.clone(), &sources, None, br#"{"name": "S", "type": "Javascript"}"#, 415, "unsupported_media_type"),
        raw("over 1 MiB", post.clone(), &sources, Some("application/json"), &oversized, 413, "payload_too_large"),
    ]).await;

    assert_eq!(
        stored_state(&owner, &data_plane, &ws).await,
        before,
        "a refused request changed something"
    );

    // A JSON content type with parameters is fine.
    owner
        .request(Method::POST, &sources)
        .body(
            "application/json; charset=utf-8",
            br#"{"name": "Charset", "type": "Javascript"}"#.to_vec(),
        )
        .send()
        .await
        .expect(201);
}

/// A refused PATCH leaves the resource exactly as it was: not even the valid parts of the request apply.
async fn a_bad_patch_changes_nothing(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let web = owner.create_source(&ws, "Javascript", "Website").await;
    let secret = canary();
    let amplitude = owner
        .create_destination(&ws, "AM", "Amplitude", amplitude_config("am-key", &secret))
        .await;
    owner.connect(&ws, &id(&web), &id(&amplitude)).await;
    let data_plane = app.data_plane(&owner, &ws).await;
    let one = format!("{}/{}", destinations_path(&ws), id(&amplitude));
    let source = format!("{}/{}", sources_path(&ws), id(&web));
    let before = stored_state(&owner, &data_plane, &ws).await;
    let patch = Method::PATCH;

    run_cases(
        &owner,
        vec![
            case(
                "valid name, invalid config",
                patch.clone(),
                &one,
                json!({"name": "Renamed", "config": {"apiKey": 5}}),
                422,
                "validation_failed",
                Some("config.apiKey"),
            ),
            case(
                "valid config, invalid name",
                patch.clone(),
                &one,
                json!({"name": "", "config": {"apiKey": "new"}}),
                422,
                "validation_failed",
                Some("name"),
            ),
            case(
                "required field dropped",
                patch.clone(),
                &one,
                json!({"config": {"residencyServer": "EU"}}),
                422,
                "validation_failed",
                Some("config.apiKey"),
            ),
            case(
                "enabled mistyped",
                patch.clone(),
                &one,
                json!({"name": "Renamed", "enabled": "no"}),
                422,
                "validation_failed",
                Some("enabled"),
            ),
            case(
                "config a string",
                patch.clone(),
                &one,
                json!({"config": "apiKey=5"}),
                422,
                "validation_failed",
                Some("config"),
            ),
            case(
                "secret replaced by a number",
                patch.clone(),
                &one,
                json!({"config": {"apiKey": "k", "apiSecret": 1}}),
                422,
                "validation_failed",
                Some("config.apiSecret"),
            ),
            case(
                "source name mistyped",
                patch.clone(),
                &source,
                json!({"name": false}),
                422,
                "validation_failed",
                Some("name"),
            ),
            case(
                "source config not an object",
                patch.clone(),
                &source,
                json!({"config": 1}),
                422,
                "validation_failed",
                Some("config"),
            ),
            raw(
                "malformed",
                patch.clone(),
                &one,
                Some("application/json"),
                b"{\"name\": \"Renamed\"",
                400,
                "bad_request",
            ),
            raw(
                "text/plain",
                patch.clone(),
                &one,
                Some("text/plain"),
                br#"{"name": "Renamed"}"#,
                415,
                "unsupported_media_type",
            ),
        ],
    )
    .await;

    let after = stored_state(&owner, &data_plane, &ws).await;
    assert_eq!(after, before, "a refused PATCH changed something");
    let config = data_plane
        .get("/workspaceConfig?fetchAll=true")
        .await
        .expect(200);
    assert_eq!(
        config_destination(&config, &id(&web), &id(&amplitude)).unwrap()["config"]["apiSecret"],
        secret.as_str()
    );
}

/// Error messages never repeat a submitted value: it may be a secret.
async fn errors_never_echo_submitted_values(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let secret = canary();
    let attempts = [
        json!({"name": "A", "type": "AM", "config": {"apiKey": "k", "residencyServer": secret}}),
        json!({"name": "A", "type": "AM", "config": {"apiKey": {"nested": secret}}}),
        json!({"name": "A", "type": "AM", "config": {"apiKey": "k", "apiSecret": [secret]}}),
        json!({"name": "A", "type": secret, "config": {}}),
        json!({"name": ["A", secret], "type": "AM"}),
        json!({"name": "H", "type": "WEBHOOK", "config": {"webhookUrl": secret}}),
    ];
    for body in attempts {
        let response = owner.post(&destinations_path(&ws), body).await;
        assert_eq!(response.status, 422, "{}", response.text);
    }
    owner
        .post(
            "/api/v1/auth/login",
            json!({"email": secret, "password": 1}),
        )
        .await
        .expect(422);
    let leaks: Vec<_> = app
        .transcript()
        .into_iter()
        .filter(|e| e.body.contains(&secret))
        .collect();
    assert!(
        leaks.is_empty(),
        "an error repeated a submitted value: {leaks:#?}"
    );
    logs::assert_never_logged(&secret, "a submitted value");
}

/// Requests the router cannot place get the standard error body too: unknown routes, wrong methods, bad
/// query strings, impossible ids.
async fn unknown_routes_methods_and_queries(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let data_plane = app.data_plane(&owner, &ws).await;
    let before = stored_state(&owner, &data_plane, &ws).await;
    let nul = "%00";

    run_cases(
        &owner,
        vec![
            raw(
                "unknown route",
                Method::GET,
                "/api/v1/nothing-here",
                None,
                b"",
                404,
                "not_found",
            ),
            raw(
                "unknown nested route",
                Method::POST,
                &format!("/api/v1/workspaces/{ws}/gadgets"),
                None,
                b"",
                404,
                "not_found",
            ),
            raw(
                "wrong method",
                Method::PUT,
                &format!("/api/v1/workspaces/{ws}"),
                Some("application/json"),
                b"{}",
                405,
                "method_not_allowed",
            ),
            raw(
                "wrong method on a collection",
                Method::DELETE,
                "/api/v1/workspaces",
                None,
                b"",
                405,
                "method_not_allowed",
            ),
            raw(
                "query parameter missing",
                Method::GET,
                "/api/v1/invites/preview",
                None,
                b"",
                422,
                "validation_failed",
            )
            .naming("token"),
            raw(
                "query parameter repeated",
                Method::GET,
                "/api/v1/tokens?workspaceId=a&workspaceId=b",
                None,
                b"",
                400,
                "bad_request",
            )
            .naming("workspaceId"),
            raw(
                "NUL in a workspace id",
                Method::GET,
                &format!("/api/v1/workspaces/{nul}"),
                None,
                b"",
                404,
                "not_found",
            ),
            raw(
                "NUL in a source id",
                Method::GET,
                &format!("/api/v1/workspaces/{ws}/sources/a{nul}b"),
                None,
                b"",
                404,
                "not_found",
            ),
            raw(
                "NUL in a member id",
                Method::DELETE,
                &format!("/api/v1/workspaces/{ws}/members/{nul}"),
                None,
                b"",
                404,
                "not_found",
            ),
            raw(
                "a workspace id that is not UTF-8",
                Method::GET,
                "/api/v1/workspaces/%FF",
                None,
                b"",
                404,
                "not_found",
            ),
            raw(
                "a destination id that is not UTF-8",
                Method::PATCH,
                &format!("/api/v1/workspaces/{ws}/destinations/%C3%28"),
                Some("application/json"),
                b"{}",
                404,
                "not_found",
            ),
            raw(
                "NUL in a token id",
                Method::DELETE,
                &format!("/api/v1/tokens/{nul}"),
                None,
                b"",
                404,
                "not_found",
            ),
        ],
    )
    .await;
    run_cases(&owner, vec![
        case("NUL in an email", Method::POST, "/api/v1/auth/login", json!({"email": "a\u{0}@example.com", "password": "whatever-whatever"}), 422, "validation_failed", Some("email")),
        case("NUL in a workspace id", Method::POST, "/api/v1/tokens", json!({"name": "t", "workspaceId": "w\u{0}", "role": "viewer"}), 422, "validation_failed", Some("workspaceId")),
        case("NUL in a source id", Method::POST, &connections_path(&ws), json!({"sourceId": "\u{0}", "destinationId": "x"}), 422, "validation_failed", Some("sourceId")),
        case("NUL in a config value", Method::POST, &destinations_path(&ws), json!({"name": "H", "type": "WEBHOOK", "config": {"webhookUrl": "https://example.com", "headers": [{"from": "A", "to": "a\u{0}"}]}}), 422, "validation_failed", Some("config.headers.0.to")),
        case("NUL in an invite email", Method::POST, &format!("/api/v1/workspaces/{ws}/invites"), json!({"email": "b\u{0}@example.com", "role": "viewer"}), 422, "validation_failed", Some("email")),
        case("NUL in a reset email", Method::POST, "/api/v1/auth/password-reset", json!({"email": "c\u{0}@example.com"}), 422, "validation_failed", Some("email")),
    ]).await;
    let wrong_method = owner
        .request(Method::PUT, "/api/v1/workspaces")
        .send()
        .await;
    assert_eq!(wrong_method.header("allow"), Some("GET,HEAD,POST"));
    assert_eq!(stored_state(&owner, &data_plane, &ws).await, before);
}

/// Odd but possible bodies: each is refused with a 4xx and the standard error body (the app's guard also
/// fails the test on any 500).
async fn odd_bodies_are_refused_cleanly(backend: Backend) {
    let app = TestApp::start(backend).await;
    let owner = app.user("owner@example.com").await;
    let ws = app.workspace(&owner, "Acme").await;
    let deep = format!("{}1{}", r#"{"a":"#.repeat(100), "}".repeat(100));
    let bodies: Vec<(&str, String, String)> = vec![
        ("a huge number", destinations_path(&ws), r#"{"name": "A", "type": "AM", "config": {"apiKey": "k", "n": 1e400}}"#.into()),
        ("a lone surrogate", sources_path(&ws), r#"{"name": "\ud800", "type": "Javascript"}"#.into()),
        ("a duplicate key", sources_path(&ws), r#"{"name": "A", "name": "B", "type": "Javascript"}"#.into()),
        ("deep but valid nesting", destinations_path(&ws), format!(r#"{{"name": "A", "type": "AM", "config": {{"apiKey": "k", "x": {deep}}}}}"#)),
        ("a string where an object belongs", destinations_path(&ws), r#"{"name": "A", "type": "AM", "config": {"apiKey": "k", "connectionMode": "device"}}"#.into()),
        ("an array of the wrong things", destinations_path(&ws), r#"{"name": "H", "type": "WEBHOOK", "config": {"webhookUrl": "https://e.com", "headers": [1, [2], null]}}"#.into()),
        ("nulls everywhere", sources_path(&ws), r#"{"name": null, "type": null, "config": null}"#.into()),
    ];
    let mut failures = Vec::new();
    for (what, path, body) in bodies {
        let response = owner
            .request(Method::POST, &path)
            .body("application/json", body.into_bytes())
            .send()
            .await;
        if !(400..500).contains(&response.status) || response.error_code().is_none() {
            failures.push(format!("{what}: {} {}", response.status, response.text));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(owner.get(&sources_path(&ws)).await.expect(200), json!([]));
    assert_eq!(
        owner.get(&destinations_path(&ws)).await.expect(200),
        json!([])
    );
}
