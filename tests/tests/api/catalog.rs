//! The catalog served at `/api/v1/catalog/{destinations,sources}` agrees with RudderStack's own integration
//! definitions (`tests/fixtures/rudderstack-integrations.json`, a copy of the reference facts), so that
//! rudder-server and the JavaScript SDK recognize what Wheelhouse sends them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use wheelhouse_tests::*;

both_backends!(
    destinations_agree_with_rudderstack,
    sources_agree_with_rudderstack,
    the_catalog_needs_a_caller,
);

fn reference() -> Value {
    let text = include_str!("../../fixtures/rudderstack-integrations.json");
    serde_json::from_str(text).expect("the reference file is JSON")
}

fn by_name(list: &Value) -> BTreeMap<String, Value> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|entry| (str_of(entry, "name"), entry.clone()))
        .collect()
}

/// Every definition of a kind (`destinations`, `sources`) in full: the list names them (light: no schemas),
/// each one's page has the whole definition.
async fn full_catalog(client: &Client, kind: &str) -> BTreeMap<String, Value> {
    let list = client
        .get(&format!("/api/v1/catalog/{kind}"))
        .await
        .expect(200);
    let mut out = BTreeMap::new();
    for (name, summary) in by_name(&list) {
        assert!(
            summary.get("configSchema").is_none(),
            "the {kind} list carries whole definitions: {summary}"
        );
        let full = client
            .get(&format!("/api/v1/catalog/{kind}/{name}"))
            .await
            .expect(200);
        for (key, value) in summary.as_object().unwrap() {
            assert_eq!(
                &full[key], value,
                "{name}: {key} differs between the list and the definition"
            );
        }
        out.insert(name, full);
    }
    out
}

fn set(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Where a definition of ours differs from RudderStack's facts: the `same` keys must be equal, and our secret
/// keys must include theirs. (RudderStack's lists leave some credentials out, such as Mixpanel's
/// service-account secret and PostgreSQL's client key, so ours may add to them.)
fn agreement(name: &str, ours: &Value, facts: &Value, same: &[&str]) -> Vec<String> {
    let mut problems: Vec<String> = same
        .iter()
        .filter(|key| ours[**key] != facts[**key])
        .map(|key| {
            format!(
                "{name}.{key}: ours {} ≠ RudderStack's {}",
                ours[*key], facts[*key]
            )
        })
        .collect();
    if !set(&facts["secretKeys"]).is_subset(&set(&ours["secretKeys"])) {
        problems.push(format!(
            "{name}: secretKeys {} ⊉ {}",
            ours["secretKeys"], facts["secretKeys"]
        ));
    }
    problems
}

const DESTINATIONS_THE_ISSUE_NAMES: [&str; 25] = [
    "WEBHOOK",
    "GA4",
    "AM",
    "MP",
    "BRAZE",
    "KLAVIYO",
    "INTERCOM",
    "HS",
    "SALESFORCE",
    "GOOGLEADS",
    "FACEBOOK_PIXEL",
    "TIKTOK_ADS",
    "STATSIG",
    "LAUNCHDARKLY",
    "CANDU",
    "SLACK",
    "KAFKA",
    "S3",
    "SNOWFLAKE",
    "BQ",
    "RS",
    "POSTGRES",
    "CLICKHOUSE",
    "DELTALAKE",
    "S3_DATALAKE",
];

/// (name, RudderStack source type) of each source the issue names.
const SOURCES_THE_ISSUE_NAMES: [(&str, &str); 18] = [
    ("Javascript", "web"),
    ("iOS", "ios"),
    ("Android", "android"),
    ("watchOS", "ios"),
    ("tvOS", "ios"),
    ("Node", "cloud"),
    ("Python", "cloud"),
    ("Go", "cloud"),
    ("HTTP", "cloud"),
    ("webhook", "cloud"),
    ("Braze", "cloud"),
    ("appsflyer", "cloud"),
    ("Appcenter", "cloud"),
    ("singer-chargebee", "cloudSource"),
    ("snowflake", "warehouse"),
    ("bigquery", "warehouse"),
    ("redshift", "warehouse"),
    ("postgres", "warehouse"),
];

/// Destinations: exactly RudderStack's names, display names, transformAt, source types, connection modes,
/// message types, secret/include/exclude keys and per-source-type keys; its required keys are the schema's;
/// every property it knows is in the schema with the same JSON type.
async fn destinations_agree_with_rudderstack(backend: Backend) {
    let app = TestApp::start(backend).await;
    let reader = app.user("reader@example.com").await;
    let served = full_catalog(&reader, "destinations").await;
    assert!(served.len() >= 25, "only {} destinations", served.len());
    for name in DESTINATIONS_THE_ISSUE_NAMES {
        assert!(served.contains_key(name), "the catalog lacks {name}");
    }

    let mut problems = Vec::new();
    for (name, facts) in by_name(&reference()["destinations"]) {
        let Some(ours) = served.get(&name) else {
            problems.push(format!("{name}: missing"));
            continue;
        };
        problems.extend(agreement(
            &name,
            ours,
            &facts,
            &[
                "displayName",
                "transformAtV1",
                "supportedSourceTypes",
                "supportedConnectionModes",
                "supportedMessageTypes",
                "includeKeys",
                "excludeKeys",
            ],
        ));
        if ours["destConfig"] != facts["perSourceTypeKeys"] {
            problems.push(format!("{name}.destConfig ≠ perSourceTypeKeys"));
        }
        let schema = &ours["configSchema"];
        if set(&schema["required"]) != set(&facts["requiredConfig"]) {
            problems.push(format!(
                "{name}: required {} ≠ {}",
                schema["required"], facts["requiredConfig"]
            ));
        }
        for (property, json_type) in facts["configProperties"].as_object().unwrap() {
            match schema["properties"].get(property) {
                None => problems.push(format!(
                    "{name}: property {property} missing from the schema"
                )),
                Some(p) if p["type"] != *json_type => problems.push(format!(
                    "{name}.{property}: type {} ≠ {json_type}",
                    p["type"]
                )),
                Some(_) => {}
            }
        }
        // Secret fields are write-only in the schema (the UI's form shows them as such).
        for key in set(&ours["secretKeys"]).iter().filter(|k| !k.contains('.')) {
            if let Some(property) = schema["properties"].get(key) {
                if property["writeOnly"] != true {
                    problems.push(format!("{name}.{key} is secret but not writeOnly"));
                }
            }
        }
    }
    for (name, ours) in &served {
        if str_of(ours, "id").len() != 27 {
            problems.push(format!("{name}: id {} is not 27 characters", ours["id"]));
        }
        if ours["configSchema"]["type"] != "object" {
            problems.push(format!("{name}: configSchema is not an object schema"));
        }
        problems.extend(credentials_not_secret(name, ours));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A top-level property named like a credential must be secret: a definition that forgets one would store
/// and return it in plain text.
fn credentials_not_secret(name: &str, definition: &Value) -> Vec<String> {
    const CREDENTIAL_WORDS: [&str; 4] = ["secret", "password", "privatekey", "clientkey"];
    let secret = set(&definition["secretKeys"]);
    let properties = definition["configSchema"]["properties"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    properties
        .keys()
        .filter(|key| {
            let lower = key.to_lowercase();
            CREDENTIAL_WORDS.iter().any(|word| lower.contains(word)) && !secret.contains(*key)
        })
        .map(|key| format!("{name}.{key} looks like a credential but is not secret"))
        .collect()
}

/// Sources: exactly RudderStack's name, display name, category and type; RudderStack's secret keys are
/// secret here too (warehouse sources add their credentials). watchOS and tvOS are entries of their own
/// that data planes know as RudderStack's iOS definition.
async fn sources_agree_with_rudderstack(backend: Backend) {
    let app = TestApp::start(backend).await;
    let reader = app.user("reader@example.com").await;
    let served = full_catalog(&reader, "sources").await;
    let mut problems = Vec::new();
    for (name, source_type) in SOURCES_THE_ISSUE_NAMES {
        match served.get(name) {
            None => problems.push(format!("the catalog lacks {name}")),
            Some(ours) if ours["type"] != source_type => {
                problems.push(format!("{name}: type {}", ours["type"]))
            }
            Some(_) => {}
        }
    }
    for (name, facts) in by_name(&reference()["sources"]) {
        let Some(ours) = served.get(&name) else {
            problems.push(format!("{name}: missing"));
            continue;
        };
        problems.extend(agreement(
            &name,
            ours,
            &facts,
            &["displayName", "category", "type"],
        ));
        if ours.get("definitionName").is_some() {
            problems.push(format!(
                "{name}: a RudderStack definition needs no definitionName"
            ));
        }
    }
    let ios = &served["iOS"];
    for apple in ["watchOS", "tvOS"] {
        let entry = &served[apple];
        assert_eq!(entry["definitionName"], "iOS", "{apple}");
        assert_eq!(
            (&entry["category"], &entry["type"]),
            (&ios["category"], &ios["type"]),
            "{apple}"
        );
    }
    for (name, ours) in &served {
        problems.extend(credentials_not_secret(name, ours));
    }
    for warehouse in ["snowflake", "bigquery", "redshift", "postgres"] {
        let secrets = set(&served[warehouse]["secretKeys"]);
        if secrets.is_empty() {
            problems.push(format!(
                "{warehouse}: a reverse-ETL source without secret credentials"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The catalog is for signed-in callers (people and API tokens).
async fn the_catalog_needs_a_caller(backend: Backend) {
    let app = TestApp::start(backend).await;
    app.anonymous()
        .get("/api/v1/catalog/destinations")
        .await
        .expect_error(401, "unauthorized", None);
    let reader = app.user("reader@example.com").await;
    let ws = app.workspace(&reader, "Acme").await;
    let token = app.api_token(&reader, &ws, Role::Viewer).await;
    assert_eq!(
        token.get("/api/v1/catalog/sources").await.expect(200),
        reader.get("/api/v1/catalog/sources").await.expect(200)
    );
}
