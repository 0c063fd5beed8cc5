//! The environment each function gets locally: what a deployed function reads
//! (`docs/configuration.md`, `infra/template.yaml`), pointed at the simulated tenant.

use std::{collections::HashMap, path::Path};

/// The demo tenant's application (tenant-sim's demo seed).
pub const APP: &str = "11111111-1111-4111-8111-111111111111";
/// Its secret in the demo seed (a simulator value, not a real credential).
pub const APP_SECRET: &str = "demo-secret-value-do-not-use-in-prod";
/// The responder app of a split-identity deployment (`ResponderClientId`; docs/security.md): tests that
/// deploy the template register it in the simulator beside [`APP`], the reader.
pub const RESPONDER_APP: &str = "44444444-4444-4444-8444-444444444444";
/// Its client secret in the tests that register it.
pub const RESPONDER_SECRET: &str = "responder-secret-value-do-not-use-in-prod";
/// The Teams bot's app id (an app of the demo seed; the simulator's Bot Framework signs activities
/// for it and takes its token on the conversations API).
pub const BOT: &str = "66666666-6666-4666-8666-666666666666";
/// The chat user the demo policy lets look things up and isolate.
pub const ANALYST: &str = "U0ANALYST";
/// The demo chat-ops access policy (`CHATOPS_RBAC`).
pub const POLICY: &str = r#"{"slack":{"app_id":"A0DEFENDER","workspaces":["T0001"]},"teams":{"tenants":["72f988bf-86f1-41af-91ab-2d7cd011db47"]},"catch_all":{"tenant":"default"},"tenants":{"default":{"T0001:U0ANALYST":["read","hunt","incident","isolate","unisolate","scan"],"72f988bf-86f1-41af-91ab-2d7cd011db47:U0ANALYST":["read","hunt","incident","isolate","unisolate","scan"]}}}"#;

/// The shared variables, pointed at the simulator at `sim_url` whose CA is in `ca`.
pub fn base(sim_url: &str, tenant_id: &str, ca: &Path) -> HashMap<String, String> {
    [
        ("AZURE_TENANT_ID", tenant_id),
        ("AZURE_CLIENT_ID", APP),
        ("AZURE_CLIENT_SECRET", APP_SECRET),
        ("AZURE_AUTHORITY_HOST", sim_url),
        ("KEY_VAULT_URL", sim_url),
        ("MDE_API_URL", sim_url),
        ("XDR_API_URL", sim_url),
        ("GRAPH_API_URL", sim_url),
        ("DEFENDER_EXTRA_CA_FILE", &ca.display().to_string()),
        ("DEFENDER_LOCAL_MODE", "1"),
        ("RUST_LOG", "info"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `base` plus what one function needs: chat-ops its policy and the `response_url` receiver,
/// the export `export` (its sink variables).
pub fn for_function(
    base: &HashMap<String, String>,
    function: &str,
    hooks: &str,
    export: &[(String, String)],
) -> Vec<(String, String)> {
    let mut env = base.clone();
    match function {
        "scheduled-export" => env.extend(export.iter().cloned()),
        "chatops-callback" | "chatops-worker" => {
            env.insert("DEFENDER_ALLOWED_ACTIONS".into(), "isolate,unisolate,scan".into());
            env.insert("CHATOPS_RBAC".into(), POLICY.into());
            env.insert("CHATOPS_RESPONSE_URL_PREFIXES".into(), hooks.into());
            // The Teams bot, against the simulator's Bot Framework stand-in.
            let sim = base.get("MDE_API_URL").cloned().unwrap_or_default();
            let tenant = base.get("AZURE_TENANT_ID").cloned().unwrap_or_default();
            env.insert("CHATOPS_BOT_APP_ID".into(), BOT.into());
            env.insert("CHATOPS_BOT_TENANT_ID".into(), tenant);
            env.insert("CHATOPS_BOT_SECRET_NAME".into(), "teams-bot-secret".into());
            env.insert(
                "CHATOPS_BOT_OPENID_METADATA_URL".into(),
                format!("{sim}/botframework/v1/.well-known/openidconfiguration"),
            );
            env.insert("CHATOPS_BOT_SERVICE_URL_PREFIXES".into(), format!("{sim}/smba/"));
            env.insert("CHATOPS_RECHECK_S".into(), "5".into());
        }
        _ => {}
    }
    let mut v: Vec<(String, String)> = env.into_iter().collect();
    v.sort();
    v
}
