//! Consent settings as data planes and SDKs read them (`../shared/reference/rudderstack-protocol.md` §4.1):
//! per destination `consentManagement` and the legacy `oneTrustCookieCategories` and `ketchConsentPurposes`,
//! and per JavaScript SDK source config `consentManagementMetadata`. Worked out once per snapshot build.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::ConsentRows;

/// The strategy the JavaScript SDK applies to a provider's consents, and writes into every event's
/// `context.consentManagement` (which rudder-server then applies): OneTrust categories must all be allowed,
/// one Ketch purpose is enough, iubenda purposes must all be. `None` for custom: there the SDK and
/// rudder-server take each destination's own strategy.
pub fn provider_strategy(provider: &str) -> Option<&'static str> {
    match provider {
        "oneTrust" | "iubenda" => Some("and"),
        "ketch" => Some("or"),
        _ => None,
    }
}

/// A workspace's consent settings, ready to be put into documents.
#[derive(Default)]
pub struct Served {
    /// destination id → the keys its config gets.
    by_destination: HashMap<String, Map<String, Value>>,
    metadata: Option<Value>,
}

impl Served {
    pub fn new(rows: &ConsentRows) -> Served {
        let mut providers: Vec<&super::ProviderRow> = rows.providers.iter().collect();
        providers.sort_by_key(|p| p.position);
        // The SDK reads the strategy here for every provider but custom, whose strategy it sets aside (it
        // takes each destination's): custom is listed without one, not with a strategy nobody applies.
        let metadata = (!providers.is_empty()).then(|| {
            let providers: Vec<Value> = providers
                .iter()
                .map(|p| match provider_strategy(&p.provider) {
                    Some(strategy) => {
                        json!({"provider": p.provider, "resolutionStrategy": strategy})
                    }
                    None => json!({"provider": p.provider}),
                })
                .collect();
            json!({ "providers": providers })
        });

        let mut consents: HashMap<(&str, &str), Vec<(i64, &str)>> = HashMap::new();
        for row in &rows.destination_consents {
            consents
                .entry((row.destination_id.as_str(), row.provider.as_str()))
                .or_default()
                .push((row.position, row.consent_id.as_str()));
        }
        let mut entries: HashMap<&str, Vec<&super::DestinationProviderRow>> = HashMap::new();
        for row in &rows.destination_providers {
            entries
                .entry(row.destination_id.as_str())
                .or_default()
                .push(row);
        }
        let by_destination = entries
            .into_iter()
            .map(|(destination_id, mut providers)| {
                providers.sort_by_key(|p| p.position);
                let mut consent_management = Vec::new();
                let mut one_trust = Vec::new();
                let mut ketch = Vec::new();
                for provider in providers {
                    let mut ids = consents
                        .remove(&(destination_id, provider.provider.as_str()))
                        .unwrap_or_default();
                    ids.sort();
                    let ids: Vec<&str> = ids.into_iter().map(|(_, id)| id).collect();
                    let mut entry = Map::new();
                    entry.insert("provider".into(), json!(provider.provider));
                    // Only custom has one: the SDK's iubenda and custom managers let a destination's
                    // strategy (even an empty one) override the provider's, so the others carry none.
                    if let Some(strategy) = &provider.resolution_strategy {
                        entry.insert("resolutionStrategy".into(), json!(strategy));
                    }
                    entry.insert(
                        "consents".into(),
                        ids.iter().map(|id| json!({"consent": id})).collect(),
                    );
                    consent_management.push(Value::Object(entry));
                    match provider.provider.as_str() {
                        "oneTrust" => one_trust
                            .extend(ids.iter().map(|id| json!({"oneTrustCookieCategory": id}))),
                        "ketch" => ketch.extend(ids.iter().map(|id| json!({"purpose": id}))),
                        _ => {}
                    }
                }
                let mut keys = Map::new();
                keys.insert("consentManagement".into(), Value::Array(consent_management));
                keys.insert("oneTrustCookieCategories".into(), Value::Array(one_trust));
                keys.insert("ketchConsentPurposes".into(), Value::Array(ketch));
                (destination_id.to_string(), keys)
            })
            .collect();
        Served {
            by_destination,
            metadata,
        }
    }

    /// The SDK's `consentManagementMetadata`; none while the workspace uses no consent manager.
    pub fn metadata(&self) -> Option<&Value> {
        self.metadata.as_ref()
    }

    /// Puts a destination's consent keys into a config it is served with (for a data plane, or a browser:
    /// the SDK reads them whatever the definition's `includeKeys` say). They replace what the destination's
    /// own config has for them; a destination without consent settings keeps its own.
    pub fn apply(&self, destination_id: &str, config: &mut Map<String, Value>) {
        if let Some(keys) = self.by_destination.get(destination_id) {
            for (key, value) in keys {
                config.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DestinationConsentRow, DestinationProviderRow, ProviderRow};
    use super::*;

    fn provider(name: &str, position: i64) -> ProviderRow {
        ProviderRow {
            workspace_id: "ws".into(),
            provider: name.into(),
            position,
        }
    }

    fn destination_provider(
        name: &str,
        strategy: Option<&str>,
        position: i64,
    ) -> DestinationProviderRow {
        DestinationProviderRow {
            destination_id: "d1".into(),
            workspace_id: "ws".into(),
            provider: name.into(),
            resolution_strategy: strategy.map(str::to_string),
            position,
        }
    }

    fn consent(name: &str, id: &str, position: i64) -> DestinationConsentRow {
        DestinationConsentRow {
            destination_id: "d1".into(),
            workspace_id: "ws".into(),
            provider: name.into(),
            consent_id: id.into(),
            position,
        }
    }

    #[test]
    fn destinations_get_generic_and_legacy_keys_and_the_sdk_the_strategies() {
        let rows = ConsentRows {
            providers: vec![
                provider("custom", 3),
                provider("oneTrust", 0),
                provider("ketch", 1),
                provider("iubenda", 2),
            ],
            destination_providers: vec![
                destination_provider("custom", Some("or"), 1),
                destination_provider("oneTrust", None, 0),
                destination_provider("ketch", None, 2),
            ],
            destination_consents: vec![
                consent("oneTrust", "C0003", 1),
                consent("oneTrust", "C0002", 0),
                consent("custom", "analytics", 0),
                consent("ketch", "ads", 0),
            ],
        };
        let served = Served::new(&rows);
        assert_eq!(
            served.metadata(),
            Some(&json!({"providers": [
                {"provider": "oneTrust", "resolutionStrategy": "and"},
                {"provider": "ketch", "resolutionStrategy": "or"},
                {"provider": "iubenda", "resolutionStrategy": "and"},
                {"provider": "custom"},
            ]}))
        );
        let mut config = Map::new();
        config.insert("apiKey".into(), json!("k"));
        config.insert(
            "oneTrustCookieCategories".into(),
            json!([{"oneTrustCookieCategory": "OLD"}]),
        );
        served.apply("d1", &mut config);
        assert_eq!(
            Value::Object(config),
            json!({
                "apiKey": "k",
                "consentManagement": [
                    {"provider": "oneTrust", "consents": [{"consent": "C0002"}, {"consent": "C0003"}]},
                    {"provider": "custom", "resolutionStrategy": "or", "consents": [{"consent": "analytics"}]},
                    {"provider": "ketch", "consents": [{"consent": "ads"}]},
                ],
                "oneTrustCookieCategories": [{"oneTrustCookieCategory": "C0002"}, {"oneTrustCookieCategory": "C0003"}],
                "ketchConsentPurposes": [{"purpose": "ads"}],
            })
        );
    }

    #[test]
    fn without_settings_a_destination_keeps_its_own_keys() {
        let served = Served::new(&ConsentRows::default());
        assert_eq!(served.metadata(), None);
        let mut config = Map::new();
        config.insert("ketchConsentPurposes".into(), json!([{"purpose": "p"}]));
        let before = config.clone();
        served.apply("d1", &mut config);
        assert_eq!(config, before);
    }
}
