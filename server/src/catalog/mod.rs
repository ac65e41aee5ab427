//! The integration catalog: source and destination definitions (data files under `server/catalog/`),
//! the validation of a config against its definition's JSON Schema, and the catalog routes.

mod handlers;

use std::collections::HashMap;

use app::api::catalog::{DestinationDefinition, SourceDefinition};
use serde_json::Value;

pub use handlers::routes;

use crate::audit::Changes;
use crate::db::Db;
use crate::error::{DomainError, Invalid, Kind};
use crate::secrets::keys::KeyError;
use crate::secrets::{fields, store, Keyring};

mod files {
    include!(concat!(env!("OUT_DIR"), "/catalog_files.rs"));
}

/// A definition with its compiled config schema.
pub struct Entry<D> {
    pub definition: D,
    schema: Value,
    validator: jsonschema::Validator,
}

pub struct Catalog {
    sources: Vec<Entry<SourceDefinition>>,
    destinations: Vec<Entry<DestinationDefinition>>,
    source_index: HashMap<String, usize>,
    destination_index: HashMap<String, usize>,
}

impl Catalog {
    /// The embedded catalog, loaded once per process (compiling its schemas is the costly part).
    pub fn shared() -> Result<&'static Catalog, String> {
        static SHARED: std::sync::OnceLock<Result<Catalog, String>> = std::sync::OnceLock::new();
        SHARED
            .get_or_init(Catalog::load)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Loads and checks the embedded definitions. A broken definition file is a build mistake: the server
    /// refuses to start and says which file.
    pub fn load() -> Result<Catalog, String> {
        let mut catalog = Catalog {
            sources: Vec::new(),
            destinations: Vec::new(),
            source_index: HashMap::new(),
            destination_index: HashMap::new(),
        };
        for (file, text) in files::SOURCE_FILES {
            let definition: SourceDefinition =
                serde_json::from_str(text).map_err(|e| format!("catalog/sources/{file}: {e}"))?;
            let validator = compile(&definition.config_schema)
                .map_err(|e| format!("catalog/sources/{file}: {e}"))?;
            check_secret_keys(&definition.secret_keys, &definition.config_schema)
                .map_err(|e| format!("catalog/sources/{file}: {e}"))?;
            if catalog
                .source_index
                .insert(definition.name.clone(), catalog.sources.len())
                .is_some()
            {
                return Err(format!(
                    "catalog/sources/{file}: duplicate name {}",
                    definition.name
                ));
            }
            catalog.sources.push(Entry {
                schema: definition.config_schema.clone(),
                definition,
                validator,
            });
        }
        for (file, text) in files::DESTINATION_FILES {
            let definition: DestinationDefinition = serde_json::from_str(text)
                .map_err(|e| format!("catalog/destinations/{file}: {e}"))?;
            let validator = compile(&definition.config_schema)
                .map_err(|e| format!("catalog/destinations/{file}: {e}"))?;
            check_hybrid_filter(&definition)
                .map_err(|e| format!("catalog/destinations/{file}: {e}"))?;
            if catalog
                .destination_index
                .insert(definition.name.clone(), catalog.destinations.len())
                .is_some()
            {
                return Err(format!(
                    "catalog/destinations/{file}: duplicate name {}",
                    definition.name
                ));
            }
            catalog.destinations.push(Entry {
                schema: definition.config_schema.clone(),
                definition,
                validator,
            });
        }
        catalog
            .sources
            .sort_by(|a, b| a.definition.display_name.cmp(&b.definition.display_name));
        catalog
            .destinations
            .sort_by(|a, b| a.definition.display_name.cmp(&b.definition.display_name));
        catalog.source_index = catalog
            .sources
            .iter()
            .enumerate()
            .map(|(i, e)| (e.definition.name.clone(), i))
            .collect();
        catalog.destination_index = catalog
            .destinations
            .iter()
            .enumerate()
            .map(|(i, e)| (e.definition.name.clone(), i))
            .collect();
        Ok(catalog)
    }

    pub fn sources(&self) -> impl Iterator<Item = &SourceDefinition> {
        self.sources.iter().map(|e| &e.definition)
    }

    pub fn destinations(&self) -> impl Iterator<Item = &DestinationDefinition> {
        self.destinations.iter().map(|e| &e.definition)
    }

    pub fn source(&self, name: &str) -> Option<&Entry<SourceDefinition>> {
        self.source_index.get(name).map(|&i| &self.sources[i])
    }

    pub fn destination(&self, name: &str) -> Option<&Entry<DestinationDefinition>> {
        self.destination_index
            .get(name)
            .map(|&i| &self.destinations[i])
    }
}

/// What the catalog needs of a definition, source or destination alike.
pub trait Definition {
    fn name(&self) -> &str;
    fn secret_keys(&self) -> &[String];
}

impl Definition for SourceDefinition {
    fn name(&self) -> &str {
        &self.name
    }

    fn secret_keys(&self) -> &[String] {
        &self.secret_keys
    }
}

impl Definition for DestinationDefinition {
    fn name(&self) -> &str {
        &self.name
    }

    fn secret_keys(&self) -> &[String] {
        &self.secret_keys
    }
}

/// Why a submitted config cannot be stored.
#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Keys(#[from] KeyError),
}

impl DomainError for PrepareError {
    fn kind(&self) -> Kind {
        match self {
            PrepareError::Invalid(e) => e.kind(),
            PrepareError::Keys(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            PrepareError::Invalid(e) => e.field(),
            PrepareError::Keys(_) => None,
        }
    }
}

/// A submitted config, ready to store: validated, the document without its secrets, the secrets encrypted
/// for their owner, and what changed (secrets masked) for the audit log.
pub struct PreparedConfig {
    pub public: Value,
    pub sealed: Vec<store::Sealed>,
    pub changes: Changes,
}

impl<D: Definition> Entry<D> {
    /// A new resource's config: defaults filled in, validated, secrets split off and encrypted.
    pub async fn prepare_new(
        &self,
        keyring: &Keyring,
        owner: store::Owner<'_>,
        config: Option<Value>,
    ) -> Result<PreparedConfig, PrepareError> {
        let mut config = config.unwrap_or_else(|| Value::Object(Default::default()));
        if !config.is_object() {
            return Err(Invalid::new("config", "config must be an object").into());
        }
        self.fill_defaults(&mut config);
        self.seal(keyring, owner, &Value::Object(Default::default()), config)
            .await
    }

    /// An updated config: secrets absent from `config` keep their stored values (see
    /// `secrets::fields::keep_stored_secrets`), then the whole is validated again.
    pub async fn prepare_update(
        &self,
        db: &Db,
        keyring: &Keyring,
        owner: store::Owner<'_>,
        stored_public: &Value,
        config: Value,
    ) -> Result<PreparedConfig, PrepareError> {
        let mut config = config;
        if !config.is_object() {
            return Err(Invalid::new("config", "config must be an object").into());
        }
        let secret_keys = self.definition.secret_keys();
        let stored_secrets = store::open(db, keyring, owner).await?;
        fields::keep_stored_secrets(&mut config, stored_public, &stored_secrets, secret_keys);
        let mut stored = stored_public.clone();
        fields::insert_secrets(&mut stored, &stored_secrets, secret_keys);
        self.seal(keyring, owner, &stored, config).await
    }

    /// Validates `config` (secrets included), splits its secrets off and encrypts them; `before` is the
    /// stored config (secrets included) it replaces, for the audit log's changes.
    async fn seal(
        &self,
        keyring: &Keyring,
        owner: store::Owner<'_>,
        before: &Value,
        mut config: Value,
    ) -> Result<PreparedConfig, PrepareError> {
        self.validate_config(&config)?;
        let secret_keys = self.definition.secret_keys();
        let changes = Changes::new().config("config", before, &config, secret_keys);
        let secrets = fields::split_secrets(&mut config, secret_keys);
        let sealed = store::seal(keyring, owner, &secrets).await?;
        Ok(PreparedConfig {
            public: config,
            sealed,
            changes,
        })
    }

    /// Top-level properties with a schema default that the config leaves out get that default.
    fn fill_defaults(&self, config: &mut Value) {
        let (Some(properties), Some(map)) = (
            self.schema.get("properties").and_then(Value::as_object),
            config.as_object_mut(),
        ) else {
            return;
        };
        for (key, property) in properties {
            if let Some(default) = property.get("default") {
                map.entry(key.clone()).or_insert_with(|| default.clone());
            }
        }
    }

    /// Checks a config against the definition's schema. The first problem becomes a 422 naming the field
    /// (`config.apiKey`). Messages never repeat the offending value: it may be a secret.
    pub fn validate_config(&self, config: &Value) -> Result<(), Invalid> {
        let mut errors = self.validator.iter_errors(config);
        let Some(error) = errors.next() else {
            return Ok(());
        };
        let mut field = pointer_to_field(error.instance_path.as_str());
        use jsonschema::error::ValidationErrorKind as K;
        let message = match &error.kind {
            K::Required { property } => {
                let property = property.as_str().unwrap_or_default();
                field = format!("{field}.{property}");
                "is required".to_string()
            }
            K::AdditionalProperties { unexpected } => {
                field = format!(
                    "{field}.{}",
                    unexpected.first().map(String::as_str).unwrap_or_default()
                );
                "is not a field of this integration".to_string()
            }
            K::Type { kind } => format!("must be of type {}", type_names(kind)),
            K::Enum { options } => format!("must be one of {}", options),
            K::MinLength { limit } if *limit == 1 => "must not be empty".to_string(),
            K::MinLength { limit } => format!("must be at least {limit} characters long"),
            K::MaxLength { limit } => format!("must be at most {limit} characters long"),
            K::Pattern { pattern } => format!("must match the pattern {pattern}"),
            K::Format { format } => format!("must be a valid {format}"),
            K::Minimum { limit } => format!("must be at least {limit}"),
            K::Maximum { limit } => format!("must be at most {limit}"),
            _ => "is not valid".to_string(),
        };
        Err(Invalid::new(field.clone(), format!("{field} {message}")))
    }
}

/// `/headers/0/to` → `config.headers.0.to`
fn pointer_to_field(pointer: &str) -> String {
    let mut field = String::from("config");
    for segment in pointer.split('/').skip(1) {
        field.push('.');
        field.push_str(&segment.replace("~1", "/").replace("~0", "~"));
    }
    field
}

fn type_names(kind: &jsonschema::error::TypeKind) -> String {
    match kind {
        jsonschema::error::TypeKind::Single(t) => t.to_string(),
        jsonschema::error::TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn compile(schema: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(schema)
        .map_err(|e| format!("invalid configSchema: {e}"))
}

/// Every secret key of a source must be a schema property (destinations follow RudderStack's list as is).
fn check_secret_keys(secret_keys: &[String], schema: &Value) -> Result<(), String> {
    for key in secret_keys {
        let top = key.split('.').next().unwrap_or_default();
        if schema.pointer(&format!("/properties/{top}")).is_none() {
            return Err(format!(
                "secret key {key} is not a property of configSchema"
            ));
        }
    }
    Ok(())
}

/// rudder-server reads `hybridModeCloudEventsFilter.<sourceType>.messageType` only for a source in hybrid
/// mode: an entry for a source type without one, or without a list, would be silently ignored.
fn check_hybrid_filter(definition: &DestinationDefinition) -> Result<(), String> {
    let Some(filter) = &definition.hybrid_mode_cloud_events_filter else {
        return Ok(());
    };
    let by_type = filter
        .as_object()
        .filter(|by_type| !by_type.is_empty())
        .ok_or("hybridModeCloudEventsFilter must be a non-empty object")?;
    for (source_type, entry) in by_type {
        let hybrid = definition
            .supported_connection_modes
            .get(source_type)
            .is_some_and(|modes| modes.iter().any(|m| m == "hybrid"));
        if !hybrid {
            return Err(format!(
                "hybridModeCloudEventsFilter.{source_type}: no hybrid mode for {source_type}"
            ));
        }
        if !entry["messageType"]
            .as_array()
            .is_some_and(|types| types.iter().all(Value::is_string))
        {
            return Err(format!(
                "hybridModeCloudEventsFilter.{source_type}.messageType must be a list of message types"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_catalog_loads() {
        let catalog = Catalog::load().unwrap();
        assert!(catalog.destinations().count() >= 25);
        assert!(catalog.source("Javascript").is_some());
        assert!(catalog.destination("WEBHOOK").is_some());
    }

    #[test]
    fn validation_names_the_field_and_never_echoes_the_value() {
        let catalog = Catalog::load().unwrap();
        let amplitude = catalog.destination("AM").unwrap();
        let err = amplitude
            .validate_config(&serde_json::json!({"residencyServer": "standard"}))
            .unwrap_err();
        let Invalid { field, message } = err;
        assert_eq!(field, "config.apiKey");
        assert!(message.contains("required"));
        let err = amplitude
            .validate_config(
                &serde_json::json!({"apiKey": "k", "residencyServer": "standard", "apiSecret": 42}),
            )
            .unwrap_err();
        let Invalid { field, message } = err;
        assert_eq!(field, "config.apiSecret");
        assert!(!message.contains("42"));
    }
}
