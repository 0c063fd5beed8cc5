//! User context: a chat user who has linked an Entra identity has their machine actions run with
//! their own delegated token, so Defender records the analyst; everyone else runs in the app's
//! context, named in the Defender comment.
//!
//! Linking is the shared device-code sign-in ([`device_code_login`]) with the public client
//! `CHATOPS_USER_CLIENT_ID`; the refresh token is kept in the vault under [`secret_name`]
//! (`chatops-user-<tenant>-<chat user id>`) and rotated back there on every use by the shared
//! [`TokenProvider`]. `defender-functions login` can write the same secret.
//!
//! `/defender link` runs in steps, because a device code lives ~15 minutes and a worker invocation
//! must end within its timeout: [`UserContext::link_begin`] asks Entra for a code once and keeps it
//! server-side in the vault under [`pending_name`] (`chatops-link-<tenant>-<user>`: the device code
//! is a secret — with it, anyone could redeem the sign-in — so it is never put in a queue message);
//! [`UserContext::link_poll`] polls the token endpoint once. The worker polls for a bounded time per
//! invocation and re-queues the rest ([`crate::worker`]). A redelivered or repeated `link` while a
//! code is still valid shows the same code; a finished, declined or expired sign-in is marked done in
//! the vault, so a late step stops.
//!
//! Who signed in is checked before anything is stored ([`crate::identity`]): the ID token's identity
//! must be the administrator's mapping for the chat user, or the chat user's own (Slack: the
//! `users.info` e-mail; Teams: the activity's `aadObjectId`). Otherwise the tokens are dropped, the
//! user is told why and an audit line (`link-refused`) is written.

use crate::{
    command::{ChatUser, ChatUserId},
    defender::DefenderOps,
    identity::{IdentityCheck, Refusal},
};
use defender_shared::{
    auth::{
        Clock, CredentialKind, DeviceCodeLogin, DeviceRedeem, LoginOutcome, TenantCredential, TokenProvider,
        device_code_begin, device_code_redeem,
    },
    cloud::ApiFamily,
    defender::{Deadline, DefenderClient, TenantClient},
    ids::{ClientId, TenantName},
    runtime::Runtime,
    secret::SecretString,
    tenants::TenantRegistry,
    vault::{SecretStore, VaultError},
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};
use tracing::{info, warn};

/// The vault secret holding `user`'s refresh token in `tenant`: `chatops-user-<tenant>-<user id>`,
/// lower-cased, every character outside `[a-z0-9-]` replaced by `-` (Key Vault's alphabet).
pub fn secret_name(tenant: &TenantName, user_id: &ChatUserId) -> String {
    let clean = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
    };
    format!("chatops-user-{}-{}", clean(tenant.as_str()), clean(user_id.as_str()))
}

/// The vault secret holding `user`'s sign-in in progress in `tenant` (the device code and its
/// expiry): `chatops-link-<tenant>-<user id>`.
pub fn pending_name(tenant: &TenantName, user_id: &ChatUserId) -> String {
    secret_name(tenant, user_id).replacen("chatops-user-", "chatops-link-", 1)
}

/// A sign-in in progress, as kept in the vault. No `Debug`: it holds the device code.
#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct PendingLink {
    /// Identifies this sign-in (unix seconds when it started): steps of another one stop.
    started: i64,
    /// Finished (linked, declined, expired or failed): nothing more to poll.
    #[serde(default)]
    done: bool,
    #[serde(default)]
    device_code: String,
    #[serde(default)]
    user_code: String,
    #[serde(default)]
    verification_uri: String,
    /// Unix seconds.
    #[serde(default)]
    expires_at: i64,
    /// Seconds between polls.
    #[serde(default)]
    interval_s: u64,
}

/// A sign-in started (or found still running) by [`UserContext::link_begin`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStarted {
    /// Identifies the sign-in for its poll steps.
    pub started: i64,
    /// The code to type.
    pub user_code: String,
    /// Where to type it.
    pub verification_uri: String,
    /// When the code expires (unix seconds).
    pub expires_at: i64,
    /// Poll no more often than this.
    pub interval: std::time::Duration,
    /// The code was already shown (a repeated `link`, or a redelivered job): no new code was asked for.
    pub reused: bool,
}

/// One poll of a sign-in in progress.
#[derive(Debug)]
pub enum LinkStep {
    /// Not approved yet: poll again after `interval`.
    Pending {
        /// The wait before the next poll.
        interval: std::time::Duration,
    },
    /// Linked: the refresh token is in the vault.
    Linked(Box<LoginOutcome>),
    /// The code expired unused.
    Expired,
    /// The sign-in failed (declined, refused, ...).
    Failed(LinkError),
    /// Someone other than the chat user signed in (or who signed in cannot be checked): nothing was
    /// stored.
    Refused(Refusal),
    /// Nothing to poll: this sign-in finished or was replaced by a newer one (a late or duplicate step).
    Gone,
}

/// Why a link could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// User linking is not configured.
    #[error("user linking is not configured (CHATOPS_USER_CLIENT_ID)")]
    NotConfigured,
    /// The tenant is not in the registry.
    #[error("unknown tenant '{0}'")]
    UnknownTenant(String),
    /// The sign-in failed (declined, expired, ...).
    #[error("the sign-in failed")]
    Auth(#[source] Box<defender_shared::auth::AuthError>),
    /// The sign-in in progress could not be kept in (or read from) the vault.
    #[error("the sign-in in progress cannot be kept in the vault")]
    Vault(#[source] VaultError),
}

/// Delegated Defender calls for linked chat users.
pub struct UserContext {
    http: reqwest::Client,
    store: Arc<dyn SecretStore>,
    registry: Arc<TenantRegistry>,
    tenants: HashMap<TenantName, TenantCredential>,
    client_id: ClientId,
    clients: Mutex<HashMap<String, Arc<DefenderClient<TokenProvider>>>>,
}

impl std::fmt::Debug for UserContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserContext").field("client_id", &self.client_id).finish_non_exhaustive()
    }
}

impl UserContext {
    /// User context over a runtime's vault and tenants, signing in with the public client `client_id`.
    pub fn new(rt: &Runtime, client_id: ClientId) -> Self {
        let tenants =
            rt.registry.iter().filter_map(|t| rt.tokens.tenant(&t.name).map(|c| (t.name.clone(), c.clone()))).collect();
        Self {
            http: rt.http.clone(),
            store: rt.store.clone(),
            registry: rt.registry.clone(),
            tenants,
            client_id,
            clients: Mutex::new(HashMap::new()),
        }
    }

    fn credential(&self, tenant: &TenantName, secret: &str) -> Option<TenantCredential> {
        let app = self.tenants.get(tenant)?;
        Some(TenantCredential {
            tenant_id: app.tenant_id.clone(),
            client_id: self.client_id.clone(),
            authority: app.authority.clone(),
            kind: CredentialKind::User { refresh_token_secret: secret.to_string() },
        })
    }

    /// Defender calls in `tenant` with `user`'s delegated token, when they have linked an identity
    /// (`None`: not linked, or the link cannot be read — the caller uses the app context).
    pub async fn ops(
        &self,
        tenant: &TenantName,
        user: &ChatUser,
        deadline: tokio::time::Instant,
    ) -> Option<Arc<dyn DefenderOps>> {
        let secret = secret_name(tenant, &user.id);
        match self.store.get(&secret).await {
            Ok(_) => {}
            Err(VaultError::NotFound(_)) => return None,
            Err(e) => {
                warn!(secret = %secret, error = %e, "linked identity unreadable; app context used");
                return None;
            }
        }
        let client = {
            let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
            match clients.get(&secret) {
                Some(c) => c.clone(),
                None => {
                    let cred = self.credential(tenant, &secret)?;
                    let provider = TokenProvider::new(self.http.clone(), self.store.clone(), [(tenant.clone(), cred)])
                        .map_err(|e| warn!(error = %e, "user token provider refused"))
                        .ok()?;
                    let client =
                        Arc::new(DefenderClient::new(self.http.clone(), Arc::new(provider), self.registry.clone()));
                    clients.insert(secret.clone(), client.clone());
                    client
                }
            }
        };
        Some(Arc::new(TenantClient::new(client, tenant.clone(), Deadline(deadline))))
    }
}

impl UserContext {
    fn login(&self, tenant: &TenantName, user: &ChatUser) -> Result<DeviceCodeLogin, LinkError> {
        let secret = secret_name(tenant, &user.id);
        let cred = self.credential(tenant, &secret).ok_or_else(|| LinkError::UnknownTenant(tenant.to_string()))?;
        let scope = self.registry.resolve(tenant, ApiFamily::Mde).map(|e| e.scope).unwrap_or_default();
        DeviceCodeLogin::for_tenant(tenant, &cred, &scope).map_err(|e| LinkError::Auth(Box::new(e)))
    }

    async fn pending(&self, name: &str) -> Result<Option<PendingLink>, VaultError> {
        match self.store.get_fresh(name).await {
            Ok(v) => Ok(serde_json::from_str(v.expose()).ok()),
            Err(VaultError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn keep(&self, name: &str, p: &PendingLink) -> Result<(), VaultError> {
        let text = serde_json::to_string(p).unwrap_or_default();
        self.store.set(name, &SecretString::new(text)).await
    }

    /// Starts `user`'s sign-in in `tenant` — or, while one is still valid, answers it again without
    /// asking Entra for another code.
    ///
    /// # Errors
    /// [`LinkError`]: unknown tenant, Entra's refusal, the vault.
    pub async fn link_begin(
        &self,
        tenant: &TenantName,
        user: &ChatUser,
        clock: &dyn Clock,
    ) -> Result<LinkStarted, LinkError> {
        let login = self.login(tenant, user)?;
        let name = pending_name(tenant, &user.id);
        let now = clock.utc_now().timestamp();
        if let Some(p) = self.pending(&name).await.map_err(LinkError::Vault)?
            && !p.done
            && now < p.expires_at
        {
            info!(tenant = %tenant, user_id = %user.id, "a sign-in is already waiting: showing its code again");
            return Ok(LinkStarted {
                started: p.started,
                user_code: p.user_code,
                verification_uri: p.verification_uri,
                expires_at: p.expires_at,
                interval: std::time::Duration::from_secs(p.interval_s.max(1)),
                reused: true,
            });
        }
        let s = device_code_begin(&self.http, &login, clock).await.map_err(|e| LinkError::Auth(Box::new(e)))?;
        let p = PendingLink {
            started: now,
            done: false,
            device_code: s.device_code.expose().to_string(),
            user_code: s.prompt.user_code.clone(),
            verification_uri: s.prompt.verification_uri.clone(),
            expires_at: s.expires_at.timestamp(),
            interval_s: s.interval.as_secs().max(1),
        };
        self.keep(&name, &p).await.map_err(LinkError::Vault)?;
        info!(target: "audit", decision = "link-started", tenant = %tenant, user_id = %user.id, pending = %name, "chatops decision");
        Ok(LinkStarted {
            started: p.started,
            user_code: p.user_code,
            verification_uri: p.verification_uri,
            expires_at: p.expires_at,
            interval: std::time::Duration::from_secs(p.interval_s),
            reused: false,
        })
    }

    /// Polls the sign-in `started` once. An approved sign-in is linked only if `check` accepts who
    /// signed in ([`crate::identity`]); otherwise nothing is stored. A finished one (linked, refused,
    /// expired, failed) is marked done in the vault, so a later or duplicate step answers
    /// [`LinkStep::Gone`].
    pub async fn link_poll(
        &self,
        tenant: &TenantName,
        user: &ChatUser,
        started: i64,
        clock: &dyn Clock,
        check: &IdentityCheck<'_>,
    ) -> LinkStep {
        let login = match self.login(tenant, user) {
            Ok(l) => l,
            Err(e) => return LinkStep::Failed(e),
        };
        let name = pending_name(tenant, &user.id);
        let mut p = match self.pending(&name).await {
            Ok(Some(p)) if p.started == started && !p.done => p,
            Ok(_) => return LinkStep::Gone,
            Err(e) => return LinkStep::Failed(LinkError::Vault(e)),
        };
        let step = if clock.utc_now().timestamp() >= p.expires_at {
            LinkStep::Expired
        } else {
            let code = SecretString::new(std::mem::take(&mut p.device_code));
            let interval = std::time::Duration::from_secs(p.interval_s.max(1));
            match device_code_redeem(&self.http, &login, &code, interval, clock).await {
                Ok(DeviceRedeem::Pending { interval }) => return LinkStep::Pending { interval },
                Ok(DeviceRedeem::Approved(redeemed)) => {
                    let signed_in = redeemed.signed_in.clone();
                    let who = signed_in.as_ref().and_then(|s| s.name().or(s.oid.as_deref())).unwrap_or("-").to_string();
                    match check.verify(user, signed_in.as_ref()).await {
                        Err(why) => {
                            // The tokens are dropped here: no refresh token reaches the vault.
                            info!(target: "audit", decision = "link-refused", tenant = %tenant, user_id = %user.id,
                                  signed_in = %who, reason = %why, "chatops decision");
                            LinkStep::Refused(why)
                        }
                        Ok(source) => match redeemed.keep(self.store.as_ref(), &login).await {
                            Ok(outcome) => {
                                self.clients
                                    .lock()
                                    .unwrap_or_else(PoisonError::into_inner)
                                    .remove(&login.refresh_token_secret);
                                info!(target: "audit", decision = "linked", tenant = %tenant, user_id = %user.id,
                                      upn = %who, checked_by = source.as_str(), secret = %login.refresh_token_secret, "chatops decision");
                                LinkStep::Linked(Box::new(LoginOutcome { user: Some(who), ..outcome }))
                            }
                            Err(e) => LinkStep::Failed(LinkError::Auth(Box::new(e))),
                        },
                    }
                }
                // Entra's clock said so before ours did.
                Err(defender_shared::auth::AuthError::Entra(r)) if r.error == "expired_token" => LinkStep::Expired,
                Err(e) => LinkStep::Failed(LinkError::Auth(Box::new(e))),
            }
        };
        // Finished: keep no device code, and stop any later step.
        let done = PendingLink { started, done: true, ..PendingLink::default_for(started) };
        if let Err(e) = self.keep(&name, &done).await {
            warn!(pending = %name, error = %e, "could not mark the sign-in finished; its code expires on its own");
        }
        step
    }
}

impl PendingLink {
    fn default_for(started: i64) -> Self {
        Self {
            started,
            done: false,
            device_code: String::new(),
            user_code: String::new(),
            verification_uri: String::new(),
            expires_at: 0,
            interval_s: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_use_key_vault_characters_only() {
        let t: TenantName = "Fabrikam_EU.1".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(secret_name(&t, &"U2CERLKJA".parse().unwrap()), "chatops-user-fabrikam-eu-1-u2cerlkja");
        assert_eq!(pending_name(&t, &"U2CERLKJA".parse().unwrap()), "chatops-link-fabrikam-eu-1-u2cerlkja");
        assert_eq!(
            secret_name(&t, &"29:1XJK/Mv==".parse().unwrap()),
            "chatops-user-fabrikam-eu-1-29-1xjk-mv--",
            "a Teams id keeps its shape, minus the characters Key Vault refuses"
        );
    }
}
