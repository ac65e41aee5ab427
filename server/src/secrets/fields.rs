//! Which values of a config document are secret, per the definition's `secretKeys`.
//!
//! A secret key is a dotted path; a segment that meets an array applies to every item, so `headers.to`
//! names `headers.0.to`, `headers.1.to`… Stored secrets are keyed by those concrete paths.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

type Path = Vec<Segment>;

fn path_string(path: &Path) -> String {
    path.iter()
        .map(|s| match s {
            Segment::Key(k) => k.clone(),
            Segment::Index(i) => i.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// Every concrete path of `key` in `config` whose parent object exists (the leaf itself may be absent).
fn concrete_paths(config: &Value, key: &str) -> Vec<Path> {
    fn walk(value: &Value, segments: &[&str], prefix: &mut Path, out: &mut Vec<Path>) {
        match value {
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    prefix.push(Segment::Index(i));
                    walk(item, segments, prefix, out);
                    prefix.pop();
                }
            }
            Value::Object(map) => {
                let (first, rest) = (segments[0], &segments[1..]);
                prefix.push(Segment::Key(first.to_string()));
                if rest.is_empty() {
                    out.push(prefix.clone());
                } else if let Some(child) = map.get(first) {
                    walk(child, rest, prefix, out);
                }
                prefix.pop();
            }
            _ => {}
        }
    }
    let segments: Vec<&str> = key.split('.').collect();
    let mut out = Vec::new();
    walk(config, &segments, &mut Vec::new(), &mut out);
    out
}

fn parent_mut<'a>(config: &'a mut Value, path: &[Segment]) -> Option<&'a mut Map<String, Value>> {
    let mut current = config;
    for segment in &path[..path.len() - 1] {
        current = match segment {
            Segment::Key(k) => current.get_mut(k.as_str())?,
            Segment::Index(i) => current.get_mut(*i)?,
        };
    }
    current.as_object_mut()
}

fn get<'a>(config: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    let mut current = config;
    for segment in path {
        current = match segment {
            Segment::Key(k) => current.get(k.as_str())?,
            Segment::Index(i) => current.get(*i)?,
        };
    }
    Some(current)
}

fn leaf_name(path: &Path) -> &str {
    match path.last() {
        Some(Segment::Key(k)) => k,
        _ => "",
    }
}

/// Removes every secret value from `config` and returns them by concrete path. A `null` secret is removed
/// and not returned (it means "no value").
pub fn split_secrets(config: &mut Value, secret_keys: &[String]) -> BTreeMap<String, Value> {
    let mut secrets = BTreeMap::new();
    for key in secret_keys {
        for path in concrete_paths(config, key) {
            let name = leaf_name(&path).to_string();
            if let Some(parent) = parent_mut(config, &path) {
                if let Some(value) = parent.remove(&name) {
                    if !value.is_null() {
                        secrets.insert(path_string(&path), value);
                    }
                }
            }
        }
    }
    secrets
}

/// Puts stored secret values back into a config (for validation, and for data planes).
pub fn insert_secrets(
    config: &mut Value,
    secrets: &BTreeMap<String, Value>,
    secret_keys: &[String],
) {
    for key in secret_keys {
        for path in concrete_paths(config, key) {
            if let Some(value) = secrets.get(&path_string(&path)) {
                let name = leaf_name(&path).to_string();
                if let Some(parent) = parent_mut(config, &path) {
                    parent.insert(name, value.clone());
                }
            }
        }
    }
}

/// Applies the write-only rule to an update: in `new` (the config a client sent), a secret that is absent
/// keeps its stored value, `null` clears it, a value replaces it. Inside arrays a stored secret is kept only
/// when its item is otherwise unchanged at the same index, so that reordering or removing items never moves
/// a secret onto another item.
pub fn keep_stored_secrets(
    new: &mut Value,
    stored_public: &Value,
    stored_secrets: &BTreeMap<String, Value>,
    secret_keys: &[String],
) {
    let mut new_public = new.clone();
    split_secrets(&mut new_public, secret_keys);
    for key in secret_keys {
        for path in concrete_paths(new, key) {
            let name = leaf_name(&path).to_string();
            let Some(parent) = parent_mut(new, &path) else {
                continue;
            };
            match parent.get(&name) {
                Some(Value::Null) => {
                    parent.remove(&name);
                }
                Some(_) => {}
                None => {
                    let Some(stored) = stored_secrets.get(&path_string(&path)) else {
                        continue;
                    };
                    let inside_array = path.iter().any(|s| matches!(s, Segment::Index(_)));
                    let parent_path = &path[..path.len() - 1];
                    let unchanged = !inside_array
                        || get(&new_public, parent_path) == get(stored_public, parent_path);
                    if unchanged {
                        parent.insert(name, stored.clone());
                    }
                }
            }
        }
    }
}

/// Set/unset for the API: every non-array secret key of the definition, plus every stored concrete path.
pub fn secret_status(secret_keys: &[String], stored_paths: &[String]) -> BTreeMap<String, bool> {
    let mut status: BTreeMap<String, bool> = BTreeMap::new();
    for key in secret_keys.iter().filter(|k| !k.contains('.')) {
        status.insert(key.clone(), false);
    }
    for path in stored_paths {
        status.insert(path.clone(), true);
    }
    status
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn splits_top_level_and_array_item_secrets() {
        let mut config = json!({"url": "u", "apiSecret": "s1", "headers": [{"from": "a", "to": "s2"}, {"from": "b"}]});
        let secrets = split_secrets(&mut config, &keys(&["apiSecret", "headers.to"]));
        assert_eq!(
            config,
            json!({"url": "u", "headers": [{"from": "a"}, {"from": "b"}]})
        );
        assert_eq!(secrets.len(), 2);
        assert_eq!(secrets["apiSecret"], json!("s1"));
        assert_eq!(secrets["headers.0.to"], json!("s2"));
        let mut back = config.clone();
        insert_secrets(&mut back, &secrets, &keys(&["apiSecret", "headers.to"]));
        assert_eq!(back["headers"][0]["to"], json!("s2"));
        assert_eq!(back["apiSecret"], json!("s1"));
    }

    #[test]
    fn an_update_keeps_absent_secrets_clears_null_and_replaces_values() {
        let secret_keys = keys(&["apiSecret", "token"]);
        let stored_public = json!({"url": "u"});
        let stored = BTreeMap::from([
            ("apiSecret".to_string(), json!("old")),
            ("token".to_string(), json!("t")),
        ]);
        let mut new = json!({"url": "v", "token": null});
        keep_stored_secrets(&mut new, &stored_public, &stored, &secret_keys);
        assert_eq!(new, json!({"url": "v", "apiSecret": "old"}));
        let mut new = json!({"url": "v", "apiSecret": "new"});
        keep_stored_secrets(&mut new, &stored_public, &stored, &secret_keys);
        assert_eq!(new["apiSecret"], json!("new"));
    }

    #[test]
    fn a_secret_in_an_array_item_never_moves_to_another_item() {
        let secret_keys = keys(&["headers.to"]);
        let stored_public = json!({"headers": [{"from": "Authorization"}, {"from": "X-Key"}]});
        let stored = BTreeMap::from([
            ("headers.0.to".to_string(), json!("bearer")),
            ("headers.1.to".to_string(), json!("xkey")),
        ]);
        // The first header was removed: the X-Key header is now at index 0 and must not inherit "bearer".
        let mut new = json!({"headers": [{"from": "X-Key"}]});
        keep_stored_secrets(&mut new, &stored_public, &stored, &secret_keys);
        assert_eq!(new, json!({"headers": [{"from": "X-Key"}]}));
        // Unchanged items keep their secrets.
        let mut new = json!({"headers": [{"from": "Authorization"}, {"from": "X-Key"}]});
        keep_stored_secrets(&mut new, &stored_public, &stored, &secret_keys);
        assert_eq!(new["headers"][0]["to"], json!("bearer"));
        assert_eq!(new["headers"][1]["to"], json!("xkey"));
    }

    #[test]
    fn status_lists_flat_keys_and_stored_paths() {
        let status = secret_status(
            &keys(&["apiSecret", "headers.to"]),
            &["headers.0.to".to_string()],
        );
        assert_eq!(
            status,
            BTreeMap::from([("apiSecret".into(), false), ("headers.0.to".into(), true)])
        );
    }
}
