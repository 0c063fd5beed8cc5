//! Azure Key Vault secrets through the official Azure SDK for Rust.
//!
//! # Which crate
//! `azure_security_keyvault_secrets` 1.x (`SecretClient`) on `azure_core` 1.x — Microsoft's GA SDK. Not
//! the legacy `azure_security_keyvault` 0.21: that one is the unofficial community crate, abandoned (its
//! README says so), on an incompatible `azure_core`. The SDK brings Key Vault's challenge-based auth,
//! retries and the API version; we bring the transport (our reqwest 0.13 client, injected as
//! `ClientOptions.transport`, so there is one TLS stack and, locally, one trusted test CA) and the
//! credential (any `azure_core` `TokenCredential`).
//!
//! # The challenge and local mode
//! The SDK's first request to a vault carries no token; the vault answers 401 with
//! `WWW-Authenticate: Bearer authorization="<authority>/<tenant>", resource="<resource>"`, and the SDK
//! then asks the credential for `<resource>/.default` and retries. Before it does, it checks that the
//! vault's host ends with `.<host of resource>` (`x.vault.azure.net` for `https://vault.azure.net`), so a
//! hostile endpoint cannot make us mint a token for another resource.
//!
//! `local_mode = true` turns that check off (`verify_challenge_resource = Some(false)`), and it is the
//! only thing local mode changes here. It exists for the simulated tenant addressed as
//! `https://127.0.0.1:<port>`: an IP address can never end with `.vault.azure.net`, so the check cannot
//! pass there. Against a real vault it must stay on. A simulated vault addressed as
//! `https://<name>.vault.localhost:<port>` (challenge resource `https://vault.localhost`) passes the check
//! as it is, with `local_mode = false`.
//!
//! # Superseded versions
//! Each write (a rotated refresh token, a sign-in in progress) makes a new version, and Key Vault keeps
//! every old one readable. An old refresh token is still redeemable at Entra (rotation is not
//! revocation), so after a write the store disables every older enabled version (Update Secret,
//! `PATCH /secrets/{name}/{version}` with `attributes.enabled = false`, through the SDK's
//! `update_secret_properties`; it needs `secrets/set`, which the Key Vault Secrets Officer role
//! holds). Disabled versions cannot be read (403 `SecretDisabled`). A failure there is logged and
//! retried by the next write; it never fails the write (the new value is already stored).
//!
//! # Errors
//! 404 → [`VaultError::NotFound`]; 401/403 → [`VaultError::AccessDenied`] naming the vault and the secret;
//! other statuses → [`VaultError::Http`] with the status and Key Vault's error code; no answer (TLS,
//! connection, credential, a refused challenge) → [`VaultError::Unavailable`]. A response body that is
//! not a secret bundle becomes [`VaultError::Store`] with a fixed message, because a deserializer's
//! message could quote the value.

use super::{VaultError, check_name};
use crate::auth::{AuthError, EntraCause};
use crate::secret::SecretString;
use azure_core::{
    credentials::TokenCredential,
    error::ErrorKind,
    http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport},
    time::Duration,
};
use azure_security_keyvault_secrets::{
    ResourceExt as _, SecretClient, SecretClientOptions,
    models::{
        SecretAttributes, SecretClientUpdateSecretPropertiesOptions, SetSecretParameters,
        UpdateSecretPropertiesParameters,
    },
};
use futures::TryStreamExt as _;
use std::{fmt, sync::Arc};

/// Secrets in one Azure Key Vault. Reads the latest version; writes a new version.
pub struct KeyVaultStore {
    client: SecretClient,
    vault: String,
}

impl fmt::Debug for KeyVaultStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVaultStore").field("vault", &self.vault).finish_non_exhaustive()
    }
}

impl KeyVaultStore {
    /// A store for the vault at `vault_url` (`https://<name>.vault.azure.net`), authenticating with
    /// `credential`, sending every request through `http`. `local_mode` relaxes the challenge-resource
    /// check for a simulated vault at an IP address (see the module docs); never set it for Azure.
    ///
    /// # Errors
    /// [`VaultError::Store`] if `vault_url` is not an http(s) URL.
    pub fn new(
        vault_url: &str,
        credential: Arc<dyn TokenCredential>,
        http: reqwest::Client,
        local_mode: bool,
    ) -> Result<Self, VaultError> {
        let client_options = ClientOptions { retry: bounded_retry(), ..ClientOptions::default() };
        Self::with_client_options(vault_url, credential, http, local_mode, client_options)
    }

    /// [`new`](Self::new) with SDK client options (extra pipeline policies, retry, logging). Their
    /// `transport` is always replaced by `http`.
    ///
    /// # Errors
    /// [`VaultError::Store`] if `vault_url` is not an http(s) URL.
    pub fn with_client_options(
        vault_url: &str,
        credential: Arc<dyn TokenCredential>,
        http: reqwest::Client,
        local_mode: bool,
        client_options: ClientOptions,
    ) -> Result<Self, VaultError> {
        let options = SecretClientOptions {
            client_options: ClientOptions { transport: Some(Transport::new(Arc::new(http))), ..client_options },
            // Only the simulator at 127.0.0.1 needs this; see the module docs.
            verify_challenge_resource: local_mode.then_some(false),
            ..Default::default()
        };
        let client = SecretClient::new(vault_url, credential, Some(options))
            .map_err(|e| VaultError::Store(format!("invalid key vault url {vault_url}: {e}")))?;
        Ok(Self { client, vault: vault_url.trim_end_matches('/').to_string() })
    }

    /// The vault URL, as given (without a trailing slash).
    pub fn vault_url(&self) -> &str {
        &self.vault
    }

    /// Disables every enabled version of `name` created before `current` (created at `created`): an
    /// old refresh token stays redeemable at Entra until it expires, so it must not stay readable
    /// here. Versions created in the same second as `current`, or after it, are left alone — a
    /// concurrent writer's newer value must never be disabled; the next write retires them. Every
    /// failure is logged and retried by the next write (it lists all versions again).
    async fn retire_superseded(&self, name: &str, current: &str, created: time::OffsetDateTime) {
        let mut stale = Vec::new();
        let mut pager = match self.client.list_secret_properties_versions(name, None) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(vault = %self.vault, secret = name, error = %self.map_error(name, e), "cannot list versions; superseded versions left enabled");
                return;
            }
        };
        loop {
            match pager.try_next().await {
                Ok(Some(p)) => {
                    let Some(version) = p.resource_id().ok().and_then(|id| id.version) else { continue };
                    let attrs = p.attributes.unwrap_or_default();
                    let older = attrs.created.is_some_and(|c| c < created);
                    if version != current && attrs.enabled != Some(false) && older {
                        stale.push(version);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(vault = %self.vault, secret = name, error = %self.map_error(name, e), "listing versions failed; disabling those found so far");
                    break;
                }
            }
        }
        let mut failed = 0usize;
        for version in &stale {
            let parameters = UpdateSecretPropertiesParameters {
                secret_attributes: Some(SecretAttributes { enabled: Some(false), ..Default::default() }),
                ..Default::default()
            };
            let result = match parameters.try_into() {
                Ok(body) => {
                    let options = SecretClientUpdateSecretPropertiesOptions {
                        secret_version: Some(version.clone()),
                        ..Default::default()
                    };
                    self.client.update_secret_properties(name, body, Some(options)).await.map(|_| ())
                }
                Err(e) => Err(e),
            };
            if let Err(e) = result {
                failed += 1;
                tracing::warn!(vault = %self.vault, secret = name, version = %version, error = %self.map_error(name, e),
                    "could not disable a superseded version; the next write retries");
            }
        }
        if !stale.is_empty() {
            tracing::info!(vault = %self.vault, secret = name, disabled = stale.len() - failed, failed, "superseded secret versions disabled");
        }
    }

    fn unreadable(&self, name: &str) -> VaultError {
        VaultError::Store(format!("key vault {} returned an unreadable bundle for secret {name}", self.vault))
    }

    fn map_error(&self, name: &str, e: azure_core::Error) -> VaultError {
        map_error(&self.vault, name, e)
    }
}

impl super::Backend for KeyVaultStore {
    async fn read(&self, name: &str) -> Result<SecretString, VaultError> {
        check_name(name)?;
        let response = tokio::time::timeout(READ_BUDGET, self.client.get_secret(name, None))
            .await
            .map_err(|_| VaultError::TimedOut {
                vault: self.vault.clone(),
                name: name.to_string(),
                budget_ms: READ_BUDGET.as_millis() as u64,
            })?
            .map_err(|e| self.map_error(name, e))?;
        let secret = response.into_model().map_err(|_| self.unreadable(name))?;
        secret.value.map(SecretString::from).ok_or_else(|| self.unreadable(name))
    }

    async fn write(&self, name: &str, value: &SecretString) -> Result<(), VaultError> {
        check_name(name)?;
        let parameters = SetSecretParameters { value: Some(value.expose().to_string()), ..Default::default() };
        let body = parameters
            .try_into()
            .map_err(|_| VaultError::Store(format!("cannot encode a new version of secret {name}")))?;
        let response = self.client.set_secret(name, body, None).await.map_err(|e| self.map_error(name, e))?;
        tracing::info!(vault = %self.vault, secret = name, "wrote a new secret version");
        // The new value is safe in the vault: whatever happens below is logged, never returned.
        let written = response.into_model().ok().and_then(|s| {
            let version = s.resource_id().ok()?.version?;
            Some((version, s.attributes?.created?))
        });
        match written {
            Some((version, created)) => {
                if tokio::time::timeout(RETIRE_BUDGET, self.retire_superseded(name, &version, created)).await.is_err() {
                    tracing::warn!(vault = %self.vault, secret = name, "disabling superseded versions ran out of time; the next write retries");
                }
            }
            None => tracing::warn!(vault = %self.vault, secret = name,
                "the new version's id or creation time is unreadable; superseded versions left enabled until the next write"),
        }
        Ok(())
    }
}

/// The SDK's error as a [`VaultError`]. Entra refusing our own credential (revoked, expired, wrong
/// secret: anything but "Entra unavailable") is [`VaultError::AccessDenied`], not an outage: it is not
/// retryable, so the cache does not bridge it with a value read before the revocation.
fn map_error(vault: &str, name: &str, e: azure_core::Error) -> VaultError {
    let (vault, name) = (vault.to_string(), name.to_string());
    match e.kind() {
        ErrorKind::HttpResponse { status, error_code, .. } => match u16::from(*status) {
            404 => VaultError::NotFound(name),
            s @ (401 | 403) => VaultError::AccessDenied { vault, name, status: s },
            s => VaultError::Http { vault, name, status: s, code: error_code.clone() },
        },
        ErrorKind::Credential => match e.downcast_ref::<AuthError>().and_then(AuthError::entra) {
            Some(r) if r.cause() != EntraCause::Unavailable => {
                VaultError::AccessDenied { vault, name, status: if r.status == 403 { 403 } else { 401 } }
            }
            _ => VaultError::Unavailable { vault, name, source: Arc::new(e) },
        },
        _ => VaultError::Unavailable { vault, name, source: Arc::new(e) },
    }
}

/// How long disabling the superseded versions after a write may take (listing and updates, retries
/// included); what is left over is retried by the next write.
pub const RETIRE_BUDGET: std::time::Duration = std::time::Duration::from_secs(5);

/// How long one secret read may take, the SDK's retries included: the SDK sleeps for whatever
/// `Retry-After` Key Vault sends, so the retry options alone do not bound it.
pub const READ_BUDGET: std::time::Duration = std::time::Duration::from_secs(2);

/// The SDK's default retry (8 tries, up to a minute, 30 s apart at most) outlasts a webhook's or Slack's
/// patience: a function reads a secret in the path of a request, and [`CachedStore`](super::CachedStore)
/// bridges an outage with the last value read. So: two quick retries, within [`READ_BUDGET`].
fn bounded_retry() -> RetryOptions {
    RetryOptions::exponential(ExponentialRetryOptions {
        initial_delay: Duration::milliseconds(200),
        max_retries: 2,
        max_total_elapsed: Duration::seconds(2),
        max_delay: Duration::seconds(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::error::{CredentialRef, EntraRefusal, RequestContext};

    fn refused(status: u16, body: serde_json::Value) -> azure_core::Error {
        let ctx = RequestContext {
            tenant: "contoso".into(),
            tenant_id: "4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f".into(),
            client_id: "11111111-1111-4111-8111-111111111111".into(),
            scope: "https://vault.azure.net/.default".into(),
            authority: "https://login.microsoftonline.com/".into(),
            credential: CredentialRef::ClientSecret { vault: None },
        };
        let r = EntraRefusal::from_body(status, body.to_string().as_bytes(), &ctx).unwrap();
        azure_core::Error::with_error(ErrorKind::Credential, AuthError::Entra(Box::new(r)), "token")
    }

    #[test]
    fn a_revoked_credential_is_access_denied_not_an_outage() {
        let vault = "https://contoso-kv.vault.azure.net";
        // AADSTS7000222 (the secret expired or was revoked): permanent, never bridged by the cache.
        let revoked = refused(
            401,
            serde_json::json!({"error": "invalid_client", "error_description": "AADSTS7000222: expired.", "error_codes": [7000222]}),
        );
        let e = map_error(vault, "webhook-secret", revoked);
        assert!(matches!(e, VaultError::AccessDenied { status: 401, .. }), "{e:?}");
        assert!(!e.is_retryable());
        // Entra itself unavailable stays an outage (bridged).
        let down = refused(
            503,
            serde_json::json!({"error": "temporarily_unavailable", "error_description": "AADSTS90033: busy.", "error_codes": [90033]}),
        );
        assert!(map_error(vault, "webhook-secret", down).is_retryable());
    }
}
