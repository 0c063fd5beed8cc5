//! The request: explicit indicators, a Defender alert id or XDR incident id to expand, or a free-form
//! alert payload to extract indicators from. Parsing never fails on a bad *indicator* — that item is
//! kept with `invalid` and a reason — only on a bad *document* (not JSON, wrong shape, nothing to do,
//! too many items), which is a 400 with a clear message.

use defender_shared::ids::{
    AccountName, AlertId, DomainName, Hostname, IncidentId, InvalidId, MachineId, Md5, Sha1, Sha256, TenantName,
    UrlIndicator,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::IpAddr;

// A child, not a sibling: extraction builds this module's items, and the request parses through it
// (a sibling would make the two modules use each other).
pub mod extract;

/// At most this many indicators per request (explicit plus extracted); more is a 400.
pub const MAX_INDICATORS: usize = 200;

/// The request document (see `infra/openapi.yaml`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestDoc {
    /// Tenant name in the registry (multi-tenant deployments); the default tenant otherwise.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Explicit indicators.
    #[serde(default)]
    pub indicators: Indicators,
    /// A Defender for Endpoint alert whose evidence to expand.
    #[serde(default)]
    pub alert_id: Option<String>,
    /// A Defender XDR incident whose alerts' evidence to expand.
    #[serde(default)]
    pub incident_id: Option<Value>,
    /// A free-form alert payload (any JSON) to extract indicators from.
    #[serde(default)]
    pub alert: Option<Value>,
}

/// Explicit indicators by kind. Values are strings; each is validated on its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Indicators {
    /// MDE machine ids (40 hex).
    #[serde(default)]
    pub machine_ids: Vec<Value>,
    /// Host names (exact `computerDnsName`).
    #[serde(default)]
    pub hostnames: Vec<Value>,
    /// IPv4/IPv6 addresses.
    #[serde(default)]
    pub ips: Vec<Value>,
    /// Domain names.
    #[serde(default)]
    pub domains: Vec<Value>,
    /// http(s) URLs.
    #[serde(default)]
    pub urls: Vec<Value>,
    /// SHA-1 hashes.
    #[serde(default)]
    pub sha1: Vec<Value>,
    /// SHA-256 hashes.
    #[serde(default)]
    pub sha256: Vec<Value>,
    /// MD5 hashes.
    #[serde(default)]
    pub md5: Vec<Value>,
    /// User account names.
    #[serde(default)]
    pub users: Vec<Value>,
}

/// The kind of an indicator, as written in the request and the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Machine id.
    MachineId,
    /// Host name.
    Hostname,
    /// IP address.
    Ip,
    /// Domain.
    Domain,
    /// URL.
    Url,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// MD5.
    Md5,
    /// User.
    User,
    /// A Defender alert named to be expanded (appears in results only when it could not be).
    AlertId,
    /// An XDR incident named to be expanded (appears in results only when it could not be).
    IncidentId,
}

impl Kind {
    /// Every kind, the request's indicator fields first, then the two that name what is expanded.
    pub const ALL: [Kind; 11] = [
        Kind::MachineId,
        Kind::Hostname,
        Kind::Ip,
        Kind::Domain,
        Kind::Url,
        Kind::Sha1,
        Kind::Sha256,
        Kind::Md5,
        Kind::User,
        Kind::AlertId,
        Kind::IncidentId,
    ];
}

/// A validated indicator: only these reach a Defender call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Indicator {
    /// Machine id.
    Machine(MachineId),
    /// Host name.
    Hostname(Hostname),
    /// IP address.
    Ip(IpAddr),
    /// Domain.
    Domain(DomainName),
    /// URL.
    Url(UrlIndicator),
    /// SHA-1.
    Sha1(Sha1),
    /// SHA-256.
    Sha256(Sha256),
    /// MD5.
    Md5(Md5),
    /// User.
    User(AccountName),
}

impl Indicator {
    /// Parses `raw` as an indicator of `kind`.
    ///
    /// # Errors
    /// The reason the value is not a valid `kind`.
    pub fn parse(kind: Kind, raw: &str) -> Result<Self, InvalidId> {
        Ok(match kind {
            Kind::MachineId => Self::Machine(raw.parse()?),
            Kind::Hostname => Self::Hostname(raw.parse()?),
            Kind::Ip => Self::Ip(
                raw.trim()
                    .parse()
                    .map_err(|_| InvalidId { kind: "ip", reason: format!("'{raw}' is not an IPv4 or IPv6 address") })?,
            ),
            Kind::Domain => Self::Domain(raw.parse()?),
            Kind::Url => Self::Url(raw.parse()?),
            Kind::Sha1 => Self::Sha1(raw.parse()?),
            Kind::Sha256 => Self::Sha256(raw.parse()?),
            Kind::Md5 => Self::Md5(raw.parse()?),
            Kind::User => Self::User(raw.parse()?),
            Kind::AlertId | Kind::IncidentId => {
                return Err(InvalidId {
                    kind: "indicator",
                    reason: "alerts and incidents are expanded, not looked up".into(),
                });
            }
        })
    }

    /// The canonical text (normalised: lower-case hashes and names).
    pub fn value(&self) -> String {
        match self {
            Self::Machine(v) => v.to_string(),
            Self::Hostname(v) => v.to_string(),
            Self::Ip(v) => v.to_string(),
            Self::Domain(v) => v.to_string(),
            Self::Url(v) => v.as_str().to_string(),
            Self::Sha1(v) => v.to_string(),
            Self::Sha256(v) => v.to_string(),
            Self::Md5(v) => v.to_string(),
            Self::User(v) => v.to_string(),
        }
    }
}

/// One requested item: what was sent, where it came from, and what it parsed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The kind it was sent (or extracted) as.
    pub kind: Kind,
    /// The value as received.
    pub input: String,
    /// `request` for explicit indicators, or the JSON path it was extracted from.
    pub source: String,
    /// The validated indicator, or why it is invalid.
    pub parsed: Result<Indicator, String>,
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrichRequest {
    /// The tenant to ask (None: the default tenant).
    pub tenant: Option<TenantName>,
    /// Every item, in request order, duplicates (same kind and normalised value) removed.
    pub items: Vec<Item>,
    /// An alert to expand.
    pub alert_id: Option<AlertId>,
    /// An incident to expand.
    pub incident_id: Option<IncidentId>,
}

/// Why a request document was refused (a 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not JSON, or not the documented shape.
    #[error("the body is not a valid enrichment request: {0}")]
    Shape(String),
    /// Nothing to enrich.
    #[error("the request names no indicators, alert_id, incident_id or alert")]
    Empty,
    /// Too many indicators.
    #[error("the request holds {0} indicators; at most {MAX_INDICATORS} are accepted per request")]
    TooMany(usize),
    /// A top-level field is invalid.
    #[error("{0}")]
    Field(String),
}

fn text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(format!("expected a string, got {other}")),
    }
}

impl EnrichRequest {
    /// Parses and validates a request body.
    ///
    /// # Errors
    /// [`RequestError`] for a body that is not a valid document; invalid indicators are not errors.
    pub fn parse(body: &[u8]) -> Result<Self, RequestError> {
        let doc: RequestDoc = serde_json::from_slice(body).map_err(|e| RequestError::Shape(e.to_string()))?;
        let tenant = doc
            .tenant
            .as_deref()
            .map(|t| t.parse::<TenantName>().map_err(|e| RequestError::Field(format!("tenant: {e}"))))
            .transpose()?;
        let alert_id = doc
            .alert_id
            .as_deref()
            .map(|a| a.parse::<AlertId>().map_err(|e| RequestError::Field(format!("alert_id: {e}"))))
            .transpose()?;
        let incident_id = match &doc.incident_id {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(
                n.to_string().parse::<IncidentId>().map_err(|e| RequestError::Field(format!("incident_id: {e}")))?,
            ),
            Some(Value::String(s)) => {
                Some(s.parse::<IncidentId>().map_err(|e| RequestError::Field(format!("incident_id: {e}")))?)
            }
            Some(other) => {
                return Err(RequestError::Field(format!("incident_id: expected a positive integer, got {other}")));
            }
        };
        let i = &doc.indicators;
        let lists: [(Kind, &Vec<Value>); 9] = [
            (Kind::MachineId, &i.machine_ids),
            (Kind::Hostname, &i.hostnames),
            (Kind::Ip, &i.ips),
            (Kind::Domain, &i.domains),
            (Kind::Url, &i.urls),
            (Kind::Sha1, &i.sha1),
            (Kind::Sha256, &i.sha256),
            (Kind::Md5, &i.md5),
            (Kind::User, &i.users),
        ];
        let mut items = Vec::new();
        for (kind, values) in lists {
            for v in values {
                let (input, parsed) = match text(v) {
                    Ok(s) => {
                        let parsed = Indicator::parse(kind, &s).map_err(|e| e.to_string());
                        (s, parsed)
                    }
                    Err(reason) => (v.to_string(), Err(reason)),
                };
                items.push(Item { kind, input, source: "request".into(), parsed });
            }
        }
        if let Some(alert) = &doc.alert {
            items.extend(extract::indicators(alert));
        }
        let items = dedupe(items);
        if items.is_empty() && alert_id.is_none() && incident_id.is_none() {
            return Err(RequestError::Empty);
        }
        if items.len() > MAX_INDICATORS {
            return Err(RequestError::TooMany(items.len()));
        }
        Ok(Self { tenant, items, alert_id, incident_id })
    }

    /// The distinct valid indicators (what will be looked up, each once).
    pub fn valid(&self) -> impl Iterator<Item = &Indicator> {
        self.items.iter().filter_map(|i| i.parsed.as_ref().ok())
    }
}

/// Removes later items whose valid indicator (or, for invalid ones, kind + input) was already seen.
fn dedupe(items: Vec<Item>) -> Vec<Item> {
    // A valid indicator is keyed by its typed value: two hashes that differ only in case are one
    // hash (kept, and shown, as first received).
    #[derive(PartialEq, Eq, Hash)]
    enum Key {
        Valid(Kind, Indicator),
        Invalid(Kind, String),
    }
    let mut seen = std::collections::HashSet::new();
    items
        .into_iter()
        .filter(|i| {
            let key = match &i.parsed {
                Ok(ind) => Key::Valid(i.kind, ind.clone()),
                Err(_) => Key::Invalid(i.kind, i.input.clone()),
            };
            seen.insert(key)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_indicators_parse_into_types_and_invalid_ones_are_kept_with_a_reason() {
        let body = br#"{"tenant":"contoso","indicators":{
            "machine_ids":["ABCDEF0123456789abcdef0123456789ABCDEF01","nope"],
            "hostnames":["WS-FIN-014.contoso.com","bad host"],
            "ips":["10.1.2.3","::1","999.1.1.1"],
            "domains":["evil.example","x' or 1 eq 1"],
            "urls":["https://evil.example/a","ftp://x"],
            "sha1":["87662bc3d60e4200ceaf7aae249d1c343f4b83c9","zz"],
            "sha256":["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","12|34"],
            "md5":["d41d8cd98f00b204e9800998ecf8427e",5],
            "users":["alice","a\nb"]}}"#;
        let r = EnrichRequest::parse(body).unwrap();
        assert_eq!(r.tenant.as_ref().map(|t| t.as_str()), Some("contoso"));
        let valid: Vec<Kind> = r.items.iter().filter(|i| i.parsed.is_ok()).map(|i| i.kind).collect();
        let invalid: Vec<(Kind, &str)> =
            r.items.iter().filter(|i| i.parsed.is_err()).map(|i| (i.kind, i.input.as_str())).collect();
        assert_eq!(valid.len(), 10);
        assert_eq!(invalid.len(), 9, "{invalid:?}");
        for kind in Kind::ALL.into_iter().filter(|k| !matches!(k, Kind::AlertId | Kind::IncidentId)) {
            assert!(invalid.iter().any(|(k, _)| *k == kind), "every kind reports its invalid values: {kind:?}");
        }
        let md5_reason =
            r.items.iter().find(|i| i.kind == Kind::Md5 && i.parsed.is_err()).unwrap().parsed.clone().unwrap_err();
        assert!(md5_reason.contains("expected a string"), "{md5_reason}");
        let hostile = r.items.iter().find(|i| i.input.contains("or 1 eq 1")).unwrap();
        assert!(hostile.parsed.as_ref().unwrap_err().contains("not a domain name"));
    }

    #[test]
    fn duplicates_are_looked_up_once() {
        let body = br#"{"indicators":{"ips":["10.0.0.1","10.0.0.1"],"sha1":["87662BC3D60E4200CEAF7AAE249D1C343F4B83C9","87662bc3d60e4200ceaf7aae249d1c343f4b83c9"]}}"#;
        let r = EnrichRequest::parse(body).unwrap();
        assert_eq!(r.items.len(), 2);
        // One hash in two cases is one indicator, kept as first received.
        let sha1 = r.items.iter().find(|i| i.kind == Kind::Sha1).unwrap();
        assert_eq!(sha1.parsed.as_ref().unwrap().value(), "87662BC3D60E4200CEAF7AAE249D1C343F4B83C9");
    }

    #[test]
    fn bad_documents_get_clear_errors() {
        assert!(matches!(EnrichRequest::parse(b"{not json"), Err(RequestError::Shape(_))));
        assert!(
            matches!(EnrichRequest::parse(br#"{"indicatorz":{}}"#), Err(RequestError::Shape(m)) if m.contains("indicatorz"))
        );
        assert_eq!(EnrichRequest::parse(b"{}"), Err(RequestError::Empty));
        assert!(
            matches!(EnrichRequest::parse(br#"{"alert_id":"x' or 1 eq 1"}"#), Err(RequestError::Field(m)) if m.starts_with("alert_id"))
        );
        assert!(matches!(EnrichRequest::parse(br#"{"incident_id":-4}"#), Err(RequestError::Field(_))));
        let many: Vec<String> = (0..=MAX_INDICATORS).map(|i| format!("\"10.0.{}.{}\"", i / 256, i % 256)).collect();
        let body = format!(r#"{{"indicators":{{"ips":[{}]}}}}"#, many.join(","));
        assert_eq!(EnrichRequest::parse(body.as_bytes()), Err(RequestError::TooMany(MAX_INDICATORS + 1)));
        let r = EnrichRequest::parse(br#"{"incident_id":"48244"}"#).unwrap();
        assert_eq!(r.incident_id, Some(IncidentId(48244)));
    }
}
