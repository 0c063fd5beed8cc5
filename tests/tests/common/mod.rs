//! What the stack tests share: the template resolved for the demo tenant's apps.

#![allow(dead_code)]

use local_runner::{env, moto::resolve_template, paths::Paths};
use serde_json::Value;

/// The template resolved for the demo tenant's reader and responder apps and the vault at
/// `https://<vault>.vault.azure.net`, with the `extra` parameters.
pub fn resolved(vault: &str, extra: &[(&str, &str)]) -> Value {
    let vault_url = format!("https://{vault}.vault.azure.net");
    let mut params = vec![
        ("TenantId", "00000000-0000-4000-8000-000000000001"),
        ("ReaderClientId", env::APP),
        ("ResponderClientId", env::RESPONDER_APP),
        ("KeyVaultUrl", vault_url.as_str()),
    ];
    params.extend_from_slice(extra);
    resolve_template(&Paths::discover(), &params).unwrap_or_else(|e| panic!("{e}"))
}
