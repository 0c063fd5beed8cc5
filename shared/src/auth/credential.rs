//! What a tenant authenticates with: the app, the authority and one credential.

use super::assertion::AssertionSource;
use crate::{
    ids::{ClientId, TenantId},
    secret::SecretString,
};

/// One tenant's app registration and credential.
#[derive(Debug, Clone)]
pub struct TenantCredential {
    /// Directory (tenant) id.
    pub tenant_id: TenantId,
    /// Application (client) id; for [`CredentialKind::User`], the public client that signed in.
    pub client_id: ClientId,
    /// Entra authority host (`https://login.microsoftonline.com`, a sovereign cloud's, or the
    /// simulated tenant's); https only.
    pub authority: url::Url,
    /// How the app proves who it is.
    pub kind: CredentialKind,
}

impl TenantCredential {
    /// The v2 token endpoint: `{authority}/{tenant_id}/oauth2/v2.0/token`.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.authority.as_str().trim_end_matches('/'), self.tenant_id)
    }

    /// The device-authorization endpoint: `{authority}/{tenant_id}/oauth2/v2.0/devicecode`.
    pub fn devicecode_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/devicecode", self.authority.as_str().trim_end_matches('/'), self.tenant_id)
    }
}

/// The credential kinds.
#[derive(Debug, Clone)]
pub enum CredentialKind {
    /// A client secret, sent as the form field `client_secret`.
    ClientSecret(Material),
    /// A certificate and its RSA private key, both PEM in one document (`CERTIFICATE` +
    /// `PRIVATE KEY` or `RSA PRIVATE KEY`): we sign a `client_assertion` JWT with it. PFX is not read.
    Certificate(Material),
    /// A federated credential: the `client_assertion` is a token from another issuer.
    Federated(AssertionSource),
    /// User (delegated) context: a refresh token kept in the vault under this name, written by
    /// [`super::device_code_login`] and rotated on every use.
    User {
        /// The vault secret holding the refresh token.
        refresh_token_secret: String,
    },
}

/// Where secret material lives.
#[derive(Debug, Clone)]
pub enum Material {
    /// In the configuration itself (local mode, tests).
    Inline(SecretString),
    /// In the secret store, under this name.
    Vault(String),
}

impl Material {
    /// The vault secret name, when the material lives in the vault.
    pub fn vault_name(&self) -> Option<&str> {
        match self {
            Self::Vault(name) => Some(name),
            Self::Inline(_) => None,
        }
    }
}
