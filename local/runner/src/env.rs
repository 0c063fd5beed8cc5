//! The environment each function gets locally: what a deployed function reads
//! (`docs/configuration.md`, `infra/template.yaml`), pointed at the simulated tenant.

use std::{collections::HashMap, path::Path};

pub use testkit::demo::{ANALYST, APP, BOT, POLICY, RESPONDER_APP, RESPONDER_SECRET, SECRET as APP_SECRET};

/// The shared variables, pointed at the simulator at `sim_url` whose CA is in `ca`.
pub fn base(sim_url: &str, tenant_id: &str, ca: &Path) -> HashMap<String, String> {
    let mut env: HashMap<String, String> = testkit::sim::function_env(sim_url, tenant_id, ca).into_iter().collect();
    env.insert("RUST_LOG".into(), "info".into());
    env
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
