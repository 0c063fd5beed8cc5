//! `azure_core::credentials::TokenCredential` over [`TokenProvider`], so the official Key Vault SDK
//! gets its tokens from the same provider and cache as everything else (one token request per
//! scope and tenant, the same rotation and error messages).

use super::{TokenProvider, error::AuthError};
use crate::ids::TenantName;
use azure_core::{
    credentials::{AccessToken as AzureAccessToken, TokenCredential, TokenRequestOptions},
    error::ErrorKind,
};
use std::sync::Arc;

/// A `TokenCredential` for one tenant of a [`TokenProvider`].
#[derive(Debug, Clone)]
pub struct ProviderCredential {
    provider: Arc<TokenProvider>,
    tenant: TenantName,
}

impl ProviderCredential {
    /// The credential for `tenant` (for the SDK's `SecretClient::new(url, Arc::new(cred), ..)`).
    pub fn new(provider: Arc<TokenProvider>, tenant: TenantName) -> Self {
        Self { provider, tenant }
    }
}

fn to_azure_error(e: AuthError) -> azure_core::Error {
    let message = e.to_string();
    azure_core::Error::with_error(ErrorKind::Credential, e, message)
}

#[async_trait::async_trait]
impl TokenCredential for ProviderCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AzureAccessToken> {
        // The SDK asks for one `<resource>/.default` (Key Vault: `https://vault.azure.net/.default`).
        let scope = scopes.join(" ");
        let token = self.provider.token_for(&self.tenant, &scope).await.map_err(to_azure_error)?;
        let expires_on = time::OffsetDateTime::from_unix_timestamp(token.expires_at.timestamp())
            .map_err(|e| azure_core::Error::with_error(ErrorKind::Credential, e, "token expiry out of range"))?;
        Ok(AzureAccessToken::new(token.secret.expose().to_string(), expires_on))
    }
}
