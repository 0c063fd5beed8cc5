//! One table: cloud × API family → authority host, `.default` scope and API base URL.
//!
//! Every cell is asserted by a test below. Where a cell comes from Microsoft's documentation the source
//! is named next to it; where the documentation is silent the comment says so and which documented
//! pattern was followed.
//!
//! # Base URLs
//! - MDE and XDR: the host root (`https://api.security.microsoft.com/`); call paths carry `/api/...`.
//! - Graph: includes the version, `https://graph.microsoft.com/v1.0`; call paths are relative to it
//!   (`/security/alerts_v2`).
//! - Key Vault: the vault DNS suffix as a URL (`https://vault.azure.net/`). A vault's own URL is
//!   `https://<vault-name>.<suffix>` ([`Cloud::key_vault_suffix`]); the base is also the token resource.
//!
//! Use [`ApiEndpoints::url`] to put a call path under a base: `Url::join` would drop Graph's `/v1.0`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use url::Url;

/// A Microsoft cloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Cloud {
    /// Commercial (worldwide).
    #[default]
    Commercial,
    /// US Government Community Cloud (Entra ID in the commercial cloud, Defender in the US Gov one).
    Gcc,
    /// GCC High.
    GccHigh,
    /// Department of Defense.
    Dod,
}

/// An API family: decides the token audience, the host and the error envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiFamily {
    /// Defender for Endpoint.
    Mde,
    /// Defender XDR.
    Xdr,
    /// Microsoft Graph.
    Graph,
    /// Azure Key Vault.
    KeyVault,
}

/// A geographic API host of commercial Defender ("use a server closer to your geo location").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Region {
    /// United States.
    Us,
    /// Europe.
    Eu,
    /// United Kingdom.
    Uk,
    /// Australia (MDE only).
    Au,
    /// Switzerland (MDE only).
    Swa,
    /// India (MDE only).
    Ina,
    /// Asia East (MDE only).
    Aea,
}

/// Where to get a token for an API and where to send its calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiEndpoints {
    /// The Entra ID authority host (no tenant segment): `https://login.microsoftonline.com/`.
    pub authority: Url,
    /// The client-credentials scope: the resource's App ID URI + `/.default`.
    pub scope: String,
    /// The API base (see the module docs for what each family's base holds).
    pub base: Url,
}

impl ApiEndpoints {
    /// `path` (starting with `/`) under the base, keeping the base's own path (Graph's `/v1.0`, or an
    /// override's prefix).
    pub fn url(&self, path: &str) -> Url {
        let mut u = self.base.clone();
        let joined = format!("{}/{}", self.base.path().trim_end_matches('/'), path.trim_start_matches('/'));
        u.set_path(&joined);
        u
    }
}

/// Why the table has no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CloudError {
    /// Regional hosts exist in the commercial cloud only.
    #[error("region {region} is only available in the commercial cloud, not in {cloud}")]
    RegionNotInCloud {
        /// The cloud asked for.
        cloud: Cloud,
        /// The region asked for.
        region: Region,
    },
    /// The API has no host in that region.
    #[error("{api} has no regional host for {region} (regions: {available})")]
    RegionNotForApi {
        /// The API asked for.
        api: ApiFamily,
        /// The region asked for.
        region: Region,
        /// The regions the API has, comma-separated (or `none`).
        available: String,
    },
    /// A table cell is not a URL (a defect in this file: the tests parse every cell).
    #[error("table url {0} does not parse")]
    Url(String),
    /// An unknown cloud name.
    #[error("unknown cloud '{0}': expected one of commercial, gcc, gcc-high, dod")]
    UnknownCloud(String),
    /// An unknown region name.
    #[error("unknown region '{0}': expected one of us, eu, uk, au, swa, ina, aea")]
    UnknownRegion(String),
}

/// Entra ID authority hosts.
/// Source: https://learn.microsoft.com/graph/deployments ("App registration and token service root
/// endpoints"); GCC signs in to the commercial host, GCC High and DoD to the US Gov one:
/// https://learn.microsoft.com/defender-endpoint/gov ("API") and
/// https://learn.microsoft.com/defender-xdr/usgov ("API").
const LOGIN_COMMERCIAL: &str = "https://login.microsoftonline.com";
const LOGIN_US_GOV: &str = "https://login.microsoftonline.us";

/// One cell of the table: App ID URI (scope = this + `/.default`) and base URL.
struct Cell {
    resource: &'static str,
    base: &'static str,
}

/// The table. Row: cloud; column: API family.
fn cell(cloud: Cloud, api: ApiFamily) -> Cell {
    use ApiFamily::*;
    use Cloud::*;
    match (cloud, api) {
        // MDE: token audience is the legacy App ID URI (WindowsDefenderATP), calls go to the current
        // host. https://learn.microsoft.com/defender-endpoint/api/exposed-apis-create-app-webapp and
        // .../api/exposed-apis-list ("Endpoint URI"); contract/defender-api/README.md §1, §2.2.
        (Commercial, Mde) => {
            Cell { resource: "https://api.securitycenter.microsoft.com", base: "https://api.security.microsoft.com" }
        }
        // XDR: https://learn.microsoft.com/defender-xdr/api-supported ("tokens can be acquired by
        // accessing https://api.security.microsoft.com"); contract §1, §2.2.
        (Commercial, Xdr) => {
            Cell { resource: "https://api.security.microsoft.com", base: "https://api.security.microsoft.com" }
        }
        // Graph: https://learn.microsoft.com/graph/deployments ("service root endpoints").
        (Commercial, Graph) => {
            Cell { resource: "https://graph.microsoft.com", base: "https://graph.microsoft.com/v1.0" }
        }
        // Key Vault: resource https://vault.azure.net, suffix .vault.azure.net —
        // https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates
        // ("DNS suffixes for object identifiers").
        (Commercial, KeyVault) => Cell { resource: "https://vault.azure.net", base: "https://vault.azure.net" },

        // GCC MDE host: https://learn.microsoft.com/defender-endpoint/gov ("API": api-gcc.securitycenter
        // .microsoft.us). Token audience: the docs are silent; the documented pattern for commercial is
        // "audience = the API's App ID URI = the securitycenter host", so the GCC host is used (as public
        // GCC samples do).
        (Gcc, Mde) => Cell {
            resource: "https://api-gcc.securitycenter.microsoft.us",
            base: "https://api-gcc.securitycenter.microsoft.us",
        },
        // GCC XDR host: https://learn.microsoft.com/defender-xdr/usgov ("API": api-gcc.security.microsoft
        // .us). Audience: docs silent; same pattern (audience = API host, as for commercial XDR).
        (Gcc, Xdr) => {
            Cell { resource: "https://api-gcc.security.microsoft.us", base: "https://api-gcc.security.microsoft.us" }
        }
        // GCC uses the worldwide Graph: https://learn.microsoft.com/graph/deployments ("If you're working
        // in a Microsoft 365 GCC environment, continue using the worldwide endpoints").
        (Gcc, Graph) => Cell { resource: "https://graph.microsoft.com", base: "https://graph.microsoft.com/v1.0" },
        // GCC identities live in commercial Entra (login.microsoftonline.com), so a vault they can reach is
        // a commercial Azure vault. Docs silent on GCC specifically; follows the authority.
        (Gcc, KeyVault) => Cell { resource: "https://vault.azure.net", base: "https://vault.azure.net" },

        // GCC High & DoD MDE host: https://learn.microsoft.com/defender-endpoint/gov ("API":
        // api-gov.securitycenter.microsoft.us). Audience: docs silent; audience = API host pattern.
        (GccHigh, Mde) | (Dod, Mde) => Cell {
            resource: "https://api-gov.securitycenter.microsoft.us",
            base: "https://api-gov.securitycenter.microsoft.us",
        },
        // GCC High & DoD XDR host: https://learn.microsoft.com/defender-xdr/usgov ("API":
        // api-gov.security.microsoft.us). Audience: docs silent; audience = API host pattern.
        (GccHigh, Xdr) | (Dod, Xdr) => {
            Cell { resource: "https://api-gov.security.microsoft.us", base: "https://api-gov.security.microsoft.us" }
        }
        // https://learn.microsoft.com/graph/deployments: GCC High → graph.microsoft.us (L4),
        // DoD → dod-graph.microsoft.us (L5); the .default scope uses the same host
        // (https://learn.microsoft.com/graph/sdks/national-clouds, "Permission scopes").
        (GccHigh, Graph) => Cell { resource: "https://graph.microsoft.us", base: "https://graph.microsoft.us/v1.0" },
        (Dod, Graph) => {
            Cell { resource: "https://dod-graph.microsoft.us", base: "https://dod-graph.microsoft.us/v1.0" }
        }
        // Azure US Government vaults: .vault.usgovcloudapi.net —
        // https://learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates.
        (GccHigh, KeyVault) | (Dod, KeyVault) => {
            Cell { resource: "https://vault.usgovcloudapi.net", base: "https://vault.usgovcloudapi.net" }
        }
    }
}

/// MDE regional hosts (commercial only). Source: https://learn.microsoft.com/defender-endpoint/api/
/// exposed-apis-create-app-nativeapp (tip: us, eu, uk, au, swa, ina, aea `.api.security.microsoft.com`).
fn mde_region_host(region: Region) -> &'static str {
    match region {
        Region::Us => "https://us.api.security.microsoft.com",
        Region::Eu => "https://eu.api.security.microsoft.com",
        Region::Uk => "https://uk.api.security.microsoft.com",
        Region::Au => "https://au.api.security.microsoft.com",
        Region::Swa => "https://swa.api.security.microsoft.com",
        Region::Ina => "https://ina.api.security.microsoft.com",
        Region::Aea => "https://aea.api.security.microsoft.com",
    }
}

/// XDR regional hosts (commercial only). Source: https://learn.microsoft.com/defender-xdr/api-supported
/// ("Endpoint URIs": api-us, api-eu, api-uk `.security.microsoft.com`).
fn xdr_region_host(region: Region) -> Option<&'static str> {
    match region {
        Region::Us => Some("https://api-us.security.microsoft.com"),
        Region::Eu => Some("https://api-eu.security.microsoft.com"),
        Region::Uk => Some("https://api-uk.security.microsoft.com"),
        Region::Au | Region::Swa | Region::Ina | Region::Aea => None,
    }
}

fn parse(s: &str) -> Result<Url, CloudError> {
    Url::parse(s).map_err(|_| CloudError::Url(s.to_string()))
}

impl Cloud {
    /// Every cloud, in table order.
    pub const ALL: [Cloud; 4] = [Cloud::Commercial, Cloud::Gcc, Cloud::GccHigh, Cloud::Dod];

    /// The configuration name (`commercial`, `gcc`, `gcc-high`, `dod`).
    pub fn as_str(self) -> &'static str {
        match self {
            Cloud::Commercial => "commercial",
            Cloud::Gcc => "gcc",
            Cloud::GccHigh => "gcc-high",
            Cloud::Dod => "dod",
        }
    }

    /// The Entra ID authority host of this cloud.
    ///
    /// # Errors
    /// Only if the table is broken ([`CloudError::Url`]); the tests parse every cell.
    pub fn authority(self) -> Result<Url, CloudError> {
        parse(match self {
            Cloud::Commercial | Cloud::Gcc => LOGIN_COMMERCIAL,
            Cloud::GccHigh | Cloud::Dod => LOGIN_US_GOV,
        })
    }

    /// The Key Vault DNS suffix: a vault's URL is `https://<name>.<suffix>`.
    pub fn key_vault_suffix(self) -> &'static str {
        match self {
            Cloud::Commercial | Cloud::Gcc => "vault.azure.net",
            Cloud::GccHigh | Cloud::Dod => "vault.usgovcloudapi.net",
        }
    }
}

impl Region {
    /// Every region.
    pub const ALL: [Region; 7] =
        [Region::Us, Region::Eu, Region::Uk, Region::Au, Region::Swa, Region::Ina, Region::Aea];

    /// The configuration name (`us`, `eu`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Us => "us",
            Region::Eu => "eu",
            Region::Uk => "uk",
            Region::Au => "au",
            Region::Swa => "swa",
            Region::Ina => "ina",
            Region::Aea => "aea",
        }
    }

    /// Whether `api` has a regional host for this region.
    pub fn serves(self, api: ApiFamily) -> bool {
        match api {
            ApiFamily::Mde => true,
            ApiFamily::Xdr => xdr_region_host(self).is_some(),
            ApiFamily::Graph | ApiFamily::KeyVault => false,
        }
    }
}

impl ApiFamily {
    /// Every family.
    pub const ALL: [ApiFamily; 4] = [ApiFamily::Mde, ApiFamily::Xdr, ApiFamily::Graph, ApiFamily::KeyVault];

    /// A short name (`mde`, `xdr`, `graph`, `key-vault`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiFamily::Mde => "mde",
            ApiFamily::Xdr => "xdr",
            ApiFamily::Graph => "graph",
            ApiFamily::KeyVault => "key-vault",
        }
    }
}

/// Authority, scope and base for `api` in `cloud`, on the regional host when `region` is given.
///
/// # Errors
/// A region outside the commercial cloud ([`CloudError::RegionNotInCloud`]), or for an API without that
/// regional host — Graph, Key Vault, or XDR outside us/eu/uk ([`CloudError::RegionNotForApi`]).
pub fn endpoints(cloud: Cloud, api: ApiFamily, region: Option<Region>) -> Result<ApiEndpoints, CloudError> {
    let c = cell(cloud, api);
    let base = match region {
        None => c.base,
        Some(region) if cloud != Cloud::Commercial => return Err(CloudError::RegionNotInCloud { cloud, region }),
        Some(region) => match api {
            ApiFamily::Mde => mde_region_host(region),
            ApiFamily::Xdr => xdr_region_host(region).ok_or_else(|| region_error(api, region))?,
            ApiFamily::Graph | ApiFamily::KeyVault => return Err(region_error(api, region)),
        },
    };
    Ok(ApiEndpoints { authority: cloud.authority()?, scope: format!("{}/.default", c.resource), base: parse(base)? })
}

fn region_error(api: ApiFamily, region: Region) -> CloudError {
    let available: Vec<&str> = Region::ALL.iter().filter(|r| r.serves(api)).map(|r| r.as_str()).collect();
    let available = if available.is_empty() { "none".to_string() } else { available.join(", ") };
    CloudError::RegionNotForApi { api, region, available }
}

/// Parses an https base URL given in configuration: absolute, `https`, a host, no credentials, no query
/// or fragment. The reason is a phrase for "expected ..., got ..." messages.
pub(crate) fn parse_https_url(s: &str) -> Result<Url, &'static str> {
    let u = Url::parse(s.trim()).map_err(|_| "an absolute https URL")?;
    if u.scheme() != "https" {
        return Err("an https URL (http is refused, the simulator serves https too)");
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("an https URL with a host");
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("an https URL without credentials in it");
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err("an https URL without a query or fragment");
    }
    Ok(u)
}

/// `Display` as `as_str()`; with an error, also `FromStr`: the member of `ALL` whose `as_str()` is the
/// input (trimmed, any case), else the error built from the input. For the closed sets of names in
/// configuration (clouds, regions, actions), which all read the same way.
macro_rules! text_via_as_str {
    ($t:ty) => {
        impl ::std::fmt::Display for $t {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
    ($t:ty, $err_ty:ty, |$input:ident| $err:expr) => {
        $crate::cloud::text_via_as_str!($t);
        impl ::std::str::FromStr for $t {
            type Err = $err_ty;
            fn from_str($input: &str) -> Result<Self, $err_ty> {
                let t = $input.trim();
                Self::ALL.into_iter().find(|v| v.as_str().eq_ignore_ascii_case(t)).ok_or_else(|| $err)
            }
        }
    };
}
pub(crate) use text_via_as_str;

text_via_as_str!(Cloud, CloudError, |s| CloudError::UnknownCloud(s.to_string()));
text_via_as_str!(Region, CloudError, |s| CloudError::UnknownRegion(s.to_string()));
text_via_as_str!(ApiFamily);

macro_rules! serde_via_str {
    ($t:ty) => {
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
serde_via_str!(Cloud);
serde_via_str!(Region);

#[cfg(test)]
mod tests {
    use super::*;

    type Row = (Cloud, ApiFamily, &'static str, &'static str, &'static str);

    /// Every cell: (cloud, api, authority, scope, base).
    const TABLE: [Row; 16] = [
        (
            Cloud::Commercial,
            ApiFamily::Mde,
            "https://login.microsoftonline.com/",
            "https://api.securitycenter.microsoft.com/.default",
            "https://api.security.microsoft.com/",
        ),
        (
            Cloud::Commercial,
            ApiFamily::Xdr,
            "https://login.microsoftonline.com/",
            "https://api.security.microsoft.com/.default",
            "https://api.security.microsoft.com/",
        ),
        (
            Cloud::Commercial,
            ApiFamily::Graph,
            "https://login.microsoftonline.com/",
            "https://graph.microsoft.com/.default",
            "https://graph.microsoft.com/v1.0",
        ),
        (
            Cloud::Commercial,
            ApiFamily::KeyVault,
            "https://login.microsoftonline.com/",
            "https://vault.azure.net/.default",
            "https://vault.azure.net/",
        ),
        (
            Cloud::Gcc,
            ApiFamily::Mde,
            "https://login.microsoftonline.com/",
            "https://api-gcc.securitycenter.microsoft.us/.default",
            "https://api-gcc.securitycenter.microsoft.us/",
        ),
        (
            Cloud::Gcc,
            ApiFamily::Xdr,
            "https://login.microsoftonline.com/",
            "https://api-gcc.security.microsoft.us/.default",
            "https://api-gcc.security.microsoft.us/",
        ),
        (
            Cloud::Gcc,
            ApiFamily::Graph,
            "https://login.microsoftonline.com/",
            "https://graph.microsoft.com/.default",
            "https://graph.microsoft.com/v1.0",
        ),
        (
            Cloud::Gcc,
            ApiFamily::KeyVault,
            "https://login.microsoftonline.com/",
            "https://vault.azure.net/.default",
            "https://vault.azure.net/",
        ),
        (
            Cloud::GccHigh,
            ApiFamily::Mde,
            "https://login.microsoftonline.us/",
            "https://api-gov.securitycenter.microsoft.us/.default",
            "https://api-gov.securitycenter.microsoft.us/",
        ),
        (
            Cloud::GccHigh,
            ApiFamily::Xdr,
            "https://login.microsoftonline.us/",
            "https://api-gov.security.microsoft.us/.default",
            "https://api-gov.security.microsoft.us/",
        ),
        (
            Cloud::GccHigh,
            ApiFamily::Graph,
            "https://login.microsoftonline.us/",
            "https://graph.microsoft.us/.default",
            "https://graph.microsoft.us/v1.0",
        ),
        (
            Cloud::GccHigh,
            ApiFamily::KeyVault,
            "https://login.microsoftonline.us/",
            "https://vault.usgovcloudapi.net/.default",
            "https://vault.usgovcloudapi.net/",
        ),
        (
            Cloud::Dod,
            ApiFamily::Mde,
            "https://login.microsoftonline.us/",
            "https://api-gov.securitycenter.microsoft.us/.default",
            "https://api-gov.securitycenter.microsoft.us/",
        ),
        (
            Cloud::Dod,
            ApiFamily::Xdr,
            "https://login.microsoftonline.us/",
            "https://api-gov.security.microsoft.us/.default",
            "https://api-gov.security.microsoft.us/",
        ),
        (
            Cloud::Dod,
            ApiFamily::Graph,
            "https://login.microsoftonline.us/",
            "https://dod-graph.microsoft.us/.default",
            "https://dod-graph.microsoft.us/v1.0",
        ),
        (
            Cloud::Dod,
            ApiFamily::KeyVault,
            "https://login.microsoftonline.us/",
            "https://vault.usgovcloudapi.net/.default",
            "https://vault.usgovcloudapi.net/",
        ),
    ];

    #[test]
    fn every_cell_of_the_table() {
        for cloud in Cloud::ALL {
            for api in ApiFamily::ALL {
                let row = TABLE.iter().find(|r| r.0 == cloud && r.1 == api).unwrap();
                let e = endpoints(cloud, api, None).unwrap();
                assert_eq!(e.authority.as_str(), row.2, "{cloud} {api} authority");
                assert_eq!(e.scope, row.3, "{cloud} {api} scope");
                assert_eq!(e.base.as_str(), row.4, "{cloud} {api} base");
            }
        }
    }

    #[test]
    fn every_commercial_regional_host() {
        const MDE: &str = "https://api.securitycenter.microsoft.com/.default";
        const XDR: &str = "https://api.security.microsoft.com/.default";
        let hosts = [
            (ApiFamily::Mde, Region::Us, "https://us.api.security.microsoft.com/", MDE),
            (ApiFamily::Mde, Region::Eu, "https://eu.api.security.microsoft.com/", MDE),
            (ApiFamily::Mde, Region::Uk, "https://uk.api.security.microsoft.com/", MDE),
            (ApiFamily::Mde, Region::Au, "https://au.api.security.microsoft.com/", MDE),
            (ApiFamily::Mde, Region::Swa, "https://swa.api.security.microsoft.com/", MDE),
            (ApiFamily::Mde, Region::Ina, "https://ina.api.security.microsoft.com/", MDE),
            (ApiFamily::Mde, Region::Aea, "https://aea.api.security.microsoft.com/", MDE),
            (ApiFamily::Xdr, Region::Us, "https://api-us.security.microsoft.com/", XDR),
            (ApiFamily::Xdr, Region::Eu, "https://api-eu.security.microsoft.com/", XDR),
            (ApiFamily::Xdr, Region::Uk, "https://api-uk.security.microsoft.com/", XDR),
        ];
        for (api, region, base, scope) in hosts {
            let e = endpoints(Cloud::Commercial, api, Some(region)).unwrap();
            assert_eq!(e.base.as_str(), base);
            assert_eq!(e.scope, scope, "a region never changes the audience");
            assert_eq!(e.authority.as_str(), "https://login.microsoftonline.com/");
        }
        for region in [Region::Au, Region::Swa, Region::Ina, Region::Aea] {
            let err = endpoints(Cloud::Commercial, ApiFamily::Xdr, Some(region)).unwrap_err();
            assert_eq!(err.to_string(), format!("xdr has no regional host for {region} (regions: us, eu, uk)"));
        }
    }

    #[test]
    fn a_region_elsewhere_is_a_clear_error() {
        for cloud in [Cloud::Gcc, Cloud::GccHigh, Cloud::Dod] {
            for api in ApiFamily::ALL {
                let err = endpoints(cloud, api, Some(Region::Us)).unwrap_err();
                assert_eq!(err, CloudError::RegionNotInCloud { cloud, region: Region::Us });
            }
        }
        let err = endpoints(Cloud::Commercial, ApiFamily::Graph, Some(Region::Eu)).unwrap_err();
        assert_eq!(err.to_string(), "graph has no regional host for eu (regions: none)");
        let err = endpoints(Cloud::Commercial, ApiFamily::KeyVault, Some(Region::Eu)).unwrap_err();
        assert_eq!(err.to_string(), "key-vault has no regional host for eu (regions: none)");
        assert_eq!(
            endpoints(Cloud::Dod, ApiFamily::Mde, Some(Region::Eu)).unwrap_err().to_string(),
            "region eu is only available in the commercial cloud, not in dod"
        );
    }

    #[test]
    fn names_parse_and_print() {
        for (s, c) in
            [("commercial", Cloud::Commercial), ("gcc", Cloud::Gcc), ("gcc-high", Cloud::GccHigh), ("DoD", Cloud::Dod)]
        {
            assert_eq!(s.parse::<Cloud>().unwrap(), c);
            assert_eq!(c.to_string().parse::<Cloud>().unwrap(), c);
        }
        assert_eq!(
            "gcchigh".parse::<Cloud>().unwrap_err().to_string(),
            "unknown cloud 'gcchigh': expected one of commercial, gcc, gcc-high, dod"
        );
        for r in Region::ALL {
            assert_eq!(r.as_str().parse::<Region>().unwrap(), r);
            assert_eq!(r.as_str().to_uppercase().parse::<Region>().unwrap(), r);
        }
        assert_eq!(
            "fr".parse::<Region>().unwrap_err().to_string(),
            "unknown region 'fr': expected one of us, eu, uk, au, swa, ina, aea"
        );
        assert_eq!(serde_json::from_str::<Cloud>("\"gcc-high\"").unwrap(), Cloud::GccHigh);
        assert_eq!(serde_json::to_string(&Region::Swa).unwrap(), "\"swa\"");
        assert!(serde_json::from_str::<Cloud>("\"azure\"").is_err());
    }

    #[test]
    fn key_vault_suffix_matches_the_table_base() {
        for cloud in Cloud::ALL {
            let e = endpoints(cloud, ApiFamily::KeyVault, None).unwrap();
            assert_eq!(e.base.host_str(), Some(cloud.key_vault_suffix()));
        }
    }

    #[test]
    fn url_keeps_the_base_path() {
        let graph = endpoints(Cloud::Commercial, ApiFamily::Graph, None).unwrap();
        assert_eq!(graph.url("/security/alerts_v2").as_str(), "https://graph.microsoft.com/v1.0/security/alerts_v2");
        let mde = endpoints(Cloud::Commercial, ApiFamily::Mde, None).unwrap();
        assert_eq!(mde.url("/api/alerts").as_str(), "https://api.security.microsoft.com/api/alerts");
        assert_eq!(
            mde.url("/api/machines/findbyip(ip='10.0.0.1',timestamp=2024-01-01T00:00:00Z)").as_str(),
            "https://api.security.microsoft.com/api/machines/findbyip(ip='10.0.0.1',timestamp=2024-01-01T00:00:00Z)"
        );
    }

    #[test]
    fn https_urls_only() {
        assert!(parse_https_url("https://127.0.0.1:8443").is_ok());
        assert!(parse_https_url("http://127.0.0.1:8443").unwrap_err().contains("http is refused"));
        assert!(parse_https_url("https://u:p@h.example").is_err());
        assert!(parse_https_url("https://h.example/?a=1").is_err());
        assert!(parse_https_url("not a url").is_err());
    }
}
