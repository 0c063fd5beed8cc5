//! Configuration from the environment: the only place environment variables are read.
//!
//! [`Config::from_env`] reads the process environment; [`Config::from_lookup`] takes any lookup, so
//! tests and the local runner never touch the real environment. Every variable is described in
//! `docs/configuration.md`. A value that is empty (or only whitespace) counts as unset, because
//! deployment templates often pass empty strings for parameters left blank.
//!
//! A wrong or missing value fails with a [`ConfigError`] that names the variable and says what was
//! expected; a secret value is never echoed.

use crate::{
    cloud::{self, ApiFamily, Cloud, Region},
    ids::{ClientId, TenantId, TenantName},
    secret::SecretString,
    tenant_spec::{self, Action, ApiOverrides, AwsSecretKind, CredentialSpec, FederatedSource, Identity},
};
use std::{path::PathBuf, time::Duration};
use url::Url;

/// The vault secret holding the client secret when nothing else is configured.
pub const DEFAULT_CLIENT_SECRET_NAME: &str = "defender-client-secret";
/// The secret cache TTL when `DEFENDER_SECRET_TTL_SECONDS` is unset.
pub const DEFAULT_SECRET_TTL: Duration = Duration::from_secs(300);
const MAX_SECRET_TTL_SECONDS: u64 = 86_400;

/// Why the configuration is not usable. Each message starts with the variable's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is unset.
    #[error("{var}: required: expected {expected}")]
    Missing {
        /// The variable.
        var: &'static str,
        /// What it should hold.
        expected: String,
    },
    /// A variable holds a value of the wrong shape.
    #[error("{var}: expected {expected}, got '{got}'")]
    Invalid {
        /// The variable.
        var: &'static str,
        /// What it should hold.
        expected: String,
        /// What it holds (shortened, control characters removed; never a secret).
        got: String,
    },
    /// Two variables that exclude each other are both set.
    #[error("{a} and {b} are both set: {why}")]
    Conflict {
        /// The first.
        a: &'static str,
        /// The second.
        b: &'static str,
        /// What to do.
        why: String,
    },
    /// A variable that is only allowed in local mode.
    #[error("{var}: only allowed with DEFENDER_LOCAL_MODE=1 ({why})")]
    LocalOnly {
        /// The variable.
        var: &'static str,
        /// Why.
        why: &'static str,
    },
}

/// Where the tenant registry comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantsSource {
    /// A JSON file (`DEFENDER_TENANTS_FILE`).
    File(PathBuf),
    /// A secret in the secret store (`DEFENDER_TENANTS_SECRET`).
    Secret(String),
}

/// Where app secrets live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// Azure Key Vault at this URL (`KEY_VAULT_URL`).
    KeyVault {
        /// The vault, `https://<name>.vault.azure.net`.
        url: Url,
    },
    /// A local JSON file of `{"name": "value"}` (`DEFENDER_STORE=file:<path>`).
    File {
        /// The file.
        path: PathBuf,
    },
}

/// The process configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `AZURE_TENANT_ID`: the operator's directory (the single tenant, and the vault's).
    pub tenant_id: TenantId,
    /// `AZURE_CLIENT_ID`: the operator's application.
    pub client_id: ClientId,
    /// The credential, from exactly one of the credential variables (default: the vault secret
    /// `defender-client-secret`).
    pub credential: CredentialSpec,
    /// `DEFENDER_CLOUD`.
    pub cloud: Cloud,
    /// `DEFENDER_REGION` (commercial only).
    pub region: Option<Region>,
    /// `AZURE_AUTHORITY_HOST`: replaces the cloud's authority for every tenant.
    pub authority_host: Option<Url>,
    /// `MDE_API_URL`, `XDR_API_URL`, `GRAPH_API_URL`.
    pub api_overrides: ApiOverrides,
    /// `DEFENDER_STORE` / `KEY_VAULT_URL`; `None` when nothing needs a store.
    pub store: Option<StoreConfig>,
    /// `DEFENDER_TENANTS_FILE` / `DEFENDER_TENANTS_SECRET`; `None`: single-tenant.
    pub tenants_source: Option<TenantsSource>,
    /// `DEFENDER_EXTRA_CA_FILE` (local mode only).
    pub extra_ca_file: Option<PathBuf>,
    /// `DEFENDER_LOCAL_MODE=1`.
    pub local_mode: bool,
    /// `DEFENDER_SECRET_TTL_SECONDS`.
    pub secret_ttl: Duration,
    /// `DEFENDER_ALLOWED_ACTIONS` (single-tenant mode; default: none — fail closed).
    pub allowed_actions: Vec<Action>,
    /// `DEFENDER_IDENTITY` (`reader`, the default, or `responder`): which identity of an MSSP registry
    /// entry this function authenticates as (split identities; `AZURE_CLIENT_ID` is already the
    /// function's own app in single-tenant mode).
    pub identity: Identity,
    /// The single tenant's registry name (`default`), validated once here.
    pub(crate) default_name: TenantName,
}

/// Reads variables, treating blank as unset.
struct Vars<F>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn get(&self, var: &str) -> Option<String> {
        (self.0)(var).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    }

    fn parse<T>(
        &self,
        var: &'static str,
        expected: &str,
        f: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        match self.get(var) {
            None => Ok(None),
            Some(v) => f(&v).map(Some).ok_or_else(|| invalid(var, expected, &v)),
        }
    }

    fn https(&self, var: &'static str) -> Result<Option<Url>, ConfigError> {
        match self.get(var) {
            None => Ok(None),
            Some(v) => cloud::parse_https_url(&v).map(Some).map_err(|e| invalid(var, e, &v)),
        }
    }

    fn secret_name(&self, var: &'static str) -> Result<Option<String>, ConfigError> {
        self.parse(var, crate::vault::SECRET_NAME_RULE, |v| crate::vault::is_secret_name(v).then(|| v.to_string()))
    }
}

fn invalid(var: &'static str, expected: &str, got: &str) -> ConfigError {
    let clean: Vec<char> = got.chars().filter(|c| !c.is_control()).collect();
    let mut shown: String = clean.iter().take(80).collect();
    if clean.len() > 80 {
        shown.push('…');
    }
    ConfigError::Invalid { var, expected: expected.to_string(), got: shown }
}

fn conflict(a: &'static str, b: &'static str, why: &str) -> ConfigError {
    ConfigError::Conflict { a, b, why: why.to_string() }
}

/// The process environment as a lookup: what every `from_lookup` reader (this crate's and the
/// functions') is given at cold start.
pub fn env(var: &str) -> Option<String> {
    std::env::var(var).ok()
}

impl Config {
    /// Reads the process environment.
    ///
    /// # Errors
    /// As [`Config::from_lookup`].
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(env)
    }

    /// Reads the variables through `lookup` (a map in tests, the environment in
    /// [`Config::from_env`]).
    ///
    /// # Errors
    /// The first variable that is missing, malformed, conflicting or not allowed outside local mode.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let vars = Vars(lookup);
        let guid = "a GUID (00000000-0000-0000-0000-000000000000)";
        let tenant_id = vars.parse("AZURE_TENANT_ID", guid, |v| v.parse::<TenantId>().ok())?.ok_or_else(|| {
            ConfigError::Missing { var: "AZURE_TENANT_ID", expected: format!("{guid}: the directory id") }
        })?;
        let client_id = vars.parse("AZURE_CLIENT_ID", guid, |v| v.parse::<ClientId>().ok())?.ok_or_else(|| {
            ConfigError::Missing { var: "AZURE_CLIENT_ID", expected: format!("{guid}: the application id") }
        })?;

        let local_mode = vars
            .parse("DEFENDER_LOCAL_MODE", "1 or 0", |v| match v {
                "1" | "true" => Some(true),
                "0" | "false" => Some(false),
                _ => None,
            })?
            .unwrap_or(false);

        let cloud = vars
            .parse("DEFENDER_CLOUD", "one of commercial, gcc, gcc-high, dod", |v| v.parse::<Cloud>().ok())?
            .unwrap_or_default();
        let region =
            vars.parse("DEFENDER_REGION", "one of us, eu, uk, au, swa, ina, aea", |v| v.parse::<Region>().ok())?;
        if let (Some(r), false) = (region, cloud == Cloud::Commercial) {
            return Err(conflict(
                "DEFENDER_REGION",
                "DEFENDER_CLOUD",
                &format!(
                    "regional hosts exist in the commercial cloud only, not in {cloud} (unset DEFENDER_REGION={r})"
                ),
            ));
        }

        let authority_host = vars.https("AZURE_AUTHORITY_HOST")?;
        let api_overrides = ApiOverrides {
            mde: override_var(&vars, "MDE_API_URL", ApiFamily::Mde)?,
            xdr: override_var(&vars, "XDR_API_URL", ApiFamily::Xdr)?,
            graph: override_var(&vars, "GRAPH_API_URL", ApiFamily::Graph)?,
        };

        if local_mode && vars.get("AWS_LAMBDA_FUNCTION_NAME").is_some() {
            lambda_local_mode_is_loopback_only(&vars, authority_host.as_ref(), &api_overrides)?;
        }

        let credential = credential(&vars)?;

        let tenants_source = match (vars.get("DEFENDER_TENANTS_FILE"), vars.secret_name("DEFENDER_TENANTS_SECRET")?) {
            (Some(_), Some(_)) => {
                return Err(conflict(
                    "DEFENDER_TENANTS_FILE",
                    "DEFENDER_TENANTS_SECRET",
                    "the tenant registry comes from a file or from a vault secret, not both",
                ));
            }
            (Some(f), None) => Some(TenantsSource::File(PathBuf::from(f))),
            (None, Some(s)) => Some(TenantsSource::Secret(s)),
            (None, None) => None,
        };

        let store = store(&vars, cloud, local_mode)?;
        let needs_store = match (&credential, &tenants_source) {
            (_, Some(TenantsSource::Secret(_))) => Some("DEFENDER_TENANTS_SECRET"),
            (CredentialSpec::ClientSecret { .. }, _) => {
                Some("the client secret (DEFENDER_CLIENT_SECRET_NAME, default defender-client-secret)")
            }
            (CredentialSpec::Certificate { .. }, _) => Some("DEFENDER_CLIENT_CERTIFICATE_NAME"),
            _ => None,
        };
        if let (Some(who), None) = (needs_store, &store) {
            return Err(ConfigError::Missing {
                var: "KEY_VAULT_URL",
                expected: format!(
                    "the vault URL (https://<name>.{}) because {who} is read from the secret store; or DEFENDER_STORE=file:<path>",
                    cloud.key_vault_suffix()
                ),
            });
        }

        let extra_ca_file = vars.get("DEFENDER_EXTRA_CA_FILE").map(PathBuf::from);
        if extra_ca_file.is_some() && !local_mode {
            return Err(ConfigError::LocalOnly {
                var: "DEFENDER_EXTRA_CA_FILE",
                why: "trusting an extra CA is for the simulated tenant",
            });
        }

        let secret_ttl = vars
            .parse("DEFENDER_SECRET_TTL_SECONDS", "a whole number of seconds from 0 to 86400", |v| {
                v.parse::<u64>().ok().filter(|n| *n <= MAX_SECRET_TTL_SECONDS)
            })?
            .map_or(DEFAULT_SECRET_TTL, Duration::from_secs);

        let allowed_actions = vars
            .parse(
                "DEFENDER_ALLOWED_ACTIONS",
                "a comma-separated list of isolate, unisolate, scan, restrict, unrestrict, collect (or none)",
                |v| {
                    if v.eq_ignore_ascii_case("none") {
                        return Some(Vec::new());
                    }
                    let mut list = v.split(',').map(|a| a.parse::<Action>().ok()).collect::<Option<Vec<_>>>()?;
                    list.sort();
                    list.dedup();
                    Some(list)
                },
            )?
            // Fail closed: no machine action unless the deployment names it (the template's default
            // is none too).
            .unwrap_or_default();

        let identity = vars
            .parse("DEFENDER_IDENTITY", "reader or responder", |v| match v {
                "reader" => Some(Identity::Reader),
                "responder" => Some(Identity::Responder),
                _ => None,
            })?
            // The lesser one: a function not told otherwise never picks up a responder credential.
            .unwrap_or(Identity::Reader);

        let default_name = "default".parse::<TenantName>().map_err(|e| ConfigError::Invalid {
            var: "DEFENDER_TENANTS_FILE",
            expected: "a valid built-in tenant name".into(),
            got: e.to_string(),
        })?;

        Ok(Config {
            tenant_id,
            client_id,
            credential,
            cloud,
            region,
            authority_host,
            api_overrides,
            store,
            tenants_source,
            extra_ca_file,
            local_mode,
            secret_ttl,
            allowed_actions,
            identity,
            default_name,
        })
    }

    /// The authority to sign in at for the operator's own tenant: `AZURE_AUTHORITY_HOST`, or the cloud's.
    ///
    /// # Errors
    /// Only if the cloud table is broken (its tests parse every cell).
    pub fn authority(&self) -> Result<Url, cloud::CloudError> {
        match &self.authority_host {
            Some(a) => Ok(a.clone()),
            None => self.cloud.authority(),
        }
    }

    /// The Key Vault URL, when the store is Key Vault.
    pub fn key_vault_url(&self) -> Option<&Url> {
        match &self.store {
            Some(StoreConfig::KeyVault { url }) => Some(url),
            _ => None,
        }
    }
}

fn override_var<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
    var: &'static str,
    api: ApiFamily,
) -> Result<Option<Url>, ConfigError> {
    match vars.get(var) {
        None => Ok(None),
        Some(v) => tenant_spec::parse_override(api, &v).map(Some).map_err(|e| invalid(var, e, &v)),
    }
}

/// What an AWS Secrets Manager secret ARN looks like (`arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`).
const SECRET_ARN_RULE: &str =
    "an AWS Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)";

fn is_secret_arn(v: &str) -> bool {
    let parts: Vec<&str> = v.splitn(7, ':').collect();
    matches!(parts[..], ["arn", partition, "secretsmanager", region, account, "secret", name]
        if partition.starts_with("aws") && !region.is_empty() && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty())
}

/// The ways to give the client secret: inline, a vault secret's name, an AWS Secrets Manager ARN.
const CLIENT_SECRET_VARS: [&str; 3] =
    ["AZURE_CLIENT_SECRET", "DEFENDER_CLIENT_SECRET_NAME", "DEFENDER_CLIENT_SECRET_ARN"];
/// The ways to give the certificate: a file, a vault secret's name, an AWS Secrets Manager ARN.
const CERTIFICATE_VARS: [&str; 3] =
    ["AZURE_CLIENT_CERTIFICATE_PATH", "DEFENDER_CLIENT_CERTIFICATE_NAME", "DEFENDER_CLIENT_CERTIFICATE_ARN"];

/// Exactly one credential: client secret (inline, vault name or AWS Secrets Manager ARN), certificate
/// (file, vault name or AWS Secrets Manager ARN), or federated (token file or AWS STS). Nothing set:
/// the vault secret `defender-client-secret`.
fn credential<F: Fn(&str) -> Option<String>>(vars: &Vars<F>) -> Result<CredentialSpec, ConfigError> {
    let inline = vars.get("AZURE_CLIENT_SECRET");
    let secret_name = vars.secret_name("DEFENDER_CLIENT_SECRET_NAME")?;
    let secret_arn =
        vars.parse("DEFENDER_CLIENT_SECRET_ARN", SECRET_ARN_RULE, |v| is_secret_arn(v).then(|| v.to_string()))?;
    let cert_path = vars.get("AZURE_CLIENT_CERTIFICATE_PATH");
    let cert_name = vars.secret_name("DEFENDER_CLIENT_CERTIFICATE_NAME")?;
    let cert_arn =
        vars.parse("DEFENDER_CLIENT_CERTIFICATE_ARN", SECRET_ARN_RULE, |v| is_secret_arn(v).then(|| v.to_string()))?;
    let token_file = vars.get("AZURE_FEDERATED_TOKEN_FILE");
    let source = vars.parse("DEFENDER_FEDERATED_SOURCE", "file or aws-sts", |v| match v {
        "file" => Some(false),
        "aws-sts" => Some(true),
        _ => None,
    })?;

    let secret_var = at_most_one(
        CLIENT_SECRET_VARS,
        [inline.is_some(), secret_name.is_some(), secret_arn.is_some()],
        "give the client secret one way: inline, in the vault or in AWS Secrets Manager",
    )?;
    let cert_var = at_most_one(
        CERTIFICATE_VARS,
        [cert_path.is_some(), cert_name.is_some(), cert_arn.is_some()],
        "give the certificate one way: a file, in the vault or in AWS Secrets Manager",
    )?;
    if token_file.is_some() && source == Some(true) {
        return Err(conflict(
            "AZURE_FEDERATED_TOKEN_FILE",
            "DEFENDER_FEDERATED_SOURCE",
            "DEFENDER_FEDERATED_SOURCE=aws-sts takes no token file (use file, or unset the token file)",
        ));
    }

    let fed_var =
        token_file.as_ref().map(|_| "AZURE_FEDERATED_TOKEN_FILE").or(source.map(|_| "DEFENDER_FEDERATED_SOURCE"));
    let set: Vec<&'static str> = [secret_var, cert_var, fed_var].into_iter().flatten().collect();
    if let [a, b, ..] = set[..] {
        return Err(conflict(a, b, "choose one credential: a client secret, a certificate or a federated assertion"));
    }

    Ok(if let Some(v) = inline {
        CredentialSpec::ClientSecretValue(SecretString::new(v))
    } else if let Some(secret_name) = secret_name {
        CredentialSpec::ClientSecret { secret_name }
    } else if let Some(arn) = secret_arn {
        CredentialSpec::AwsSecret { arn, kind: AwsSecretKind::ClientSecret }
    } else if let Some(arn) = cert_arn {
        CredentialSpec::AwsSecret { arn, kind: AwsSecretKind::Certificate }
    } else if let Some(path) = cert_path {
        CredentialSpec::CertificateFile { path: PathBuf::from(path) }
    } else if let Some(secret_name) = cert_name {
        CredentialSpec::Certificate { secret_name }
    } else if source == Some(true) {
        CredentialSpec::Federated(FederatedSource::AwsSts)
    } else if let Some(f) = token_file {
        CredentialSpec::Federated(FederatedSource::File { token_file: PathBuf::from(f) })
    } else if source == Some(false) {
        return Err(ConfigError::Missing {
            var: "AZURE_FEDERATED_TOKEN_FILE",
            expected: "the path of the federated token file, because DEFENDER_FEDERATED_SOURCE=file".into(),
        });
    } else {
        CredentialSpec::ClientSecret { secret_name: DEFAULT_CLIENT_SECRET_NAME.to_string() }
    })
}

/// The first of the variables that is set, or a conflict naming the first two when more are (`why`
/// says what to do).
fn at_most_one(vars: [&'static str; 3], set: [bool; 3], why: &str) -> Result<Option<&'static str>, ConfigError> {
    let set: Vec<&'static str> = vars.into_iter().zip(set).filter(|(_, on)| *on).map(|(var, _)| var).collect();
    match set[..] {
        [a, b, ..] => Err(conflict(a, b, why)),
        _ => Ok(set.first().copied()),
    }
}

/// `true` for `localhost` and loopback addresses.
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Local mode trusts an extra CA for every host and relaxes the vault's cloud check. Under Lambda
/// (`AWS_LAMBDA_FUNCTION_NAME` set: deployed, or the local emulator) it is refused unless every
/// endpoint is a loopback one — an unset endpoint means Microsoft's real host, which must never be
/// reached with the simulator's CA trusted.
fn lambda_local_mode_is_loopback_only<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
    authority: Option<&Url>,
    apis: &ApiOverrides,
) -> Result<(), ConfigError> {
    let vault = vars.https("KEY_VAULT_URL")?;
    let endpoints: [(&'static str, Option<&Url>, bool); 5] = [
        ("AZURE_AUTHORITY_HOST", authority, true),
        ("MDE_API_URL", apis.mde.as_ref(), true),
        ("XDR_API_URL", apis.xdr.as_ref(), true),
        ("GRAPH_API_URL", apis.graph.as_ref(), true),
        ("KEY_VAULT_URL", vault.as_ref(), false),
    ];
    for (var, url, required) in endpoints {
        let why = match url {
            Some(u) if is_loopback(u) => continue,
            Some(u) => format!("{var} is {}, not a loopback host", u.host_str().unwrap_or_default()),
            None if required => format!("{var} is unset, so Microsoft's real host would be used"),
            None => continue,
        };
        return Err(conflict(
            "DEFENDER_LOCAL_MODE",
            "AWS_LAMBDA_FUNCTION_NAME",
            &format!(
                "local mode trusts an extra CA for every host and is refused in a Lambda function unless every endpoint is loopback ({why})"
            ),
        ));
    }
    Ok(())
}

fn store<F: Fn(&str) -> Option<String>>(
    vars: &Vars<F>,
    cloud: Cloud,
    local_mode: bool,
) -> Result<Option<StoreConfig>, ConfigError> {
    let suffix = cloud.key_vault_suffix();
    let vault = match vars.https("KEY_VAULT_URL")? {
        None => None,
        Some(url) => {
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            // Outside local mode the vault must be in the configured cloud: a token from that cloud's
            // authority is only good for its own vaults.
            if !local_mode && !host.ends_with(&format!(".{suffix}")) {
                return Err(invalid(
                    "KEY_VAULT_URL",
                    &format!("a vault in the {cloud} cloud (https://<name>.{suffix})"),
                    url.as_str(),
                ));
            }
            if url.path() != "/" {
                return Err(invalid("KEY_VAULT_URL", "the vault's root URL, without a path", url.as_str()));
            }
            Some(url)
        }
    };
    match vars.get("DEFENDER_STORE") {
        None => Ok(vault.map(|url| StoreConfig::KeyVault { url })),
        Some(s) if s == "keyvault" => match vault {
            Some(url) => Ok(Some(StoreConfig::KeyVault { url })),
            None => Err(ConfigError::Missing {
                var: "KEY_VAULT_URL",
                expected: format!("the vault URL (https://<name>.{suffix}) because DEFENDER_STORE=keyvault"),
            }),
        },
        Some(s) => match s.strip_prefix("file:").map(str::trim).filter(|p| !p.is_empty()) {
            Some(_) if vault.is_some() => {
                Err(conflict("DEFENDER_STORE", "KEY_VAULT_URL", "a file store uses no vault (unset one of them)"))
            }
            Some(path) => Ok(Some(StoreConfig::File { path: PathBuf::from(path) })),
            None => Err(invalid("DEFENDER_STORE", "keyvault or file:<path>", &s)),
        },
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const TENANT: &str = "4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f";
    pub(crate) const CLIENT: &str = "11111111-1111-4111-8111-111111111111";
    pub(crate) const VAULT: &str = "https://contoso-kv.vault.azure.net";

    /// The smallest valid environment: ids and a vault for the default secret.
    pub(crate) fn base_env() -> Vec<(&'static str, &'static str)> {
        vec![("AZURE_TENANT_ID", TENANT), ("AZURE_CLIENT_ID", CLIENT), ("KEY_VAULT_URL", VAULT)]
    }

    pub(crate) fn config_from(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|k| env.iter().rev().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
    }

    fn with(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut env = base_env();
        env.extend_from_slice(extra);
        config_from(&env)
    }

    fn without(drop: &str, extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut env: Vec<_> = base_env().into_iter().filter(|(k, _)| *k != drop).collect();
        env.extend_from_slice(extra);
        config_from(&env)
    }

    type Env = &'static [(&'static str, &'static str)];

    fn err(extra: &[(&'static str, &'static str)]) -> String {
        with(extra).unwrap_err().to_string()
    }

    /// `var=value` is refused with exactly `var: expected {expected}, got '{value}'`.
    fn refused(var: &'static str, value: &'static str, expected: &str) {
        assert_eq!(err(&[(var, value)]), format!("{var}: expected {expected}, got '{value}'"));
    }

    #[test]
    fn minimal_environment_defaults() {
        let c = config_from(&base_env()).unwrap();
        assert_eq!(c.tenant_id.as_str(), TENANT);
        assert_eq!(c.client_id.as_str(), CLIENT);
        assert_eq!(c.credential, CredentialSpec::ClientSecret { secret_name: "defender-client-secret".into() });
        assert_eq!(c.cloud, Cloud::Commercial);
        assert_eq!(c.region, None);
        assert_eq!(c.authority_host, None);
        assert_eq!(c.authority().unwrap().as_str(), "https://login.microsoftonline.com/");
        assert_eq!(c.api_overrides, ApiOverrides::default());
        assert_eq!(c.key_vault_url().map(Url::as_str), Some("https://contoso-kv.vault.azure.net/"));
        assert_eq!(c.tenants_source, None);
        assert_eq!(c.extra_ca_file, None);
        assert!(!c.local_mode);
        assert_eq!(c.secret_ttl, Duration::from_secs(300));
        assert!(c.allowed_actions.is_empty(), "no machine action unless named: {:?}", c.allowed_actions);
    }

    #[test]
    fn local_mode_under_lambda_needs_every_endpoint_on_loopback() {
        let sim = "https://127.0.0.1:8443";
        let local = [
            ("AWS_LAMBDA_FUNCTION_NAME", "defender-webhook-enrich"),
            ("DEFENDER_LOCAL_MODE", "1"),
            ("KEY_VAULT_URL", sim),
            ("AZURE_AUTHORITY_HOST", sim),
            ("MDE_API_URL", sim),
            ("XDR_API_URL", "https://localhost:8443"),
            ("GRAPH_API_URL", "https://[::1]:8443"),
        ];
        assert!(with(&local).unwrap().local_mode, "the emulator's loopback simulator is fine");
        // A deployed function with local mode left on: refused whether an endpoint is a real host or
        // unset (then Microsoft's real host would be reached with the extra CA trusted).
        for (var, value) in [
            ("MDE_API_URL", Some("https://api.securitycenter.microsoft.com")),
            ("AZURE_AUTHORITY_HOST", None),
            ("KEY_VAULT_URL", Some("https://contoso-kv.vault.azure.net")),
            ("GRAPH_API_URL", Some("https://127.0.0.1.evil.example")),
        ] {
            let env: Vec<(&str, &str)> =
                local.iter().filter(|(k, _)| *k != var).copied().chain(value.map(|v| (var, v))).collect();
            let e = err(&env);
            assert!(e.starts_with("DEFENDER_LOCAL_MODE and AWS_LAMBDA_FUNCTION_NAME are both set"), "{var}: {e}");
            assert!(e.contains(var), "{e}");
        }
        // Outside Lambda (make run, tests) local mode is unchanged.
        let outside: Vec<(&str, &str)> =
            local.iter().filter(|(k, _)| *k != "AWS_LAMBDA_FUNCTION_NAME" && *k != "MDE_API_URL").copied().collect();
        assert!(with(&outside).unwrap().local_mode);
    }

    #[test]
    fn blank_counts_as_unset() {
        let c = with(&[("DEFENDER_CLOUD", ""), ("MDE_API_URL", "  "), ("DEFENDER_REGION", "")]).unwrap();
        assert_eq!(c.cloud, Cloud::Commercial);
        assert_eq!(c.api_overrides.mde, None);
    }

    #[test]
    fn ids_happy_path_and_errors() {
        assert_eq!(
            without("AZURE_TENANT_ID", &[]).unwrap_err().to_string(),
            "AZURE_TENANT_ID: required: expected a GUID (00000000-0000-0000-0000-000000000000): the directory id"
        );
        refused("AZURE_TENANT_ID", "x", "a GUID (00000000-0000-0000-0000-000000000000)");
        assert_eq!(
            without("AZURE_CLIENT_ID", &[]).unwrap_err().to_string(),
            "AZURE_CLIENT_ID: required: expected a GUID (00000000-0000-0000-0000-000000000000): the application id"
        );
        refused("AZURE_CLIENT_ID", "1111", "a GUID (00000000-0000-0000-0000-000000000000)");
        let c = with(&[("AZURE_TENANT_ID", "4A6F2E1C-8D3B-4C7A-9E5F-2B1D0C9A8E7F")]).unwrap();
        assert_eq!(c.tenant_id.as_str(), TENANT, "lower-cased");
    }

    #[test]
    fn each_credential_happy_path() {
        let c = without("KEY_VAULT_URL", &[("AZURE_CLIENT_SECRET", "s3cr3t-value")]).unwrap();
        assert_eq!(c.credential, CredentialSpec::ClientSecretValue(SecretString::new("s3cr3t-value")));
        assert_eq!(c.store, None, "an inline secret needs no store");
        assert!(!format!("{c:?}").contains("s3cr3t-value"), "Debug never shows the secret");

        let c = with(&[("DEFENDER_CLIENT_SECRET_NAME", "my-app-secret")]).unwrap();
        assert_eq!(c.credential, CredentialSpec::ClientSecret { secret_name: "my-app-secret".into() });

        let c = without("KEY_VAULT_URL", &[("AZURE_CLIENT_CERTIFICATE_PATH", "/etc/defender/app.pem")]).unwrap();
        assert_eq!(c.credential, CredentialSpec::CertificateFile { path: "/etc/defender/app.pem".into() });

        let c = with(&[("DEFENDER_CLIENT_CERTIFICATE_NAME", "app-cert")]).unwrap();
        assert_eq!(c.credential, CredentialSpec::Certificate { secret_name: "app-cert".into() });

        let c = without("KEY_VAULT_URL", &[("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token")]).unwrap();
        assert_eq!(
            c.credential,
            CredentialSpec::Federated(FederatedSource::File { token_file: "/var/run/token".into() })
        );
        let c = without(
            "KEY_VAULT_URL",
            &[("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token"), ("DEFENDER_FEDERATED_SOURCE", "file")],
        )
        .unwrap();
        assert_eq!(
            c.credential,
            CredentialSpec::Federated(FederatedSource::File { token_file: "/var/run/token".into() })
        );

        let c = without("KEY_VAULT_URL", &[("DEFENDER_FEDERATED_SOURCE", "aws-sts")]).unwrap();
        assert_eq!(c.credential, CredentialSpec::Federated(FederatedSource::AwsSts));
    }

    #[test]
    fn aws_secrets_manager_bootstrap_credentials() {
        const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:defender/entra-credential-AbC123";
        let c = with(&[("DEFENDER_CLIENT_SECRET_ARN", ARN)]).unwrap();
        assert_eq!(c.credential, CredentialSpec::AwsSecret { arn: ARN.into(), kind: AwsSecretKind::ClientSecret });
        assert_eq!(c.credential.store_secret(), None, "it opens the vault without living in it");
        let c = with(&[("DEFENDER_CLIENT_CERTIFICATE_ARN", ARN)]).unwrap();
        assert_eq!(c.credential, CredentialSpec::AwsSecret { arn: ARN.into(), kind: AwsSecretKind::Certificate });
        // Blank, as the template passes it in the other modes: unset.
        let c = with(&[("DEFENDER_CLIENT_SECRET_ARN", ""), ("DEFENDER_FEDERATED_SOURCE", "aws-sts")]).unwrap();
        assert_eq!(c.credential, CredentialSpec::Federated(FederatedSource::AwsSts));
        assert_eq!(
            err(&[("DEFENDER_CLIENT_SECRET_ARN", "defender/entra-credential")]),
            format!("DEFENDER_CLIENT_SECRET_ARN: expected {SECRET_ARN_RULE}, got 'defender/entra-credential'")
        );
        assert!(
            err(&[("DEFENDER_CLIENT_CERTIFICATE_ARN", "arn:aws:s3:::bucket")])
                .starts_with("DEFENDER_CLIENT_CERTIFICATE_ARN: expected")
        );
        assert_eq!(
            err(&[("DEFENDER_CLIENT_SECRET_ARN", ARN), ("DEFENDER_CLIENT_SECRET_NAME", "x")]),
            "DEFENDER_CLIENT_SECRET_NAME and DEFENDER_CLIENT_SECRET_ARN are both set: give the client secret one way: inline, in the vault or in AWS Secrets Manager"
        );
        assert_eq!(
            err(&[("DEFENDER_CLIENT_CERTIFICATE_ARN", ARN), ("DEFENDER_FEDERATED_SOURCE", "aws-sts")]),
            "DEFENDER_CLIENT_CERTIFICATE_ARN and DEFENDER_FEDERATED_SOURCE are both set: choose one credential: a client secret, a certificate or a federated assertion"
        );
    }

    #[test]
    fn credential_errors() {
        refused("DEFENDER_CLIENT_SECRET_NAME", "bad_name", "a Key Vault secret name (1-127 letters, digits and '-')");
        refused("DEFENDER_CLIENT_CERTIFICATE_NAME", "a/b", "a Key Vault secret name (1-127 letters, digits and '-')");
        refused("DEFENDER_FEDERATED_SOURCE", "oidc", "file or aws-sts");
        assert_eq!(
            err(&[("DEFENDER_FEDERATED_SOURCE", "file")]),
            "AZURE_FEDERATED_TOKEN_FILE: required: expected the path of the federated token file, because DEFENDER_FEDERATED_SOURCE=file"
        );
        assert_eq!(
            without("KEY_VAULT_URL", &[]).unwrap_err().to_string(),
            "KEY_VAULT_URL: required: expected the vault URL (https://<name>.vault.azure.net) because the client secret \
             (DEFENDER_CLIENT_SECRET_NAME, default defender-client-secret) is read from the secret store; or DEFENDER_STORE=file:<path>"
        );
        assert!(
            without("KEY_VAULT_URL", &[("DEFENDER_CLIENT_CERTIFICATE_NAME", "c")])
                .unwrap_err()
                .to_string()
                .contains("because DEFENDER_CLIENT_CERTIFICATE_NAME is read from the secret store")
        );
    }

    #[test]
    fn conflicting_credentials_name_both() {
        // Each pair, in the order the conflict names them.
        let cases: [Env; 8] = [
            &[("AZURE_CLIENT_SECRET", "v"), ("DEFENDER_CLIENT_SECRET_NAME", "n")],
            &[("AZURE_CLIENT_CERTIFICATE_PATH", "/p"), ("DEFENDER_CLIENT_CERTIFICATE_NAME", "n")],
            &[("AZURE_FEDERATED_TOKEN_FILE", "/t"), ("DEFENDER_FEDERATED_SOURCE", "aws-sts")],
            &[("AZURE_CLIENT_SECRET", "v"), ("AZURE_CLIENT_CERTIFICATE_PATH", "/p")],
            &[("DEFENDER_CLIENT_SECRET_NAME", "n"), ("DEFENDER_CLIENT_CERTIFICATE_NAME", "c")],
            &[("AZURE_CLIENT_SECRET", "v"), ("AZURE_FEDERATED_TOKEN_FILE", "/t")],
            &[("DEFENDER_CLIENT_CERTIFICATE_NAME", "c"), ("DEFENDER_FEDERATED_SOURCE", "aws-sts")],
            &[("AZURE_CLIENT_CERTIFICATE_PATH", "/p"), ("AZURE_FEDERATED_TOKEN_FILE", "/t")],
        ];
        for extra in cases {
            let (a, b) = (extra[0].0, extra[1].0);
            match with(extra).unwrap_err() {
                ConfigError::Conflict { a: x, b: y, why } => {
                    assert_eq!((x, y), (a, b), "{extra:?}");
                    let msg = ConfigError::Conflict { a: x, b: y, why }.to_string();
                    assert!(msg.starts_with(&format!("{a} and {b} are both set: ")), "{msg}");
                    assert!(!msg.contains("v\""), "never echoes the secret: {msg}");
                }
                other => panic!("{extra:?}: {other}"),
            }
        }
    }

    #[test]
    fn cloud_and_region() {
        let c =
            with(&[("DEFENDER_CLOUD", "gcc-high"), ("KEY_VAULT_URL", "https://kv.vault.usgovcloudapi.net")]).unwrap();
        assert_eq!(c.cloud, Cloud::GccHigh);
        assert_eq!(c.authority().unwrap().as_str(), "https://login.microsoftonline.us/");
        refused("DEFENDER_CLOUD", "usgov", "one of commercial, gcc, gcc-high, dod");
        assert_eq!(with(&[("DEFENDER_REGION", "EU")]).unwrap().region, Some(Region::Eu));
        refused("DEFENDER_REGION", "mars", "one of us, eu, uk, au, swa, ina, aea");
        assert_eq!(
            err(&[
                ("DEFENDER_CLOUD", "dod"),
                ("DEFENDER_REGION", "us"),
                ("KEY_VAULT_URL", "https://kv.vault.usgovcloudapi.net")
            ]),
            "DEFENDER_REGION and DEFENDER_CLOUD are both set: regional hosts exist in the commercial cloud only, not in dod (unset DEFENDER_REGION=us)"
        );
    }

    #[test]
    fn authority_host_https_only() {
        let c = with(&[("AZURE_AUTHORITY_HOST", "https://127.0.0.1:8443")]).unwrap();
        assert_eq!(c.authority().unwrap().as_str(), "https://127.0.0.1:8443/");
        refused(
            "AZURE_AUTHORITY_HOST",
            "http://127.0.0.1:8443",
            "an https URL (http is refused, the simulator serves https too)",
        );
        refused("AZURE_AUTHORITY_HOST", "login", "an absolute https URL");
    }

    #[test]
    fn key_vault_url() {
        refused(
            "KEY_VAULT_URL",
            "http://contoso-kv.vault.azure.net",
            "an https URL (http is refused, the simulator serves https too)",
        );
        assert_eq!(
            err(&[("KEY_VAULT_URL", "https://127.0.0.1:8443")]),
            "KEY_VAULT_URL: expected a vault in the commercial cloud (https://<name>.vault.azure.net), got 'https://127.0.0.1:8443/'"
        );
        assert_eq!(
            err(&[("DEFENDER_CLOUD", "gcc-high")]),
            "KEY_VAULT_URL: expected a vault in the gcc-high cloud (https://<name>.vault.usgovcloudapi.net), got 'https://contoso-kv.vault.azure.net/'"
        );
        refused("KEY_VAULT_URL", "https://kv.vault.azure.net/secrets/x", "the vault's root URL, without a path");
        let c = with(&[("KEY_VAULT_URL", "https://127.0.0.1:8443"), ("DEFENDER_LOCAL_MODE", "1")]).unwrap();
        assert_eq!(c.key_vault_url().map(Url::as_str), Some("https://127.0.0.1:8443/"), "any https host in local mode");
        assert!(c.local_mode);
    }

    #[test]
    fn api_overrides() {
        let c = with(&[
            ("MDE_API_URL", "https://127.0.0.1:8443"),
            ("XDR_API_URL", "https://127.0.0.1:8444/xdr"),
            ("GRAPH_API_URL", "https://127.0.0.1:8445"),
        ])
        .unwrap();
        assert_eq!(c.api_overrides.mde.as_ref().map(Url::as_str), Some("https://127.0.0.1:8443/"));
        assert_eq!(c.api_overrides.xdr.as_ref().map(Url::as_str), Some("https://127.0.0.1:8444/xdr"));
        assert_eq!(c.api_overrides.graph.as_ref().map(Url::as_str), Some("https://127.0.0.1:8445/"));
        refused("MDE_API_URL", "http://127.0.0.1:1", "an https URL (http is refused, the simulator serves https too)");
        refused("XDR_API_URL", "https://h.example/?x=1", "an https URL without a query or fragment");
        refused("GRAPH_API_URL", "https://127.0.0.1:8445/v1.0", "the Graph host root without /v1.0 (it is appended)");
    }

    #[test]
    fn tenants_source() {
        let c = with(&[("DEFENDER_TENANTS_FILE", "/etc/tenants.json")]).unwrap();
        assert_eq!(c.tenants_source, Some(TenantsSource::File("/etc/tenants.json".into())));
        let c = with(&[("DEFENDER_TENANTS_SECRET", "tenant-registry")]).unwrap();
        assert_eq!(c.tenants_source, Some(TenantsSource::Secret("tenant-registry".into())));
        assert_eq!(
            err(&[("DEFENDER_TENANTS_FILE", "/t.json"), ("DEFENDER_TENANTS_SECRET", "t")]),
            "DEFENDER_TENANTS_FILE and DEFENDER_TENANTS_SECRET are both set: the tenant registry comes from a file or from a vault secret, not both"
        );
        refused("DEFENDER_TENANTS_SECRET", "t.json", "a Key Vault secret name (1-127 letters, digits and '-')");
        assert!(
            without("KEY_VAULT_URL", &[("AZURE_CLIENT_SECRET", "v"), ("DEFENDER_TENANTS_SECRET", "t")])
                .unwrap_err()
                .to_string()
                .starts_with("KEY_VAULT_URL: required: expected the vault URL (https://<name>.vault.azure.net) because DEFENDER_TENANTS_SECRET")
        );
    }

    #[test]
    fn extra_ca_is_local_mode_only() {
        assert_eq!(
            err(&[("DEFENDER_EXTRA_CA_FILE", "/tmp/sim-ca.pem")]),
            "DEFENDER_EXTRA_CA_FILE: only allowed with DEFENDER_LOCAL_MODE=1 (trusting an extra CA is for the simulated tenant)"
        );
        let c = with(&[("DEFENDER_EXTRA_CA_FILE", "/tmp/sim-ca.pem"), ("DEFENDER_LOCAL_MODE", "1")]).unwrap();
        assert_eq!(c.extra_ca_file, Some("/tmp/sim-ca.pem".into()));
        assert!(!with(&[("DEFENDER_LOCAL_MODE", "0")]).unwrap().local_mode);
        refused("DEFENDER_LOCAL_MODE", "yes", "1 or 0");
    }

    #[test]
    fn secret_ttl() {
        assert_eq!(with(&[("DEFENDER_SECRET_TTL_SECONDS", "60")]).unwrap().secret_ttl, Duration::from_secs(60));
        assert_eq!(with(&[("DEFENDER_SECRET_TTL_SECONDS", "0")]).unwrap().secret_ttl, Duration::ZERO);
        for bad in ["-1", "5m", "86401"] {
            assert_eq!(
                err(&[("DEFENDER_SECRET_TTL_SECONDS", bad)]),
                format!("DEFENDER_SECRET_TTL_SECONDS: expected a whole number of seconds from 0 to 86400, got '{bad}'")
            );
        }
    }

    #[test]
    fn store_choice() {
        let c = without("KEY_VAULT_URL", &[("DEFENDER_STORE", "file:/tmp/secrets.json")]).unwrap();
        assert_eq!(c.store, Some(StoreConfig::File { path: "/tmp/secrets.json".into() }));
        assert_eq!(c.key_vault_url(), None);
        let c = with(&[("DEFENDER_STORE", "keyvault")]).unwrap();
        assert_eq!(c.store, Some(StoreConfig::KeyVault { url: Url::parse(VAULT).unwrap() }));
        assert_eq!(
            without("KEY_VAULT_URL", &[("DEFENDER_STORE", "keyvault"), ("AZURE_CLIENT_SECRET", "v")])
                .unwrap_err()
                .to_string(),
            "KEY_VAULT_URL: required: expected the vault URL (https://<name>.vault.azure.net) because DEFENDER_STORE=keyvault"
        );
        refused("DEFENDER_STORE", "s3", "keyvault or file:<path>");
        refused("DEFENDER_STORE", "file:", "keyvault or file:<path>");
        assert_eq!(
            err(&[("DEFENDER_STORE", "file:/tmp/s.json")]),
            "DEFENDER_STORE and KEY_VAULT_URL are both set: a file store uses no vault (unset one of them)"
        );
    }

    #[test]
    fn allowed_actions() {
        let c = with(&[("DEFENDER_ALLOWED_ACTIONS", "scan, isolate,scan")]).unwrap();
        assert_eq!(c.allowed_actions, vec![Action::Isolate, Action::Scan]);
        assert!(with(&[("DEFENDER_ALLOWED_ACTIONS", "none")]).unwrap().allowed_actions.is_empty());
        refused(
            "DEFENDER_ALLOWED_ACTIONS",
            "isolate,offboard",
            "a comma-separated list of isolate, unisolate, scan, restrict, unrestrict, collect (or none)",
        );
    }

    #[test]
    fn long_values_are_shortened_and_cleaned() {
        let long = format!("{}\n", "x".repeat(200));
        let env = [("AZURE_TENANT_ID", long.as_str()), ("AZURE_CLIENT_ID", CLIENT), ("KEY_VAULT_URL", VAULT)];
        match config_from(&env).unwrap_err() {
            ConfigError::Invalid { got, .. } => assert_eq!(got, format!("{}…", "x".repeat(80))),
            other => panic!("{other}"),
        }
    }
}
