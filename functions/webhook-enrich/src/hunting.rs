//! Allow-listed advanced-hunting queries the enrichment can run per indicator, when configured
//! (`ENRICH_HUNTING_QUERIES`). Each is a fixed KQL template with one typed parameter, bound through
//! `defender_shared::defender::kql::HuntingQuery`, so an indicator can only ever be an escaped literal.

use crate::request::{Indicator, Kind};
use defender_shared::defender::kql::{HuntingQuery, KqlError, KqlQuery};

/// A named query: which indicator kind it takes and its template (`{value}` is the parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedQuery {
    /// Name used in the configuration and in the answer.
    pub name: &'static str,
    /// The indicator kind it runs for.
    pub kind: Kind,
    /// The KQL template.
    pub template: &'static str,
}

/// The allow-list.
pub const QUERIES: &[NamedQuery] = &[
    NamedQuery {
        name: "process_by_sha256",
        kind: Kind::Sha256,
        template: "DeviceProcessEvents | where SHA256 =~ {value} | summarize count() by DeviceName | top 20 by count_ desc",
    },
    NamedQuery {
        name: "process_by_sha1",
        kind: Kind::Sha1,
        template: "DeviceProcessEvents | where SHA1 =~ {value} | summarize count() by DeviceName | top 20 by count_ desc",
    },
    NamedQuery {
        name: "network_by_ip",
        kind: Kind::Ip,
        template: "DeviceNetworkEvents | where RemoteIP == {value} | summarize count() by DeviceName | top 20 by count_ desc",
    },
    NamedQuery {
        name: "network_by_domain",
        kind: Kind::Domain,
        template: "DeviceNetworkEvents | where RemoteUrl has {value} | summarize count() by DeviceName | top 20 by count_ desc",
    },
];

/// The named query, if it is on the allow-list.
pub fn find(name: &str) -> Option<&'static NamedQuery> {
    QUERIES.iter().find(|q| q.name == name)
}

impl NamedQuery {
    /// The query for this indicator, or `None` when the kinds differ.
    ///
    /// # Errors
    /// A value KQL cannot hold as a literal (control characters; typed indicators never have them).
    pub fn bind(&self, ind: &Indicator) -> Option<Result<KqlQuery, KqlError>> {
        let value = match (self.kind, ind) {
            (Kind::Sha256, Indicator::Sha256(v)) => v.to_string(),
            (Kind::Sha1, Indicator::Sha1(v)) => v.to_string(),
            (Kind::Ip, Indicator::Ip(v)) => v.to_string(),
            (Kind::Domain, Indicator::Domain(v)) => v.to_string(),
            _ => return None,
        };
        Some(HuntingQuery::new(self.template).bind("value", value).render())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_binds_its_kind_only_and_escapes() {
        for q in QUERIES {
            let ind = match q.kind {
                Kind::Sha256 => Indicator::parse(Kind::Sha256, &"a".repeat(64)).unwrap(),
                Kind::Sha1 => Indicator::parse(Kind::Sha1, &"b".repeat(40)).unwrap(),
                Kind::Ip => Indicator::parse(Kind::Ip, "45.137.21.9").unwrap(),
                _ => Indicator::parse(Kind::Domain, "evil.example").unwrap(),
            };
            let text = q.bind(&ind).unwrap().unwrap().to_string();
            assert!(text.contains(&format!("\"{}\"", ind.value())), "{text}");
            let other = Indicator::parse(Kind::User, "alice").unwrap();
            assert!(q.bind(&other).is_none());
        }
        assert!(find("drop_tables").is_none());
    }
}
