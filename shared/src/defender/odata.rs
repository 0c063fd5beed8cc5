//! A typed OData v4 `$filter` builder.
//!
//! Field names are constants per resource ([`fields`]) — never text from input — and a field of one
//! resource cannot be used in a filter for another (`Filter<R>` carries the resource type). Values are
//! typed [`Literal`]s rendered the way the Defender docs write them: strings single-quoted with an
//! inner `'` doubled, numbers and booleans bare, datetimes unquoted RFC 3339 (`2026-11-28T10:00:00Z`).
//! Whatever a string holds (quotes, `)`, ` or 1 eq 1`, line breaks) it stays one literal.
//!
//! ```
//! use defender_shared::defender::odata::{Filter, fields::alerts};
//! let f = Filter::eq(alerts::STATUS, "New").and(Filter::eq(alerts::SEVERITY, "High"));
//! assert_eq!(f.to_string(), "status eq 'New' and severity eq 'High'");
//! ```

use chrono::{DateTime, SecondsFormat, Utc};
use std::{fmt, marker::PhantomData};

/// Marker types: which collection a field, filter or query belongs to.
pub mod resource {
    /// MDE `/api/alerts`.
    #[derive(Debug, Clone, Copy)]
    pub struct Alerts;
    /// MDE `/api/machines`.
    #[derive(Debug, Clone, Copy)]
    pub struct Machines;
    /// MDE `/api/machineactions`.
    #[derive(Debug, Clone, Copy)]
    pub struct MachineActions;
    /// MDE `/api/indicators`.
    #[derive(Debug, Clone, Copy)]
    pub struct Indicators;
    /// MDE `/api/investigations`.
    #[derive(Debug, Clone, Copy)]
    pub struct Investigations;
    /// XDR `/api/incidents`.
    #[derive(Debug, Clone, Copy)]
    pub struct Incidents;
    /// Graph `/security/alerts_v2`.
    #[derive(Debug, Clone, Copy)]
    pub struct GraphAlerts;
    /// Graph `/security/incidents`.
    #[derive(Debug, Clone, Copy)]
    pub struct GraphIncidents;
}

/// A documented name of resource `R`: a filterable [`Field`] or an [`Expand`]. Only this module makes
/// them; the kind keeps a field from being passed as an expansion and back.
pub struct Name<R, K> {
    name: &'static str,
    _r: PhantomData<fn() -> (R, K)>,
}

/// The two kinds of [`Name`].
pub mod kind {
    /// A `$filter`/`$orderby` field.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Field;
    /// A `$expand` navigation property.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct Expand;
}

/// A documented filterable field of resource `R`.
pub type Field<R> = Name<R, kind::Field>;
/// A documented `$expand` of resource `R`.
pub type Expand<R> = Name<R, kind::Expand>;

impl<R, K> Name<R, K> {
    const fn new(name: &'static str) -> Self {
        Self { name, _r: PhantomData }
    }
    /// The name as the API spells it.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

impl<R, K> Clone for Name<R, K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R, K> Copy for Name<R, K> {}
impl<R, K: fmt::Debug + Default> fmt::Debug for Name<R, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}({})", K::default(), self.name)
    }
}

macro_rules! fields {
    ($res:ident: $($konst:ident = $name:literal),+ $(,)?) => {
        $(#[doc = concat!("`", $name, "`")] pub const $konst: Field<$res> = Field::new($name);)+
        /// Every documented filterable field of this resource.
        pub const ALL: &[Field<$res>] = &[$($konst),+];
    };
}

/// The documented filterable fields (and expansions), per resource (the contract's `query_options`).
pub mod fields {
    /// MDE alerts.
    pub mod alerts {
        use super::super::{Expand, Field, resource::Alerts};
        fields!(Alerts:
            ALERT_CREATION_TIME = "alertCreationTime", LAST_UPDATE_TIME = "lastUpdateTime",
            INCIDENT_ID = "incidentId", INVESTIGATION_ID = "investigationId", ID = "id",
            ASSIGNED_TO = "assignedTo", DETECTION_SOURCE = "detectionSource",
            LAST_EVENT_TIME = "lastEventTime", STATUS = "status", SEVERITY = "severity", CATEGORY = "category",
        );
        /// `$expand=evidence`.
        pub const EXPAND_EVIDENCE: Expand<Alerts> = Expand::new("evidence");
    }
    /// MDE machines.
    pub mod machines {
        use super::super::{Field, resource::Machines};
        fields!(Machines:
            COMPUTER_DNS_NAME = "computerDnsName", ID = "id", VERSION = "version", DEVICE_VALUE = "deviceValue",
            AAD_DEVICE_ID = "aadDeviceId", MACHINE_TAGS = "machineTags", LAST_SEEN = "lastSeen",
            EXPOSURE_LEVEL = "exposureLevel", ONBOARDING_STATUS = "onboardingStatus",
            LAST_IP_ADDRESS = "lastIpAddress", HEALTH_STATUS = "healthStatus", OS_PLATFORM = "osPlatform",
            RISK_SCORE = "riskScore", RBAC_GROUP_ID = "rbacGroupId",
        );
    }
    /// MDE machine actions.
    pub mod machine_actions {
        use super::super::{Field, resource::MachineActions};
        fields!(MachineActions:
            ID = "id", STATUS = "status", MACHINE_ID = "machineId", TYPE = "type", REQUESTOR = "requestor",
            CREATION_DATE_TIME_UTC = "creationDateTimeUtc",
        );
    }
    /// MDE indicators.
    pub mod indicators {
        use super::super::{Field, resource::Indicators};
        fields!(Indicators:
            APPLICATION = "application", CREATED_BY_DISPLAY_NAME = "createdByDisplayName",
            EXPIRATION_TIME = "expirationTime", GENERATE_ALERT = "generateAlert", TITLE = "title",
            RBAC_GROUP_NAMES = "rbacGroupNames", RBAC_GROUP_IDS = "rbacGroupIds",
            INDICATOR_VALUE = "indicatorValue", INDICATOR_TYPE = "indicatorType",
            CREATION_TIME_DATE_TIME_UTC = "creationTimeDateTimeUtc", CREATED_BY = "createdBy",
            ACTION = "action", SEVERITY = "severity",
        );
    }
    /// MDE investigations.
    pub mod investigations {
        use super::super::{Field, resource::Investigations};
        fields!(Investigations:
            START_TIME = "startTime", ID = "id", STATE = "state", MACHINE_ID = "machineId",
            TRIGGERING_ALERT_ID = "triggeringAlertId",
        );
    }
    /// XDR incidents.
    pub mod incidents {
        use super::super::{Field, resource::Incidents};
        fields!(Incidents:
            LAST_UPDATE_TIME = "lastUpdateTime", CREATED_TIME = "createdTime", STATUS = "status",
            ASSIGNED_TO = "assignedTo",
        );
    }
    /// Graph alerts.
    pub mod graph_alerts {
        use super::super::{Field, resource::GraphAlerts};
        fields!(GraphAlerts:
            ASSIGNED_TO = "assignedTo", CLASSIFICATION = "classification", DETERMINATION = "determination",
            CREATED_DATE_TIME = "createdDateTime", LAST_UPDATE_DATE_TIME = "lastUpdateDateTime",
            SEVERITY = "severity", SERVICE_SOURCE = "serviceSource", STATUS = "status",
        );
    }
    /// Graph incidents.
    pub mod graph_incidents {
        use super::super::{Expand, Field, resource::GraphIncidents};
        fields!(GraphIncidents:
            ASSIGNED_TO = "assignedTo", CLASSIFICATION = "classification", CREATED_DATE_TIME = "createdDateTime",
            DETERMINATION = "determination", LAST_UPDATE_DATE_TIME = "lastUpdateDateTime",
            SEVERITY = "severity", STATUS = "status",
        );
        /// `$expand=alerts`.
        pub const EXPAND_ALERTS: Expand<GraphIncidents> = Expand::new("alerts");
    }
}

/// A typed OData literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `'text'` (inner `'` doubled).
    Str(String),
    /// A bare integer.
    Int(i64),
    /// `true` / `false`.
    Bool(bool),
    /// An unquoted RFC 3339 UTC datetime.
    DateTime(DateTime<Utc>),
    /// `null`.
    Null,
}

impl Literal {
    fn render(&self, out: &mut String) {
        match self {
            Self::Str(s) => {
                out.push('\'');
                out.push_str(&s.replace('\'', "''"));
                out.push('\'');
            }
            Self::Int(n) => out.push_str(&n.to_string()),
            Self::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Self::DateTime(d) => out.push_str(&d.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            Self::Null => out.push_str("null"),
        }
    }
}

super::literal::literal_from!(Literal {
    String => Str,
    i64 => Int,
    i32 => Int via i64,
    u32 => Int via i64,
    bool => Bool,
    DateTime<Utc> => DateTime,
});
super::literal::literal_from_text!(Literal);

impl From<crate::ids::IncidentId> for Literal {
    fn from(id: crate::ids::IncidentId) -> Self {
        i64::try_from(id.0).map_or_else(|_| Self::Str(id.0.to_string()), Self::Int)
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }
}

/// `and` / `or`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Junction {
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Cmp(&'static str, Op, Literal),
    In(&'static str, Vec<Literal>),
    Call(&'static str, &'static str, String),
    AnyEq(&'static str, Literal),
    Join(Junction, Vec<Node>),
    Not(Box<Node>),
}

impl Node {
    fn render(&self, out: &mut String) {
        match self {
            Self::Cmp(f, op, v) => {
                out.push_str(f);
                out.push(' ');
                out.push_str(op.as_str());
                out.push(' ');
                v.render(out);
            }
            Self::In(f, vs) => {
                out.push_str(f);
                out.push_str(" in (");
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.render(out);
                }
                out.push(')');
            }
            Self::Call(func, f, s) => {
                out.push_str(func);
                out.push('(');
                out.push_str(f);
                out.push(',');
                Literal::Str(s.clone()).render(out);
                out.push(')');
            }
            Self::AnyEq(f, v) => {
                out.push_str(f);
                out.push_str("/any(t: t eq ");
                v.render(out);
                out.push(')');
            }
            Self::Join(junction, ns) => {
                let sep = match junction {
                    Junction::And => " and ",
                    Junction::Or => " or ",
                };
                for (i, n) in ns.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    n.render_operand(out);
                }
            }
            Self::Not(n) => {
                out.push_str("not (");
                n.render(out);
                out.push(')');
            }
        }
    }

    fn render_operand(&self, out: &mut String) {
        if matches!(self, Self::Join(..)) {
            out.push('(');
            self.render(out);
            out.push(')');
        } else {
            self.render(out);
        }
    }
}

/// A `$filter` over resource `R`.
pub struct Filter<R> {
    node: Node,
    _r: PhantomData<fn() -> R>,
}

impl<R> Clone for Filter<R> {
    fn clone(&self) -> Self {
        Self { node: self.node.clone(), _r: PhantomData }
    }
}

impl<R> PartialEq for Filter<R> {
    fn eq(&self, other: &Self) -> bool {
        self.node == other.node
    }
}

impl<R> fmt::Debug for Filter<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Filter({self})")
    }
}

/// `Filter::eq`, `ne`, ...: one constructor per comparison [`Op`].
macro_rules! comparisons {
    ($($name:ident => $op:ident),*) => {$(
        #[doc = concat!("`field ", stringify!($name), " value`.")]
        pub fn $name(field: Field<R>, value: impl Into<Literal>) -> Self {
            Self::cmp(field, Op::$op, value)
        }
    )*};
}

impl<R> Filter<R> {
    fn of(node: Node) -> Self {
        Self { node, _r: PhantomData }
    }
    fn cmp(field: Field<R>, op: Op, value: impl Into<Literal>) -> Self {
        Self::of(Node::Cmp(field.name, op, value.into()))
    }
    comparisons!(eq => Eq, ne => Ne, gt => Gt, ge => Ge, lt => Lt, le => Le);
    /// `field in (v1,v2,...)`; `None` for an empty list (nothing can match; the caller decides what
    /// that means rather than sending a filter the service refuses).
    pub fn in_<V: Into<Literal>>(field: Field<R>, values: impl IntoIterator<Item = V>) -> Option<Self> {
        let vs: Vec<Literal> = values.into_iter().map(Into::into).collect();
        (!vs.is_empty()).then(|| Self::of(Node::In(field.name, vs)))
    }
    /// `startswith(field,'prefix')`.
    pub fn startswith(field: Field<R>, prefix: impl Into<String>) -> Self {
        Self::of(Node::Call("startswith", field.name, prefix.into()))
    }
    /// `endswith(field,'suffix')`.
    pub fn endswith(field: Field<R>, suffix: impl Into<String>) -> Self {
        Self::of(Node::Call("endswith", field.name, suffix.into()))
    }
    /// `contains(field,'text')`.
    pub fn contains(field: Field<R>, text: impl Into<String>) -> Self {
        Self::of(Node::Call("contains", field.name, text.into()))
    }
    /// `field/any(t: t eq value)`: a collection field (`machineTags`, `rbacGroupNames`) holds `value`.
    pub fn any_eq(field: Field<R>, value: impl Into<Literal>) -> Self {
        Self::of(Node::AnyEq(field.name, value.into()))
    }
    /// `self and other`.
    #[must_use]
    pub fn and(self, other: Self) -> Self {
        self.join(Junction::And, other)
    }
    /// `self or other`.
    #[must_use]
    pub fn or(self, other: Self) -> Self {
        self.join(Junction::Or, other)
    }
    /// A chain of the same junction stays flat: `a and b and c`, not `(a and b) and c`.
    fn join(self, junction: Junction, other: Self) -> Self {
        match self.node {
            Node::Join(j, mut ns) if j == junction => {
                ns.push(other.node);
                Self::of(Node::Join(j, ns))
            }
            n => Self::of(Node::Join(junction, vec![n, other.node])),
        }
    }
}

/// `!filter` renders `not (filter)`.
impl<R> std::ops::Not for Filter<R> {
    type Output = Self;
    fn not(self) -> Self {
        Self::of(Node::Not(Box::new(self.node)))
    }
}

impl<R> fmt::Display for Filter<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        self.node.render(&mut out);
        f.write_str(&out)
    }
}

/// One `$orderby` key.
pub struct OrderBy<R> {
    field: Field<R>,
    descending: bool,
}

impl<R> OrderBy<R> {
    /// Ascending.
    pub fn asc(field: Field<R>) -> Self {
        Self { field, descending: false }
    }
    /// Descending.
    pub fn desc(field: Field<R>) -> Self {
        Self { field, descending: true }
    }
}

impl<R> Clone for OrderBy<R> {
    fn clone(&self) -> Self {
        Self { field: self.field, descending: self.descending }
    }
}

impl<R> fmt::Debug for OrderBy<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrderBy({self})")
    }
}

impl<R> fmt::Display for OrderBy<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.field.name)?;
        if self.descending { f.write_str(" desc") } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::{fields::*, *};
    use serde_json::json;

    // A field for the tests only (`title` is not a documented alert filter field).
    const TITLE: Field<resource::Alerts> = Field::new("title");

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn renders_documented_forms() {
        assert_eq!(Filter::eq(alerts::STATUS, "New").to_string(), "status eq 'New'");
        assert_eq!(
            Filter::ge(alerts::LAST_UPDATE_TIME, at("2026-11-28T10:00:00Z")).to_string(),
            "lastUpdateTime ge 2026-11-28T10:00:00Z"
        );
        assert_eq!(
            Filter::ge(alerts::LAST_UPDATE_TIME, at("2026-11-28T10:00:00.123Z")).to_string(),
            "lastUpdateTime ge 2026-11-28T10:00:00.123Z"
        );
        assert_eq!(Filter::eq(machines::RBAC_GROUP_ID, 140).to_string(), "rbacGroupId eq 140");
        assert_eq!(Filter::eq(indicators::GENERATE_ALERT, true).to_string(), "generateAlert eq true");
        assert_eq!(
            Filter::in_(alerts::STATUS, ["New", "InProgress"]).unwrap().to_string(),
            "status in ('New','InProgress')"
        );
        assert!(Filter::<resource::Alerts>::in_(alerts::STATUS, Vec::<String>::new()).is_none());
        assert_eq!(
            Filter::startswith(machines::COMPUTER_DNS_NAME, "mymachine").to_string(),
            "startswith(computerDnsName,'mymachine')"
        );
        assert_eq!(Filter::any_eq(machines::MACHINE_TAGS, "vip").to_string(), "machineTags/any(t: t eq 'vip')");
        let f = Filter::eq(alerts::STATUS, "New")
            .or(Filter::eq(alerts::STATUS, "InProgress"))
            .and(Filter::eq(alerts::SEVERITY, "High"))
            .and(!Filter::eq(alerts::CATEGORY, "Malware"));
        assert_eq!(
            f.to_string(),
            "(status eq 'New' or status eq 'InProgress') and severity eq 'High' and not (category eq 'Malware')"
        );
        assert_eq!(OrderBy::desc(incidents::LAST_UPDATE_TIME).to_string(), "lastUpdateTime desc");
        let id: crate::ids::IncidentId = "7587".parse().unwrap();
        assert_eq!(Filter::eq(alerts::INCIDENT_ID, id).to_string(), "incidentId eq 7587");
    }

    const HOSTILE: &[&str] = &[
        "x' or 1 eq 1 or 'a' eq 'a",
        "New') or (status ne '",
        "'",
        "''",
        "a)",
        " or 1 eq 1",
        "line\nbreak' or true",
        "tab\tand\r\nCRLF",
        "%27 or 1 eq 1",
        "back\\slash'",
        "ünïcödé ' ☃",
    ];

    #[test]
    fn hostile_strings_stay_one_literal() {
        for input in HOSTILE {
            let f = Filter::eq(TITLE, *input);
            let text = f.to_string();
            // Exact rendering: the prefix, then the input with each quote doubled, then one quote.
            assert_eq!(text, format!("title eq '{}'", input.replace('\'', "''")));
            // An independent OData parser (the simulator's) reads it as one comparison whose literal is
            // exactly the input: it matches an entity holding the input and nothing else.
            let parsed = tenant_sim::odata::Filter::parse(&text, &["title"]).unwrap();
            assert!(parsed.matches(&json!({ "title": input })), "{input:?} did not round-trip");
            assert!(!parsed.matches(&json!({ "title": "something else" })), "{input:?} broke out");
            assert!(!parsed.matches(&json!({})), "{input:?} broke out");
            // Same for function calls and `in`.
            let sw = Filter::startswith(TITLE, *input).to_string();
            let parsed = tenant_sim::odata::Filter::parse(&sw, &["title"]).unwrap();
            assert!(parsed.matches(&json!({ "title": format!("{input}tail") })), "{sw}");
            assert!(!parsed.matches(&json!({ "title": "zzz" })), "{sw}");
            let inn = Filter::in_(TITLE, [*input, "other"]).unwrap().to_string();
            let parsed = tenant_sim::odata::Filter::parse(&inn, &["title"]).unwrap();
            assert!(parsed.matches(&json!({ "title": input })), "{inn}");
            assert!(!parsed.matches(&json!({ "title": "zzz" })), "{inn}");
        }
    }
}
