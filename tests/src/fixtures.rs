//! Resources most tests need, created through the API, and the values that go into them.

use serde_json::{json, Value};

use crate::client::Client;

/// A secret value unique to one test: if it ever shows up where it must not, the failure names this test.
pub fn canary() -> String {
    format!("CANARY-{}", crate::random_suffix(20))
}

/// A valid Amplitude config (`AM`): `apiSecret` is its secret field.
pub fn amplitude_config(api_key: &str, api_secret: &str) -> Value {
    json!({"apiKey": api_key, "apiSecret": api_secret, "residencyServer": "standard"})
}

/// A valid Webhook config (`WEBHOOK`): every `headers[].to` is secret.
pub fn webhook_config(url: &str, headers: &[(&str, &str)]) -> Value {
    json!({
        "webhookUrl": url,
        "webhookMethod": "POST",
        "headers": headers.iter().map(|(from, to)| json!({"from": from, "to": to})).collect::<Vec<_>>(),
    })
}

pub fn sources_path(ws: &str) -> String {
    format!("/api/v1/workspaces/{ws}/sources")
}

pub fn destinations_path(ws: &str) -> String {
    format!("/api/v1/workspaces/{ws}/destinations")
}

pub fn connections_path(ws: &str) -> String {
    format!("/api/v1/workspaces/{ws}/connections")
}

impl Client {
    /// `POST …/sources` with a source type (`Javascript`, `Android`, `webhook`…); returns the created source.
    pub async fn create_source(&self, ws: &str, source_type: &str, name: &str) -> Value {
        self.create_source_with(ws, source_type, name, json!({}))
            .await
    }

    /// `POST …/sources` with a config.
    pub async fn create_source_with(
        &self,
        ws: &str,
        source_type: &str,
        name: &str,
        config: Value,
    ) -> Value {
        self.post(
            &sources_path(ws),
            json!({"name": name, "type": source_type, "config": config}),
        )
        .await
        .expect(201)
    }

    /// `POST …/destinations`; returns the created destination.
    pub async fn create_destination(
        &self,
        ws: &str,
        destination_type: &str,
        name: &str,
        config: Value,
    ) -> Value {
        self.post(
            &destinations_path(ws),
            json!({"name": name, "type": destination_type, "config": config}),
        )
        .await
        .expect(201)
    }

    /// `POST …/connections`; returns the connection.
    pub async fn connect(&self, ws: &str, source_id: &str, destination_id: &str) -> Value {
        self.post(
            &connections_path(ws),
            json!({"sourceId": source_id, "destinationId": destination_id}),
        )
        .await
        .expect(201)
    }
}

/// `value["id"]` as a string.
pub fn id(value: &Value) -> String {
    value["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {value}"))
        .to_string()
}

/// `value[key]` as a string.
pub fn str_of(value: &Value, key: &str) -> String {
    value[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key} in {value}"))
        .to_string()
}

/// The source with `id` in a `/workspaceConfig` document.
pub fn config_source<'a>(config: &'a Value, id: &str) -> Option<&'a Value> {
    config["sources"]
        .as_array()?
        .iter()
        .find(|s| s["id"].as_str() == Some(id))
}

/// The destination with `id` under the source with `source_id` in a `/workspaceConfig` document.
pub fn config_destination<'a>(
    config: &'a Value,
    source_id: &str,
    destination_id: &str,
) -> Option<&'a Value> {
    config_source(config, source_id)?["destinations"]
        .as_array()?
        .iter()
        .find(|d| d["id"].as_str() == Some(destination_id))
}
