//! Time as the database stores it (epoch milliseconds) and as the wire shows it
//! (`2006-01-02T15:04:05.000Z`, UTC with milliseconds, the format rudder-server expects).

use time::format_description::FormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

const WIRE_FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

pub fn format_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| t.format(WIRE_FORMAT).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".into())
}

/// Parses an RFC 3339 timestamp (what rudder-server sends as `updatedAfter`) into epoch milliseconds.
pub fn parse_rfc3339_ms(value: &str) -> Option<i64> {
    let t = OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok()?;
    Some((t.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_format_round_trips() {
        let s = format_ms(1_714_557_600_123);
        assert_eq!(s, "2024-05-01T10:00:00.123Z");
        assert_eq!(parse_rfc3339_ms(&s), Some(1_714_557_600_123));
    }
}
