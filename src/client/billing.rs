//! Billing: usage events and current checkpoint storage (admin or billing-admin role), with
//! answers typed but tolerant of absent or null fields, and the checks of a usage window
//! made before any request, as pure functions of "now".

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::catalog::path_segment;
use crate::client::config::Config;
use crate::client::core::Core;
use crate::client::status;
use crate::client::transport::Request;
use crate::client::when;
use crate::error::{Error, Result};

/// The widest usage window the server serves: 14 days.
pub const MAX_WINDOW_SECS: i64 = 14 * 86_400;

/// One hourly usage bucket (`billing/usage/events`), fields in the SDK's order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct UsageEvent {
    /// Inclusive start of the UTC hour.
    pub bucket_start: Option<String>,
    /// Exclusive end of the UTC hour.
    pub bucket_end: Option<String>,
    /// The base model billed.
    pub base_model: Option<String>,
    /// The organization user's URN.
    pub user_id: Option<String>,
    /// Their display name.
    pub user_name: Option<String>,
    /// The session the usage is attributed to.
    pub session_id: Option<String>,
    /// The project the usage belongs to.
    pub project_id: Option<String>,
    /// Estimated gross cost in USD (null when not priced).
    pub estimated_cost_usd: Option<f64>,
    /// Rate per million tokens (token events).
    pub effective_rate_usd_per_million_tokens: Option<f64>,
    /// Rate per GB-month (storage events).
    pub effective_rate_usd_per_gigabyte_month: Option<f64>,
    /// The kind of usage and its quantity.
    #[serde(default)]
    pub event_info: EventInfo,
}

/// What kind of usage an event is and how much (every field optional; `kind` decides).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct EventInfo {
    /// `training`, `sampling_prefill`, `sampling_sample`, `checkpoint` or `storage`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Tokens (token events).
    pub token_count: Option<i64>,
    /// Served from the prefill cache (`sampling_prefill`).
    pub cached: Option<bool>,
    /// Checkpoints (`checkpoint`).
    pub count: Option<i64>,
    /// Storage quantity (`storage`).
    pub gigabyte_hours: Option<f64>,
    /// Free storage (`storage`; the SDK's default: false).
    pub free: Option<bool>,
}

/// A session's attributes in a usage answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct UsageSession {
    /// The `user_metadata` the session was created with (null when none).
    pub user_metadata: Option<Map<String, Value>>,
}

/// The `billing/usage/events` answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Usage {
    /// Hourly events, in the server's order.
    #[serde(default, deserialize_with = "null_is_default")]
    pub data: Vec<UsageEvent>,
    /// Session id → attributes, in the server's order.
    #[serde(default, deserialize_with = "null_is_default")]
    pub sessions: Map<String, Value>,
    /// Where invoice-derived prices end (exclusive), as the server wrote it.
    pub cost_data_through: Option<String>,
}

/// One row of current storage (`billing/usage/checkpoints/current`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
pub struct StorageRow {
    /// The project.
    pub project_id: Option<String>,
    /// The session owner's URN.
    pub org_user_urn: Option<String>,
    /// Their email.
    pub user_email: Option<String>,
    /// Their display name.
    pub user_name: Option<String>,
    /// Active checkpoints.
    pub checkpoint_count: Option<i64>,
    /// Stored bytes.
    pub size_bytes: Option<i64>,
    /// Stored gigabytes.
    pub size_gigabytes: Option<f64>,
    /// Projected 720-hour cost in USD.
    pub estimated_monthly_cost_usd: Option<f64>,
}

/// The current storage answer.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Storage {
    /// The storage rate used for the projections.
    pub effective_rate_usd_per_gigabyte_month: Option<f64>,
    /// Rows grouped by project and owner.
    #[serde(default, deserialize_with = "null_is_default")]
    pub data: Vec<StorageRow>,
}

fn null_is_default<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A validated usage window: whole UTC hours, `start < end`, at most 14 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start, seconds since the epoch (inclusive).
    pub start: i64,
    /// End, seconds since the epoch (exclusive).
    pub end: i64,
}

impl Window {
    /// Checks START and END as the SDK documents them, against `now` (seconds): each a
    /// time (RFC 3339 or `YYYY-MM-DD`, UTC) on a whole hour, END after START, at most 14
    /// days apart, START not in the future. The error names the argument and the rule.
    pub fn parse(start: &str, end: &str, now: i64) -> Result<Window> {
        let s = instant("START", start)?;
        let e = instant("END", end)?;
        if e <= s {
            return Err(Error::usage(format!(
                "END ({}) must be after START ({})",
                when::format_utc(e),
                when::format_utc(s)
            )));
        }
        if e - s > MAX_WINDOW_SECS {
            return Err(Error::usage(
                "END must be at most 14 days after START (the server's widest window)",
            ));
        }
        if s > now {
            return Err(Error::usage(format!(
                "START ({}) is in the future",
                when::format_utc(s)
            )));
        }
        Ok(Window { start: s, end: e })
    }

    /// `--last DURATION`: the window of whole hours ending at the current hour's start.
    pub fn last(duration: &str, now: i64) -> Result<Window> {
        let secs = when::parse_duration(duration)
            .filter(|s| s % 3600 == 0)
            .ok_or_else(|| {
                Error::usage(format!(
                    "--last: '{}' is not a whole number of hours (e.g. 24h, 7d)",
                    crate::redact::server_text(duration)
                ))
            })?;
        if secs as i64 > MAX_WINDOW_SECS {
            return Err(Error::usage(
                "--last: at most 14 days (the server's widest window)",
            ));
        }
        let end = now.div_euclid(3600) * 3600;
        Ok(Window {
            start: end - secs as i64,
            end,
        })
    }
}

fn instant(name: &str, text: &str) -> Result<i64> {
    let nanos = when::parse_instant(text).ok_or_else(|| {
        Error::usage(format!(
            "{name}: not a time: '{}' (use RFC 3339, e.g. 2026-07-13T00:00:00Z, or YYYY-MM-DD, UTC)",
            crate::redact::server_text(text)
        ))
    })?;
    let secs = when::secs_of(nanos);
    if nanos % 1_000_000_000 != 0 || secs % 3600 != 0 {
        return Err(Error::usage(format!(
            "{name} must be on a whole UTC hour (e.g. {}), not {}",
            when::format_utc(secs - secs.rem_euclid(3600)),
            crate::redact::server_text(text)
        )));
    }
    Ok(secs)
}

/// A handshaken connection for the billing reads.
pub struct BillingClient {
    core: Core,
}

impl std::fmt::Debug for BillingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BillingClient")
            .field("base_url", &self.core.config.base_url)
            .finish_non_exhaustive()
    }
}

impl BillingClient {
    /// Validates the credential and makes the handshake.
    pub fn connect(config: Config) -> Result<BillingClient> {
        Ok(BillingClient {
            core: Core::connect(config)?,
        })
    }

    /// Usage events of `window`; a key without the billing role is an auth error (403).
    pub fn usage(&self, window: Window) -> Result<Usage> {
        let path = format!(
            "/api/v1/billing/usage/events?starting_on={}&ending_before={}",
            when::format_utc(window.start),
            when::format_utc(window.end)
        );
        self.get("fetching billing usage", &path)
    }

    /// Current checkpoint storage, of one project when `project_id` is given.
    pub fn checkpoint_storage(&self, project_id: Option<&str>) -> Result<Storage> {
        let mut path = "/api/v1/billing/usage/checkpoints/current".to_string();
        if let Some(id) = project_id {
            path.push_str(&format!("?project_id={}", path_segment(id)));
        }
        self.get("fetching checkpoint storage usage", &path)
    }

    fn get<T: serde::de::DeserializeOwned>(&self, step: &str, path: &str) -> Result<T> {
        let value = self.core.setup_json(step, &Request::get(path), false)?;
        serde_json::from_value(value).map_err(|e| status::bad_answer(step, &e.to_string(), None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_783_900_800 + 5 * 86_400 + 1234; // 2026-07-18T00:20:34Z

    fn err(start: &str, end: &str) -> String {
        Window::parse(start, end, NOW).unwrap_err().to_string()
    }

    #[test]
    fn windows_follow_the_sdk_rules() {
        let w = Window::parse("2026-07-13", "2026-07-14T00:00:00Z", NOW).unwrap();
        assert_eq!((w.start, w.end), (1_783_900_800, 1_783_987_200));
        assert!(err("2026-07-13T00:30:00Z", "2026-07-14")
            .starts_with("START must be on a whole UTC hour"));
        assert!(err("2026-07-13", "2026-07-14T00:00:00.5Z")
            .starts_with("END must be on a whole UTC hour"));
        assert!(err("2026-07-14", "2026-07-14")
            .starts_with("END (2026-07-14T00:00:00Z) must be after START"));
        assert!(
            err("2026-07-01", "2026-07-15T01:00:00Z").starts_with("END must be at most 14 days")
        );
        assert!(Window::parse("2026-07-01", "2026-07-15", NOW).is_ok());
        assert!(err("2026-07-18T01:00:00Z", "2026-07-19").contains("in the future"));
        assert!(err("yesterday", "2026-07-14").starts_with("START: not a time"));
    }

    #[test]
    fn last_ends_at_the_current_hour() {
        let w = Window::last("24h", NOW).unwrap();
        assert_eq!(w.end, 1_783_900_800 + 5 * 86_400);
        assert_eq!(w.end - w.start, 86_400);
        assert!(Window::last("90m", NOW).is_err());
        assert!(Window::last("15d", NOW).is_err());
        assert_eq!(
            Window::last("2w", NOW).unwrap().end - Window::last("2w", NOW).unwrap().start,
            14 * 86_400
        );
    }

    #[test]
    fn absent_and_null_fields_are_tolerated() {
        let u: Usage = serde_json::from_str(
            r#"{"data":[{"event_info":{"type":"storage"}},{}],"sessions":null}"#,
        )
        .unwrap();
        assert_eq!(u.data.len(), 2);
        assert_eq!(u.data[0].event_info.kind.as_deref(), Some("storage"));
        let s: Storage = serde_json::from_str(r#"{"data":null}"#).unwrap();
        assert!(s.data.is_empty());
    }
}
