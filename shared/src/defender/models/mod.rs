//! Models for every documented Defender for Endpoint, Defender XDR and Graph security endpoint.
//!
//! Rules every model here follows, so an export never breaks on a service change and re-serialising
//! loses nothing (`shared/tests/fidelity.rs` holds each one to the contract's examples):
//! - a field the service may omit is `Option<T>` (absent and `null` both read as `None`); a model
//!   writes `None` as an absent member: `#[serde_with::skip_serializing_none]` on the struct (one
//!   container attribute, not one per field); a field that must be written as `null` would carry
//!   `#[serialize_always]` (none does today: no documented PATCH clears a member with `null`).
//!   `shared/tests/pinned` holds what every model writes byte for byte;
//! - every response model keeps fields it does not know in `extra` (`#[serde(flatten)]`);
//! - an enum the service may extend keeps a value it does not know in `Unrecognized(String)`, spelled
//!   as sent; Graph enums (whose own examples mix `TruePositive` and `truePositive`) are case-insensitive
//!   string types that keep the spelling;
//! - identifiers the docs fix the format of are [`crate::ids`] newtypes; where the docs' own examples
//!   break that format, the field is a [`Lenient`] id: the text as sent plus its validated form;
//! - timestamps are [`Timestamp`]: the instant plus the text as sent (the services write 1–7 fractional
//!   digits; re-serialising writes the same text back);
//! - request bodies are typed and serialise with the documented, case-sensitive names;
//! - a list page read for export is a [`Page`]: each item decoded on its own ([`Item`]), kept exactly
//!   as received beside its typed view, so one item our types refuse never loses the page.
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
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::DeserializeOwned};
use serde_json::value::RawValue;
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

/// Declares a response model as every one here is declared: `Option` fields are left out of the JSON
/// when `None` (`skip_serializing_none`), names are camelCase, and the fields this version does not
/// know are kept in a last field, `extra`, and written back after the known ones. A doc line and the
/// word `extra` after the fields say more about what `extra` holds. `..group,` in the field list
/// stands for a group of fields Microsoft's schemas share under the same names and meaning (declared
/// once below, e.g. [`file_and_process`]), spliced in at that place: the JSON's field order is the
/// declaration's, as before, and nothing is flattened at run time.
macro_rules! model {
    // A shared group: its macro hands the fields back, appended.
    (@munch $head:tt $extra:tt [$($out:tt)*] ..$group:ident, $($rest:tt)*) => {
        $crate::defender::models::$group!($head $extra [$($out)*] $($rest)*);
    };
    (@munch $head:tt $extra:tt [$($out:tt)*] $(#[$fm:meta])* pub $f:ident: $t:ty, $($rest:tt)*) => {
        $crate::defender::models::model!(@munch $head $extra [$($out)* $(#[$fm])* pub $f: $t,] $($rest)*);
    };
    (@munch [$(#[$m:meta])* $name:ident] [$(#[$em:meta])+] [$($out:tt)*]) => {
        $(#[$m])*
        #[serde_with::skip_serializing_none]
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $($out)*
            $(#[$em])+
            #[serde(flatten)]
            pub extra: $crate::defender::models::Extra,
        }
    };
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* }) => {
        $crate::defender::models::model!(@munch [$(#[$m])* $name] [
            /// Fields this version does not know.
        ] [] $($body)*);
    };
    ($(#[$m:meta])* pub struct $name:ident { $($body:tt)* } $(#[$em:meta])+ extra) => {
        $crate::defender::models::model!(@munch [$(#[$m])* $name] [$(#[$em])+] [] $($body)*);
    };
}
pub(crate) use model;

/// The file and process fields of a Defender evidence entity, as both the MDE alert's `evidence` and
/// the XDR incident alert's `entities` name them (a [`model!`] group).
macro_rules! file_and_process {
    ($head:tt $extra:tt [$($out:tt)*] $($rest:tt)*) => {
        $crate::defender::models::model!(@munch $head $extra [$($out)*
            /// File SHA-1.
            pub sha1: Option<$crate::defender::models::Lenient<$crate::ids::Sha1>>,
            /// File SHA-256.
            pub sha256: Option<$crate::defender::models::Lenient<$crate::ids::Sha256>>,
            /// File name.
            pub file_name: Option<String>,
            /// File folder.
            pub file_path: Option<String>,
            /// Process id.
            pub process_id: Option<i64>,
            /// Command line.
            pub process_command_line: Option<String>,
            /// Process start.
            pub process_creation_time: Option<$crate::defender::models::Timestamp>,
            /// Parent process id.
            pub parent_process_id: Option<i64>,
            /// Parent process start.
            pub parent_process_creation_time: Option<$crate::defender::models::Timestamp>,
        ] $($rest)*);
    };
}
pub(crate) use file_and_process;

/// The account fields of a Defender evidence entity, as both the MDE alert's `evidence` and the XDR
/// incident alert's `entities` name them (a [`model!`] group).
macro_rules! account {
    ($head:tt $extra:tt [$($out:tt)*] $($rest:tt)*) => {
        $crate::defender::models::model!(@munch $head $extra [$($out)*
            /// Account name.
            pub account_name: Option<String>,
            /// Account domain.
            pub domain_name: Option<String>,
            /// Account SID.
            pub user_sid: Option<String>,
            /// Entra user id.
            pub aad_user_id: Option<String>,
            /// UPN.
            pub user_principal_name: Option<String>,
        ] $($rest)*);
    };
}
pub(crate) use account;

/// The in-organisation prevalence every MDE statistics answer (`InOrgIPStats`, `InOrgDomainStats`,
/// `InOrgFileStats`) gives after the key of what it counts (a [`model!`] group).
macro_rules! in_org_stats {
    ($head:tt $extra:tt [$($out:tt)*] $($rest:tt)*) => {
        $crate::defender::models::model!(@munch $head $extra [$($out)*
            /// Devices in the organisation that saw it.
            pub organization_prevalence: Option<i64>,
            /// First seen in the organisation.
            pub org_first_seen: Option<$crate::defender::models::Timestamp>,
            /// Last seen in the organisation.
            pub org_last_seen: Option<$crate::defender::models::Timestamp>,
        ] $($rest)*);
    };
}
pub(crate) use in_org_stats;

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
            /// Every documented value, as the service spells it, in the documented order.
            pub const DOCUMENTED: &[&str] = &[$($text),+];

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

        $crate::ids::ascii_case_insensitive!($name);

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

impl Timestamp {
    /// The instant `s` names, by the rules of [`Timestamp`]'s parsing, without keeping the text.
    pub fn instant(s: &str) -> Option<DateTime<Utc>> {
        DateTime::parse_from_rfc3339(s)
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
    }
}

impl FromStr for Timestamp {
    type Err = InvalidTimestamp;
    fn from_str(s: &str) -> Result<Self, InvalidTimestamp> {
        let at = Self::instant(s).ok_or_else(|| InvalidTimestamp(s.to_string()))?;
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
///
/// Its items are decoded one by one (each an [`Item`], as an export [`Page`] is): an item the typed
/// view refuses is left out of `value`, named in `undecodable` (id, member, reason — never a value)
/// and logged, and the other items of the page are kept. Only a body that is not JSON, or whose
/// `value` is not an array, fails the page.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(bound(serialize = "T: Serialize"))]
pub struct ODataList<T> {
    /// `@odata.context`.
    #[serde(rename = "@odata.context")]
    pub context: Option<String>,
    /// `@odata.count` (Graph `$count=true`).
    #[serde(rename = "@odata.count")]
    pub count: Option<u64>,
    /// `@odata.nextLink`: the whole URL of the next page, when there is one.
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    /// The items whose typed view decoded, in the service's order.
    #[serde(default)]
    pub value: Vec<T>,
    /// Fields this version does not know.
    #[serde(flatten)]
    pub extra: Extra,
    /// The items of the page left out of `value` because their typed view failed (not serialised).
    #[serde(skip)]
    pub undecodable: Vec<ItemError>,
}

impl<T: DeserializeOwned> ODataList<T> {
    /// Splits decoded items into the typed ones and the failures, logging each failure (id, member,
    /// reason; never a value).
    fn from_items(
        context: Option<String>,
        count: Option<u64>,
        next_link: Option<String>,
        items: Vec<Item<T>>,
        extra: Extra,
    ) -> Self {
        let mut value = Vec::with_capacity(items.len());
        let mut undecodable = Vec::new();
        for item in items {
            match item.into_parts().1 {
                Ok(t) => value.push(t),
                Err(e) => {
                    tracing::warn!(
                        item_id = e.id.as_deref().unwrap_or(""),
                        member = %e.field,
                        reason = %e.reason,
                        "list item skipped: no typed view"
                    );
                    undecodable.push(e);
                }
            }
        }
        Self { context, count, next_link, value, extra, undecodable }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for ODataList<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A map visitor rather than a derive with `flatten`: a flattened struct buffers its members,
        // and an item's raw text (`RawValue`) cannot be read back from that buffer.
        struct Visit<T>(std::marker::PhantomData<T>);
        impl<'de, T: DeserializeOwned> serde::de::Visitor<'de> for Visit<T> {
            type Value = ODataList<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OData collection object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut context, mut count, mut next_link) = (None, None, None);
                let mut items: Vec<Item<T>> = Vec::new();
                let mut extra = Extra::new();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "@odata.context" => context = map.next_value()?,
                        "@odata.count" => count = map.next_value()?,
                        "@odata.nextLink" => next_link = map.next_value()?,
                        "value" => items = map.next_value::<Option<Vec<Item<T>>>>()?.unwrap_or_default(),
                        _ => {
                            let v: serde_json::Value = map.next_value()?;
                            extra.insert(key, v);
                        }
                    }
                }
                Ok(ODataList::from_items(context, count, next_link, items, extra))
            }
        }
        d.deserialize_map(Visit(std::marker::PhantomData))
    }
}

/// A list page decoded item by item: `{"value": [...]}` where each item is kept exactly as the
/// service sent it ([`Item::raw`]) beside its typed view, which may have failed for that item alone.
///
/// Members of the envelope other than the ones below are ignored (the items are what is kept). Only
/// a body that is not JSON, or whose `value` is not an array, fails the page.
#[derive(Debug, Deserialize)]
#[serde(bound(deserialize = "T: DeserializeOwned"))]
pub struct Page<T> {
    /// `@odata.context`.
    #[serde(rename = "@odata.context", default)]
    pub context: Option<String>,
    /// `@odata.nextLink`: the whole URL of the next page, when there is one.
    #[serde(rename = "@odata.nextLink", default)]
    pub next_link: Option<String>,
    /// The items, in the service's order.
    #[serde(default)]
    pub value: Vec<Item<T>>,
}

impl<T> Page<T> {
    /// The items whose typed view failed, with why.
    pub fn undecoded(&self) -> impl Iterator<Item = &ItemError> {
        self.value.iter().filter_map(|i| i.typed().err())
    }
}

/// One item of a [`Page`]: the JSON text the service sent for it (unchanged: nulls, unknown members,
/// key order, number spellings) and its typed view.
#[derive(Debug)]
pub struct Item<T> {
    raw: Box<RawValue>,
    typed: Result<T, ItemError>,
}

impl<T: DeserializeOwned> Item<T> {
    /// Decodes the typed view of `raw`; a failure is kept beside the raw item, never raised.
    pub fn decode(raw: Box<RawValue>) -> Self {
        // The fast path first; the path of a failure is found by decoding that item again.
        let typed = serde_json::from_str(raw.get()).map_err(|_| {
            let de = &mut serde_json::Deserializer::from_str(raw.get());
            match serde_path_to_error::deserialize::<_, T>(de) {
                Err(e) => ItemError::new(&raw, &e),
                Ok(_) => ItemError { id: item_id(&raw), field: ".".into(), reason: "invalid value".into() },
            }
        });
        Self { raw, typed }
    }
}

impl<T> Item<T> {
    /// The item exactly as received.
    pub fn raw(&self) -> &RawValue {
        &self.raw
    }
    /// The typed view, or why this item has none.
    pub fn typed(&self) -> Result<&T, &ItemError> {
        self.typed.as_ref()
    }
    /// The raw item and the typed view.
    pub fn into_parts(self) -> (Box<RawValue>, Result<T, ItemError>) {
        (self.raw, self.typed)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Item<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Box::<RawValue>::deserialize(d).map(Self::decode)
    }
}

/// Why one item of a page has no typed view. It names the item (its `id`, or an XDR incident's
/// `incidentId`), the member that failed and the kind of failure — never a value of the record, which
/// may be sensitive (a command line, a user name): the reason keeps only the type the service sent
/// and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("item {} has no typed view: `{field}`: {reason}", id.as_deref().unwrap_or("(without id)"))]
pub struct ItemError {
    /// The item's id as sent (at most 128 characters, control characters replaced), when it has one.
    pub id: Option<String>,
    /// The path of the member that failed (`.` for the item itself, `commands[0]`, `alerts[3].status`).
    pub field: String,
    /// What failed, without the value (`invalid type: string, expected i64`, `missing field
    /// \`incidentId\``, `invalid value`).
    pub reason: String,
}

impl ItemError {
    fn new(raw: &RawValue, e: &serde_path_to_error::Error<serde_json::Error>) -> Self {
        Self { id: item_id(raw), field: e.path().to_string(), reason: redacted_reason(&e.inner().to_string()) }
    }
}

/// The `id` (or `incidentId`) of a raw item, as text, when it is a string or a number.
pub fn item_id(raw: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Ids {
        #[serde(default)]
        id: Option<serde_json::Value>,
        #[serde(default, rename = "incidentId")]
        incident_id: Option<serde_json::Value>,
    }
    let ids: Ids = serde_json::from_str(raw.get()).ok()?;
    let text = match ids.id.or(ids.incident_id)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(text.chars().take(128).map(|c| if c.is_control() { '?' } else { c }).collect())
}

/// A serde error message without the value it quotes: `invalid type: string "x", expected i64`
/// becomes `invalid type: string, expected i64`; the member names of `missing field`/`unknown field`
/// (ours, not the record's) are kept; any other message (a custom one, which may quote the value)
/// becomes `invalid value`.
fn redacted_reason(msg: &str) -> String {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    if msg.starts_with("missing field `") || msg.starts_with("duplicate field `") {
        return msg.to_string();
    }
    for head in ["invalid type: ", "invalid value: ", "invalid length "] {
        if let Some(rest) = msg.strip_prefix(head) {
            let (found, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
            // The kind of what was found: its leading words, up to a quoted value.
            let kind: String = found.split(['"', '`', '\'']).next().unwrap_or("").trim().to_string();
            let kind = if head == "invalid length " { String::new() } else { kind };
            let head = head.trim_end_matches([' ', ':']);
            return match (kind.is_empty(), expected.is_empty()) {
                (true, true) => head.to_string(),
                (true, false) => format!("{head}, expected {expected}"),
                (false, true) => format!("{head}: {kind}"),
                (false, false) => format!("{head}: {kind}, expected {expected}"),
            };
        }
    }
    if let Some(rest) = msg.strip_prefix("unknown variant ") {
        let expected = rest.split_once(", expected ").map(|(_, e)| e).unwrap_or("");
        return format!("unknown variant, expected {expected}");
    }
    "invalid value".to_string()
}

/// A numeric identifier some answers send as a string (`"rbacGroupId": "group-fin-001"` beside
/// `"rbacGroupId": 43`); kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NumberOrText {
    /// A JSON number.
    Number(i64),
    /// A JSON string.
    Text(String),
}

/// Reads `""` as absent (real machine actions send `"relatedFileInfo": ""` where the docs have an
/// object or null); any other value as `T`.
///
/// # Errors
/// The value is neither `""`, null nor a `T`.
pub fn empty_as_none<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::String(s) if s.is_empty() => Ok(None),
        v => serde_json::from_value(v).map(Some).map_err(serde::de::Error::custom),
    }
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

model! {
    /// A comment on an MDE alert or an XDR incident.
    pub struct Comment {
        /// The text.
        pub comment: Option<String>,
        /// Who wrote it.
        pub created_by: Option<String>,
        /// When.
        pub created_time: Option<Timestamp>,
    }
}

/// Declares a validated string identifier local to the Defender models (same shape as `crate::ids`).
macro_rules! local_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        $crate::ids::text_newtype!($name, "The validated value.");

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

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Probe {
        #[allow(dead_code)]
        count: i64,
        #[allow(dead_code)]
        when: Option<Timestamp>,
    }

    #[test]
    fn a_page_keeps_every_item_raw_and_types_each_on_its_own() {
        let body = r#"{"@odata.context":"x","value":[{"id":"a","count":1,"when":null,"zz":null},
            {"id":7,"count":"secret-value"},{"incidentId":9,"count":2,"when":"s3cr3t"},{"count":3}]}"#;
        let page: Page<Probe> = serde_json::from_str(body).unwrap();
        assert_eq!(page.value.len(), 4, "no item is lost");
        assert_eq!(page.value[0].raw().get(), r#"{"id":"a","count":1,"when":null,"zz":null}"#);
        assert!(page.value[0].typed().is_ok() && page.value[3].typed().is_ok());
        let errs: Vec<&ItemError> = page.undecoded().collect();
        assert_eq!(errs.len(), 2);
        assert_eq!(errs[0].id.as_deref(), Some("7"));
        assert_eq!(errs[0].field, "count");
        assert_eq!(errs[0].reason, "invalid type: string, expected i64");
        assert_eq!(errs[1].id.as_deref(), Some("9"));
        assert_eq!(errs[1].field, "when");
        assert_eq!(errs[1].reason, "invalid value");
        for e in errs {
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("secret") && !shown.contains("s3cr3t"), "{shown}");
        }
        let missing: Page<Probe> = serde_json::from_str(r#"{"value":[{"id":"m"}]}"#).unwrap();
        assert_eq!(missing.value[0].typed().unwrap_err().reason, "missing field `count`");
        assert!(serde_json::from_str::<Page<Probe>>(r#"{"value":{"id":1}}"#).is_err(), "not a list");
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
    fn an_odata_list_keeps_the_items_beside_one_it_cannot_type() {
        // The shared client's single-page lists (chat-ops and enrichment lookups) decode per item.
        let body = r#"{"@odata.context":"c","value":[
            {"id":"235a2e6278c63fcf85bab9c370396972c58843de","computerDnsName":"h1mkn_PC"},
            {"id":"afb3f807d1a185ac66668f493af028385bfca184","computerDnsName":"secret-host","osBuild":"22631"},
            {"id":"bfb3f807d1a185ac66668f493af028385bfca185","computerDnsName":"chat_Desk "}
        ],"@odata.count":3,"custom":true}"#;
        let list: ODataList<machines::Machine> = serde_json::from_str(body).unwrap();
        let names: Vec<_> = list.value.iter().map(|m| m.computer_dns_name.as_deref().unwrap()).collect();
        assert_eq!(names, ["h1mkn_PC", "chat_Desk "]);
        assert_eq!(list.undecodable.len(), 1);
        let e = &list.undecodable[0];
        assert_eq!(e.id.as_deref(), Some("afb3f807d1a185ac66668f493af028385bfca184"));
        assert_eq!(e.field, "osBuild");
        assert!(!e.to_string().contains("22631") && !e.to_string().contains("secret-host"), "{e}");
        assert_eq!((list.context.as_deref(), list.count), (Some("c"), Some(3)));
        assert_eq!(list.extra["custom"], serde_json::json!(true));
        // Not an object, or `value` not an array: the page fails (nothing to keep).
        assert!(serde_json::from_str::<ODataList<machines::Machine>>(r#"{"value":{}}"#).is_err());
        assert!(serde_json::from_str::<ODataList<machines::Machine>>("[]").is_err());
        // `value` absent or null: no items.
        assert!(serde_json::from_str::<ODataList<machines::Machine>>(r#"{"value":null}"#).unwrap().value.is_empty());
    }

    #[test]
    fn open_enums_round_trip_unknown_values() {
        assert_eq!(Sample::DOCUMENTED, ["Alpha", "Beta"], "the documented values, in order");
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
