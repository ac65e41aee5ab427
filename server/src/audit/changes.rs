//! What an audit entry says changed: dotted field paths with their values before and after, secrets masked.

use std::collections::BTreeMap;

use app::api::audit::{Change, SECRET_MARKER};
use serde::Serialize;
use serde_json::{Map, Value};

/// The changes of one audit entry, keyed by dotted field path (`name`, `config.headers.0.to`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes(BTreeMap<String, Change>);

impl Changes {
    pub fn new() -> Changes {
        Changes::default()
    }

    /// A field that changed from `before` to `after` (`None`: had, or has, no value). Nothing is recorded
    /// when both are equal.
    pub fn field<B: Serialize, A: Serialize>(
        mut self,
        name: &str,
        before: Option<B>,
        after: Option<A>,
    ) -> Changes {
        let before = before.and_then(|v| serde_json::to_value(v).ok());
        let after = after.and_then(|v| serde_json::to_value(v).ok());
        if before != after {
            self.0.insert(name.to_string(), Change { before, after });
        }
        self
    }

    /// A new value (a creation).
    pub fn set<A: Serialize>(self, name: &str, after: A) -> Changes {
        self.field(name, None::<Value>, Some(after))
    }

    /// A value that is gone (a deletion).
    pub fn removed<B: Serialize>(self, name: &str, before: B) -> Changes {
        self.field(name, Some(before), None::<Value>)
    }

    /// Every leaf that differs between two config documents, under `prefix` (`config.apiKey`). A leaf at a
    /// secret key (`secret_keys`, as in a definition's `secretKeys`: `headers.to` covers `headers.3.to`)
    /// appears with the marker in place of its values; two secret values compare by value, so a secret that
    /// was sent again unchanged is no change.
    pub fn config(
        mut self,
        prefix: &str,
        before: &Value,
        after: &Value,
        secret_keys: &[String],
    ) -> Changes {
        let mut old = BTreeMap::new();
        let mut new = BTreeMap::new();
        flatten(before, prefix, &mut old);
        flatten(after, prefix, &mut new);
        let paths: std::collections::BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        for path in paths {
            let (b, a) = (old.get(path), new.get(path));
            if b == a {
                continue;
            }
            let relative = path
                .strip_prefix(prefix)
                .unwrap_or(path)
                .trim_start_matches('.');
            let mask = |value: Option<&&Value>| {
                value.map(|v| {
                    if is_secret(relative, secret_keys) {
                        Value::String(SECRET_MARKER.into())
                    } else {
                        (*v).clone()
                    }
                })
            };
            self.0.insert(
                path.clone(),
                Change {
                    before: mask(b),
                    after: mask(a),
                },
            );
        }
        self
    }

    /// These changes and `other`'s.
    pub fn merge(mut self, other: Changes) -> Changes {
        self.0.extend(other.0);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "{}".into())
    }

    pub fn into_map(self) -> BTreeMap<String, Change> {
        self.0
    }
}

/// Entries written before field-level changes existed held free-form details: shown as one `details` change.
pub(super) fn parse_stored(text: &str) -> BTreeMap<String, Change> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        return BTreeMap::new();
    };
    let is_change = |v: &Value| {
        v.as_object()
            .is_some_and(|o| o.keys().all(|k| k == "before" || k == "after"))
    };
    match value {
        Value::Object(map) if map.values().all(is_change) => map
            .into_iter()
            .map(|(path, change)| {
                let mut change = match change {
                    Value::Object(o) => o,
                    _ => Map::new(),
                };
                (
                    path,
                    Change {
                        before: change.remove("before"),
                        after: change.remove("after"),
                    },
                )
            })
            .collect(),
        other => BTreeMap::from([(
            "details".to_string(),
            Change {
                before: None,
                after: Some(other),
            },
        )]),
    }
}

/// `prefix.a.b` → leaf, for every leaf (scalars, empty objects and arrays) of `value`.
fn flatten<'a>(value: &'a Value, path: &str, out: &mut BTreeMap<String, &'a Value>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                flatten(child, &join(key), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                flatten(child, &join(&i.to_string()), out);
            }
        }
        _ => {
            out.insert(path.to_string(), value);
        }
    }
}

/// Whether a concrete path (`headers.3.to`) falls under a secret key (`headers.to`), or inside one.
fn is_secret(path: &str, secret_keys: &[String]) -> bool {
    let without_indices: Vec<&str> = path
        .split('.')
        .filter(|segment| segment.parse::<usize>().is_err())
        .collect();
    let without_indices = without_indices.join(".");
    secret_keys.iter().any(|key| {
        without_indices == *key
            || without_indices
                .strip_prefix(key.as_str())
                .is_some_and(|rest| rest.starts_with('.'))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn config_changes_name_each_leaf_and_mask_secrets() {
        let before =
            json!({"url": "a", "apiSecret": "old-secret", "headers": [{"from": "X", "to": "t1"}]});
        let after = json!({"url": "b", "apiSecret": "new-secret", "headers": [{"from": "X", "to": "t2"}, {"from": "Y"}]});
        let changes = Changes::new()
            .config(
                "config",
                &before,
                &after,
                &keys(&["apiSecret", "headers.to"]),
            )
            .into_map();
        let text = serde_json::to_string(&changes).unwrap();
        for secret in ["old-secret", "new-secret", "t1", "t2"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(changes["config.url"].before, Some(json!("a")));
        assert_eq!(changes["config.url"].after, Some(json!("b")));
        assert_eq!(
            changes["config.apiSecret"].after,
            Some(json!(SECRET_MARKER))
        );
        assert_eq!(
            changes["config.headers.0.to"].before,
            Some(json!(SECRET_MARKER))
        );
        assert_eq!(changes["config.headers.1.from"].before, None);
        assert!(!changes.contains_key("config.headers.0.from"));
    }

    #[test]
    fn an_unchanged_secret_is_no_change() {
        let config = json!({"apiSecret": "same"});
        assert!(Changes::new()
            .config("config", &config, &config, &keys(&["apiSecret"]))
            .is_empty());
    }

    #[test]
    fn fields_record_only_what_differs() {
        let changes = Changes::new()
            .field("name", Some("A"), Some("A"))
            .field("enabled", Some(true), Some(false))
            .set("role", "editor");
        let map = changes.into_map();
        assert_eq!(map.len(), 2);
        assert_eq!(map["enabled"].after, Some(json!(false)));
        assert_eq!(map["role"].before, None);
    }

    #[test]
    fn old_free_form_details_still_read() {
        let parsed = parse_stored(r#"{"changed": ["name"]}"#);
        assert_eq!(parsed["details"].after, Some(json!({"changed": ["name"]})));
        assert!(parse_stored("{}").is_empty());
    }
}
