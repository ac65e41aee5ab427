//! Event volume and errors, as the data planes reported them:
//! `GET /api/v1/workspaces/{ws}/sources/{id}/volume`, `…/destinations/{id}/volume`,
//! `…/destinations/{id}/errors` and `…/volume/summary`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How wide one bucket of a series is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Granularity {
    Minute,
    Hour,
    Day,
}

impl Granularity {
    pub const ALL: [Granularity; 3] = [Granularity::Minute, Granularity::Hour, Granularity::Day];

    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Minute => "minute",
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        }
    }

    pub fn millis(self) -> i64 {
        match self {
            Granularity::Minute => 60_000,
            Granularity::Hour => 3_600_000,
            Granularity::Day => 86_400_000,
        }
    }

    pub fn parse(text: &str) -> Option<Granularity> {
        Granularity::ALL.into_iter().find(|g| g.as_str() == text)
    }
}

/// What a volume series can be split by (`groupBy`, repeatable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum VolumeDimension {
    Status,
    EventName,
    EventType,
    StatusCode,
}

impl VolumeDimension {
    pub const ALL: [VolumeDimension; 4] = [
        VolumeDimension::Status,
        VolumeDimension::EventName,
        VolumeDimension::EventType,
        VolumeDimension::StatusCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            VolumeDimension::Status => "status",
            VolumeDimension::EventName => "eventName",
            VolumeDimension::EventType => "eventType",
            VolumeDimension::StatusCode => "statusCode",
        }
    }

    pub fn parse(text: &str) -> Option<VolumeDimension> {
        VolumeDimension::ALL
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

/// A volume series: one row per non-empty bucket and group, in time order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VolumeSeries {
    pub granularity: Granularity,
    /// The range read, RFC 3339: `from` rounded down to the granularity's bucket.
    pub from: String,
    pub to: String,
    pub rows: Vec<VolumeRow>,
}

/// The count of one bucket (and group). The dimensions are present only when grouped by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VolumeRow {
    /// The bucket's start, RFC 3339 (UTC).
    pub time: String,
    pub count: i64,
    /// `succeeded`, `failed`, `aborted`, `filtered`, … (rudder-server's states); a source's events are
    /// `succeeded` when received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_code: Option<u16>,
}

/// A destination's failures, grouped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorGroups {
    /// The width of each group's `trend` buckets.
    pub granularity: Granularity,
    pub from: String,
    pub to: String,
    /// Most failed events first.
    pub groups: Vec<ErrorGroup>,
}

/// Failures with the same status code and the same message once ids, numbers, emails and timestamps are
/// taken out of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorGroup {
    /// Stable for the same status code and normalized message.
    pub key: String,
    pub status_code: u16,
    /// The data plane's error code (`errorCode`), when it sent one.
    pub error_code: String,
    /// The message with its variable parts replaced (`<id>`, `<number>`, `<email>`, `<time>`).
    pub message: String,
    /// Failed events.
    pub count: i64,
    pub first_seen: String,
    pub last_seen: String,
    /// Event names seen failing this way, most failed first (at most 10).
    pub event_names: Vec<String>,
    /// Failed events per bucket of `granularity`, non-empty buckets only.
    pub trend: Vec<TrendPoint>,
    /// The latest few samples, newest first. Empty for viewers, and when the workspace keeps no samples.
    pub samples: Vec<ErrorSample>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TrendPoint {
    pub time: String,
    pub count: i64,
}

/// One failure as the data plane reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ErrorSample {
    /// The minute it was reported for.
    pub time: String,
    pub event_name: String,
    pub event_type: String,
    /// The message as sent, unnormalized.
    pub message: String,
    /// The event sent to the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<Value>,
    /// What the destination answered (JSON when it was JSON, else a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<Value>,
}

/// Every source's and destination's totals over a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct VolumeSummary {
    pub from: String,
    pub to: String,
    /// Every destination of the workspace, most events first.
    pub destinations: Vec<DestinationVolume>,
    /// Every source of the workspace, most events first.
    pub sources: Vec<SourceVolume>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct DestinationVolume {
    pub id: String,
    pub name: String,
    /// The integration's name (`WEBHOOK`, `GA4`, …).
    pub definition_name: String,
    /// Events the destination accepted (`succeeded`).
    pub delivered: i64,
    /// Events that failed for good (`failed` or `aborted` in a terminal report).
    pub failed: i64,
    /// `failed / (delivered + failed)`, 0 when neither.
    pub failure_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct SourceVolume {
    pub id: String,
    pub name: String,
    pub definition_name: String,
    /// Events received (gateway reports).
    pub received: i64,
}

/// A volume query: `from` and `to` RFC 3339, `granularity` chosen from the range when absent.
pub fn volume_query(
    from: &str,
    to: &str,
    granularity: Option<Granularity>,
    group_by: &[VolumeDimension],
) -> String {
    let mut query = format!("from={}&to={}", encode(from), encode(to));
    if let Some(granularity) = granularity {
        query.push_str("&granularity=");
        query.push_str(granularity.as_str());
    }
    for dimension in group_by {
        query.push_str("&groupBy=");
        query.push_str(dimension.as_str());
    }
    query
}

/// RFC 3339 times carry `+` and `:`; `+` must be escaped in a query string.
fn encode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}
