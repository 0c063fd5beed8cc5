//! Advanced hunting: MDE `/api/advancedqueries/run`, XDR `/api/advancedhunting/run`, Graph
//! `/security/runHuntingQuery`.
//!
//! MDE and XDR answer `{"Schema": [{"Name","Type"}], "Results": [...]}` (XDR adds `Stats`); Graph
//! answers `{"schema": [{"name","type"}], "results": [...]}`, and its own docs also show PascalCase
//! `Name`/`Type` inside `schema`. Keys are therefore read case-insensitively, and the spelling that
//! came in is the one that goes out.

use super::{Extra, open_enum};
use crate::defender::kql::KqlQuery;
use serde::{Deserialize, Deserializer, Serialize, Serializer, ser::SerializeMap};
use std::fmt;

/// Body of the MDE and XDR hunting calls: `{"Query": ...}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct HuntingRequest {
    /// The query, built from an allow-listed template.
    pub query: KqlQuery,
}

/// An ISO 8601 duration for Graph's `Timespan` (`P90D`, `PT12H`, `P1DT6H`): days, hours, minutes,
/// seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct IsoDuration {
    /// Days.
    pub days: u32,
    /// Hours.
    pub hours: u32,
    /// Minutes.
    pub minutes: u32,
    /// Seconds.
    pub seconds: u32,
}

impl IsoDuration {
    /// `P{days}D`.
    pub fn days(days: u32) -> Self {
        Self { days, ..Self::default() }
    }
    /// `PT{hours}H`.
    pub fn hours(hours: u32) -> Self {
        Self { hours, ..Self::default() }
    }
}

impl fmt::Display for IsoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("P")?;
        if self.days > 0 {
            write!(f, "{}D", self.days)?;
        }
        if self.hours > 0 || self.minutes > 0 || self.seconds > 0 {
            f.write_str("T")?;
            for (n, unit) in [(self.hours, 'H'), (self.minutes, 'M'), (self.seconds, 'S')] {
                if n > 0 {
                    write!(f, "{n}{unit}")?;
                }
            }
        } else if self.days == 0 {
            f.write_str("0D")?;
        }
        Ok(())
    }
}

impl Serialize for IsoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Body of Graph's `runHuntingQuery`: `{"Query": ..., "Timespan": ...}`.
#[serde_with::skip_serializing_none]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GraphHuntingRequest {
    /// The query, built from an allow-listed template.
    pub query: KqlQuery,
    /// How far back (default 30 days).
    pub timespan: Option<IsoDuration>,
}

/// How a hunting answer spelled its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum KeyCase {
    /// `Schema`, `Results`, `Name`, `Type` (MDE, XDR).
    #[default]
    Pascal,
    /// `schema`, `results`, `name`, `type` (Graph).
    Camel,
}

impl KeyCase {
    fn of(key: &str) -> Self {
        if key.starts_with(|c: char| c.is_ascii_uppercase()) { Self::Pascal } else { Self::Camel }
    }
    fn spell(self, pascal: &'static str, camel: &'static str) -> &'static str {
        match self {
            Self::Pascal => pascal,
            Self::Camel => camel,
        }
    }
}

open_enum!(
    /// A KQL column type as the hunting APIs name it.
    ColumnType {
        /// `String`.
        String = "String",
        /// `DateTime`.
        DateTime = "DateTime",
        /// `Int32`.
        Int32 = "Int32",
        /// `Int64`.
        Int64 = "Int64",
        /// `Double`.
        Double = "Double",
        /// `Decimal`.
        Decimal = "Decimal",
        /// `Boolean`.
        Boolean = "Boolean",
        /// `Guid`.
        Guid = "Guid",
        /// `TimeSpan`.
        TimeSpan = "TimeSpan",
        /// `Dynamic`.
        Dynamic = "Dynamic",
        /// `Object`.
        Object = "Object",
    }
);

/// One column of a hunting answer's schema.
#[derive(Debug, Clone, PartialEq)]
pub struct HuntingColumn {
    /// Column name.
    pub name: String,
    /// Column type.
    pub column_type: Option<ColumnType>,
    /// Fields this version does not know.
    pub extra: Extra,
    /// How the keys were spelled.
    pub key_case: KeyCase,
}

impl Serialize for HuntingColumn {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry(self.key_case.spell("Name", "name"), &self.name)?;
        if let Some(t) = &self.column_type {
            m.serialize_entry(self.key_case.spell("Type", "type"), t)?;
        }
        for (k, v) in &self.extra {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for HuntingColumn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let map = Extra::deserialize(d)?;
        let mut name = None;
        let mut column_type = None;
        let mut key_case = None;
        let mut extra = Extra::new();
        for (k, v) in map {
            if k.eq_ignore_ascii_case("name") && name.is_none() {
                key_case.get_or_insert(KeyCase::of(&k));
                name = Some(String::deserialize(v).map_err(serde::de::Error::custom)?);
            } else if k.eq_ignore_ascii_case("type") && column_type.is_none() {
                key_case.get_or_insert(KeyCase::of(&k));
                column_type = Option::<ColumnType>::deserialize(v).map_err(serde::de::Error::custom)?;
            } else {
                extra.insert(k, v);
            }
        }
        let name = name.ok_or_else(|| serde::de::Error::missing_field("Name"))?;
        Ok(Self { name, column_type, extra, key_case: key_case.unwrap_or_default() })
    }
}

/// A hunting answer (MDE, XDR or Graph).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HuntingResponse {
    /// XDR `Stats` (execution time, resource usage), as sent.
    pub stats: Option<serde_json::Value>,
    /// The columns.
    pub schema: Option<Vec<HuntingColumn>>,
    /// The rows, one object per row keyed by column name.
    pub results: Option<Vec<Extra>>,
    /// Fields this version does not know (`@odata.context`, ...).
    pub extra: Extra,
    /// How the top-level keys were spelled.
    pub key_case: KeyCase,
}

impl HuntingResponse {
    /// The rows (empty when the answer had none).
    pub fn rows(&self) -> &[Extra] {
        self.results.as_deref().unwrap_or_default()
    }
    /// The columns (empty when the answer had none).
    pub fn columns(&self) -> &[HuntingColumn] {
        self.schema.as_deref().unwrap_or_default()
    }
}

impl Serialize for HuntingResponse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, v) in &self.extra {
            m.serialize_entry(k, v)?;
        }
        if let Some(stats) = &self.stats {
            m.serialize_entry(self.key_case.spell("Stats", "stats"), stats)?;
        }
        if let Some(schema) = &self.schema {
            m.serialize_entry(self.key_case.spell("Schema", "schema"), schema)?;
        }
        if let Some(results) = &self.results {
            m.serialize_entry(self.key_case.spell("Results", "results"), results)?;
        }
        m.end()
    }
}

impl<'de> Deserialize<'de> for HuntingResponse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let map = Extra::deserialize(d)?;
        let mut out = Self::default();
        let mut key_case = None;
        for (k, v) in map {
            let lower = k.to_ascii_lowercase();
            match lower.as_str() {
                "stats" if out.stats.is_none() => out.stats = Some(v).filter(|v| !v.is_null()),
                "schema" if out.schema.is_none() => {
                    key_case.get_or_insert(KeyCase::of(&k));
                    out.schema = Option::deserialize(v).map_err(D::Error::custom)?;
                }
                "results" if out.results.is_none() => {
                    key_case.get_or_insert(KeyCase::of(&k));
                    out.results = Option::deserialize(v).map_err(D::Error::custom)?;
                }
                _ => {
                    out.extra.insert(k, v);
                }
            }
        }
        out.key_case = key_case.unwrap_or_default();
        Ok(out)
    }
}
