//! Who receives an event, by consent: rudder-server's rules for what the data plane delivers (cloud mode,
//! `../shared/reference/rudderstack-protocol.md` §4.2, processor/consent.go) and the JavaScript SDK's for the
//! destinations it loads in the browser (device mode, §4.3, its consent manager plugins). They differ: the
//! server looks only at denied consents, the SDK only at allowed ones, and each reads its own keys in its
//! own order. Both read a destination's config as it is served to them.

use serde_json::{Map, Value};

/// The consents of one visitor, as the SDK holds them and sends them with every event
/// (`context.consentManagement`).
#[derive(Clone, Copy, Debug)]
pub struct Consent<'a> {
    /// `oneTrust`, `ketch`, `iubenda` or `custom`.
    pub provider: &'a str,
    pub allowed: &'a [String],
    pub denied: &'a [String],
    /// The SDK's strategy for the provider (from `consentManagementMetadata`; none for custom), which it
    /// applies and sends in the event for rudder-server to apply.
    pub resolution_strategy: Option<&'a str>,
    /// Whether the SDK has consent data at all (ids were given, or read from the consent manager).
    pub initialized: bool,
}

/// Whether the destination gets the event, and the rule that decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub receives: bool,
    pub reason: String,
}

fn decision(receives: bool, reason: impl Into<String>) -> Decision {
    Decision {
        receives,
        reason: reason.into(),
    }
}

/// One `consentManagement` entry of a destination's config.
struct Entry {
    provider: String,
    resolution_strategy: Option<String>,
    consents: Vec<String>,
}

/// The destination's `consentManagement` entries; `None` when it has no such key (an empty list is a key).
fn entries(config: &Map<String, Value>) -> Option<Vec<Entry>> {
    let list = match config.get("consentManagement")? {
        Value::Null => return None,
        Value::Array(list) => list,
        _ => return Some(Vec::new()),
    };
    Some(
        list.iter()
            .filter_map(Value::as_object)
            .map(|entry| Entry {
                provider: string(entry.get("provider")),
                resolution_strategy: entry
                    .get("resolutionStrategy")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                consents: ids(entry.get("consents"), "consent"),
            })
            .collect(),
    )
}

fn string(value: Option<&Value>) -> String {
    value
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// `[{"<key>": "id"}, …]` → the ids, trimmed, without empty ones (as both clients read them).
fn ids(list: Option<&Value>, key: &str) -> Vec<String> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item.get(key).and_then(Value::as_str))
        .map(|id| id.trim().to_string())
        .filter(|id| !id.is_empty())
        .collect()
}

fn legacy(config: &Map<String, Value>, key: &str, item_key: &str) -> Vec<String> {
    ids(config.get(key), item_key)
}

fn listed(ids: &[String]) -> String {
    ids.join(", ")
}

/// rudder-server's processor: does the data plane deliver the event to this destination?
pub fn data_plane(config: &Map<String, Value>, consent: &Consent) -> Decision {
    let denied: Vec<&String> = consent.denied.iter().filter(|id| !id.is_empty()).collect();
    if denied.is_empty() {
        return decision(
            true,
            "no consent is denied, and rudder-server filters on denied consents only",
        );
    }
    let is_denied = |id: &String| denied.contains(&id);
    // Generic: the entry for the event's provider, when it names at least one consent (a later entry for
    // the same provider replaces an earlier one, as rudder-server reads them into a map).
    let generic = entries(config)
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !e.provider.is_empty() && !e.consents.is_empty())
        .rfind(|e| e.provider == consent.provider);
    if let Some(entry) = generic {
        let provider = &entry.provider;
        let (strategy, whose) = if consent.provider == "custom" {
            (entry.resolution_strategy.as_deref(), "the destination's")
        } else {
            (consent.resolution_strategy, "the event's")
        };
        let all = listed(&entry.consents);
        return if strategy == Some("or") {
            if entry.consents.iter().all(is_denied) {
                decision(
                    false,
                    format!("every one of its {provider} consents ({all}) is denied ({whose} resolution strategy: or)"),
                )
            } else {
                decision(
                    true,
                    format!("not every one of its {provider} consents ({all}) is denied ({whose} resolution strategy: or)"),
                )
            }
        } else {
            let strategy = strategy.filter(|s| !s.is_empty()).unwrap_or("none, so and");
            match entry.consents.iter().find(|id| is_denied(id)) {
                Some(id) => decision(
                    false,
                    format!("its {provider} consent {id} is denied, and it needs every one of {all} ({whose} resolution strategy: {strategy})"),
                ),
                None => decision(
                    true,
                    format!("none of its {provider} consents ({all}) is denied ({whose} resolution strategy: {strategy})"),
                ),
            }
        };
    }
    if matches!(consent.provider, "" | "oneTrust") {
        let categories = legacy(config, "oneTrustCookieCategories", "oneTrustCookieCategory");
        if !categories.is_empty() {
            let all = listed(&categories);
            return match categories.iter().find(|id| is_denied(id)) {
                Some(id) => decision(
                    false,
                    format!("its OneTrust category {id} (oneTrustCookieCategories: {all}) is denied, and any denied one drops it"),
                ),
                None => decision(
                    true,
                    format!("none of its OneTrust categories (oneTrustCookieCategories: {all}) is denied"),
                ),
            };
        }
    }
    if matches!(consent.provider, "" | "ketch") {
        let purposes = legacy(config, "ketchConsentPurposes", "purpose");
        if !purposes.is_empty() {
            let all = listed(&purposes);
            return if purposes.iter().all(is_denied) {
                decision(
                    false,
                    format!(
                        "every one of its Ketch purposes (ketchConsentPurposes: {all}) is denied"
                    ),
                )
            } else {
                decision(
                    true,
                    format!("not every one of its Ketch purposes (ketchConsentPurposes: {all}) is denied"),
                )
            };
        }
    }
    decision(true, format!("it requires no {} consent", consent.provider))
}

/// The JavaScript SDK's consent manager for the provider: does it load this device-mode destination (and
/// so hand it events) in the browser?
pub fn sdk(config: &Map<String, Value>, consent: &Consent) -> Decision {
    if !consent.initialized {
        return decision(
            true,
            "no consent data yet, and until there is the SDK loads every destination",
        );
    }
    let provider = consent.provider;
    let is_allowed = |id: &String| consent.allowed.contains(id);
    if let Some(entries) = entries(config) {
        let Some(entry) = entries.into_iter().find(|e| e.provider == provider) else {
            return decision(true, format!("it requires no {provider} consent"));
        };
        // The custom and iubenda managers let a destination's own strategy win; OneTrust's and Ketch's
        // apply the provider's.
        let (strategy, whose) = match (provider, entry.resolution_strategy.as_deref()) {
            ("custom" | "iubenda", Some(own)) => (Some(own), "the destination's"),
            _ => (consent.resolution_strategy, "the SDK's"),
        };
        let all = listed(&entry.consents);
        if entry.consents.is_empty() {
            return decision(true, format!("it names no {provider} consent"));
        }
        return if strategy == Some("or") {
            match entry.consents.iter().find(|id| is_allowed(id)) {
                Some(id) => decision(
                    true,
                    format!("its {provider} consent {id} is allowed, and one of {all} is enough ({whose} resolution strategy: or)"),
                ),
                None => decision(
                    false,
                    format!("none of its {provider} consents ({all}) is allowed ({whose} resolution strategy: or)"),
                ),
            }
        } else {
            let strategy = strategy.filter(|s| !s.is_empty()).unwrap_or("none, so and");
            match entry.consents.iter().find(|id| !is_allowed(id)) {
                Some(id) => decision(
                    false,
                    format!("its {provider} consent {id} is not allowed, and it needs every one of {all} ({whose} resolution strategy: {strategy})"),
                ),
                None => decision(
                    true,
                    format!("every one of its {provider} consents ({all}) is allowed ({whose} resolution strategy: {strategy})"),
                ),
            }
        };
    }
    match provider {
        "oneTrust" if config.contains_key("oneTrustCookieCategories") => {
            let categories = legacy(config, "oneTrustCookieCategories", "oneTrustCookieCategory");
            let all = listed(&categories);
            match categories.iter().find(|id| !is_allowed(id)) {
                Some(id) => decision(
                    false,
                    format!("its OneTrust category {id} (oneTrustCookieCategories: {all}) is not allowed, and it needs every one"),
                ),
                None => decision(
                    true,
                    format!("every one of its OneTrust categories (oneTrustCookieCategories: {all}) is allowed"),
                ),
            }
        }
        "ketch" if config.contains_key("ketchConsentPurposes") => {
            let purposes = legacy(config, "ketchConsentPurposes", "purpose");
            let all = listed(&purposes);
            if purposes.is_empty() {
                decision(true, "it names no Ketch purpose")
            } else if let Some(id) = purposes.iter().find(|id| is_allowed(id)) {
                decision(
                    true,
                    format!("its Ketch purpose {id} (ketchConsentPurposes: {all}) is allowed, and one is enough"),
                )
            } else {
                decision(
                    false,
                    format!("none of its Ketch purposes (ketchConsentPurposes: {all}) is allowed"),
                )
            }
        }
        _ => decision(true, format!("it requires no {provider} consent")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }

    fn list(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    struct Case {
        what: &'static str,
        config: Value,
        provider: &'static str,
        strategy: Option<&'static str>,
        allowed: &'static [&'static str],
        denied: &'static [&'static str],
        data_plane: bool,
        sdk: bool,
    }

    fn generic(provider: &str, strategy: Option<&str>, ids: &[&str]) -> Value {
        let mut entry = json!({"provider": provider, "consents": ids.iter().map(|id| json!({"consent": id})).collect::<Vec<_>>()});
        if let Some(strategy) = strategy {
            entry["resolutionStrategy"] = json!(strategy);
        }
        json!({"consentManagement": [entry]})
    }

    #[test]
    fn the_data_plane_and_the_sdk_each_apply_their_rules() {
        let cases = [
            Case {
                what: "the server only looks at denied ids: nothing denied, nothing dropped",
                config: generic("custom", Some("and"), &["a", "b"]),
                provider: "custom",
                strategy: None,
                allowed: &["a"],
                denied: &[],
                data_plane: true,
                sdk: false,
            },
            Case {
                what: "empty denied ids are no denial",
                config: generic("custom", Some("and"), &["a"]),
                provider: "custom",
                strategy: None,
                allowed: &[],
                denied: &[""],
                data_plane: true,
                sdk: false,
            },
            Case {
                what: "custom uses the destination's strategy: or, one denied of two",
                config: generic("custom", Some("or"), &["a", "b"]),
                provider: "custom",
                strategy: Some("and"),
                allowed: &["b"],
                denied: &["a"],
                data_plane: true,
                sdk: true,
            },
            Case {
                what: "custom or: every consent denied",
                config: generic("custom", Some("or"), &["a", "b"]),
                provider: "custom",
                strategy: None,
                allowed: &["c"],
                denied: &["a", "b"],
                data_plane: false,
                sdk: false,
            },
            Case {
                what: "custom and: one denied drops, one not allowed keeps it out of the browser",
                config: generic("custom", Some("and"), &["a", "b"]),
                provider: "custom",
                strategy: Some("or"),
                allowed: &["a"],
                denied: &["b"],
                data_plane: false,
                sdk: false,
            },
            Case {
                what: "custom and: every consent allowed",
                config: generic("custom", Some("and"), &["a", "b"]),
                provider: "custom",
                strategy: None,
                allowed: &["a", "b"],
                denied: &["c"],
                data_plane: true,
                sdk: true,
            },
            Case {
                what: "oneTrust generic: the event's (the SDK's) strategy, not the destination's",
                config: generic("oneTrust", Some("or"), &["C0002", "C0004"]),
                provider: "oneTrust",
                strategy: Some("and"),
                allowed: &["C0002"],
                denied: &["C0004"],
                data_plane: false,
                sdk: false,
            },
            Case {
                what: "ketch generic with the SDK's or: one allowed is enough",
                config: generic("ketch", None, &["ads", "analytics"]),
                provider: "ketch",
                strategy: Some("or"),
                allowed: &["analytics"],
                denied: &["ads"],
                data_plane: true,
                sdk: true,
            },
            Case {
                what: "iubenda: a destination's own strategy wins in the SDK only",
                config: generic("iubenda", Some("or"), &["1", "2"]),
                provider: "iubenda",
                strategy: Some("and"),
                allowed: &["1"],
                denied: &["2"],
                data_plane: false,
                sdk: true,
            },
            Case {
                what: "no entry for the provider: allowed by both",
                config: generic("custom", Some("and"), &["a"]),
                provider: "ketch",
                strategy: Some("or"),
                allowed: &[],
                denied: &["a"],
                data_plane: true,
                sdk: true,
            },
            Case {
                what: "legacy OneTrust: any denied category drops; the SDK needs all allowed",
                config: json!({"oneTrustCookieCategories": [{"oneTrustCookieCategory": "C0002"}, {"oneTrustCookieCategory": "C0003"}]}),
                provider: "oneTrust",
                strategy: Some("and"),
                allowed: &["C0002"],
                denied: &["C0003"],
                data_plane: false,
                sdk: false,
            },
            Case {
                what: "legacy OneTrust: all allowed",
                config: json!({"oneTrustCookieCategories": [{"oneTrustCookieCategory": "C0002"}, {"oneTrustCookieCategory": "C0003"}]}),
                provider: "oneTrust",
                strategy: Some("and"),
                allowed: &["C0002", "C0003"],
                denied: &["C0004"],
                data_plane: true,
                sdk: true,
            },
            Case {
                what: "legacy Ketch: dropped only when every purpose is denied; the SDK needs any allowed",
                config: json!({"ketchConsentPurposes": [{"purpose": "ads"}, {"purpose": "analytics"}]}),
                provider: "ketch",
                strategy: Some("or"),
                allowed: &["analytics"],
                denied: &["ads"],
                data_plane: true,
                sdk: true,
            },
            Case {
                what: "legacy Ketch: every purpose denied",
                config: json!({"ketchConsentPurposes": [{"purpose": "ads"}, {"purpose": "analytics"}]}),
                provider: "ketch",
                strategy: Some("or"),
                allowed: &["other"],
                denied: &["ads", "analytics"],
                data_plane: false,
                sdk: false,
            },
            Case {
                what: "the SDK reads legacy keys only without consentManagement; the server falls back to them",
                config: json!({"consentManagement": [], "oneTrustCookieCategories": [{"oneTrustCookieCategory": "C0004"}]}),
                provider: "oneTrust",
                strategy: Some("and"),
                allowed: &["C0002"],
                denied: &["C0004"],
                data_plane: false,
                sdk: true,
            },
            Case {
                what: "the server ignores legacy OneTrust keys for another provider",
                config: json!({"oneTrustCookieCategories": [{"oneTrustCookieCategory": "a"}]}),
                provider: "custom",
                strategy: None,
                allowed: &[],
                denied: &["a"],
                data_plane: true,
                sdk: true,
            },
            Case {
                what: "no consent configured at all",
                config: json!({"apiKey": "k"}),
                provider: "custom",
                strategy: None,
                allowed: &[],
                denied: &["a"],
                data_plane: true,
                sdk: true,
            },
        ];
        for case in cases {
            let (allowed, denied) = (list(case.allowed), list(case.denied));
            let consent = Consent {
                provider: case.provider,
                allowed: &allowed,
                denied: &denied,
                resolution_strategy: case.strategy,
                initialized: true,
            };
            let config = config(case.config.clone());
            let server = data_plane(&config, &consent);
            assert_eq!(
                server.receives, case.data_plane,
                "data plane: {}: {server:?}",
                case.what
            );
            let browser = sdk(&config, &consent);
            assert_eq!(
                browser.receives, case.sdk,
                "SDK: {}: {browser:?}",
                case.what
            );
            assert!(!server.reason.is_empty() && !browser.reason.is_empty());
        }
    }

    #[test]
    fn before_any_consent_the_sdk_loads_everything() {
        let config = config(generic("custom", Some("and"), &["a"]));
        let none = Vec::new();
        let consent = Consent {
            provider: "custom",
            allowed: &none,
            denied: &none,
            resolution_strategy: None,
            initialized: false,
        };
        assert!(sdk(&config, &consent).receives);
        assert!(data_plane(&config, &consent).receives);
    }

    #[test]
    fn reasons_name_the_consent_that_decided() {
        let config = config(generic("custom", Some("and"), &["analytics", "marketing"]));
        let (allowed, denied) = (list(&["analytics"]), list(&["marketing"]));
        let consent = Consent {
            provider: "custom",
            allowed: &allowed,
            denied: &denied,
            resolution_strategy: None,
            initialized: true,
        };
        let server = data_plane(&config, &consent);
        assert!(server.reason.contains("marketing is denied"), "{server:?}");
        assert!(
            server
                .reason
                .contains("destination's resolution strategy: and"),
            "{server:?}"
        );
        let browser = sdk(&config, &consent);
        assert!(
            browser.reason.contains("marketing is not allowed"),
            "{browser:?}"
        );
    }
}
