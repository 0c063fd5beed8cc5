//! `defender-functions grant-script`: the Azure CLI script that adds each function's Entra permissions
//! to an app registration and grants admin consent (`scripts/grant-permissions.sh`).
//!
//! The script's logic is written once, by hand, in the script; this module generates only its data —
//! the block between `# BEGIN GENERATED` and `# END GENERATED`: which functions each identity serves,
//! each cloud's Entra authority and Graph (from the cloud table, `defender_shared::cloud`), the three
//! APIs' application ids, and one row per function and kind listing the permissions to grant (`function kind API:permission ...`), from
//! the permission manifest (`Endpoint::permissions`, generated from the contract) and each function's
//! endpoint list — the same sources as `docs/permissions.md`. The script reads its tables with one loop
//! each, so a new function, permission or cloud is a new row, not a new copy of shell code. The CLI
//! does not run `az` itself because the script ships without Rust in `dist/` for deployers; it prints
//! the committed script with the block regenerated, and a test fails when the committed one differs.
//!
//! For each function and API the script grants a **minimal** set: permissions that are the only
//! choice for some endpoint first, then, for every endpoint not yet covered, its first (least
//! privileged) listed permission. Role ids are looked up from the API's service principal when the
//! script runs (`az ad sp show`), so no GUID of a permission is hard-coded here.
//!
//! National clouds: the script takes `--cloud` (default `$DEFENDER_CLOUD`, else commercial) and refuses
//! to run unless the Azure CLI's active cloud signs in at that cloud's Entra authority and calls its
//! Graph (GCC High: `login.microsoftonline.us`, `graph.microsoft.us`; DoD: `dod-graph.microsoft.us`).
//! `az` signs in, adds the permissions and consents through its active cloud, so a CLI left on the
//! commercial cloud would act on the wrong directory. When it does not consent, it prints the
//! admin-consent URL on that cloud's authority.

use defender_shared::{
    cloud::{self, ApiFamily, Cloud, CloudError},
    defender::{Endpoint, permissions},
};
use std::collections::BTreeSet;

/// The committed script; [`script`] replaces its generated block.
pub const TEMPLATE: &str = include_str!("../../../scripts/grant-permissions.sh");

const BEGIN: &str = "# BEGIN GENERATED\n";
const END: &str = "# END GENERATED\n";

/// The resource application ids of the three APIs (first-party, the same in every tenant).
const APIS: [(ApiFamily, &str, &str, &str); 3] = [
    (ApiFamily::Mde, "MDE", "fc780465-2017-40d4-a0c5-307022471b92", "WindowsDefenderATP (Defender for Endpoint)"),
    (ApiFamily::Xdr, "XDR", "8ee8fdad-f234-4243-8f3b-15c294843740", "Microsoft Threat Protection (Defender XDR)"),
    (ApiFamily::Graph, "GRAPH", "00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
];

/// Why the script cannot be generated.
#[derive(Debug, thiserror::Error)]
pub enum GrantError {
    /// The cloud table is broken (its tests parse every cell).
    #[error(transparent)]
    Cloud(#[from] CloudError),
    /// The committed script lost its generated block's markers.
    #[error("scripts/grant-permissions.sh has no '# BEGIN GENERATED' ... '# END GENERATED' block")]
    NoBlock,
}

/// A minimal set covering `needs` (the manifest's [`permissions::minimal`]).
pub fn minimal(needs: &[&'static [&'static str]]) -> BTreeSet<&'static str> {
    permissions::minimal(needs)
}

/// How to point the Azure CLI at `c`.
fn cli_hint(c: Cloud, graph: &str) -> String {
    match c {
        Cloud::Commercial | Cloud::Gcc => "az cloud set --name AzureCloud && az login".to_string(),
        Cloud::GccHigh => "az cloud set --name AzureUSGovernment && az login".to_string(),
        // The CLI's AzureUSGovernment cloud calls graph.microsoft.us; DoD tenants are served by
        // dod-graph (https://learn.microsoft.com/graph/deployments). Azure CLI 2.75 or later can
        // register a cloud with its own Graph endpoint.
        Cloud::Dod => format!(
            "az cloud register --name AzureUSGovernmentDoD --endpoint-resource-manager \
             https://management.usgovcloudapi.net/ --endpoint-microsoft-graph-resource-id {graph}/ \
             && az cloud set --name AzureUSGovernmentDoD && az login (Azure CLI 2.75 or later)"
        ),
    }
}

/// The generated block: `functions` with their endpoints, `identities` naming the app registration
/// (reader, responder) that serves each function.
///
/// # Errors
/// Only if the cloud table is broken ([`CloudError::Url`]).
pub fn block(functions: &[(&str, &[Endpoint])], identities: &[(&str, &[&str])]) -> Result<String, CloudError> {
    let mut out = String::from("# identity, the functions it serves\nIDENTITIES='\n");
    for (id, fns) in identities {
        out.push_str(&format!("{id} {}\n", fns.join(" ")));
    }
    out.push_str(
        "'\n# cloud, Entra authority, Graph resource (no trailing slash), how to point the Azure CLI at it\nCLOUDS='\n",
    );
    for c in Cloud::ALL {
        let login = c.authority()?.as_str().trim_end_matches('/').to_string();
        let graph = cloud::endpoints(c, ApiFamily::Graph, None)?;
        let graph = graph.scope.trim_end_matches("/.default").to_string();
        out.push_str(&format!("{} {login} {graph} {}\n", c.as_str(), cli_hint(c, &graph)));
    }
    out.push_str("'\n");
    for (_, var, id, label) in APIS {
        out.push_str(&format!("{var}={id}  # {label}\n"));
    }
    out.push_str("# function, kind, then API:permission for each of a minimal set\nGRANTS='\n");
    for (function, endpoints) in functions {
        for (kind, delegated) in [("application", false), ("delegated", true)] {
            out.push_str(&format!("{function} {kind}"));
            for (api, var, _, _) in APIS {
                let needs: Vec<&'static [&'static str]> = endpoints
                    .iter()
                    .filter(|e| e.api() == api)
                    .map(|e| if delegated { e.permissions().delegated } else { e.permissions().application })
                    .collect();
                for perm in minimal(&needs) {
                    out.push_str(&format!(" {var}:{perm}"));
                }
            }
            out.push('\n');
        }
    }
    out.push_str("'\n");
    Ok(out)
}

/// `template` (the committed script) with its generated block replaced by [`block`].
///
/// # Errors
/// The cloud table is broken, or `template` has no generated block.
pub fn script(
    template: &str,
    functions: &[(&str, &[Endpoint])],
    identities: &[(&str, &[&str])],
) -> Result<String, GrantError> {
    let start = template.find(BEGIN).ok_or(GrantError::NoBlock)? + BEGIN.len();
    let end = template[start..].find(END).ok_or(GrantError::NoBlock)? + start;
    Ok(format!("{}{}{}", &template[..start], block(functions, identities)?, &template[end..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_prefers_forced_choices_then_the_first_listed() {
        let needs: Vec<&'static [&'static str]> = vec![
            &["Machine.Read.All", "Machine.ReadWrite.All"],
            &["Machine.Isolate"],
            &["Alert.Read.All", "Alert.ReadWrite.All"],
            &["Alert.ReadWrite.All"],
        ];
        let got: Vec<&str> = minimal(&needs).into_iter().collect();
        assert_eq!(got, vec!["Alert.ReadWrite.All", "Machine.Isolate", "Machine.Read.All"]);
    }

    #[test]
    fn the_script_grants_per_function_and_consents() {
        let s = script(TEMPLATE, &[("webhook-enrich", webhook_enrich::ENDPOINTS)], &[("reader", &["webhook-enrich"])])
            .expect("the cloud table parses");
        assert!(s.starts_with("#!/usr/bin/env bash\n"));
        assert!(s.contains("\nreader webhook-enrich\n"), "{s}");
        assert!(s.contains("\nwebhook-enrich application MDE:"), "{s}");
        assert!(s.contains(" XDR:Incident.Read.All GRAPH:ThreatHunting.Read.All\nwebhook-enrich delegated "), "{s}");
        assert!(s.contains("az ad app permission admin-consent"));
        assert!(matches!(script("#!/bin/sh\n", &[], &[]), Err(GrantError::NoBlock)));
    }
}
