//! Cold-start wiring: [`Config`] → one HTTP client, the secret store, the tenant registry, the token
//! provider and the Defender client. A function's `main` calls [`Runtime::from_config`] once and keeps
//! the result in its `Arc<State>`; a missing or wrong setting fails the init phase with a message
//! naming it.
//!
//! # Who opens the vault
//! Key Vault is reached with the *environment's* credential (`DEFENDER_FEDERATED_SOURCE=aws-sts` /
//! `AZURE_FEDERATED_TOKEN_FILE`, `DEFENDER_CLIENT_SECRET_ARN` / `DEFENDER_CLIENT_CERTIFICATE_ARN` in
//! AWS Secrets Manager, `AZURE_CLIENT_CERTIFICATE_PATH`, or `AZURE_CLIENT_SECRET`), which must
//! therefore not itself live in the vault; per-tenant credentials from the registry may. An AWS
//! Secrets Manager credential is read once here, at cold start, with the function's own IAM role
//! (cargo feature `aws-secrets-manager`); it is held as a [`SecretString`] and never logged.
//! The vault's tokens come from the same [`TokenProvider`] (through its `azure_core` adapter), so there
//! is one token cache and one error type.
//!
//! # The cold-start critical path
//! Building the runtime sends nothing. [`Runtime::warm_up`] then asks, all at once, for everything a
//! first request will wait on: the vault's token, the secrets it names, and a token for each (tenant,
//! API family) the function calls. The token cache and the secret cache are single-flight, so a request
//! that arrives while one of those is in flight waits for that one instead of asking again. Started
//! beside the runtime's first poll, it turns a chain of sequential round trips (vault challenge → token →
//! secret → Defender token → …) into one wave: `docs/operations.md` ("Cold start: round trips") has
//! the sequence per credential mode.

use crate::{
    auth::{AssertionSource, AuthError, CredentialKind, Material, ProviderCredential, TenantCredential, TokenProvider},
    cloud::ApiFamily,
    config::{Config, StoreConfig},
    defender::DefenderClient,
    http::{self, HttpError},
    ids::TenantName,
    secret::SecretString,
    tenants::{AwsSecretKind, CredentialSpec, FederatedSource, TenantConfig, TenantRegistry, TenantsError},
    vault::{CachedStore, FileStore, KeyVaultStore, SecretStore, VaultError},
};
use std::sync::Arc;

/// The name under which the environment's own credential is registered with the token provider.
pub const BOOTSTRAP: &str = "bootstrap";

/// Why the runtime could not be built.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A file the configuration names cannot be read.
    #[error("cannot read {what} at {path}")]
    File {
        /// What the file is for.
        what: &'static str,
        /// Its path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Http(#[from] HttpError),
    /// The secret store could not be opened.
    #[error("cannot open the secret store")]
    Vault(#[from] VaultError),
    /// The tenant registry is invalid.
    #[error("invalid tenant registry")]
    Tenants(#[from] TenantsError),
    /// The token provider refused a credential.
    #[error("invalid credential configuration")]
    Auth(#[from] Box<AuthError>),
    /// The bootstrap credential could not be read from AWS Secrets Manager.
    #[error("cannot read the Entra credential from AWS Secrets Manager secret {arn}: {reason}")]
    AwsSecret {
        /// The secret's ARN (a name, not the value).
        arn: String,
        /// Why (the service's error; never the value).
        reason: String,
    },
    /// The configuration cannot work as given.
    #[error("{0}")]
    Unsupported(String),
}

/// Everything a function needs to talk to Microsoft.
pub struct Runtime {
    /// The configuration it was built from.
    pub config: Config,
    /// The one HTTP client.
    pub http: reqwest::Client,
    /// Secrets (cached with the configured TTL).
    pub store: Arc<dyn SecretStore>,
    /// The tenants.
    pub registry: Arc<TenantRegistry>,
    /// Tokens for every tenant (and for the vault).
    pub tokens: Arc<TokenProvider>,
    /// The Defender client.
    pub defender: Arc<DefenderClient<TokenProvider>>,
    /// The vault's token: the environment's own provider and the scope Key Vault's challenge names.
    vault_token: Option<(Arc<TokenProvider>, TenantName, String)>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tenants: Vec<&str> = self.registry.iter().map(|t| t.name.as_str()).collect();
        f.debug_struct("Runtime").field("tenants", &tenants).finish_non_exhaustive()
    }
}

/// A store with nothing in it: the bootstrap provider's material never comes from a store.
struct NoStore;

impl SecretStore for NoStore {
    fn get<'a>(&'a self, name: &'a str) -> futures::future::BoxFuture<'a, Result<SecretString, VaultError>> {
        Box::pin(async move { Err(VaultError::NotFound(name.to_string())) })
    }
    fn get_fresh<'a>(&'a self, name: &'a str) -> futures::future::BoxFuture<'a, Result<SecretString, VaultError>> {
        self.get(name)
    }
    fn set<'a>(
        &'a self,
        name: &'a str,
        _value: &'a SecretString,
    ) -> futures::future::BoxFuture<'a, Result<(), VaultError>> {
        Box::pin(async move { Err(VaultError::Store(format!("no store configured to write '{name}'"))) })
    }
}

fn read(what: &'static str, path: &std::path::Path) -> Result<String, InitError> {
    std::fs::read_to_string(path).map_err(|source| InitError::File { what, path: path.display().to_string(), source })
}

/// An STS client when the build has the `aws-sts` feature (the function's own IAM role signs the
/// web identity token: no Azure secret is stored anywhere).
#[cfg(feature = "aws-sts")]
type Sts = aws_sdk_sts::Client;
/// Without the `aws-sts` feature there is no STS client.
#[cfg(not(feature = "aws-sts"))]
type Sts = std::convert::Infallible;

#[cfg(feature = "aws-sts")]
async fn sts_client(needed: bool) -> Option<Sts> {
    if !needed {
        return None;
    }
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    Some(aws_sdk_sts::Client::new(&conf))
}

#[cfg(not(feature = "aws-sts"))]
async fn sts_client(_needed: bool) -> Option<Sts> {
    None
}

#[cfg(feature = "aws-sts")]
fn sts_source(client: &Sts) -> CredentialKind {
    CredentialKind::Federated(AssertionSource::AwsSts(crate::auth::assertion::AwsSts::for_entra(client.clone())))
}

#[cfg(not(feature = "aws-sts"))]
fn sts_source(client: &Sts) -> CredentialKind {
    match *client {}
}

/// Reads the bootstrap credential from AWS Secrets Manager with the environment's AWS credentials
/// (`AWS_ENDPOINT_URL_SECRETS_MANAGER` is honoured, as every `AWS_ENDPOINT_URL_*`).
#[cfg(feature = "aws-secrets-manager")]
async fn aws_secret(arn: &str) -> Result<SecretString, InitError> {
    let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_secretsmanager::Client::new(&conf);
    let failed = |reason: String| InitError::AwsSecret { arn: arn.to_string(), reason };
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| failed(aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string()))?;
    match out.secret_string {
        Some(value) if !value.trim().is_empty() => Ok(SecretString::new(value.trim())),
        Some(_) => Err(failed("the secret's value is empty".into())),
        None => Err(failed("the secret has no SecretString (binary secrets are not read)".into())),
    }
}

#[cfg(not(feature = "aws-secrets-manager"))]
async fn aws_secret(arn: &str) -> Result<SecretString, InitError> {
    Err(InitError::Unsupported(format!(
        "the credential is in AWS Secrets Manager ({arn}), which needs the `aws-secrets-manager` build feature of defender-shared"
    )))
}

/// How the token provider should authenticate a tenant described by the registry. `aws_material` is
/// the environment's AWS Secrets Manager credential, read once at cold start.
fn credential_kind(
    spec: &CredentialSpec,
    sts: Option<&Sts>,
    aws_material: Option<&SecretString>,
) -> Result<CredentialKind, InitError> {
    Ok(match spec {
        CredentialSpec::ClientSecret { secret_name } => {
            CredentialKind::ClientSecret(Material::Vault(secret_name.clone()))
        }
        CredentialSpec::ClientSecretValue(s) => CredentialKind::ClientSecret(Material::Inline(s.clone())),
        CredentialSpec::Certificate { secret_name } => {
            CredentialKind::Certificate(Material::Vault(secret_name.clone()))
        }
        CredentialSpec::CertificateFile { path } => {
            CredentialKind::Certificate(Material::Inline(SecretString::new(read("the client certificate", path)?)))
        }
        CredentialSpec::Federated(FederatedSource::File { token_file }) => {
            CredentialKind::Federated(AssertionSource::File(token_file.clone()))
        }
        CredentialSpec::Federated(FederatedSource::AwsSts) => match sts {
            Some(client) => sts_source(client),
            None => {
                return Err(InitError::Unsupported(
                    "DEFENDER_FEDERATED_SOURCE=aws-sts needs the `aws-sts` build feature of defender-shared".into(),
                ));
            }
        },
        CredentialSpec::AwsSecret { arn, kind } => {
            let material = aws_material.cloned().ok_or_else(|| {
                InitError::Unsupported(format!("the AWS Secrets Manager credential {arn} was not read"))
            })?;
            match kind {
                AwsSecretKind::ClientSecret => CredentialKind::ClientSecret(Material::Inline(material)),
                AwsSecretKind::Certificate => CredentialKind::Certificate(Material::Inline(material)),
            }
        }
        CredentialSpec::User { refresh_token_secret, .. } => {
            CredentialKind::User { refresh_token_secret: refresh_token_secret.clone() }
        }
    })
}

fn tenant_credential(
    registry: &TenantRegistry,
    t: &TenantConfig,
    sts: Option<&Sts>,
    aws_material: Option<&SecretString>,
) -> Result<TenantCredential, InitError> {
    let endpoints = registry.resolve(&t.name, ApiFamily::Mde)?;
    let client_id = match &t.credential {
        CredentialSpec::User { client_id, .. } => client_id.clone(),
        _ => t.client_id.clone(),
    };
    Ok(TenantCredential {
        tenant_id: t.tenant_id.clone(),
        client_id,
        authority: endpoints.authority,
        kind: credential_kind(&t.credential, sts, aws_material)?,
    })
}

impl Runtime {
    /// Builds everything from the configuration (reads the registry from the vault or a file).
    ///
    /// # Errors
    /// [`InitError`] naming what is missing or wrong.
    pub async fn from_config(config: Config) -> Result<Self, InitError> {
        let extra_ca = config.extra_ca_file.as_deref().map(|p| read("the extra CA bundle", p)).transpose()?;
        let http = http::client(extra_ca.as_deref())?;
        let single = TenantRegistry::single(&config);
        let sts = sts_client(matches!(config.credential, CredentialSpec::Federated(FederatedSource::AwsSts))).await;
        let aws_material = match &config.credential {
            CredentialSpec::AwsSecret { arn, .. } => Some(aws_secret(arn).await?),
            _ => None,
        };
        let bootstrap_name: TenantName =
            BOOTSTRAP.parse().map_err(|e| InitError::Unsupported(format!("bootstrap tenant name: {e}")))?;

        // The secret store, opened with the environment's own credential when it is Key Vault.
        let mut vault_token = None;
        let store: Arc<dyn SecretStore> = match &config.store {
            None => Arc::new(NoStore),
            Some(StoreConfig::File { path }) => {
                Arc::new(CachedStore::with_ttl(FileStore::open(path).await?, config.secret_ttl))
            }
            Some(StoreConfig::KeyVault { url }) => {
                if config.credential.store_secret().is_some() {
                    return Err(InitError::Unsupported(
                        "KEY_VAULT_URL needs a credential that does not itself live in the vault: set \
                         DEFENDER_FEDERATED_SOURCE=aws-sts (or AZURE_FEDERATED_TOKEN_FILE), \
                         DEFENDER_CLIENT_SECRET_ARN or DEFENDER_CLIENT_CERTIFICATE_ARN (AWS Secrets Manager), \
                         AZURE_CLIENT_CERTIFICATE_PATH or AZURE_CLIENT_SECRET"
                            .into(),
                    ));
                }
                let env_tenant =
                    single.iter().next().ok_or_else(|| InitError::Unsupported("no tenant configured".into()))?;
                let cred = tenant_credential(&single, env_tenant, sts.as_ref(), aws_material.as_ref())?;
                let bootstrap = Arc::new(
                    TokenProvider::new(http.clone(), Arc::new(NoStore), [(bootstrap_name.clone(), cred)])
                        .map_err(Box::new)?,
                );
                // The scope the SDK will ask for after the vault's 401 challenge (`<resource>/.default`).
                let scope = single.resolve(&env_tenant.name, ApiFamily::KeyVault)?.scope;
                vault_token = Some((bootstrap.clone(), bootstrap_name.clone(), scope));
                let credential = Arc::new(ProviderCredential::new(bootstrap, bootstrap_name.clone()));
                let kv = KeyVaultStore::new(url.as_str(), credential, http.clone(), config.local_mode)?;
                Arc::new(CachedStore::with_ttl(kv, config.secret_ttl))
            }
        };

        // A registry kept in the vault is read before anything else: its read's challenge and the vault's
        // token go out together (the token request would otherwise wait for the 401).
        let load = TenantRegistry::load(&config, Some(&store));
        let registry = match (&config.tenants_source, &vault_token) {
            (Some(crate::config::TenantsSource::Secret(_)), Some((provider, name, scope))) => {
                let (registry, _) = futures::join!(load, provider.token_for(name, scope));
                registry?
            }
            _ => load.await?,
        };
        let registry = Arc::new(registry);
        let mut creds = Vec::new();
        for t in registry.iter() {
            creds.push((t.name.clone(), tenant_credential(&registry, t, sts.as_ref(), aws_material.as_ref())?));
        }
        let tokens = Arc::new(TokenProvider::new(http.clone(), store.clone(), creds).map_err(Box::new)?);
        let defender = Arc::new(DefenderClient::new(http.clone(), tokens.clone(), registry.clone()));
        Ok(Self { config, http, store, registry, tokens, defender, vault_token })
    }

    /// Fetches, concurrently, what the first request would otherwise fetch one after another: the
    /// vault's token (beside the SDK's unauthenticated first request, which only learns the scope from
    /// the 401), each of `secrets`, and a token for each tenant and each of `first` — then, once those
    /// are in, a token for each of `later` (the families a first request may not need: they reuse the
    /// connections the first wave opened instead of each opening its own, and their token requests
    /// stay off the first answer's path). Outcomes land in the caches (failures are not cached: the
    /// request that needs the value asks again and reports the error where it belongs). A request that
    /// needs a `later` token before the second wave asks for it itself (single-flight: the wave then
    /// joins it). Returns when every fetch has finished; spawn it at cold start.
    pub async fn warm_up(&self, secrets: &[String], first: &[ApiFamily], later: &[ApiFamily]) -> WarmedUp {
        let vault = async {
            match &self.vault_token {
                Some((provider, name, scope)) => provider.token_for(name, scope).await.is_ok(),
                None => true,
            }
        };
        let secrets = futures::future::join_all(secrets.iter().map(|name| self.store.get(name)));
        let first = self.scopes(first, &[]);
        let tokens = futures::future::join_all(first.iter().map(|(name, scope)| self.tokens.token_for(name, scope)));
        let (vault, secrets, tokens) = futures::join!(vault, secrets, tokens);
        let later = self.scopes(later, &first);
        let more =
            futures::future::join_all(later.iter().map(|(name, scope)| self.tokens.token_for(name, scope))).await;
        let ok = tokens.iter().chain(&more).filter(|r| r.is_ok()).count();
        WarmedUp {
            vault_token: vault,
            secrets: secrets.iter().filter(|r| r.is_ok()).count(),
            secrets_failed: secrets.iter().filter(|r| r.is_err()).count(),
            tokens: ok,
            tokens_failed: tokens.len() + more.len() - ok,
        }
    }

    /// The distinct (tenant, scope) pairs of every tenant and `families`, leaving out those in `done`.
    fn scopes(&self, families: &[ApiFamily], done: &[(TenantName, String)]) -> Vec<(TenantName, String)> {
        let mut wanted: Vec<(TenantName, String)> = Vec::new();
        for t in self.registry.iter() {
            for &api in families {
                if let Ok(e) = self.registry.resolve(&t.name, api) {
                    let pair = (t.name.clone(), e.scope);
                    if !wanted.contains(&pair) && !done.contains(&pair) {
                        wanted.push(pair);
                    }
                }
            }
        }
        wanted
    }
}

/// What [`Runtime::warm_up`] fetched (counts only: the values are in the caches).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WarmedUp {
    /// The vault's token was fetched (or there is no Key Vault).
    pub vault_token: bool,
    /// Secrets read.
    pub secrets: usize,
    /// Secrets that could not be read.
    pub secrets_failed: usize,
    /// Tokens fetched.
    pub tokens: usize,
    /// Tokens Entra refused or that could not be fetched.
    pub tokens_failed: usize,
}
