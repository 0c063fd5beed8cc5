//! The permission manifest: for every documented endpoint, the application and delegated permissions
//! any one of which lets a caller use it ([`Endpoint::permissions`], generated from the contract files'
//! `permissions` by `shared/build.rs`), the `doctor` self-check over a token's roles or scopes, and what
//! an app registration is granted ([`application_grant`]) and must not hold ([`RESPONSE`], [`excess`]).

use super::Endpoint;
use crate::cloud::ApiFamily;

/// What an endpoint needs: any one application permission (`roles` claim) or, in user context, any one
/// delegated permission (`scp` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    /// Application permissions (any one suffices).
    pub application: &'static [&'static str],
    /// Delegated permissions (any one suffices); empty where the docs list none.
    pub delegated: &'static [&'static str],
}

/// Application permissions that change a tenant's machines, incidents, alerts' state in Graph or
/// indicators: response actions and incident/indicator writes. The reader identity (webhook-enrich,
/// scheduled-export) must hold none of them (split identities, docs/security.md); `doctor` reports any
/// a token holds that none of a function's endpoints needs ([`excess`]).
///
/// Not listed: `Alert.ReadWrite.All` and `Machine.ReadWrite.All`. Microsoft documents them as the
/// *only* application permissions of two read endpoints the enrichment calls (`mde.domains.alerts`,
/// `mde.users.machines`), so the reader needs them; they let a holder update alerts and machine tags,
/// never act on a machine (docs/permissions.md).
pub const RESPONSE: &[&str] = &[
    "Machine.Isolate",
    "Machine.RestrictExecution",
    "Machine.Scan",
    "Machine.CollectForensics",
    "Machine.LiveResponse",
    "Machine.StopAndQuarantine",
    "Machine.Offboard",
    "Incident.ReadWrite.All",
    "SecurityIncident.ReadWrite.All",
    "SecurityAlert.ReadWrite.All",
    "Ti.ReadWrite",
    "Ti.ReadWrite.All",
];

/// A minimal set covering `needs` (each entry: the permissions any one of which suffices): the
/// permissions that are some endpoint's only choice first, then for every endpoint not yet covered
/// its first (least privileged) listed permission.
pub fn minimal(needs: &[&'static [&'static str]]) -> std::collections::BTreeSet<&'static str> {
    let mut chosen: std::collections::BTreeSet<&'static str> =
        needs.iter().filter(|n| n.len() == 1).map(|n| n[0]).collect();
    for n in needs {
        if !n.is_empty() && !n.iter().any(|p| chosen.contains(p)) {
            chosen.insert(n[0]);
        }
    }
    chosen
}

/// The application permissions an app registration serving `endpoints` is granted: [`minimal`] per
/// API family (MDE, XDR, Graph), as `scripts/grant-permissions.sh` grants them.
pub fn application_grant(endpoints: &[Endpoint]) -> std::collections::BTreeSet<&'static str> {
    let mut out = std::collections::BTreeSet::new();
    for api in [ApiFamily::Mde, ApiFamily::Xdr, ApiFamily::Graph] {
        let needs: Vec<&'static [&'static str]> =
            endpoints.iter().filter(|e| e.api() == api).map(|e| e.permissions().application).collect();
        out.extend(minimal(&needs));
    }
    out
}

/// The [`RESPONSE`] permissions among `held_roles` outside the [`application_grant`] of `endpoints`:
/// write rights the token should not carry for these endpoints (the reader's token holding
/// `Machine.Isolate`, or `Incident.ReadWrite.All` where `Incident.Read.All` suffices).
pub fn excess(held_roles: &[String], endpoints: &[Endpoint]) -> Vec<String> {
    let grant = application_grant(endpoints);
    held_roles.iter().filter(|r| RESPONSE.contains(&r.as_str()) && !grant.contains(r.as_str())).cloned().collect()
}

/// Which of `endpoints` an application token holding `held_roles` (its `roles` claim) cannot call,
/// each with the application permissions of which it would need one.
pub fn missing(held_roles: &[String], endpoints: &[Endpoint]) -> Vec<(Endpoint, &'static [&'static str])> {
    missing_by(held_roles, endpoints, |p| p.application)
}

/// As [`missing`], for a user-context token's delegated scopes (its `scp` claim, split on spaces). An
/// endpoint the docs list no delegated permission for is reported with an empty list: no scope grants it.
pub fn missing_delegated(held_scopes: &[String], endpoints: &[Endpoint]) -> Vec<(Endpoint, &'static [&'static str])> {
    missing_by(held_scopes, endpoints, |p| p.delegated)
}

fn missing_by(
    held: &[String],
    endpoints: &[Endpoint],
    pick: fn(&Permissions) -> &'static [&'static str],
) -> Vec<(Endpoint, &'static [&'static str])> {
    endpoints
        .iter()
        .filter_map(|e| {
            let needed = pick(&e.permissions());
            let ok = needed.iter().any(|p| held.iter().any(|h| h == p));
            (!ok).then_some((*e, needed))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use Endpoint::*;

    fn held(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn any_one_permission_suffices() {
        assert!(missing(&held(&["Alert.Read.All"]), &[MdeAlertsList, MdeAlertsGet]).is_empty());
        assert!(missing(&held(&["Alert.ReadWrite.All"]), &[MdeAlertsList]).is_empty());
        assert_eq!(
            missing(&held(&["Alert.Read.All"]), &[MdeAlertsList, MdeMachinesIsolate]),
            vec![(MdeMachinesIsolate, &["Machine.Isolate"][..])]
        );
        assert_eq!(MdeMachinesIsolate.permissions().delegated, &["Machine.Isolate"][..]);
    }

    #[test]
    fn excess_names_response_rights_no_endpoint_needs() {
        let held = held(&["Machine.Read.All", "Machine.Isolate", "Incident.ReadWrite.All", "Alert.ReadWrite.All"]);
        assert_eq!(excess(&held, &[MdeMachinesGet]), ["Machine.Isolate", "Incident.ReadWrite.All"]);
        // Incident.Read.All suffices for reading: the write right is excess even where it is accepted.
        assert_eq!(excess(&held, &[XdrIncidentsGet]), ["Machine.Isolate", "Incident.ReadWrite.All"]);
        assert_eq!(excess(&held, &[MdeMachinesIsolate, XdrIncidentsUpdate]), Vec::<String>::new());
    }

    #[test]
    fn roles_are_compared_exactly_and_delegated_gaps_are_reported() {
        assert_eq!(missing(&held(&["alert.read.all"]), &[MdeAlertsList]).len(), 1);
        // Delegated: Ti.* delete endpoints list no delegated permission, so no scope grants them.
        assert_eq!(
            missing_delegated(&held(&["Ti.ReadWrite"]), &[MdeIndicatorsDelete]),
            vec![(MdeIndicatorsDelete, &[][..])]
        );
        assert!(missing_delegated(&held(&["Ti.ReadWrite"]), &[MdeIndicatorsList]).is_empty());
    }

    #[test]
    fn the_grant_is_minimal_per_api_family() {
        let grant = application_grant(&[MdeAlertsList, MdeAlertsGet, MdeDomainsAlerts, XdrIncidentsGet]);
        // domains.alerts only accepts Alert.ReadWrite.All, which then covers the alert reads too.
        assert_eq!(grant.into_iter().collect::<Vec<_>>(), ["Alert.ReadWrite.All", "Incident.Read.All"]);
    }
}
