//! [`Endpoint`]: the one name of every documented endpoint, generated from the contract.
//!
//! `shared/build.rs` reads `contract/defender-api/*.json` at build time and writes one variant per
//! endpoint file with its contract name, method, path template, API family, permissions, the rate
//! limits its page states and its source page, all as `const fn`s over the variant: nothing is parsed
//! at run time, and a misspelt endpoint is a compile error. Everything that needs an endpoint's
//! identity takes an `Endpoint`: [`Call::endpoint`](super::Call), the quota governor, the permission
//! manifest, `doctor`, the grant script and each function's `ENDPOINTS` list.
//!
//! # Adding a documented endpoint
//! Add its contract file (`contract/defender-api/<api>.<area>.<operation>.json`, format in that
//! folder's README) and the typed call that uses `<Variant>` (a `calls!` entry in `shared/src/defender/api/`,
//! which fills the contract's path template);
//! list the variant in the `ENDPOINTS` of each function that calls it. Permissions, page limits, the
//! manifest, `doctor` and the grant script follow from the file.

use super::{governor::RateLimit, permissions::Permissions};
use crate::cloud::ApiFamily;
use std::{fmt, str::FromStr};

include!(concat!(env!("OUT_DIR"), "/endpoint.rs"));

/// The HTTP methods the contract documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `PATCH`.
    Patch,
    /// `DELETE`.
    Delete,
}

impl From<HttpMethod> for reqwest::Method {
    fn from(m: HttpMethod) -> Self {
        match m {
            HttpMethod::Get => Self::GET,
            HttpMethod::Post => Self::POST,
            HttpMethod::Patch => Self::PATCH,
            HttpMethod::Delete => Self::DELETE,
        }
    }
}

impl Endpoint {
    /// The documented HTTP method, as reqwest's.
    #[must_use]
    pub fn method(self) -> reqwest::Method {
        self.http_method().into()
    }

    /// The endpoint of that contract name (`mde.alerts.list`); `None` for any other string.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|e| e.name() == name)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A string that names no documented endpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a documented endpoint name: {0:?}")]
pub struct UnknownEndpoint(pub String);

impl FromStr for Endpoint {
    type Err = UnknownEndpoint;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s).ok_or_else(|| UnknownEndpoint(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_the_order_is_the_contract_names() {
        for e in Endpoint::ALL {
            assert_eq!(e.name().parse::<Endpoint>(), Ok(*e));
            assert_eq!(e.to_string(), e.name());
        }
        let names: Vec<&str> = Endpoint::ALL.iter().map(|e| e.name()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted);
        assert_eq!(names.len(), 65, "the contract's 71 files minus 4 token files and 2 error envelopes");
        assert!("mde.no.such".parse::<Endpoint>().is_err());
    }

    #[test]
    fn generated_data_reads_as_the_pages_say() {
        let e = Endpoint::MdeMachinesIsolate;
        assert_eq!(e.name(), "mde.machines.isolate");
        assert_eq!(e.method(), reqwest::Method::POST);
        assert_eq!(e.path_template(), "/api/machines/{id}/isolate");
        assert_eq!(e.api(), ApiFamily::Mde);
        assert_eq!(e.permissions().application, ["Machine.Isolate"]);
        assert_eq!(e.page_limits(), [RateLimit::per_minute(100), RateLimit::per_hour(1500)]);
        assert_eq!(e.source(), "MicrosoftDocs/defender-docs/defender-endpoint/api/isolate-machine.md");
        assert_eq!(Endpoint::GraphSecurityAlertsV2List.api(), ApiFamily::Graph);
        assert_eq!(Endpoint::MdeIndicatorsDelete.permissions().delegated, [] as [&str; 0]);
        // "10 min timeout" and "calls/min" are not page figures; Graph states none per page.
        assert!(Endpoint::GraphSecurityRunHuntingQuery.page_limits().is_empty());
        assert_eq!(Endpoint::XdrAdvancedHuntingRun.page_limits(), [RateLimit::per_minute(45)]);
        assert_eq!(Endpoint::MdeInvestigationsStart.page_limits(), [RateLimit::per_hour(50)]);
        assert!(Endpoint::MdeMachinesSoftware.page_limits().is_empty());
        // The get page's own figure (the incidents API's shared 50/min is the governor's).
        assert_eq!(Endpoint::XdrIncidentsGet.page_limits()[0], RateLimit::per_minute(100));
    }
}
