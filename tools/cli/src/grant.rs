//! `defender-functions grant-script`: the Azure CLI script that adds each function's Entra permissions
//! to an app registration and grants admin consent, generated from the permission manifest
//! (`Endpoint::permissions`, generated from the contract) and each function's endpoint list — the same sources as
//! `docs/permissions.md`. Committed as `scripts/grant-permissions.sh`; a test fails when it is stale.
//!
//! For each function and API the script grants a **minimal** set: permissions that are the only
//! choice for some endpoint first, then, for every endpoint not yet covered, its first (least
//! privileged) listed permission. Role ids are looked up from the API's service principal when the
//! script runs (`az ad sp show`), so no GUID of a permission is hard-coded here.
//!
//! National clouds: the script takes `--cloud` (default `$DEFENDER_CLOUD`, else commercial) and refuses
//! to run unless the Azure CLI's active cloud signs in at that cloud's Entra authority and calls its
//! Graph (GCC High: `login.microsoftonline.us`, `graph.microsoft.us`; DoD: `dod-graph.microsoft.us`),
//! both taken from the cloud table (`defender_shared::cloud`). `az` signs in, adds the permissions and
//! consents through its active cloud, so a CLI left on the commercial cloud would act on the wrong
//! directory. When it does not consent, it prints the admin-consent URL on that cloud's authority.

use defender_shared::{
    cloud::{self, ApiFamily, Cloud, CloudError},
    defender::{Endpoint, permissions},
};
use std::collections::BTreeSet;

/// The resource application ids of the three APIs (first-party, the same in every tenant).
const APIS: [(ApiFamily, &str, &str, &str); 3] = [
    (ApiFamily::Mde, "MDE", "fc780465-2017-40d4-a0c5-307022471b92", "WindowsDefenderATP (Defender for Endpoint)"),
    (ApiFamily::Xdr, "XDR", "8ee8fdad-f234-4243-8f3b-15c294843740", "Microsoft Threat Protection (Defender XDR)"),
    (ApiFamily::Graph, "GRAPH", "00000003-0000-0000-c000-000000000000", "Microsoft Graph"),
];

/// A minimal set covering `needs` (the manifest's [`permissions::minimal`]).
pub fn minimal(needs: &[&'static [&'static str]]) -> BTreeSet<&'static str> {
    permissions::minimal(needs)
}

fn section(out: &mut String, endpoints: &[Endpoint], delegated: bool) {
    for (api, var, _, _) in APIS {
        let needs: Vec<&'static [&'static str]> = endpoints
            .iter()
            .filter(|e| e.api() == api)
            .map(|e| e.permissions())
            .map(|p| if delegated { p.delegated } else { p.application })
            .collect();
        for perm in minimal(&needs) {
            out.push_str(&format!("  grant \"${var}\" {} {perm}\n", if delegated { "Scope" } else { "Role" }));
        }
    }
}

/// The script's `case "$CLOUD"` arms: each cloud's Entra authority and Graph resource (no trailing slash),
/// and how to point the Azure CLI at it.
fn cloud_cases() -> Result<String, CloudError> {
    let mut out = String::new();
    for c in Cloud::ALL {
        let login = c.authority()?.as_str().trim_end_matches('/').to_string();
        let graph = cloud::endpoints(c, ApiFamily::Graph, None)?;
        let graph = graph.scope.trim_end_matches("/.default").to_string();
        let hint = match c {
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
        };
        out.push_str(&format!(
            "  {name}) CLOUD_LOGIN={login} CLOUD_GRAPH={graph}\n    HOW='{hint}' ;;\n",
            name = c.as_str()
        ));
    }
    Ok(out)
}

/// The whole script: `functions` with their endpoints, `identities` naming the app registration (reader,
/// responder) that serves each function — the script grants one identity's functions at a time.
///
/// # Errors
/// Only if the cloud table is broken ([`CloudError::Url`]); its tests parse every cell.
pub fn script(functions: &[(&str, &[Endpoint])], identities: &[(&str, &[&str])]) -> Result<String, CloudError> {
    let usage_ids: Vec<String> = identities.iter().map(|(id, fns)| format!("{id} ({})", fns.join(", "))).collect();
    let cases: String =
        identities.iter().map(|(id, fns)| format!("  {id}) FUNCTIONS=\"{}\" ;;\n", fns.join(" "))).collect();
    let mut out = format!(
        r#"#!/usr/bin/env bash
# Grants one identity's Microsoft Entra permissions to its app registration, then admin consent.
# GENERATED by `defender-functions grant-script` (make grant-script) from the permission manifest
# (Endpoint::permissions, from contract/defender-api/) and each function's endpoints, like docs/permissions.md.
# Do not edit: a test fails when this file differs from what the CLI prints.
#
# Usage: scripts/grant-permissions.sh APP_ID IDENTITY [--cloud CLOUD] [--delegated] [--no-consent]
#   APP_ID        the application (client) id of the app registration
#   IDENTITY      {ids}
#                 Split identities (docs/security.md): the reader and the responder are two app
#                 registrations (template ReaderClientId, ResponderClientId); never grant both to one.
#   --cloud       commercial | gcc | gcc-high | dod (default: $DEFENDER_CLOUD, else commercial); the
#                 Azure CLI's active cloud must be that one (`az cloud show`), or nothing is done
#   --delegated   delegated permissions (user context, device-code login) instead of application ones
#   --no-consent  add the permissions only; a Global or Privileged Role Administrator consents later
#                 (the script prints the admin-consent URL on the cloud's own sign-in host)
# Needs the Azure CLI, signed in (`az login`) as someone who may edit the app (and consent).
set -euo pipefail

USAGE="usage: $0 APP_ID IDENTITY [--cloud commercial|gcc|gcc-high|dod] [--delegated] [--no-consent]"
APP_ID="${{1:?$USAGE}}"
IDENTITY="${{2:?$USAGE}}"
shift 2
case "$IDENTITY" in
{cases}  *) echo "unknown identity: $IDENTITY (expected {alts})" >&2; exit 2 ;;
esac
KIND=application
CONSENT=1
CLOUD="${{DEFENDER_CLOUD:-commercial}}"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --delegated) KIND=delegated ;;
    --no-consent) CONSENT=0 ;;
    --cloud) CLOUD="${{2:?--cloud needs a value}}"; shift ;;
    --cloud=*) CLOUD="${{1#--cloud=}}" ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done

# The cloud's Entra authority and Graph (the functions' cloud table, shared/src/cloud.rs).
case "$CLOUD" in
{clouds}  *) echo "unknown cloud: $CLOUD (expected commercial, gcc, gcc-high or dod)" >&2; exit 2 ;;
esac
# az signs in, adds permissions and consents through its active cloud: it must be this one, or the
# permissions would be looked up, added and consented in another directory (or fail half-way).
AZ_LOGIN="$(az cloud show --query endpoints.activeDirectory -o tsv)"
AZ_GRAPH="$(az cloud show --query endpoints.microsoftGraphResourceId -o tsv)"
if [[ "${{AZ_LOGIN%/}}" != "$CLOUD_LOGIN" || "${{AZ_GRAPH%/}}" != "$CLOUD_GRAPH" ]]; then
  echo "error: the Azure CLI's active cloud signs in at ${{AZ_LOGIN:-?}} and calls Graph at ${{AZ_GRAPH:-?}};" >&2
  echo "       $CLOUD needs $CLOUD_LOGIN and $CLOUD_GRAPH. Point the CLI at it first:" >&2
  echo "       $HOW" >&2
  exit 1
fi
TENANT="$(az account show --query tenantId -o tsv)"
CONSENT_URL="$CLOUD_LOGIN/$TENANT/adminconsent?client_id=$APP_ID"

"#,
        ids = usage_ids.join(" | "),
        clouds = cloud_cases()?,
        alts = identities.iter().map(|(id, _)| *id).collect::<Vec<_>>().join(" or "),
    );
    for (_, var, id, label) in APIS {
        out.push_str(&format!("{var}={id}  # {label}\n"));
    }
    out.push_str(
        r#"
declare -A DONE=()
# grant API_APP_ID Role|Scope PERMISSION: look the permission's id up on the API's service principal, add it.
grant() {
  local api="$1" type="$2" perm="$3" field id
  [[ -n "${DONE[$api/$type/$perm]:-}" ]] && return 0
  if [[ "$type" == Role ]]; then field=appRoles; else field=oauth2PermissionScopes; fi
  id="$(az ad sp show --id "$api" --query "$field[?value=='$perm'].id | [0]" -o tsv)"
  if [[ -z "$id" ]]; then
    echo "error: $perm is not a $type of API $api in this tenant" >&2
    exit 1
  fi
  echo "adding $perm ($type) on $api"
  az ad app permission add --id "$APP_ID" --api "$api" --api-permissions "$id=$type" --only-show-errors
  DONE[$api/$type/$perm]=1
}
wants() { [[ " $FUNCTIONS " == *" $1 "* ]]; }
"#,
    );
    for (function, endpoints) in functions {
        out.push_str(&format!("\nif wants {function}; then\n  if [[ \"$KIND\" == application ]]; then\n"));
        let mut app = String::new();
        section(&mut app, endpoints, false);
        out.push_str(&app.replace("\n  ", "\n    ").replacen("  ", "    ", 1));
        out.push_str("  else\n");
        let mut del = String::new();
        section(&mut del, endpoints, true);
        if del.is_empty() {
            del = "  :\n".into();
        }
        out.push_str(&del.replace("\n  ", "\n    ").replacen("  ", "    ", 1));
        out.push_str("  fi\nfi\n");
    }
    out.push_str(
        r#"
if [[ "$CONSENT" == 1 ]]; then
  echo "granting admin consent for $APP_ID ($CLOUD)"
  if ! az ad app permission admin-consent --id "$APP_ID" --only-show-errors; then
    echo "admin consent failed; an administrator of tenant $TENANT can consent at: $CONSENT_URL" >&2
    exit 1
  fi
else
  echo "permissions added; admin consent still needed: az ad app permission admin-consent --id $APP_ID"
  echo "or, by an administrator of tenant $TENANT in a browser: $CONSENT_URL"
fi
"#,
    );
    Ok(out)
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
        let s = script(&[("webhook-enrich", webhook_enrich::ENDPOINTS)], &[("reader", &["webhook-enrich"])])
            .expect("the cloud table parses");
        assert!(s.starts_with("#!/usr/bin/env bash\n"));
        assert!(s.contains("  reader) FUNCTIONS=\"webhook-enrich\" ;;"), "{s}");
        assert!(s.contains("if wants webhook-enrich; then"));
        assert!(s.contains("grant \"$XDR\" Role Incident.Read.All"), "{s}");
        assert!(s.contains("az ad app permission admin-consent"));
    }
}
