//! The tenant registry: who we act for, with which credential, in which cloud, allowed to do what.
//!
//! MSSP mode reads a JSON document (a file, or a vault secret) listing tenants; single-tenant mode is
//! the same registry with one entry named `default`, built from the environment
//! ([`TenantRegistry::single`]). Everything downstream (auth, vault, client) sees only
//! [`TenantConfig`] and [`TenantRegistry::resolve`].
//!
//! # Document
//! ```json
//! {"tenants": [{
//!   "name": "contoso", "tenant_id": "<guid>", "client_id": "<guid>",
//!   "cloud": "commercial", "region": null,
//!   "credential": {"kind": "client_secret", "secret_name": "contoso-client-secret"},
//!   "allowed_actions": ["isolate", "scan"],
//!   "api_overrides": {"mde": "https://...", "xdr": "https://...", "graph": "https://..."},
//!   "responder": {"client_id": "<guid>", "credential": {"kind": "client_secret", "secret_name": "contoso-responder-secret"}}
//! }]}
//! ```
//! Split identities (docs/security.md): `client_id`/`credential` are the reader's — the app the
//! enrichment and the export use; the optional `responder` is a second app registration of that
//! tenant, used by the functions whose `DEFENDER_IDENTITY` is `responder` (chat-ops). An entry without
//! `responder` (the older form) serves every function with its one app, as before; `doctor` then
//! reports the reader's excess rights. A `responder` with the reader's own `client_id` is refused.
//! Unknown keys are refused at every level; names must be unique. `cloud` defaults to `commercial`,
//! `region` to none, `allowed_actions` to none (read-only), `api_overrides` to none. Credential kinds:
//! `client_secret` / `certificate` (`secret_name`: a vault secret holding the secret or the PEM
//! certificate + key), `federated` (`source`: `file` with `token_file`, or `aws-sts`), `user`
//! (`refresh_token_secret`, `client_id` of the public client).

use crate::{
    cloud::{self, ApiEndpoints, ApiFamily, Cloud, CloudError, Region},
    config::Config,
    ids::{ClientId, TenantId, TenantName},
    vault::{SECRET_NAME_RULE, SecretStore, VaultError, is_secret_name},
};
use serde::{Deserialize, Deserializer};
use std::path::PathBuf;
use url::Url;

pub(crate) use crate::tenant_spec::parse_override;
pub use crate::tenant_spec::{Action, ApiOverrides, AwsSecretKind, CredentialSpec, FederatedSource, Identity};

/// One tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantConfig {
    /// The registry name (`default` in single-tenant mode).
    pub name: TenantName,
    /// The directory id.
    pub tenant_id: TenantId,
    /// The application (client) id used in application context.
    pub client_id: ClientId,
    /// The tenant's cloud.
    pub cloud: Cloud,
    /// The commercial regional host, if any (applies to MDE, and to XDR where XDR has that region).
    pub region: Option<Region>,
    /// How to authenticate.
    pub credential: CredentialSpec,
    /// Response actions this tenant allows (empty: read-only).
    pub allowed_actions: Vec<Action>,
    /// Per-tenant base URL overrides (win over the process-wide ones).
    pub api_overrides: ApiOverrides,
}

impl TenantConfig {
    /// Whether `action` is allowed for this tenant.
    pub fn allows(&self, action: Action) -> bool {
        self.allowed_actions.contains(&action)
    }
}

/// Why the registry could not be read, or has no answer.
#[derive(Debug, thiserror::Error)]
pub enum TenantsError {
    /// The document is not `{"tenants": [...]}`.
    /// (The JSON error is the message itself, not a separate source, so it is shown once.)
    #[error("tenant registry: {0}")]
    Document(serde_json::Error),
    /// The document lists no tenant.
    #[error("tenant registry: lists no tenants")]
    Empty,
    /// One entry is wrong.
    #[error("tenant registry: tenants[{index}]{}: {reason}", name.as_ref().map(|n| format!(" ({n})")).unwrap_or_default())]
    Entry {
        /// Position in `tenants`.
        index: usize,
        /// The entry's `name`, when it has a readable one.
        name: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// Two entries share a name.
    #[error("tenant registry: tenants[{second}] repeats the name '{name}' of tenants[{first}]")]
    Duplicate {
        /// The name.
        name: String,
        /// The first entry with it.
        first: usize,
        /// The repeat.
        second: usize,
    },
    /// The registry file could not be read.
    #[error("tenant registry: cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The registry secret could not be read.
    #[error("tenant registry: cannot read secret {name}")]
    Store {
        /// The secret name.
        name: String,
        /// Why.
        #[source]
        source: VaultError,
    },
    /// The `senders` list is wrong (its message is the whole reason, shown once).
    #[error("tenant registry: {0}")]
    Senders(crate::senders::SendersError),
    /// No tenant of that name.
    #[error("unknown tenant {0}")]
    UnknownTenant(String),
    /// The cloud table has no answer for this tenant.
    #[error("tenant {tenant}: {source}")]
    Cloud {
        /// The tenant.
        tenant: String,
        /// Why.
        #[source]
        source: CloudError,
    },
}

/// The tenants this process serves, plus the process-wide endpoint settings they share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantRegistry {
    tenants: Vec<TenantConfig>,
    authority_host: Option<Url>,
    overrides: ApiOverrides,
    senders: Option<crate::senders::Senders>,
}

// The wire format, kept apart from the public types so env-only credentials (inline secret,
// certificate file) cannot be written into a registry document.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDocument {
    tenants: Vec<serde_json::Value>,
    /// The webhook senders and the tenants each may ask about ([`crate::senders`]).
    #[serde(default)]
    senders: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireTenant {
    name: TenantName,
    tenant_id: TenantId,
    client_id: ClientId,
    #[serde(default)]
    cloud: Cloud,
    #[serde(default)]
    region: Option<Region>,
    credential: WireCredential,
    #[serde(default)]
    allowed_actions: Vec<Action>,
    #[serde(default)]
    api_overrides: WireOverrides,
    #[serde(default)]
    responder: Option<WireIdentity>,
}

/// The responder app of an entry: its own client id and credential.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireIdentity {
    client_id: ClientId,
    credential: WireCredential,
}

#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
enum WireCredential {
    ClientSecret { secret_name: SecretName },
    Certificate { secret_name: SecretName },
    Federated(WireFederated),
    User { refresh_token_secret: SecretName, client_id: ClientId },
}

#[derive(Deserialize)]
#[serde(tag = "source", deny_unknown_fields)]
enum WireFederated {
    #[serde(rename = "file")]
    File { token_file: PathBuf },
    #[serde(rename = "aws-sts")]
    AwsSts {},
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireOverrides {
    #[serde(default)]
    mde: Option<String>,
    #[serde(default)]
    xdr: Option<String>,
    #[serde(default)]
    graph: Option<String>,
}

/// A Key Vault secret name: 1-127 of `[0-9A-Za-z-]`.
struct SecretName(String);

impl<'de> Deserialize<'de> for SecretName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if is_secret_name(&s) {
            Ok(SecretName(s))
        } else {
            Err(serde::de::Error::custom(format!("'{s}' is not {SECRET_NAME_RULE}")))
        }
    }
}

impl WireCredential {
    fn into_spec(self) -> CredentialSpec {
        match self {
            WireCredential::ClientSecret { secret_name } => CredentialSpec::ClientSecret { secret_name: secret_name.0 },
            WireCredential::Certificate { secret_name } => CredentialSpec::Certificate { secret_name: secret_name.0 },
            WireCredential::Federated(WireFederated::File { token_file }) => {
                CredentialSpec::Federated(FederatedSource::File { token_file })
            }
            WireCredential::Federated(WireFederated::AwsSts {}) => CredentialSpec::Federated(FederatedSource::AwsSts),
            WireCredential::User { refresh_token_secret, client_id } => {
                CredentialSpec::User { refresh_token_secret: refresh_token_secret.0, client_id }
            }
        }
    }
}

impl WireTenant {
    fn into_config(self, identity: Identity) -> Result<TenantConfig, String> {
        if let Some(region) = self.region
            && self.cloud != Cloud::Commercial
        {
            return Err(CloudError::RegionNotInCloud { cloud: self.cloud, region }.to_string());
        }
        if let Some(r) = &self.responder
            && r.client_id == self.client_id
        {
            return Err("responder.client_id is the reader's client_id: the responder must be a second app \
                        registration (split identities, docs/security.md)"
                .into());
        }
        let (client_id, credential) = match (identity, self.responder) {
            (Identity::Responder, Some(r)) => (r.client_id, r.credential.into_spec()),
            // The reader, or an entry in the older one-app form.
            _ => (self.client_id, self.credential.into_spec()),
        };
        let o = self.api_overrides;
        let parse = |api: ApiFamily, v: Option<String>| -> Result<Option<Url>, String> {
            v.map(|s| parse_override(api, &s).map_err(|e| format!("api_overrides.{api}: expected {e}, got '{s}'")))
                .transpose()
        };
        let api_overrides = ApiOverrides {
            mde: parse(ApiFamily::Mde, o.mde)?,
            xdr: parse(ApiFamily::Xdr, o.xdr)?,
            graph: parse(ApiFamily::Graph, o.graph)?,
        };
        let mut allowed_actions = self.allowed_actions;
        allowed_actions.sort();
        allowed_actions.dedup();
        Ok(TenantConfig {
            name: self.name,
            tenant_id: self.tenant_id,
            client_id,
            cloud: self.cloud,
            region: self.region,
            credential,
            allowed_actions,
            api_overrides,
        })
    }
}

impl TenantRegistry {
    /// The environment's configuration as a one-entry registry named `default`.
    pub fn single(config: &Config) -> Self {
        let mut allowed_actions = config.allowed_actions.clone();
        allowed_actions.sort();
        allowed_actions.dedup();
        let tenant = TenantConfig {
            name: config.default_name.clone(),
            tenant_id: config.tenant_id.clone(),
            client_id: config.client_id.clone(),
            cloud: config.cloud,
            region: config.region,
            credential: config.credential.clone(),
            allowed_actions,
            api_overrides: ApiOverrides::default(),
        };
        Self::with_config(vec![tenant], config)
    }

    /// Parses a registry document; the process-wide settings (authority host, API overrides) come from
    /// `config`.
    ///
    /// # Errors
    /// Not JSON, unknown keys, an invalid entry (named by index and name), duplicate names, no tenants.
    pub fn from_json(text: &str, config: &Config) -> Result<Self, TenantsError> {
        let doc: WireDocument = serde_json::from_str(text).map_err(TenantsError::Document)?;
        if doc.tenants.is_empty() {
            return Err(TenantsError::Empty);
        }
        let mut tenants: Vec<TenantConfig> = Vec::with_capacity(doc.tenants.len());
        for (index, value) in doc.tenants.into_iter().enumerate() {
            let name = value.get("name").and_then(|n| n.as_str()).map(printable);
            let entry = serde_json::from_value::<WireTenant>(value)
                .map_err(|e| e.to_string())
                .and_then(|w| w.into_config(config.identity))
                .map_err(|reason| TenantsError::Entry { index, name, reason })?;
            if let Some(first) = tenants.iter().position(|t| t.name == entry.name) {
                return Err(TenantsError::Duplicate { name: entry.name.to_string(), first, second: index });
            }
            tenants.push(entry);
        }
        let senders = doc
            .senders
            .map(|v| crate::senders::Senders::from_value(v, |t| tenants.iter().any(|c| &c.name == t)))
            .transpose()
            .map_err(TenantsError::Senders)?;
        Ok(Self { senders, ..Self::with_config(tenants, config) })
    }

    /// The registry `config` asks for: `DEFENDER_TENANTS_FILE`, `DEFENDER_TENANTS_SECRET` (read from
    /// `store`), or else [`TenantRegistry::single`].
    ///
    /// # Errors
    /// The file or secret cannot be read, or does not parse ([`TenantRegistry::from_json`]).
    pub async fn load<S: SecretStore + ?Sized>(config: &Config, store: Option<&S>) -> Result<Self, TenantsError> {
        use crate::config::TenantsSource;
        match &config.tenants_source {
            None => Ok(Self::single(config)),
            Some(TenantsSource::File(path)) => {
                let text = tokio::fs::read_to_string(path)
                    .await
                    .map_err(|source| TenantsError::Read { path: path.clone(), source })?;
                Self::from_json(&text, config)
            }
            Some(TenantsSource::Secret(name)) => {
                let store = store.ok_or_else(|| TenantsError::Store {
                    name: name.clone(),
                    source: VaultError::Store("no secret store is configured".into()),
                })?;
                let text =
                    store.get(name).await.map_err(|source| TenantsError::Store { name: name.clone(), source })?;
                Self::from_json(text.expose(), config)
            }
        }
    }

    fn with_config(tenants: Vec<TenantConfig>, config: &Config) -> Self {
        Self {
            tenants,
            authority_host: config.authority_host.clone(),
            overrides: config.api_overrides.clone(),
            senders: None,
        }
    }

    /// The document's webhook senders (`None`: the document has no `senders`; always `None` in
    /// single-tenant mode, whose one sender is implicit).
    pub fn senders(&self) -> Option<&crate::senders::Senders> {
        self.senders.as_ref()
    }

    /// The tenant called `name`.
    pub fn get(&self, name: &TenantName) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| &t.name == name)
    }

    /// Every tenant, in document order.
    pub fn iter(&self) -> impl Iterator<Item = &TenantConfig> {
        self.tenants.iter()
    }

    /// How many tenants.
    pub fn len(&self) -> usize {
        self.tenants.len()
    }

    /// Never true for a parsed registry; here for completeness.
    pub fn is_empty(&self) -> bool {
        self.tenants.is_empty()
    }

    /// Authority, scope and base for `api` in tenant `name`: the cloud table for the tenant's cloud and
    /// region, then `AZURE_AUTHORITY_HOST` over the authority, then the tenant's override — or else the
    /// process-wide one — over the base (a Graph override gets `/v1.0` appended). The region applies to
    /// MDE, and to XDR where XDR has that region (otherwise XDR's global host, which serves every
    /// region); Graph and Key Vault ignore it.
    ///
    /// # Errors
    /// [`TenantsError::UnknownTenant`]; [`TenantsError::Cloud`] if the table has no answer.
    pub fn resolve(&self, name: &TenantName, api: ApiFamily) -> Result<ApiEndpoints, TenantsError> {
        let t = self.get(name).ok_or_else(|| TenantsError::UnknownTenant(name.to_string()))?;
        let region = t.region.filter(|r| r.serves(api));
        let mut e = cloud::endpoints(t.cloud, api, region)
            .map_err(|source| TenantsError::Cloud { tenant: name.to_string(), source })?;
        if let Some(a) = &self.authority_host {
            e.authority = a.clone();
        }
        if let Some(o) = t.api_overrides.get(api).or_else(|| self.overrides.get(api)) {
            let mut base = o.clone();
            if api == ApiFamily::Graph {
                base.set_path(&format!("{}/v1.0", o.path().trim_end_matches('/')));
            }
            e.base = base;
        }
        Ok(e)
    }
}

fn printable(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{base_env, config_from};
    use crate::secret::SecretString;
    use futures::future::BoxFuture;

    const T1: &str = "4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f";
    const C1: &str = "11111111-1111-4111-8111-111111111111";

    fn config() -> Config {
        config_from(&base_env()).unwrap()
    }

    fn doc(entries: &str) -> String {
        format!(r#"{{"tenants": [{entries}]}}"#)
    }

    fn entry(extra: &str) -> String {
        format!(
            r#"{{"name": "contoso", "tenant_id": "{T1}", "client_id": "{C1}", "credential": {{"kind": "client_secret", "secret_name": "contoso-client-secret"}}{extra}}}"#
        )
    }

    fn name(s: &str) -> TenantName {
        s.parse().unwrap()
    }

    #[test]
    fn a_responder_function_uses_the_entrys_responder_app_and_a_reader_never_does() {
        const C2: &str = "44444444-4444-4444-8444-444444444444";
        let responder = format!(
            r#", "responder": {{"client_id": "{C2}", "credential": {{"kind": "client_secret", "secret_name": "contoso-responder-secret"}}}}"#
        );
        let text = doc(&entry(&responder));
        let mut env = base_env();
        for (identity, want_client, want_secret) in [
            (None, C1, "contoso-client-secret"),
            (Some("reader"), C1, "contoso-client-secret"),
            (Some("responder"), C2, "contoso-responder-secret"),
        ] {
            env.retain(|(k, _)| *k != "DEFENDER_IDENTITY");
            env.extend(identity.map(|i| ("DEFENDER_IDENTITY", i)));
            let reg = TenantRegistry::from_json(&text, &config_from(&env).unwrap()).unwrap();
            let t = reg.get(&name("contoso")).unwrap();
            assert_eq!(
                (t.client_id.as_str(), t.credential.store_secret()),
                (want_client, Some(want_secret)),
                "{identity:?}"
            );
        }
        // The older one-app form still serves a responder function (doctor reports the reader's excess).
        env.push(("DEFENDER_IDENTITY", "responder"));
        let reg = TenantRegistry::from_json(&doc(&entry("")), &config_from(&env).unwrap()).unwrap();
        assert_eq!(reg.get(&name("contoso")).unwrap().client_id.as_str(), C1);
        // One app cannot be both.
        let same = format!(
            r#", "responder": {{"client_id": "{C1}", "credential": {{"kind": "client_secret", "secret_name": "x"}}}}"#
        );
        let e = TenantRegistry::from_json(&doc(&entry(&same)), &config()).unwrap_err().to_string();
        assert!(e.contains("responder must be a second app registration"), "{e}");
        assert!(config_from(&[base_env(), vec![("DEFENDER_IDENTITY", "admin")]].concat()).is_err());
    }

    #[test]
    fn full_document_parses_into_plain_data() {
        let text = doc(&format!(
            r#"{{"name": "contoso", "tenant_id": "{T1}", "client_id": "{C1}", "cloud": "commercial", "region": "eu",
                "credential": {{"kind": "client_secret", "secret_name": "contoso-client-secret"}},
                "allowed_actions": ["scan", "isolate", "unisolate", "restrict", "unrestrict", "collect", "scan"],
                "api_overrides": {{"mde": "https://mde.example:8443", "graph": "https://graph.example"}}}},
              {{"name": "fabrikam", "tenant_id": "{T1}", "client_id": "{C1}", "cloud": "gcc-high",
                "credential": {{"kind": "certificate", "secret_name": "fabrikam-cert"}}}},
              {{"name": "wingtip", "tenant_id": "{T1}", "client_id": "{C1}",
                "credential": {{"kind": "federated", "source": "file", "token_file": "/var/run/token"}}}},
              {{"name": "tailspin", "tenant_id": "{T1}", "client_id": "{C1}", "cloud": "dod",
                "credential": {{"kind": "federated", "source": "aws-sts"}}}},
              {{"name": "litware", "tenant_id": "{T1}", "client_id": "{C1}",
                "credential": {{"kind": "user", "refresh_token_secret": "litware-rt", "client_id": "33333333-3333-4333-8333-333333333333"}}}}"#
        ));
        let reg = TenantRegistry::from_json(&text, &config()).unwrap();
        assert_eq!(reg.len(), 5);
        let c = reg.get(&name("contoso")).unwrap();
        assert_eq!(c.region, Some(Region::Eu));
        assert_eq!(c.allowed_actions, Action::ALL.to_vec(), "sorted and deduplicated");
        assert!(c.allows(Action::Isolate));
        assert_eq!(c.credential.store_secret(), Some("contoso-client-secret"));
        let f = reg.get(&name("fabrikam")).unwrap();
        assert_eq!(f.cloud, Cloud::GccHigh);
        assert_eq!(f.credential, CredentialSpec::Certificate { secret_name: "fabrikam-cert".into() });
        assert!(f.allowed_actions.is_empty(), "no actions unless listed");
        assert_eq!(
            reg.get(&name("wingtip")).unwrap().credential,
            CredentialSpec::Federated(FederatedSource::File { token_file: "/var/run/token".into() })
        );
        assert_eq!(reg.get(&name("tailspin")).unwrap().credential, CredentialSpec::Federated(FederatedSource::AwsSts));
        assert_eq!(
            reg.get(&name("litware")).unwrap().credential,
            CredentialSpec::User {
                refresh_token_secret: "litware-rt".into(),
                client_id: "33333333-3333-4333-8333-333333333333".parse().unwrap()
            }
        );
        let names: Vec<&str> = reg.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["contoso", "fabrikam", "wingtip", "tailspin", "litware"]);
        assert!(reg.get(&name("nobody")).is_none());
    }

    fn err(text: &str) -> String {
        TenantRegistry::from_json(text, &config()).unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_are_refused_at_every_level() {
        let e = err(&doc(&entry(r#", "colour": "blue""#)));
        assert!(e.starts_with("tenant registry: tenants[0] (contoso): unknown field `colour`"), "{e}");
        let e = err(r#"{"tenants": [], "extra": 1}"#);
        assert!(e.contains("unknown field `extra`"), "{e}");
        let e = err(&doc(&format!(
            r#"{{"name": "contoso", "tenant_id": "{T1}", "client_id": "{C1}", "credential": {{"kind": "client_secret", "secret_name": "s", "secret": "inline"}}}}"#
        )));
        assert!(e.contains("tenants[0] (contoso): unknown field `secret`"), "{e}");
        let e = err(&doc(&format!(
            r#"{{"name": "contoso", "tenant_id": "{T1}", "client_id": "{C1}", "credential": {{"kind": "federated", "source": "aws-sts", "role": "x"}}}}"#
        )));
        assert!(e.contains("tenants[0] (contoso): unknown field `role`"), "{e}");
        let e = err(&doc(&entry(r#", "api_overrides": {"vault": "https://v.example"}"#)));
        assert!(e.contains("unknown field `vault`"), "{e}");
        let e = err(&doc(&format!(
            r#"{{"name": "contoso", "tenant_id": "{T1}", "client_id": "{C1}", "credential": {{"kind": "password", "secret_name": "s"}}}}"#
        )));
        assert!(e.contains("unknown variant `password`"), "{e}");
    }

    #[test]
    fn duplicate_names_are_refused() {
        let text = doc(&format!("{},{},{}", entry(""), entry("").replace("contoso", "fabrikam"), entry("")));
        assert_eq!(err(&text), "tenant registry: tenants[2] repeats the name 'contoso' of tenants[0]");
    }

    #[test]
    fn bad_values_name_the_entry() {
        let e = err(&doc(&entry("").replace(T1, "not-a-guid")));
        assert_eq!(e, "tenant registry: tenants[0] (contoso): invalid tenant id: 'not-a-guid' is not a GUID");
        let e = err(&doc(&entry(r#", "cloud": "azure-china""#)));
        assert_eq!(
            e,
            "tenant registry: tenants[0] (contoso): unknown cloud 'azure-china': expected one of commercial, gcc, gcc-high, dod"
        );
        let e = err(&doc(&entry(r#", "cloud": "gcc", "region": "us""#)));
        assert_eq!(
            e,
            "tenant registry: tenants[0] (contoso): region us is only available in the commercial cloud, not in gcc"
        );
        let e = err(&doc(&entry(r#", "allowed_actions": ["offboard"]"#)));
        assert!(e.starts_with("tenant registry: tenants[0] (contoso): unknown variant `offboard`"), "{e}");
        let e = err(&doc(&entry(r#", "api_overrides": {"mde": "http://127.0.0.1:1"}"#)));
        assert!(e.contains("api_overrides.mde: expected an https URL"), "{e}");
        let e = err(&doc(&entry(r#", "api_overrides": {"graph": "https://g.example/v1.0"}"#)));
        assert!(e.contains("api_overrides.graph: expected the Graph host root without /v1.0"), "{e}");
        let e = err(&doc(&entry("").replace("contoso-client-secret", "has space")));
        assert!(e.contains("'has space' is not a Key Vault secret name"), "{e}");
        let e = err(&doc(&format!(r#"{{"name": "bad name!", "tenant_id": "{T1}"}}"#)));
        assert!(e.starts_with("tenant registry: tenants[0] (bad name!): invalid tenant name"), "{e}");
        let e = err(&doc(&format!(r#"{}, {{"tenant_id": "{T1}"}}"#, entry(""))));
        assert_eq!(e, "tenant registry: tenants[1]: missing field `name`");
        assert_eq!(err(r#"{"tenants": []}"#), "tenant registry: lists no tenants");
        assert_eq!(err("not json"), "tenant registry: expected ident at line 1 column 2");
    }

    #[test]
    fn single_tenant_equals_a_one_entry_registry() {
        let cfg = config();
        let single = TenantRegistry::single(&cfg);
        let text = doc(&format!(
            r#"{{"name": "default", "tenant_id": "{T1}", "client_id": "{C1}", "cloud": "commercial", "region": null,
                "credential": {{"kind": "client_secret", "secret_name": "defender-client-secret"}}}}"#
        ));
        // Both fail closed: no DEFENDER_ALLOWED_ACTIONS and no "allowed_actions" both mean none.
        assert_eq!(single, TenantRegistry::from_json(&text, &cfg).unwrap());
        assert!(single.iter().next().unwrap().allowed_actions.is_empty());
        assert_eq!(single.len(), 1);
        assert_eq!(single.iter().next().unwrap().name.as_str(), "default");
    }

    #[test]
    fn overrides_precedence() {
        let mut env = base_env();
        env.push(("MDE_API_URL", "https://process-mde.example:1"));
        env.push(("GRAPH_API_URL", "https://process-graph.example:2/"));
        env.push(("AZURE_AUTHORITY_HOST", "https://login.sim.example:3"));
        let cfg = config_from(&env).unwrap();
        let text = doc(&format!(
            "{},{}",
            entry(
                r#", "region": "uk", "api_overrides": {"mde": "https://tenant-mde.example/prefix", "graph": "https://tenant-graph.example/g"}"#
            ),
            entry(r#", "region": "au""#).replace("contoso", "fabrikam")
        ));
        let reg = TenantRegistry::from_json(&text, &cfg).unwrap();

        // The tenant's own override wins over the process-wide one.
        let e = reg.resolve(&name("contoso"), ApiFamily::Mde).unwrap();
        assert_eq!(e.base.as_str(), "https://tenant-mde.example/prefix");
        assert_eq!(e.url("/api/alerts").as_str(), "https://tenant-mde.example/prefix/api/alerts");
        assert_eq!(e.scope, "https://api.securitycenter.microsoft.com/.default", "an override keeps the audience");
        assert_eq!(e.authority.as_str(), "https://login.sim.example:3/");
        let g = reg.resolve(&name("contoso"), ApiFamily::Graph).unwrap();
        assert_eq!(g.base.as_str(), "https://tenant-graph.example/g/v1.0");
        assert_eq!(g.url("/security/incidents").as_str(), "https://tenant-graph.example/g/v1.0/security/incidents");
        // No tenant override for XDR, none process-wide: the table with the tenant's region.
        assert_eq!(
            reg.resolve(&name("contoso"), ApiFamily::Xdr).unwrap().base.as_str(),
            "https://api-uk.security.microsoft.com/"
        );

        // Without a tenant override the process-wide one applies; Graph gets /v1.0 appended.
        let f = reg.resolve(&name("fabrikam"), ApiFamily::Mde).unwrap();
        assert_eq!(f.base.as_str(), "https://process-mde.example:1/");
        let fg = reg.resolve(&name("fabrikam"), ApiFamily::Graph).unwrap();
        assert_eq!(fg.base.as_str(), "https://process-graph.example:2/v1.0");
        assert_eq!(fg.scope, "https://graph.microsoft.com/.default");
        // au has no XDR host: the global XDR host serves it.
        assert_eq!(
            reg.resolve(&name("fabrikam"), ApiFamily::Xdr).unwrap().base.as_str(),
            "https://api.security.microsoft.com/"
        );
        assert!(
            matches!(reg.resolve(&name("nobody"), ApiFamily::Mde), Err(TenantsError::UnknownTenant(n)) if n == "nobody")
        );
    }

    #[test]
    fn resolve_uses_the_tenant_cloud() {
        let text = doc(&entry(r#", "cloud": "dod""#));
        let reg = TenantRegistry::from_json(&text, &config()).unwrap();
        let e = reg.resolve(&name("contoso"), ApiFamily::Graph).unwrap();
        assert_eq!(e.base.as_str(), "https://dod-graph.microsoft.us/v1.0");
        assert_eq!(e.scope, "https://dod-graph.microsoft.us/.default");
        assert_eq!(e.authority.as_str(), "https://login.microsoftonline.us/");
    }

    struct MemStore(&'static str, String);

    impl SecretStore for MemStore {
        fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
            Box::pin(async move {
                if name == self.0 {
                    Ok(SecretString::new(self.1.clone()))
                } else {
                    Err(VaultError::NotFound(name.into()))
                }
            })
        }
        fn get_fresh<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
            self.get(name)
        }
        fn set<'a>(&'a self, _: &'a str, _: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
            Box::pin(async { Err(VaultError::Store("read-only".into())) })
        }
    }

    #[tokio::test]
    async fn load_from_secret_file_or_env() {
        let text = doc(&entry(""));
        let mut env = base_env();
        env.push(("DEFENDER_TENANTS_SECRET", "tenant-registry"));
        let cfg = config_from(&env).unwrap();
        let reg = TenantRegistry::load(&cfg, Some(&MemStore("tenant-registry", text.clone()))).await.unwrap();
        assert!(reg.get(&name("contoso")).is_some());
        let e = TenantRegistry::load(&cfg, Some(&MemStore("other", text.clone()))).await.unwrap_err();
        assert_eq!(e.to_string(), "tenant registry: cannot read secret tenant-registry");

        let path = std::env::temp_dir().join(format!("defender-tenants-{}.json", uuid::Uuid::new_v4()));
        std::fs::write(&path, &text).unwrap();
        let mut env = base_env();
        let p = path.to_string_lossy().to_string();
        env.push(("DEFENDER_TENANTS_FILE", &p));
        let cfg = config_from(&env).unwrap();
        let reg = TenantRegistry::load::<MemStore>(&cfg, None).await.unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(reg.iter().next().unwrap().name.as_str(), "contoso");
        let e = TenantRegistry::load::<MemStore>(&cfg, None).await.unwrap_err();
        assert!(e.to_string().starts_with("tenant registry: cannot read "), "{e}");

        let cfg = config();
        let reg = TenantRegistry::load::<MemStore>(&cfg, None).await.unwrap();
        assert_eq!(reg, TenantRegistry::single(&cfg));
    }
}

/// The registry tells the Defender client where each tenant's APIs live and which scope to ask for.
impl crate::defender::client::TargetResolver for TenantRegistry {
    fn target(&self, tenant: &TenantName, api: ApiFamily) -> Option<crate::defender::client::ApiTarget> {
        let e = self.resolve(tenant, api).ok()?;
        Some(crate::defender::client::ApiTarget { base: e.base, scope: e.scope })
    }
}

#[cfg(test)]
mod resolver_tests {
    use super::*;
    use crate::defender::client::TargetResolver;

    #[test]
    fn the_registry_resolves_client_targets_with_overrides() {
        let reg = TenantRegistry::from_json(
            r#"{"tenants":[{"name":"contoso","tenant_id":"4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f","client_id":"11111111-1111-4111-8111-111111111111","cloud":"gcc-high","credential":{"kind":"client_secret","secret_name":"s"}},
                           {"name":"local","tenant_id":"4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f","client_id":"11111111-1111-4111-8111-111111111111","credential":{"kind":"client_secret","secret_name":"s"},"api_overrides":{"graph":"https://127.0.0.1:9443"}}]}"#,
            &crate::config::tests::config_from(&crate::config::tests::base_env()).unwrap(),
        )
        .unwrap();
        let gov = reg.target(&"contoso".parse().unwrap(), ApiFamily::Mde).unwrap();
        assert_eq!(gov.base.as_str(), "https://api-gov.securitycenter.microsoft.us/");
        let local = reg.target(&"local".parse().unwrap(), ApiFamily::Graph).unwrap();
        assert_eq!(local.base.as_str(), "https://127.0.0.1:9443/v1.0");
        assert_eq!(local.scope, "https://graph.microsoft.com/.default");
        assert!(reg.target(&"nobody".parse().unwrap(), ApiFamily::Mde).is_none());
    }
}
