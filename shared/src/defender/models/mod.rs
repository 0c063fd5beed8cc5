//! Models for every documented Defender for Endpoint, Defender XDR and Graph security endpoint.
//!
//! Rules every model here follows, so an export never breaks on a service change and re-serialising
//! loses nothing (`shared/tests/fidelity.rs` holds each one to the contract's examples):
//! - a field the service may omit is `Option<T>` (absent and `null` both read as `None`);
//! - every response model keeps fields it does not know in `extra` (`#[serde(flatten)]`);
//! - an enum the service may extend keeps a value it does not know in `Unrecognized(String)`, spelled
//!   as sent; Graph enums (whose own examples mix `TruePositive` and `truePositive`) are case-insensitive
//!   string types that keep the spelling;
//! - identifiers the docs fix the format of are [`crate::ids`] newtypes; where the docs' own examples
//!   break that format, the field is a [`Lenient`] id: the text as sent plus its validated form;
//! - timestamps are [`Timestamp`]: the instant plus the text as sent (the services write 1–7 fractional
//!   digits; re-serialising writes the same text back);
//! - request bodies are typed and serialise with the documented, case-sensitive names.
//!
//! # Layout
//! - [`alerts`] — MDE alerts, evidence, comments, related user/domains/IPs; update and create bodies.
//! - [`machines`] — machines, logon users, software, vulnerabilities; tag bodies.
//! - [`actions`] — machine actions, live response; every response-action body.
//! - [`files`] — file info and statistics. [`network`] — IP and domain statistics.
//! - [`indicators`] — indicators, import results; submit, import and batch-delete bodies.
//! - [`investigations`] — automated investigations.
//! - [`hunting`] — advanced hunting requests and responses (MDE, XDR, Graph).
//! - [`incidents`] — Defender XDR incidents with alerts, devices and entities; the update body.
//! - [`graph`] — Graph security `alerts_v2` (with typed evidence) and incidents; update bodies.

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::{fmt, str::FromStr};

pub mod actions;
pub mod alerts;
pub mod files;
pub mod graph;
pub mod hunting;
pub mod incidents;
pub mod indicators;
pub mod investigations;
pub mod machines;
pub mod network;

/// Unknown fields of a response object, kept so re-serialising loses nothing.
pub type Extra = serde_json::Map<String, serde_json::Value>;

/// Declares a closed-world-with-escape-hatch enum: the documented values as variants (spelled exactly
/// as documented, compared case-sensitively) and `Unrecognized(String)` for any other value, which
/// serialises back exactly as it came.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version does not know, kept as the service spelled it.
            Unrecognized(String),
        }

        impl $name {
            /// The value as the service spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Unrecognized(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => Self::$variant,)+
                    other => Self::Unrecognized(other.to_string()),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(s))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Ok(Self::from(s.as_ref()))
            }
        }
    };
}
pub(crate) use open_enum;

/// Declares a Graph enum: a string compared ASCII-case-insensitively (Graph's own examples write both
/// `TruePositive` and `truePositive`), with constants for the documented v1.0 (camelCase) values; it
/// serialises exactly as it was spelled.
macro_rules! graph_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $konst:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone)]
        pub struct $name(std::borrow::Cow<'static, str>);

        impl $name {
            $($(#[$vmeta])* pub const $konst: Self = Self(std::borrow::Cow::Borrowed($text));)+

            /// The value as it was spelled.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The documented v1.0 spelling, when the value is one of the documented ones.
            pub fn documented(&self) -> Option<&'static str> {
                [$($text),+].into_iter().find(|t| t.eq_ignore_ascii_case(&self.0))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.0.eq_ignore_ascii_case(&other.0)
            }
        }

        impl Eq for $name {}

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
                self.0.to_ascii_lowercase().hash(h)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(std::borrow::Cow::Owned(s.to_string()))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self(std::borrow::Cow::Owned(String::deserialize(d)?)))
            }
        }
    };
}
pub(crate) use graph_enum;

/// An identifier as the service sent it, with its validated form when it has one.
///
/// Used where the docs' own examples break the format the identifier normally has (machine ids of 32
/// hex characters, `{machine_action_id}` placeholders, ids from other Microsoft services inside XDR
/// incidents), so one odd value never fails a whole page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Lenient<T> {
    raw: String,
    valid: Option<T>,
}

impl<T: FromStr> Lenient<T> {
    /// Keeps `raw` and validates it as `T`.
    pub fn new(raw: impl Into<String>) -> Self {
        let raw = raw.into();
        let valid = raw.parse().ok();
        Self { raw, valid }
    }
}

impl<T> Lenient<T> {
    /// The text as sent.
    pub fn as_str(&self) -> &str {
        &self.raw
    }
    /// The validated identifier, when the text is one.
    pub fn valid(&self) -> Option<&T> {
        self.valid.as_ref()
    }
}

impl<T: fmt::Display> From<T> for Lenient<T> {
    fn from(v: T) -> Self {
        Self { raw: v.to_string(), valid: Some(v) }
    }
}

impl<T> fmt::Display for Lenient<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl<T> Serialize for Lenient<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de, T: FromStr> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self::new(String::deserialize(d)?))
    }
}

/// A text that is not a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid timestamp: '{0}'")]
pub struct InvalidTimestamp(pub String);

/// A point in time as the service wrote it: the UTC instant and the original text.
///
/// Parses RFC 3339 (any number of fractional digits), and — as UTC — a date-time without offset or a
/// bare date. Equality and order are by instant and text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp {
    at: DateTime<Utc>,
    raw: String,
}

impl Timestamp {
    /// The instant.
    pub fn at(&self) -> DateTime<Utc> {
        self.at
    }
    /// The text as sent (or as rendered, for one made from a `DateTime`).
    pub fn as_str(&self) -> &str {
        &self.raw
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;
    fn from_str(s: &str) -> Result<Self, InvalidTimestamp> {
        let at = DateTime::parse_from_rfc3339(s)
            .map(|d| d.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                    .iter()
                    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
                    .map(|n| n.and_utc())
            })
            .or_else(|| {
                NaiveDate::parse_from_str(s.trim_end_matches('Z'), "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
                    .map(|n| n.and_utc())
            })
            .ok_or_else(|| InvalidTimestamp(s.to_string()))?;
        Ok(Self { at, raw: s.to_string() })
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(at: DateTime<Utc>) -> Self {
        Self { at, raw: at.to_rfc3339_opts(SecondsFormat::AutoSi, true) }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.raw)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// An OData collection page: `{"@odata.context": ..., "value": [...], "@odata.nextLink": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: Deserialize<'de>"))]
pub struct ODataList<T> {
    /// `@odata.context`.
    #[serde(rename = "@odata.context", default, skip_serializing_if = "Option::is_none")]
    pub context: Option<String>,
    /// `@odata.count` (Graph `$count=true`).
    #[serde(rename = "@odata.count", default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// `@odata.nextLink`: the whole URL of the next page, when there is one.
    #[serde(rename = "@odata.nextLink", default, skip_serializing_if = "Option::is_none")]
    pub next_link: Option<String>,
    /// The items.
    #[serde(default)]
    pub value: Vec<T>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A download link answer (`getPackageUri`, `GetLiveResponseResultDownloadLink`): `{"value": "..."}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DownloadLink {
    /// The link as sent. The investigation-package page documents it wrapped in (escaped) double
    /// quotes; [`DownloadLink::url`] strips them.
    pub value: String,
    /// Fields this version does not know (`@odata.context`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl DownloadLink {
    /// The link as an absolute https URL, quotes stripped; `None` when it is not one.
    pub fn url(&self) -> Option<url::Url> {
        let s = self.value.trim().trim_matches('"');
        url::Url::parse(s).ok().filter(|u| u.scheme() == "https")
    }
}

/// A comment on an MDE alert or an XDR incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Comment {
    /// The text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Who wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<Timestamp>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Declares a validated string identifier local to the Defender models (same shape as `crate::ids`).
macro_rules! local_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The validated value.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::ids::InvalidId;
            fn from_str(s: &str) -> Result<Self, crate::ids::InvalidId> {
                let s = s.trim();
                let check: fn(&str) -> bool = $check;
                if check(s) {
                    Ok(Self(s.to_string()))
                } else {
                    Err(crate::ids::InvalidId { kind: $kind, reason: format!("'{s}' is not a valid {}", $kind) })
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use local_id;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::MachineId;

    #[test]
    fn timestamps_keep_their_text_and_instant() {
        let t: Timestamp = "2021-01-26T20:33:59.2Z".parse().unwrap();
        assert_eq!(t.as_str(), "2021-01-26T20:33:59.2Z");
        assert_eq!(t.at().timestamp_subsec_millis(), 200);
        assert_eq!(serde_json::to_value(&t).unwrap(), "2021-01-26T20:33:59.2Z");
        let n: Timestamp = "2019-12-13T00:00:00".parse().unwrap();
        assert_eq!(n.at(), "2019-12-13T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let d: Timestamp = "2018-08-01Z".parse().unwrap();
        assert_eq!(d.at(), "2018-08-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap());
        assert!("yesterday".parse::<Timestamp>().is_err());
        let from: Timestamp = "2026-11-28T10:00:00Z".parse::<DateTime<Utc>>().unwrap().into();
        assert_eq!(from.as_str(), "2026-11-28T10:00:00Z");
    }

    #[test]
    fn lenient_ids_keep_text_and_validate() {
        let ok: Lenient<MachineId> = serde_json::from_str("\"1e5bc9d7e413ddd7902c2932e418702b84d0cc07\"").unwrap();
        assert!(ok.valid().is_some());
        let odd: Lenient<MachineId> = serde_json::from_str("\"{machine_id}\"").unwrap();
        assert!(odd.valid().is_none());
        assert_eq!(serde_json::to_value(&odd).unwrap(), "{machine_id}");
    }

    open_enum!(
        /// Test enum.
        Sample { A = "Alpha", B = "Beta" }
    );
    graph_enum!(
        /// Test Graph enum.
        GSample { TRUE_POSITIVE = "truePositive" }
    );

    #[test]
    fn open_enums_round_trip_unknown_values() {
        assert_eq!(serde_json::from_str::<Sample>("\"Alpha\"").unwrap(), Sample::A);
        let u: Sample = serde_json::from_str("\"Gamma\"").unwrap();
        assert_eq!(u, Sample::Unrecognized("Gamma".into()));
        assert_eq!(serde_json::to_string(&u).unwrap(), "\"Gamma\"");
        assert_eq!(serde_json::from_str::<Sample>("\"alpha\"").unwrap(), Sample::Unrecognized("alpha".into()));
        let g: GSample = serde_json::from_str("\"TruePositive\"").unwrap();
        assert_eq!(g, GSample::TRUE_POSITIVE);
        assert_eq!(g.documented(), Some("truePositive"));
        assert_eq!(g.as_str(), "TruePositive");
        assert_eq!(GSample::from("other").documented(), None);
        assert_eq!(serde_json::to_string(&g).unwrap(), "\"TruePositive\"");
    }
}
