//! Consent settings: the consent managers a workspace uses (OneTrust, Ketch, iubenda, custom) with their
//! categories or purposes, and per destination which of them it requires. Data planes and the JavaScript SDK
//! filter on them (`../shared/reference/rudderstack-protocol.md` §4): destinations are served with
//! `consentManagement` and the legacy keys, the SDK's source config with `consentManagementMetadata`
//! (`served`). `simulate` answers what an event with given consents would reach, and why not.
//!
//! The references are checked here with a message naming what is wrong, and again by the database's foreign
//! keys: a category a destination requires cannot disappear under it, even by a concurrent change.

mod handlers;
pub mod served;
pub mod simulate;

use std::collections::{HashMap, HashSet};

use app::api::consent::{
    ConsentCategory, ConsentProvider, ConsentSettings, ConsentSimulation, DestinationConsent,
    DestinationConsentProvider, DestinationOutcome, SimulationResult, SourceOutcome, PROVIDERS,
};
use app::api::workspaces::Role;
use serde_json::{json, Value};

pub use handlers::routes;
pub use served::Served;

use crate::access::{self, AccessError, Actor};
use crate::accounts::parse_name;
use crate::audit::{self, Changes};
use crate::config_api::resolve::DefinitionView;
use crate::connections::ConnectionRow;
use crate::db::{is_foreign_key_violation, Db};
use crate::destinations::Destinations;
use crate::error::{DbError, DomainError, Invalid, Kind};
use crate::integrations::{
    self, revisions, DestinationRow, IntegrationError, SourceRow, StoredRow,
};
use crate::state::AppState;

/// The longest category id or label.
pub const TEXT_MAX: usize = 100;
/// The most categories a provider may have, and consent ids a simulation may name.
pub const LIST_MAX: usize = 500;

/// A consent manager a workspace uses.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ProviderRow {
    pub workspace_id: String,
    pub provider: String,
    pub position: i64,
}

/// One of its categories (OneTrust), purposes (Ketch, iubenda) or consents (custom).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CategoryRow {
    pub provider: String,
    pub id: String,
    pub label: String,
    pub position: i64,
}

/// A provider a destination has requirements for.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DestinationProviderRow {
    pub destination_id: String,
    pub workspace_id: String,
    pub provider: String,
    /// `and` or `or`, for custom only.
    pub resolution_strategy: Option<String>,
    pub position: i64,
}

/// One consent a destination requires.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DestinationConsentRow {
    pub destination_id: String,
    pub workspace_id: String,
    pub provider: String,
    pub consent_id: String,
    pub position: i64,
}

const PROVIDER_COLUMNS: &str = "workspace_id, provider, position";
const DESTINATION_PROVIDER_COLUMNS: &str =
    "destination_id, workspace_id, provider, resolution_strategy, position";
const DESTINATION_CONSENT_COLUMNS: &str =
    "destination_id, workspace_id, provider, consent_id, position";

/// What the data-plane documents need of a workspace's consent settings (labels are for people only).
#[derive(Default)]
pub struct ConsentRows {
    pub providers: Vec<ProviderRow>,
    pub destination_providers: Vec<DestinationProviderRow>,
    pub destination_consents: Vec<DestinationConsentRow>,
}

impl ConsentRows {
    pub async fn load(db: &Db, workspace_id: &str) -> sqlx::Result<ConsentRows> {
        let of = |columns: &str, table: &str| {
            format!("SELECT {columns} FROM {table} WHERE workspace_id = $1")
        };
        let (providers_sql, destination_providers_sql, destination_consents_sql) = (
            of(PROVIDER_COLUMNS, "consent_providers"),
            of(
                DESTINATION_PROVIDER_COLUMNS,
                "destination_consent_providers",
            ),
            of(DESTINATION_CONSENT_COLUMNS, "destination_consents"),
        );
        let (providers, destination_providers, destination_consents) = tokio::try_join!(
            sqlx::query_as(&providers_sql)
                .bind(workspace_id)
                .fetch_all(&db.pool),
            sqlx::query_as(&destination_providers_sql)
                .bind(workspace_id)
                .fetch_all(&db.pool),
            sqlx::query_as(&destination_consents_sql)
                .bind(workspace_id)
                .fetch_all(&db.pool),
        )?;
        Ok(ConsentRows {
            providers,
            destination_providers,
            destination_consents,
        })
    }

    /// Every workspace's, one query per table, by workspace id.
    pub async fn load_all(db: &Db) -> sqlx::Result<HashMap<String, ConsentRows>> {
        let mut all: HashMap<String, ConsentRows> = HashMap::new();
        for row in sqlx::query_as::<_, ProviderRow>(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM consent_providers"
        ))
        .fetch_all(&db.pool)
        .await?
        {
            all.entry(row.workspace_id.clone())
                .or_default()
                .providers
                .push(row);
        }
        for row in sqlx::query_as::<_, DestinationProviderRow>(&format!(
            "SELECT {DESTINATION_PROVIDER_COLUMNS} FROM destination_consent_providers"
        ))
        .fetch_all(&db.pool)
        .await?
        {
            all.entry(row.workspace_id.clone())
                .or_default()
                .destination_providers
                .push(row);
        }
        for row in sqlx::query_as::<_, DestinationConsentRow>(&format!(
            "SELECT {DESTINATION_CONSENT_COLUMNS} FROM destination_consents"
        ))
        .fetch_all(&db.pool)
        .await?
        {
            all.entry(row.workspace_id.clone())
                .or_default()
                .destination_consents
                .push(row);
        }
        Ok(all)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConsentError {
    #[error(transparent)]
    Access(#[from] AccessError),
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error(transparent)]
    Destination(#[from] IntegrationError),
    #[error(
        "a destination started or stopped requiring these consents meanwhile; reload and try again"
    )]
    Concurrent,
    #[error(transparent)]
    Db(#[from] DbError),
}

impl From<sqlx::Error> for ConsentError {
    fn from(error: sqlx::Error) -> Self {
        // On PostgreSQL, two changes can each pass the checks and then collide on a foreign key: a category
        // removed while a destination started requiring it.
        if is_foreign_key_violation(&error) {
            ConsentError::Concurrent
        } else {
            ConsentError::Db(error.into())
        }
    }
}

impl DomainError for ConsentError {
    fn kind(&self) -> Kind {
        match self {
            ConsentError::Access(e) => e.kind(),
            ConsentError::Invalid(e) => e.kind(),
            ConsentError::Destination(e) => e.kind(),
            ConsentError::Concurrent => Kind::Conflict,
            ConsentError::Db(e) => e.kind(),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            ConsentError::Invalid(e) => e.field(),
            ConsentError::Destination(e) => e.field(),
            _ => None,
        }
    }
}

// ---- the workspace's providers and categories ------------------------------------------------------------

/// The workspace's consent settings (viewer).
pub async fn settings(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
) -> Result<ConsentSettings, ConsentError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    let mut conn = state.db.pool.acquire().await?;
    Ok(read_settings(&mut conn, workspace_id).await?)
}

async fn read_settings(
    conn: &mut sqlx::AnyConnection,
    workspace_id: &str,
) -> Result<ConsentSettings, sqlx::Error> {
    let providers: Vec<ProviderRow> = sqlx::query_as(&format!(
        "SELECT {PROVIDER_COLUMNS} FROM consent_providers WHERE workspace_id = $1 ORDER BY position"
    ))
    .bind(workspace_id)
    .fetch_all(&mut *conn)
    .await?;
    let categories: Vec<CategoryRow> = sqlx::query_as(
        "SELECT provider, id, label, position FROM consent_categories WHERE workspace_id = $1
         ORDER BY position",
    )
    .bind(workspace_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_provider: HashMap<String, Vec<ConsentCategory>> = HashMap::new();
    for row in categories {
        by_provider
            .entry(row.provider)
            .or_default()
            .push(ConsentCategory {
                id: row.id,
                label: row.label,
            });
    }
    Ok(ConsentSettings {
        providers: providers
            .into_iter()
            .map(|p| ConsentProvider {
                categories: by_provider.remove(&p.provider).unwrap_or_default(),
                provider: p.provider,
            })
            .collect(),
    })
}

/// The settings as they will be stored: every rule that needs nothing but the input.
fn parse_settings(input: ConsentSettings) -> Result<ConsentSettings, Invalid> {
    let mut seen = HashSet::new();
    let mut providers = Vec::with_capacity(input.providers.len());
    for (i, provider) in input.providers.into_iter().enumerate() {
        let field = format!("providers.{i}.provider");
        parse_provider(&field, &provider.provider)?;
        if !seen.insert(provider.provider.clone()) {
            return Err(Invalid::new(
                field,
                format!(
                    "{} is listed twice; list each provider once",
                    provider.provider
                ),
            ));
        }
        if provider.categories.len() > LIST_MAX {
            return Err(Invalid::new(
                format!("providers.{i}.categories"),
                format!("a provider may have at most {LIST_MAX} categories"),
            ));
        }
        let mut ids = HashSet::new();
        let mut categories = Vec::with_capacity(provider.categories.len());
        for (j, category) in provider.categories.into_iter().enumerate() {
            let field = format!("providers.{i}.categories.{j}");
            let id = parse_name(&format!("{field}.id"), &category.id, TEXT_MAX)?;
            if !ids.insert(id.clone()) {
                return Err(Invalid::new(
                    format!("{field}.id"),
                    format!("{field}.id: {id} is listed twice for {}", provider.provider),
                ));
            }
            let label = parse_name(&format!("{field}.label"), &category.label, TEXT_MAX)?;
            categories.push(ConsentCategory { id, label });
        }
        providers.push(ConsentProvider {
            provider: provider.provider,
            categories,
        });
    }
    Ok(ConsentSettings { providers })
}

fn parse_provider(field: &str, provider: &str) -> Result<(), Invalid> {
    if PROVIDERS.contains(&provider) {
        return Ok(());
    }
    Err(Invalid::new(
        field,
        format!("{field} must be one of {}", PROVIDERS.join(", ")),
    ))
}

/// Replaces the workspace's consent settings (editor). A provider or category that a destination still
/// requires cannot be removed: the answer names the destination and the consent.
pub async fn update_settings(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    input: ConsentSettings,
) -> Result<ConsentSettings, ConsentError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let wanted = parse_settings(input)?;
    let mut tx = state.db.begin().await?;
    let current = read_settings(&mut tx, workspace_id).await?;
    check_still_required(&mut tx, workspace_id, &current, &wanted).await?;

    let mut changes = Changes::new();
    let before: HashMap<&str, &ConsentProvider> = current
        .providers
        .iter()
        .map(|p| (p.provider.as_str(), p))
        .collect();
    let after: HashSet<&str> = wanted
        .providers
        .iter()
        .map(|p| p.provider.as_str())
        .collect();
    for removed in current
        .providers
        .iter()
        .filter(|p| !after.contains(p.provider.as_str()))
    {
        // Its categories go with it (ON DELETE CASCADE).
        sqlx::query("DELETE FROM consent_providers WHERE workspace_id = $1 AND provider = $2")
            .bind(workspace_id)
            .bind(&removed.provider)
            .execute(&mut *tx)
            .await?;
        changes = changes.removed(
            &format!("providers.{}", removed.provider),
            &removed.categories,
        );
    }
    for (position, provider) in wanted.providers.iter().enumerate() {
        let old = before.get(provider.provider.as_str());
        let sql = match old {
            Some(_) => "UPDATE consent_providers SET position = $3 WHERE workspace_id = $1 AND provider = $2",
            None => "INSERT INTO consent_providers (workspace_id, provider, position) VALUES ($1, $2, $3)",
        };
        sqlx::query(sql)
            .bind(workspace_id)
            .bind(&provider.provider)
            .bind(position as i64)
            .execute(&mut *tx)
            .await?;
        let old_categories = old.map(|p| p.categories.as_slice()).unwrap_or_default();
        let kept: HashSet<&str> = provider.categories.iter().map(|c| c.id.as_str()).collect();
        for gone in old_categories
            .iter()
            .filter(|c| !kept.contains(c.id.as_str()))
        {
            sqlx::query(
                "DELETE FROM consent_categories WHERE workspace_id = $1 AND provider = $2 AND id = $3",
            )
            .bind(workspace_id)
            .bind(&provider.provider)
            .bind(&gone.id)
            .execute(&mut *tx)
            .await?;
        }
        let existing: HashSet<&str> = old_categories.iter().map(|c| c.id.as_str()).collect();
        for (position, category) in provider.categories.iter().enumerate() {
            // Kept categories are updated in place, never deleted and inserted again: a destination's
            // reference to one must hold throughout.
            let sql = if existing.contains(category.id.as_str()) {
                "UPDATE consent_categories SET label = $4, position = $5
                 WHERE workspace_id = $1 AND provider = $2 AND id = $3"
            } else {
                "INSERT INTO consent_categories (workspace_id, provider, id, label, position)
                 VALUES ($1, $2, $3, $4, $5)"
            };
            sqlx::query(sql)
                .bind(workspace_id)
                .bind(&provider.provider)
                .bind(&category.id)
                .bind(&category.label)
                .bind(position as i64)
                .execute(&mut *tx)
                .await?;
        }
        changes = changes.field(
            &format!("providers.{}", provider.provider),
            old.map(|p| &p.categories),
            Some(&provider.categories),
        );
    }
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        audit::Entry::new("consent.updated", workspace_id)
            .in_workspace(workspace_id)
            .with(changes),
    )
    .await?;
    Ok(wanted)
}

/// Refuses to remove a provider or category that a destination requires, naming both.
async fn check_still_required(
    conn: &mut sqlx::AnyConnection,
    workspace_id: &str,
    current: &ConsentSettings,
    wanted: &ConsentSettings,
) -> Result<(), ConsentError> {
    let wanted_index: HashMap<&str, (usize, HashSet<&str>)> = wanted
        .providers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let ids = p.categories.iter().map(|c| c.id.as_str()).collect();
            (p.provider.as_str(), (i, ids))
        })
        .collect();
    let removes_something = current.providers.iter().any(|p| {
        wanted_index
            .get(p.provider.as_str())
            .is_none_or(|(_, ids)| p.categories.iter().any(|c| !ids.contains(c.id.as_str())))
    });
    if !removes_something {
        return Ok(());
    }
    // (destination name, provider, consent id or none): what each destination requires, by name.
    let required: Vec<(String, String, Option<String>)> = sqlx::query_as(
        "SELECT d.name, p.provider, c.consent_id
         FROM destination_consent_providers p
         JOIN destinations d ON d.id = p.destination_id
         LEFT JOIN destination_consents c ON c.destination_id = p.destination_id AND c.provider = p.provider
         WHERE p.workspace_id = $1
         ORDER BY d.name, d.id, p.position, c.position",
    )
    .bind(workspace_id)
    .fetch_all(&mut *conn)
    .await?;
    for (destination, provider, consent) in required {
        match (wanted_index.get(provider.as_str()), consent) {
            (None, Some(consent)) => {
                return Err(Invalid::new(
                    "providers",
                    format!("{provider} cannot be removed: destination \"{destination}\" requires its consent {consent}; remove that from the destination first"),
                )
                .into())
            }
            (None, None) => {
                return Err(Invalid::new(
                    "providers",
                    format!("{provider} cannot be removed: destination \"{destination}\" lists it in its consent settings; remove it there first"),
                )
                .into())
            }
            (Some((i, ids)), Some(consent)) if !ids.contains(consent.as_str()) => {
                return Err(Invalid::new(
                    format!("providers.{i}.categories"),
                    format!("{consent} cannot be removed from {provider}: destination \"{destination}\" requires it; remove it from the destination first"),
                )
                .into())
            }
            _ => {}
        }
    }
    Ok(())
}

// ---- what each destination requires ----------------------------------------------------------------------

/// What a destination requires (viewer). None of another workspace: `NotFound`.
pub async fn destination_consent(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    destination_id: &str,
) -> Result<DestinationConsent, ConsentError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    integrations::load_common::<Destinations>(&state.db, workspace_id, destination_id).await?;
    let mut conn = state.db.pool.acquire().await?;
    Ok(read_destination(&mut conn, destination_id).await?)
}

async fn read_destination(
    conn: &mut sqlx::AnyConnection,
    destination_id: &str,
) -> Result<DestinationConsent, sqlx::Error> {
    let providers: Vec<DestinationProviderRow> = sqlx::query_as(&format!(
        "SELECT {DESTINATION_PROVIDER_COLUMNS} FROM destination_consent_providers
         WHERE destination_id = $1 ORDER BY position"
    ))
    .bind(destination_id)
    .fetch_all(&mut *conn)
    .await?;
    let consents: Vec<DestinationConsentRow> = sqlx::query_as(&format!(
        "SELECT {DESTINATION_CONSENT_COLUMNS} FROM destination_consents
         WHERE destination_id = $1 ORDER BY position"
    ))
    .bind(destination_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut by_provider: HashMap<String, Vec<String>> = HashMap::new();
    for row in consents {
        by_provider
            .entry(row.provider)
            .or_default()
            .push(row.consent_id);
    }
    Ok(DestinationConsent {
        providers: providers
            .into_iter()
            .map(|p| DestinationConsentProvider {
                consents: by_provider.remove(&p.provider).unwrap_or_default(),
                provider: p.provider,
                resolution_strategy: p.resolution_strategy,
            })
            .collect(),
    })
}

/// A destination's requirements checked against the workspace's settings.
fn parse_destination(
    input: DestinationConsent,
    workspace: &ConsentSettings,
) -> Result<DestinationConsent, Invalid> {
    let mut seen = HashSet::new();
    for (i, entry) in input.providers.iter().enumerate() {
        let field = format!("providers.{i}");
        parse_provider(&format!("{field}.provider"), &entry.provider)?;
        let Some(defined) = workspace
            .providers
            .iter()
            .find(|p| p.provider == entry.provider)
        else {
            return Err(Invalid::new(
                format!("{field}.provider"),
                format!("{} is not a consent manager of this workspace; add it to the workspace's consent settings first", entry.provider),
            ));
        };
        if !seen.insert(entry.provider.as_str()) {
            return Err(Invalid::new(
                format!("{field}.provider"),
                format!(
                    "{} is listed twice; list each provider once",
                    entry.provider
                ),
            ));
        }
        let mut ids = HashSet::new();
        for (j, consent) in entry.consents.iter().enumerate() {
            let field = format!("{field}.consents.{j}");
            if !defined.categories.iter().any(|c| c.id == *consent) {
                return Err(Invalid::new(
                    &field,
                    format!("{field}: {consent} is not a category of {} in this workspace's consent settings", entry.provider),
                ));
            }
            if !ids.insert(consent.as_str()) {
                return Err(Invalid::new(
                    &field,
                    format!("{field}: {consent} is listed twice"),
                ));
            }
        }
        let field = format!("{field}.resolutionStrategy");
        match (entry.provider.as_str(), entry.resolution_strategy.as_deref()) {
            ("custom", Some("and" | "or")) => {}
            ("custom", None) => {
                return Err(Invalid::new(
                    field,
                    "custom needs a resolutionStrategy: and (every consent is needed) or or (any one is enough)",
                ))
            }
            ("custom", Some(_)) => {
                return Err(Invalid::new(&field, format!("{field} must be and or or")))
            }
            (_, None) => {}
            (provider, Some(_)) => {
                return Err(Invalid::new(
                    field,
                    format!("only custom takes a resolutionStrategy: for {provider}, the SDK applies the provider's own (and for OneTrust and iubenda, or for Ketch)"),
                ))
            }
        }
    }
    Ok(input)
}

/// Replaces what a destination requires (editor). Served to data planes and SDKs at once; an empty list
/// hands the consent keys back to the destination's own config.
pub async fn update_destination_consent(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    destination_id: &str,
    input: DestinationConsent,
) -> Result<DestinationConsent, ConsentError> {
    access::require(&state.db, actor, workspace_id, Role::Editor).await?;
    let destination =
        integrations::load_common::<Destinations>(&state.db, workspace_id, destination_id).await?;
    let mut tx = state.db.begin().await?;
    let workspace = read_settings(&mut tx, workspace_id).await?;
    let wanted = parse_destination(input, &workspace)?;
    let current = read_destination(&mut tx, destination_id).await?;
    // The served config changes: the destination gets a new revision, as data planes expect.
    revisions::advance::<Destinations>(&mut tx, &state.db, destination_id, None).await?;
    // Its consents go with it (ON DELETE CASCADE).
    sqlx::query("DELETE FROM destination_consent_providers WHERE destination_id = $1")
        .bind(destination_id)
        .execute(&mut *tx)
        .await?;
    for (position, entry) in wanted.providers.iter().enumerate() {
        sqlx::query(&format!(
            "INSERT INTO destination_consent_providers ({DESTINATION_PROVIDER_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
        ))
        .bind(destination_id)
        .bind(workspace_id)
        .bind(&entry.provider)
        .bind(entry.resolution_strategy.as_deref())
        .bind(position as i64)
        .execute(&mut *tx)
        .await?;
        for (position, consent) in entry.consents.iter().enumerate() {
            sqlx::query(&format!(
                "INSERT INTO destination_consents ({DESTINATION_CONSENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5)"
            ))
            .bind(destination_id)
            .bind(workspace_id)
            .bind(&entry.provider)
            .bind(consent)
            .bind(position as i64)
            .execute(&mut *tx)
            .await?;
        }
    }
    let described = |consent: &DestinationConsent| -> HashMap<String, Value> {
        consent
            .providers
            .iter()
            .map(|p| {
                let mut value = json!({"consents": p.consents});
                if let Some(strategy) = &p.resolution_strategy {
                    value["resolutionStrategy"] = json!(strategy);
                }
                (p.provider.clone(), value)
            })
            .collect()
    };
    let (mut before, after) = (described(&current), described(&wanted));
    let mut changes = Changes::new();
    for provider in PROVIDERS {
        changes = changes.field(
            &format!("consent.{provider}"),
            before.remove(provider),
            after.get(provider),
        );
    }
    crate::changes::commit_config_change(
        state,
        tx,
        actor,
        audit::Entry::new("destination.consent_updated", destination_id)
            .in_workspace(workspace_id)
            .named(&destination.name)
            .with(changes),
    )
    .await?;
    Ok(wanted)
}

// ---- the simulator ----------------------------------------------------------------------------------------

/// What an event with these consents would reach, per source, and why not (viewer).
pub async fn simulate(
    state: &AppState,
    actor: &Actor,
    workspace_id: &str,
    input: ConsentSimulation,
) -> Result<SimulationResult, ConsentError> {
    access::require(&state.db, actor, workspace_id, Role::Viewer).await?;
    parse_provider("provider", &input.provider)?;
    for (field, ids) in [
        ("allowedConsentIds", &input.allowed_consent_ids),
        ("deniedConsentIds", &input.denied_consent_ids),
    ] {
        if ids.len() > LIST_MAX {
            return Err(
                Invalid::new(field, format!("{field} may hold at most {LIST_MAX} ids")).into(),
            );
        }
    }

    let db = &state.db;
    let of = |columns: &str, table: &str, order: &str| {
        format!("SELECT {columns} FROM {table} WHERE workspace_id = $1 ORDER BY {order}")
    };
    let (sources_sql, destinations_sql, connections_sql) = (
        of(SourceRow::COLUMNS, "sources", "name, id"),
        of(DestinationRow::COLUMNS, "destinations", "id"),
        of(ConnectionRow::COLUMNS, "connections", "created_at, id"),
    );
    let (sources, destinations, connections, consent): (
        Vec<SourceRow>,
        Vec<DestinationRow>,
        Vec<ConnectionRow>,
        ConsentRows,
    ) = tokio::try_join!(
        sqlx::query_as(&sources_sql)
            .bind(workspace_id)
            .fetch_all(&db.pool),
        sqlx::query_as(&destinations_sql)
            .bind(workspace_id)
            .fetch_all(&db.pool),
        sqlx::query_as(&connections_sql)
            .bind(workspace_id)
            .fetch_all(&db.pool),
        ConsentRows::load(db, workspace_id),
    )?;
    for (i, id) in input.source_ids.iter().enumerate() {
        if !sources.iter().any(|s| s.common.id == *id) {
            let field = format!("sourceIds.{i}");
            return Err(
                Invalid::new(&field, format!("{field} is not a source of this workspace")).into(),
            );
        }
    }

    // The event as the JavaScript SDK sends it: its strategy comes from `consentManagementMetadata`, which
    // lists the workspace's providers; for a provider it does not list, the SDK's default, and.
    let uses_provider = consent
        .providers
        .iter()
        .any(|p| p.provider == input.provider);
    let strategy = match served::provider_strategy(&input.provider) {
        Some(strategy) if uses_provider => Some(strategy),
        Some(_) => Some("and"),
        None => None,
    };
    let event = simulate::Consent {
        provider: &input.provider,
        allowed: &input.allowed_consent_ids,
        denied: &input.denied_consent_ids,
        resolution_strategy: strategy,
        initialized: !input.allowed_consent_ids.is_empty() || !input.denied_consent_ids.is_empty(),
    };
    let served = Served::new(&consent);
    let destinations: HashMap<&str, &DestinationRow> = destinations
        .iter()
        .map(|d| (d.common.id.as_str(), d))
        .collect();
    let mut views: HashMap<&str, DefinitionView> = HashMap::new();
    let mut outcomes = Vec::new();
    for source in &sources {
        let common = &source.common;
        if !input.source_ids.is_empty() && !input.source_ids.contains(&common.id) {
            continue;
        }
        let Some(source_entry) = state.catalog.source(&common.type_name) else {
            continue;
        };
        let source_type = source_entry.definition.source_type.as_str();
        let mut outcome = SourceOutcome {
            source_id: common.id.clone(),
            source_name: common.name.clone(),
            source_type: source_type.to_string(),
            destinations: Vec::new(),
        };
        for connection in connections.iter().filter(|c| c.source_id == common.id) {
            let Some(destination) = destinations.get(connection.destination_id.as_str()) else {
                continue;
            };
            let destination = &destination.common;
            let Some(entry) = state.catalog.destination(&destination.type_name) else {
                continue;
            };
            let view = views
                .entry(entry.definition.name.as_str())
                .or_insert_with(|| DefinitionView::new(&entry.definition));
            let stored: Value =
                serde_json::from_str(&destination.config).unwrap_or_else(|_| json!({}));
            let mut resolved = view.resolve(&stored, source_type);
            served.apply(&destination.id, &mut resolved.config);
            let mode = resolved.connection_mode.clone();
            let decided = if !common.is_enabled() {
                simulate::Decision {
                    receives: false,
                    reason: "the source is disabled".into(),
                }
            } else if !destination.is_enabled() {
                simulate::Decision {
                    receives: false,
                    reason: "the destination is disabled".into(),
                }
            } else {
                let mut browser = view.browser_config(&resolved);
                served.apply(&destination.id, &mut browser);
                let in_browser = || in_the_browser(simulate::sdk(&browser, &event));
                let from_data_plane =
                    || from_the_data_plane(simulate::data_plane(&resolved.config, &event));
                match mode.as_str() {
                    "device" => in_browser(),
                    "hybrid" => {
                        let (browser, cloud) = (in_browser(), from_data_plane());
                        simulate::Decision {
                            receives: browser.receives || cloud.receives,
                            reason: format!(
                                "{}; for what it delivers in hybrid mode, {}",
                                browser.reason, cloud.reason
                            ),
                        }
                    }
                    _ => from_data_plane(),
                }
            };
            outcome.destinations.push(DestinationOutcome {
                destination_id: destination.id.clone(),
                destination_name: destination.name.clone(),
                connection_mode: mode,
                receives: decided.receives,
                reason: decided.reason,
            });
        }
        outcomes.push(outcome);
    }
    Ok(SimulationResult { sources: outcomes })
}

/// A device-mode decision, said as what the SDK does.
fn in_the_browser(decision: simulate::Decision) -> simulate::Decision {
    let verb = if decision.receives {
        "loads it"
    } else {
        "does not load it"
    };
    simulate::Decision {
        reason: format!("the SDK {verb} in the browser: {}", decision.reason),
        ..decision
    }
}

/// A cloud-mode decision, said as what the data plane does.
fn from_the_data_plane(decision: simulate::Decision) -> simulate::Decision {
    let verb = if decision.receives {
        "delivers the event"
    } else {
        "drops the event"
    };
    simulate::Decision {
        reason: format!("the data plane {verb}: {}", decision.reason),
        ..decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(providers: &[(&str, &[&str])]) -> ConsentSettings {
        ConsentSettings {
            providers: providers
                .iter()
                .map(|(provider, ids)| ConsentProvider {
                    provider: provider.to_string(),
                    categories: ids
                        .iter()
                        .map(|id| ConsentCategory {
                            id: id.to_string(),
                            label: format!("{id} label"),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    fn field_of(result: Result<impl std::fmt::Debug, Invalid>) -> String {
        result.expect_err("invalid").field
    }

    #[test]
    fn workspace_settings_are_checked_field_by_field() {
        assert!(parse_settings(settings(&[("oneTrust", &["C0002"]), ("custom", &["a"])])).is_ok());
        assert_eq!(
            field_of(parse_settings(settings(&[
                ("oneTrust", &[]),
                ("didomi", &[])
            ]))),
            "providers.1.provider"
        );
        assert_eq!(
            field_of(parse_settings(settings(&[("ketch", &[]), ("ketch", &[])]))),
            "providers.1.provider"
        );
        assert_eq!(
            field_of(parse_settings(settings(&[("custom", &["a", "b", "a"])]))),
            "providers.0.categories.2.id"
        );
        assert_eq!(
            field_of(parse_settings(settings(&[("custom", &["  "])]))),
            "providers.0.categories.0.id"
        );
        assert_eq!(
            field_of(parse_settings(settings(&[("custom", &["a\u{7}"])]))),
            "providers.0.categories.0.id"
        );
        let long = "x".repeat(TEXT_MAX + 1);
        assert_eq!(
            field_of(parse_settings(settings(&[("custom", &[long.as_str()])]))),
            "providers.0.categories.0.id"
        );
        let mut empty_label = settings(&[("custom", &["a"])]);
        empty_label.providers[0].categories[0].label = String::new();
        assert_eq!(
            field_of(parse_settings(empty_label)),
            "providers.0.categories.0.label"
        );
    }

    fn requirement(
        provider: &str,
        consents: &[&str],
        strategy: Option<&str>,
    ) -> DestinationConsentProvider {
        DestinationConsentProvider {
            provider: provider.into(),
            consents: consents.iter().map(|s| s.to_string()).collect(),
            resolution_strategy: strategy.map(str::to_string),
        }
    }

    #[test]
    fn destination_requirements_must_name_what_the_workspace_defines() {
        let workspace = settings(&[("oneTrust", &["C0002", "C0003"]), ("custom", &["a"])]);
        let check = |providers: Vec<DestinationConsentProvider>| {
            parse_destination(DestinationConsent { providers }, &workspace)
        };
        assert!(check(vec![
            requirement("oneTrust", &["C0002"], None),
            requirement("custom", &["a"], Some("or")),
        ])
        .is_ok());
        assert_eq!(
            field_of(check(vec![requirement("ketch", &[], None)])),
            "providers.0.provider"
        );
        assert_eq!(
            field_of(check(vec![requirement("osano", &[], None)])),
            "providers.0.provider"
        );
        assert_eq!(
            field_of(check(vec![requirement(
                "oneTrust",
                &["C0002", "C0003", "C0009"],
                None
            )])),
            "providers.0.consents.2"
        );
        assert_eq!(
            field_of(check(vec![requirement(
                "oneTrust",
                &["C0002", "C0002"],
                None
            )])),
            "providers.0.consents.1"
        );
        assert_eq!(
            field_of(check(vec![
                requirement("oneTrust", &[], None),
                requirement("oneTrust", &[], None)
            ])),
            "providers.1.provider"
        );
        assert_eq!(
            field_of(check(vec![requirement("custom", &["a"], None)])),
            "providers.0.resolutionStrategy"
        );
        assert_eq!(
            field_of(check(vec![requirement("custom", &["a"], Some("xor"))])),
            "providers.0.resolutionStrategy"
        );
        let refused = check(vec![requirement("oneTrust", &["C0002"], Some("or"))]).unwrap_err();
        assert_eq!(refused.field, "providers.0.resolutionStrategy");
        assert!(
            refused.message.contains("only custom"),
            "{}",
            refused.message
        );
    }
}
