//! `TokenProvider`: access tokens per (tenant, scope) from the Entra ID v2 token endpoint.
//!
//! Application context (`client_credentials`): the client authenticates with a secret
//! (`client_secret`), a certificate (a PS256 `client_assertion` signed here) or a federated assertion.
//! When Entra says the secret or certificate is invalid and it came from the vault, the provider
//! reads it once more bypassing every cache (`SecretStore::get_fresh`: it may have been rotated) and
//! retries once; it never loops.
//!
//! User context: the refresh token kept in the vault is redeemed (`refresh_token` grant) and the
//! rotated one written back before the access token is returned. Refreshes of one stored sign-in are
//! serialised (a refresh token is single-use), whatever scopes are asked for concurrently.
//!
//! Logs name the tenant, client id, scope and AADSTS codes; never a secret, assertion or token.

use super::{
    AccessToken, DEFAULT_LIFETIME_S, TokenSource,
    assertion::{parse_certificate_pem, sign_client_assertion},
    cache::{CacheKey, TokenCache},
    credential::{CredentialKind, Material, TenantCredential},
    device_code,
    error::{AuthError, CredentialRef, EntraCause, EntraRefusal, RequestContext, refused},
};
use crate::{
    clock::{Clock, SystemClock},
    ids::TenantName,
    secret::SecretString,
    vault::{SecretStore, VaultError},
};
use chrono::{DateTime, Duration, Utc};
use futures::future::BoxFuture;
use serde::Deserialize;
use std::{
    collections::HashMap,
    fmt,
    sync::{Arc, Mutex, PoisonError},
};

/// `client_assertion_type` for JWT client assertions (RFC 7523).
pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Waits before each retry of a token request refused with AADSTS70021 (no matching federated
/// credential): Microsoft notes that a newly added federated credential takes a while to propagate
/// and that requests should be retried (`entra/workload-id/workload-identity-federation-considerations`).
/// Bounded (14 s in all) so a genuinely wrong credential still fails within one invocation.
pub(crate) const FEDERATION_PROPAGATION_WAITS: [std::time::Duration; 3] =
    [std::time::Duration::from_secs(2), std::time::Duration::from_secs(4), std::time::Duration::from_secs(8)];

/// The latest refresh token known for one stored sign-in; the async mutex serialises its use.
type RefreshSlot = Arc<tokio::sync::Mutex<Option<SecretString>>>;

/// Access tokens for every tenant in the registry, from one cache.
pub struct TokenProvider {
    http: reqwest::Client,
    store: Arc<dyn SecretStore>,
    tenants: HashMap<TenantName, TenantCredential>,
    cache: TokenCache,
    clock: Arc<dyn Clock>,
    refresh_tokens: Mutex<HashMap<String, RefreshSlot>>,
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.tenants.keys().map(TenantName::as_str).collect();
        names.sort_unstable();
        f.debug_struct("TokenProvider").field("tenants", &names).finish_non_exhaustive()
    }
}

/// The fields of a successful token response we use. No `Debug`: it holds tokens.
#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    #[serde(default, deserialize_with = "number_or_string")]
    expires_in: Option<i64>,
}

/// `expires_in` is a number in v2 answers and a string in v1 ones.
fn number_or_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum NumOrStr {
        N(i64),
        S(String),
    }
    Ok(match Option::<NumOrStr>::deserialize(d)? {
        Some(NumOrStr::N(n)) => Some(n),
        Some(NumOrStr::S(s)) => s.trim().parse().ok(),
        None => None,
    })
}

impl TokenProvider {
    /// A provider for these tenants. Every authority must be an absolute https URL.
    ///
    /// # Errors
    /// [`AuthError::Config`] naming the tenant whose authority is not https.
    pub fn new(
        http: reqwest::Client,
        store: Arc<dyn SecretStore>,
        tenants: impl IntoIterator<Item = (TenantName, TenantCredential)>,
    ) -> Result<Self, AuthError> {
        let tenants: HashMap<TenantName, TenantCredential> = tenants.into_iter().collect();
        for (name, cred) in &tenants {
            if cred.authority.scheme() != "https" || cred.authority.host_str().is_none() {
                return Err(AuthError::Config {
                    tenant: name.to_string(),
                    reason: format!("the authority '{}' must be an https URL", cred.authority),
                });
            }
        }
        Ok(Self {
            http,
            store,
            tenants,
            cache: TokenCache::default(),
            clock: Arc::new(SystemClock),
            refresh_tokens: Mutex::new(HashMap::new()),
        })
    }

    /// Replaces the clock (tests drive expiry with the simulated tenant's clock).
    #[must_use]
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The credential configured for `tenant`.
    pub fn tenant(&self, tenant: &TenantName) -> Option<&TenantCredential> {
        self.tenants.get(tenant)
    }

    /// The clock in use.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    fn key(cred: &TenantCredential, scope: &str) -> CacheKey {
        CacheKey {
            authority: cred.authority.to_string(),
            tenant_id: cred.tenant_id.to_string(),
            client_id: cred.client_id.to_string(),
            scope: scope.to_string(),
            user: matches!(cred.kind, CredentialKind::User { .. }),
        }
    }

    /// Forgets the cached token for (`tenant`, `scope`), e.g. after an API refused it with 401.
    pub fn invalidate(&self, tenant: &TenantName, scope: &str) {
        if let Some(cred) = self.tenants.get(tenant) {
            self.cache.invalidate(&Self::key(cred, scope));
        }
    }

    /// A token for `scope` (`<resource>/.default`) in `tenant`: from the cache unless it is within
    /// five minutes of expiry; one request per (tenant, client, scope) however many callers wait.
    ///
    /// # Errors
    /// [`AuthError::UnknownTenant`]; [`AuthError::Entra`] with what to fix; [`AuthError::Vault`] /
    /// [`AuthError::LoginRequired`] when material cannot be read; [`AuthError::Http`] on transport
    /// failure.
    pub async fn token_for(&self, tenant: &TenantName, scope: &str) -> Result<AccessToken, AuthError> {
        let cred = self.tenants.get(tenant).ok_or_else(|| AuthError::UnknownTenant(tenant.to_string()))?;
        let key = Self::key(cred, scope);
        let clock = self.clock.clone();
        self.cache.get_or_fetch(&key, move || clock.utc_now(), || self.fetch(tenant, cred, scope)).await
    }

    async fn fetch(&self, tenant: &TenantName, cred: &TenantCredential, scope: &str) -> Result<AccessToken, AuthError> {
        match &cred.kind {
            CredentialKind::User { refresh_token_secret } => {
                self.fetch_user(tenant, cred, refresh_token_secret, scope).await
            }
            _ => self.fetch_app(tenant, cred, scope).await,
        }
    }

    fn context(tenant: &TenantName, cred: &TenantCredential, scope: &str) -> RequestContext {
        let credential = match &cred.kind {
            CredentialKind::ClientSecret(m) => {
                CredentialRef::ClientSecret { vault: m.vault_name().map(str::to_string) }
            }
            CredentialKind::Certificate(m) => CredentialRef::Certificate { vault: m.vault_name().map(str::to_string) },
            CredentialKind::Federated(source) => CredentialRef::Federated { source: source.describe() },
            CredentialKind::User { refresh_token_secret } => {
                CredentialRef::User { refresh_token_secret: refresh_token_secret.clone() }
            }
        };
        RequestContext {
            tenant: tenant.to_string(),
            tenant_id: cred.tenant_id.to_string(),
            client_id: cred.client_id.to_string(),
            scope: scope.to_string(),
            authority: cred.authority.to_string(),
            credential,
        }
    }

    async fn material(
        &self,
        tenant: &TenantName,
        cred: &TenantCredential,
        material: &Material,
        fresh: bool,
    ) -> Result<SecretString, AuthError> {
        match material {
            Material::Inline(value) => Ok(value.clone()),
            Material::Vault(name) => {
                let read = if fresh { self.store.get_fresh(name).await } else { self.store.get(name).await };
                read.map_err(|source| AuthError::Vault {
                    tenant: tenant.to_string(),
                    client_id: cred.client_id.to_string(),
                    name: name.clone(),
                    source: Box::new(source),
                })
            }
        }
    }

    /// The client-authentication form fields for `cred` (`fresh`: bypass the store's caches).
    async fn client_auth(
        &self,
        tenant: &TenantName,
        cred: &TenantCredential,
        fresh: bool,
    ) -> Result<Vec<(&'static str, SecretString)>, AuthError> {
        match &cred.kind {
            CredentialKind::ClientSecret(material) => {
                Ok(vec![("client_secret", self.material(tenant, cred, material, fresh).await?)])
            }
            CredentialKind::Certificate(material) => {
                let pem = self.material(tenant, cred, material, fresh).await?;
                let unusable = |reason: String| AuthError::Credential {
                    tenant: tenant.to_string(),
                    client_id: cred.client_id.to_string(),
                    reason,
                };
                let key = parse_certificate_pem(pem.expose()).map_err(unusable)?;
                let jwt = sign_client_assertion(&key, cred.client_id.as_str(), &cred.token_url(), self.clock.utc_now())
                    .map_err(unusable)?;
                Ok(vec![("client_assertion_type", SecretString::new(JWT_BEARER)), ("client_assertion", jwt)])
            }
            CredentialKind::Federated(source) => {
                let jwt = source.fetch().await?;
                Ok(vec![("client_assertion_type", SecretString::new(JWT_BEARER)), ("client_assertion", jwt)])
            }
            CredentialKind::User { .. } => Ok(Vec::new()),
        }
    }

    /// `client_credentials`, with one retry on freshly read material after an "invalid credential".
    async fn fetch_app(
        &self,
        tenant: &TenantName,
        cred: &TenantCredential,
        scope: &str,
    ) -> Result<AccessToken, AuthError> {
        let ctx = Self::context(tenant, cred, scope);
        let from_vault = match &cred.kind {
            CredentialKind::ClientSecret(m) | CredentialKind::Certificate(m) => m.vault_name().is_some(),
            _ => false,
        };
        let mut fresh = false;
        let mut propagation_waits = FEDERATION_PROPAGATION_WAITS.iter();
        loop {
            let auth = self.client_auth(tenant, cred, fresh).await?;
            let mut form: Vec<(&str, &str)> =
                vec![("grant_type", "client_credentials"), ("client_id", cred.client_id.as_str()), ("scope", scope)];
            form.extend(auth.iter().map(|(k, v)| (*k, v.expose())));
            match post_token(&self.http, &cred.token_url(), &form, &ctx, self.clock.utc_now()).await {
                Ok(token) => {
                    tracing::info!(tenant = %tenant, client_id = %cred.client_id, scope, refetched_material = fresh, "token issued");
                    return Ok(token);
                }
                Err(AuthError::Entra(r)) if from_vault && !fresh && r.credential_invalid() => {
                    tracing::warn!(
                        tenant = %tenant, client_id = %cred.client_id, scope, aadsts = ?r.codes,
                        "entra refused the credential from the vault; reading it again once (it may have been rotated)"
                    );
                    fresh = true;
                }
                Err(AuthError::Entra(r)) if r.may_be_propagating() => {
                    let Some(wait) = propagation_waits.next() else { return Err(AuthError::Entra(r)) };
                    tracing::warn!(
                        tenant = %tenant, client_id = %cred.client_id, scope, aadsts = ?r.codes, wait_s = wait.as_secs(),
                        "no matching federated credential yet; it may still be propagating, trying again"
                    );
                    self.clock.sleep(*wait).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn refresh_slot(&self, secret: &str) -> RefreshSlot {
        let mut slots = self.refresh_tokens.lock().unwrap_or_else(PoisonError::into_inner);
        slots.entry(secret.to_string()).or_default().clone()
    }

    async fn read_refresh_token(
        &self,
        tenant: &TenantName,
        secret: &str,
        fresh: bool,
    ) -> Result<SecretString, AuthError> {
        let read = if fresh { self.store.get_fresh(secret).await } else { self.store.get(secret).await };
        read.map_err(|source| match source {
            VaultError::NotFound(_) => {
                AuthError::LoginRequired { tenant: tenant.to_string(), secret: secret.to_string() }
            }
            source => AuthError::Vault {
                tenant: tenant.to_string(),
                client_id: String::from("(user sign-in)"),
                name: secret.to_string(),
                source: Box::new(source),
            },
        })
    }

    /// User context: redeem the stored refresh token, write the rotated one back, then answer.
    async fn fetch_user(
        &self,
        tenant: &TenantName,
        cred: &TenantCredential,
        secret: &str,
        scope: &str,
    ) -> Result<AccessToken, AuthError> {
        let ctx = Self::context(tenant, cred, scope);
        let slot = self.refresh_slot(secret);
        let mut latest = slot.lock().await;
        let mut refresh_token = match latest.clone() {
            Some(rt) => rt,
            None => self.read_refresh_token(tenant, secret, false).await?,
        };
        let mut reread = false;
        loop {
            match device_code::refresh_grant(&self.http, cred, &refresh_token, scope, &ctx, &*self.clock).await {
                Ok(grant) => {
                    if let Some(rotated) = grant.refresh_token {
                        *latest = Some(rotated.clone());
                        self.store.set(secret, &rotated).await.map_err(|source| AuthError::StoreRefreshToken {
                            tenant: tenant.to_string(),
                            secret: secret.to_string(),
                            source: Box::new(source),
                        })?;
                    }
                    tracing::info!(tenant = %tenant, client_id = %cred.client_id, scope, "delegated token issued; refresh token rotated");
                    return Ok(grant.access);
                }
                Err(AuthError::Entra(r)) if !reread && r.cause() == EntraCause::SignInExpired => {
                    // Another instance may have redeemed and rotated it: read the vault once more.
                    reread = true;
                    let current = self.read_refresh_token(tenant, secret, true).await?;
                    if current == refresh_token {
                        *latest = None;
                        return Err(AuthError::Entra(r));
                    }
                    tracing::info!(tenant = %tenant, secret, "the stored refresh token changed elsewhere; retrying once with it");
                    refresh_token = current;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl TokenSource for TokenProvider {
    fn token<'a>(&'a self, tenant: &'a TenantName, scope: &'a str) -> BoxFuture<'a, Result<AccessToken, AuthError>> {
        Box::pin(self.token_for(tenant, scope))
    }
}

/// POSTs a token request and reads the answer: a token, an Entra refusal, or an unreadable body.
pub(crate) async fn post_token(
    http: &reqwest::Client,
    url: &str,
    form: &[(&str, &str)],
    ctx: &RequestContext,
    issued: DateTime<Utc>,
) -> Result<AccessToken, AuthError> {
    let resp = http.post(url).form(form).send().await.map_err(AuthError::Http)?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(AuthError::Http)?;
    if (200..300).contains(&status) {
        let body: TokenBody = serde_json::from_slice(&bytes)
            .map_err(|_| AuthError::InvalidResponse { tenant: ctx.tenant.clone(), status })?;
        let lifetime = body.expires_in.unwrap_or(DEFAULT_LIFETIME_S);
        return Ok(AccessToken {
            secret: SecretString::new(body.access_token),
            expires_at: issued + Duration::seconds(lifetime),
        });
    }
    match EntraRefusal::from_body(status, &bytes, ctx) {
        Some(r) => Err(refused(r)),
        None => Err(AuthError::InvalidResponse { tenant: ctx.tenant.clone(), status }),
    }
}
