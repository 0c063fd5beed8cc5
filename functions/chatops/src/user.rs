//! User context: a chat user who has linked an Entra identity has their machine actions run with
//! their own delegated token, so Defender records the analyst; everyone else runs in the app's
//! context, named in the Defender comment.
//!
//! Linking is the shared device-code sign-in ([`device_code_login`]) with the public client
//! `CHATOPS_USER_CLIENT_ID`; the refresh token is kept in the vault under [`secret_name`]
//! (`chatops-user-<tenant>-<chat user id>`) and rotated back there on every use by the shared
//! [`TokenProvider`]. `/defender link` starts it from the chat (the worker posts the code to the
//! requester and waits for the sign-in); `defender-functions login` can write the same secret.

use crate::{
    command::ChatUser,
    defender::{ClientOps, DefenderOps},
};
use defender_shared::{
    auth::{
        Clock, CredentialKind, DeviceCodeLogin, DeviceCodePrompt, LoginOutcome, TenantCredential, TokenProvider,
        device_code_login,
    },
    cloud::ApiFamily,
    defender::{Deadline, DefenderClient},
    ids::{ClientId, TenantName},
    runtime::Runtime,
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
pub fn secret_name(tenant: &TenantName, user_id: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect()
    };
    format!("chatops-user-{}-{}", clean(tenant.as_str()), clean(user_id))
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
    Auth(#[source] defender_shared::auth::AuthError),
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
        Some(Arc::new(ClientOps::new(client, tenant.clone(), Deadline(deadline))))
    }

    /// Links `user`'s Entra identity in `tenant`: the device-code sign-in, `on_prompt` showing the
    /// code, the refresh token written to [`secret_name`].
    ///
    /// # Errors
    /// [`LinkError`].
    pub async fn link(
        &self,
        tenant: &TenantName,
        user: &ChatUser,
        clock: &dyn Clock,
        on_prompt: impl FnOnce(&DeviceCodePrompt),
    ) -> Result<LoginOutcome, LinkError> {
        let secret = secret_name(tenant, &user.id);
        let cred = self.credential(tenant, &secret).ok_or_else(|| LinkError::UnknownTenant(tenant.to_string()))?;
        let scope = self.registry.resolve(tenant, ApiFamily::Mde).map(|e| e.scope).unwrap_or_default();
        let login = DeviceCodeLogin::for_tenant(tenant, &cred, &scope).map_err(LinkError::Auth)?;
        let outcome = device_code_login(&self.http, self.store.as_ref(), &login, clock, on_prompt)
            .await
            .map_err(LinkError::Auth)?;
        // A fresh provider for the next action: the one cached (if any) holds the old refresh token.
        self.clients.lock().unwrap_or_else(PoisonError::into_inner).remove(&secret);
        info!(target: "audit", decision = "linked", tenant = %tenant, user_id = %user.id,
              upn = outcome.user.as_deref().unwrap_or("-"), secret = %secret, "chatops decision");
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names_use_key_vault_characters_only() {
        let t: TenantName = "Fabrikam_EU.1".parse().unwrap_or_else(|_| unreachable!());
        assert_eq!(secret_name(&t, "U2CERLKJA"), "chatops-user-fabrikam-eu-1-u2cerlkja");
        assert_eq!(
            secret_name(&t, "29:1XJK/Mv=="),
            "chatops-user-fabrikam-eu-1-29-1xjk-mv--",
            "a Teams id keeps its shape, minus the characters Key Vault refuses"
        );
    }
}
