//! Consent settings: which consent managers a workspace uses and their categories (purposes), and per
//! destination which consents it needs. Served to data planes and SDKs as
//! `../shared/reference/rudderstack-protocol.md` §4 describes.
//!
//! `GET|PUT /api/v1/workspaces/{ws}/consent`, `GET|PUT /api/v1/workspaces/{ws}/destinations/{id}/consent`,
//! `POST /api/v1/workspaces/{ws}/consent/simulate`.

use serde::{Deserialize, Serialize};

/// The consent managers the data planes and the JavaScript SDK know.
pub const PROVIDERS: [&str; 4] = ["oneTrust", "ketch", "iubenda", "custom"];

// What the OpenAPI document says the text fields hold. They stay text on the wire types, checked by the
// server, so that an unknown value is refused naming where it is (`providers.1.provider`).

/// A consent manager.
#[cfg(feature = "ssr")]
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
enum ProviderName {
    OneTrust,
    Ketch,
    Iubenda,
    Custom,
}

/// `and`: every consent is needed; `or`: any one is enough.
#[cfg(feature = "ssr")]
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
enum ResolutionStrategy {
    And,
    Or,
}

/// A workspace's consent settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConsentSettings {
    pub providers: Vec<ConsentProvider>,
}

/// A consent manager in use, with its categories (OneTrust), purposes (Ketch, iubenda) or custom consents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConsentProvider {
    /// `oneTrust`, `ketch`, `iubenda` or `custom`.
    #[cfg_attr(feature = "ssr", schema(value_type = ProviderName, inline))]
    pub provider: String,
    pub categories: Vec<ConsentCategory>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConsentCategory {
    /// The id the consent manager reports (`C0002` for OneTrust's performance cookies).
    pub id: String,
    pub label: String,
}

/// What a destination needs, per consent manager. While it lists any, the destination is served with
/// `consentManagement`, `oneTrustCookieCategories` and `ketchConsentPurposes` made from it, whatever its own
/// config says; an empty list leaves those keys to its config.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DestinationConsent {
    pub providers: Vec<DestinationConsentProvider>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DestinationConsentProvider {
    /// One of the workspace's providers.
    #[cfg_attr(feature = "ssr", schema(value_type = ProviderName, inline))]
    pub provider: String,
    /// Ids of the provider's categories defined in the workspace.
    pub consents: Vec<String>,
    /// `and` (every consent needed) or `or` (any one is enough): for `custom` only, where it is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<ResolutionStrategy>, inline))]
    pub resolution_strategy: Option<String>,
}

/// `POST …/consent/simulate`: what an event with these consents would reach. With no ids at all, the visitor
/// has given no consent yet (the SDK then loads every device-mode destination, and nothing is denied).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConsentSimulation {
    #[cfg_attr(feature = "ssr", schema(value_type = ProviderName, inline))]
    pub provider: String,
    #[serde(default)]
    pub allowed_consent_ids: Vec<String>,
    #[serde(default)]
    pub denied_consent_ids: Vec<String>,
    /// The sources to show; none means every source of the workspace.
    #[serde(default)]
    pub source_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SimulationResult {
    pub sources: Vec<SourceOutcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SourceOutcome {
    pub source_id: String,
    pub source_name: String,
    /// The source definition's type (`web`, `android`, `cloud`…), which decides each destination's mode.
    pub source_type: String,
    pub destinations: Vec<DestinationOutcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DestinationOutcome {
    pub destination_id: String,
    pub destination_name: String,
    /// `cloud`, `device` or `hybrid`, as resolved for this source.
    pub connection_mode: String,
    /// Whether the event reaches the destination, and through whom: the data plane (cloud mode,
    /// rudder-server's rules) or the SDK in the browser (device mode, the JavaScript SDK's rules).
    pub receives: bool,
    /// The rule that decided, in words (`denied C0004, and every consent is required`).
    pub reason: String,
}
