//! How a stored destination config becomes what a data plane or a browser sees for one source.
//!
//! RudderStack keeps some keys per source type (`connectionMode: {"web": "cloud", "android": "device"}`);
//! data planes and SDKs read flat values, so the control plane resolves them for the type of the source the
//! destination is connected to (the definition's `destConfig` lists those keys per source type).

use std::collections::HashSet;

use app::api::catalog::DestinationDefinition;
use serde_json::{Map, Value};

pub struct Resolved {
    pub config: Map<String, Value>,
    pub connection_mode: String,
}

impl Resolved {
    /// rudder-server processes and delivers only when this is true (cloud or hybrid mode).
    pub fn is_processor_enabled(&self) -> bool {
        self.connection_mode != "device"
    }
}

/// What one destination definition brings to every config built from it, worked out once per rebuild.
pub struct DefinitionView<'a> {
    pub definition: &'a DestinationDefinition,
    /// Keys stored as an object keyed by source type.
    per_source_type: HashSet<&'a str>,
    /// `includeKeys` minus `excludeKeys` and secret keys.
    browser_keys: Vec<&'a str>,
    /// What rudder-server reads from `destinationDefinition.config`.
    pub data_plane_config: Value,
}

impl<'a> DefinitionView<'a> {
    pub fn new(definition: &'a DestinationDefinition) -> Self {
        let per_source_type = definition
            .dest_config
            .iter()
            .filter(|(source_type, _)| source_type.as_str() != "defaultConfig")
            .flat_map(|(_, keys)| keys.iter().map(String::as_str))
            .filter(|key| {
                definition
                    .config_schema
                    .pointer(&format!("/properties/{key}/type"))
                    .and_then(Value::as_str)
                    == Some("object")
            })
            .collect();
        let secret_tops: HashSet<&str> = definition
            .secret_keys
            .iter()
            .filter_map(|k| k.split('.').next())
            .collect();
        let browser_keys = definition
            .include_keys
            .iter()
            .map(String::as_str)
            .filter(|key| {
                !definition.exclude_keys.iter().any(|k| k == key) && !secret_tops.contains(key)
            })
            .collect();
        DefinitionView {
            definition,
            per_source_type,
            browser_keys,
            data_plane_config: data_plane_config(definition),
        }
    }

    /// The config (secrets included) as a data plane sees it for a source of `source_type`.
    pub fn resolve(&self, config: &Value, source_type: &str) -> Resolved {
        let mut out = Map::new();
        if let Some(map) = config.as_object() {
            for (key, value) in map {
                if self.per_source_type.contains(key.as_str()) {
                    if let Some(resolved) = value
                        .as_object()
                        .and_then(|by_type| by_type.get(source_type))
                    {
                        out.insert(key.clone(), resolved.clone());
                    }
                } else {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
        let supported = self.definition.supported_connection_modes.get(source_type);
        let allowed = |mode: &str| supported.is_none_or(|modes| modes.iter().any(|m| m == mode));
        let chosen = out
            .get("connectionMode")
            .and_then(Value::as_str)
            .filter(|m| allowed(m))
            .map(str::to_string);
        let connection_mode = chosen.unwrap_or_else(|| {
            if allowed("cloud") {
                "cloud".to_string()
            } else {
                supported
                    .and_then(|m| m.first().cloned())
                    .unwrap_or_else(|| "cloud".into())
            }
        });
        out.insert(
            "connectionMode".into(),
            Value::String(connection_mode.clone()),
        );
        Resolved {
            config: out,
            connection_mode,
        }
    }

    /// Only the keys a browser may see: the definition's `includeKeys` (never an `excludeKeys` or secret one),
    /// plus `connectionMode`, which the JavaScript SDK needs to tell cloud from device mode.
    pub fn browser_config(&self, resolved: &Resolved) -> Map<String, Value> {
        let mut out = Map::new();
        for key in &self.browser_keys {
            if let Some(value) = resolved.config.get(*key) {
                out.insert(key.to_string(), value.clone());
            }
        }
        out.insert(
            "connectionMode".into(),
            Value::String(resolved.connection_mode.clone()),
        );
        out
    }
}

/// What rudder-server reads from `destinationDefinition.config`: the cloud message types as a flat list, and
/// for hybrid mode which of them it delivers from the cloud.
fn data_plane_config(definition: &DestinationDefinition) -> Value {
    let mut config = Map::new();
    if let Some(transform_at) = &definition.transform_at_v1 {
        config.insert("transformAtV1".into(), Value::String(transform_at.clone()));
        config.insert("transformAt".into(), Value::String(transform_at.clone()));
    }
    config.insert("saveDestinationResponse".into(), Value::Bool(false));
    config.insert(
        "supportedSourceTypes".into(),
        Value::Array(
            definition
                .supported_source_types
                .iter()
                .cloned()
                .map(Value::String)
                .collect(),
        ),
    );
    let message_types = match &definition.supported_message_types {
        Value::Array(list) => Some(Value::Array(list.clone())),
        Value::Object(by_mode) => by_mode.get("cloud").cloned(),
        _ => None,
    };
    if let Some(types) = message_types {
        config.insert("supportedMessageTypes".into(), types);
    }
    if let Some(filter) = &definition.hybrid_mode_cloud_events_filter {
        config.insert("hybridModeCloudEventsFilter".into(), filter.clone());
    }
    Value::Object(config)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn per_source_type_keys_are_resolved_for_the_source() {
        let catalog = Catalog::load().unwrap();
        let amplitude = &catalog.destination("AM").unwrap().definition;
        let config = json!({
            "apiKey": "k", "apiSecret": "s", "residencyServer": "standard",
            "connectionMode": {"web": "device", "android": "cloud"},
            "useNativeSDK": {"web": true}
        });
        let view = DefinitionView::new(amplitude);
        let web = view.resolve(&config, "web");
        assert_eq!(web.connection_mode, "device");
        assert!(!web.is_processor_enabled());
        assert_eq!(web.config["useNativeSDK"], json!(true));
        let android = view.resolve(&config, "android");
        assert_eq!(android.config["connectionMode"], json!("cloud"));
        assert!(android.config.get("useNativeSDK").is_none());
        // Unset for this type: cloud when the definition allows it.
        assert_eq!(view.resolve(&config, "cloud").connection_mode, "cloud");
    }

    #[test]
    fn hybrid_mode_filters_reach_the_data_plane() {
        let catalog = Catalog::load().unwrap();
        let config = |name: &str| data_plane_config(&catalog.destination(name).unwrap().definition);
        assert_eq!(
            config("GA4")["hybridModeCloudEventsFilter"],
            json!({"web": {"messageType": ["track", "group"]}})
        );
        assert_eq!(
            config("BRAZE")["hybridModeCloudEventsFilter"],
            json!({"web": {"messageType": ["identify", "track", "page"]}})
        );
        assert!(config("AM").get("hybridModeCloudEventsFilter").is_none());
    }

    #[test]
    fn the_browser_never_sees_a_secret() {
        let catalog = Catalog::load().unwrap();
        let amplitude = &catalog.destination("AM").unwrap().definition;
        let config =
            json!({"apiKey": "public-key", "apiSecret": "secret", "residencyServer": "standard"});
        let view = DefinitionView::new(amplitude);
        let browser = view.browser_config(&view.resolve(&config, "web"));
        assert_eq!(browser["apiKey"], json!("public-key"));
        assert!(browser.get("apiSecret").is_none());
        assert_eq!(browser["connectionMode"], json!("cloud"));
    }
}
