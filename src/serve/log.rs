//! Structured logs of `rampart serve`: one JSON object per line on stderr, with a UTC
//! timestamp, a level and a message, and the fields of the event.

use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

/// An RFC 3339 UTC timestamp with milliseconds.
pub fn timestamp(now: SystemTime) -> String {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        since.subsec_millis()
    )
}

/// Writes one log line: `level`, `msg`, then `fields`.
pub fn event(level: &str, msg: &str, fields: Map<String, Value>) {
    let mut line = Map::new();
    line.insert("time".into(), timestamp(SystemTime::now()).into());
    line.insert("level".into(), level.into());
    line.insert("msg".into(), msg.into());
    line.extend(fields);
    let mut text = Value::Object(line).to_string();
    text.push('\n');
    // A log that cannot be written must not stop the answers.
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Shorthand for an event with fields given as pairs.
pub fn info(msg: &str, fields: &[(&str, Value)]) {
    event("info", msg, to_map(fields));
}

/// An error event.
pub fn error(msg: &str, fields: &[(&str, Value)]) {
    event("error", msg, to_map(fields));
}

fn to_map(fields: &[(&str, Value)]) -> Map<String, Value> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc_3339_utc() {
        assert_eq!(timestamp(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_709_251_199_250);
        assert_eq!(timestamp(t), "2024-02-29T23:59:59.250Z");
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(timestamp(t), "2000-02-29T00:00:00.000Z");
    }
}
