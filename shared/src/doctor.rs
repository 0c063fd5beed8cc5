//! The permission self-check: for each tenant and each API a function calls, get a token, read its
//! `roles` (application) or `scp` (delegated) claim, and name every permission a function needs but
//! the token lacks — before the first real call fails with a 403 — and every response right it holds
//! that the function does not need (the reader holding `Machine.Isolate`). Used by
//! `defender-functions doctor` and logged once at each function's cold start.

use crate::{
    cloud::ApiFamily,
    defender::{Endpoint, TargetResolver, permissions},
    ids::TenantName,
    runtime::Runtime,
};

/// One finding for one tenant and API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// The token holds a permission for every endpoint.
    Ok {
        /// Tenant.
        tenant: String,
        /// API.
        api: ApiFamily,
        /// Endpoints checked.
        endpoints: usize,
    },
    /// Some endpoints cannot be called: each with the permissions of which one would do.
    Missing {
        /// Tenant.
        tenant: String,
        /// API.
        api: ApiFamily,
        /// (endpoint, any-one-of permissions).
        missing: Vec<(String, Vec<String>)>,
    },
    /// The token holds response rights (Machine.Isolate, Incident.ReadWrite.All, ...) that none of
    /// the function's endpoints needs: the identity is broader than the function (split identities:
    /// give the reader functions the reader app, docs/security.md).
    Excess {
        /// Tenant.
        tenant: String,
        /// API.
        api: ApiFamily,
        /// The unneeded response permissions the token carries.
        roles: Vec<String>,
    },
    /// No token could be had (the reason says what to fix).
    NoToken {
        /// Tenant.
        tenant: String,
        /// API.
        api: ApiFamily,
        /// Why.
        reason: String,
    },
}

impl Finding {
    /// Whether this finding means a call will fail.
    pub fn is_problem(&self) -> bool {
        !matches!(self, Self::Ok { .. })
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ok { tenant, api, endpoints } => {
                write!(f, "ok       {tenant} {api:?}: all {endpoints} endpoints permitted")
            }
            Self::Missing { tenant, api, missing } => {
                write!(f, "MISSING  {tenant} {api:?}:")?;
                for (ep, any) in missing {
                    write!(
                        f,
                        "\n           {ep} needs one of {}",
                        if any.is_empty() { "(not grantable)".to_string() } else { any.join(", ") }
                    )?;
                }
                Ok(())
            }
            Self::Excess { tenant, api, roles } => write!(
                f,
                "EXCESS   {tenant} {api:?}: the token holds {} which no endpoint of this function needs \
                 (use the reader app for webhook-enrich and scheduled-export; docs/security.md)",
                roles.join(", ")
            ),
            Self::NoToken { tenant, api, reason } => write!(f, "NO TOKEN {tenant} {api:?}: {reason}"),
        }
    }
}

/// Checks `endpoints` for every tenant in `tenants` (all when empty).
pub async fn check(rt: &Runtime, tenants: &[TenantName], endpoints: &[Endpoint]) -> Vec<Finding> {
    let names: Vec<TenantName> =
        if tenants.is_empty() { rt.registry.iter().map(|t| t.name.clone()).collect() } else { tenants.to_vec() };
    let mut out = Vec::new();
    for tenant in &names {
        for api in [ApiFamily::Mde, ApiFamily::Xdr, ApiFamily::Graph] {
            let mine: Vec<Endpoint> = endpoints.iter().copied().filter(|e| e.api() == api).collect();
            if mine.is_empty() {
                continue;
            }
            let Some(target) = rt.registry.target(tenant, api) else {
                out.push(Finding::NoToken {
                    tenant: tenant.to_string(),
                    api,
                    reason: "no API target configured".into(),
                });
                continue;
            };
            let token = match rt.tokens.token_for(tenant, &target.scope).await {
                Ok(t) => t,
                Err(e) => {
                    out.push(Finding::NoToken { tenant: tenant.to_string(), api, reason: e.to_string() });
                    continue;
                }
            };
            let claims = match token.claims() {
                Ok(c) => c,
                Err(e) => {
                    out.push(Finding::NoToken { tenant: tenant.to_string(), api, reason: e.to_string() });
                    continue;
                }
            };
            let missing = if claims.scp.is_empty() {
                permissions::missing(&claims.roles, &mine)
            } else {
                permissions::missing_delegated(&claims.scp, &mine)
            };
            // Only application tokens: a user-context token carries the user's own rights.
            let excess = if claims.scp.is_empty() { permissions::excess(&claims.roles, endpoints) } else { Vec::new() };
            if !excess.is_empty() {
                out.push(Finding::Excess { tenant: tenant.to_string(), api, roles: excess });
            }
            if missing.is_empty() {
                out.push(Finding::Ok { tenant: tenant.to_string(), api, endpoints: mine.len() });
            } else {
                let missing = missing
                    .into_iter()
                    .map(|(e, p)| (e.name().to_string(), p.iter().map(|s| s.to_string()).collect()))
                    .collect();
                out.push(Finding::Missing { tenant: tenant.to_string(), api, missing });
            }
        }
    }
    out
}

/// The permissions table for `docs/permissions.md`: for each identity (app registration) the
/// application permissions the grant script gives it, then for each function, per API, every endpoint
/// it may call and the application / delegated permissions that admit it (any one of each list
/// suffices).
pub fn permissions_markdown(functions: &[(&str, &[Endpoint])], identities: &[(&str, &[&str])]) -> String {
    let mut out = String::from(
        "# Permissions\n\nGenerated from the permission manifest (`Endpoint::permissions`, generated at build time from\n\
         Microsoft's documented permission lists in `contract/defender-api/`) and each function's endpoint list\n\
         (`defender-functions permissions > docs/permissions.md`; a test fails when this file is stale).\n\
         For each endpoint, **one** of the listed permissions suffices. Grant them on the API named in the\n\
         heading and give admin consent; `defender-functions doctor` checks a deployed app.\n\n\
         ## Identities\n\n\
         Two app registrations (split identities, docs/security.md): `scripts/grant-permissions.sh <app id> <identity>`\n\
         grants each the application permissions below and nothing else. The reader holds no response\n\
         permission (none of `permissions::RESPONSE`).\n\n\
         | identity | functions | application permissions granted | response permissions |\n|---|---|---|---|\n",
    );
    for (id, fns) in identities {
        let endpoints: Vec<Endpoint> =
            functions.iter().filter(|(f, _)| fns.contains(f)).flat_map(|(_, e)| e.iter().copied()).collect();
        let granted = permissions::application_grant(&endpoints);
        let response: Vec<&str> = granted.iter().copied().filter(|p| permissions::RESPONSE.contains(p)).collect();
        out.push_str(&format!(
            "| {id} | {} | {} | {} |\n",
            fns.join(", "),
            granted.into_iter().collect::<Vec<_>>().join(", "),
            if response.is_empty() { "none".to_string() } else { response.join(", ") }
        ));
    }
    for (function, endpoints) in functions {
        out.push_str(&format!("\n## {function}\n"));
        for (api, title) in [
            (ApiFamily::Mde, "WindowsDefenderATP (Defender for Endpoint)"),
            (ApiFamily::Xdr, "Microsoft Threat Protection (Defender XDR)"),
            (ApiFamily::Graph, "Microsoft Graph"),
        ] {
            let mine: Vec<Endpoint> = endpoints.iter().copied().filter(|e| e.api() == api).collect();
            if mine.is_empty() {
                continue;
            }
            out.push_str(&format!(
                "\n### {title}\n\n| endpoint | application (any one) | delegated (any one) |\n|---|---|---|\n"
            ));
            for e in mine {
                let p = e.permissions();
                let join = |l: &[&str]| if l.is_empty() { "—".to_string() } else { l.join(", ") };
                let (app, del) = (join(p.application), join(p.delegated));
                out.push_str(&format!("| `{e}` | {app} | {del} |\n"));
            }
        }
    }
    out
}
