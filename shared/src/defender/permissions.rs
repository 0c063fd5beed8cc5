//! The permission manifest: for every documented endpoint, the application and delegated permissions
//! any one of which lets a caller use it (the contract files' `permissions`; `shared/tests/fidelity.rs`
//! checks this table against them), the `doctor` self-check over a token's roles or scopes, and what an
//! app registration is granted ([`application_grant`]) and must not hold ([`RESPONSE`], [`excess`]).

/// What an endpoint needs: any one application permission (`roles` claim) or, in user context, any one
/// delegated permission (`scp` claim).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    /// Application permissions (any one suffices).
    pub application: &'static [&'static str],
    /// Delegated permissions (any one suffices); empty where the docs list none.
    pub delegated: &'static [&'static str],
}

/// Every documented endpoint and its permissions, in contract-name order.
pub const MANIFEST: &[(&str, Permissions)] = &[
    (
        "graph.security.alerts_v2.get",
        Permissions {
            application: &["SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"],
            delegated: &["SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"],
        },
    ),
    (
        "graph.security.alerts_v2.list",
        Permissions {
            application: &["SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"],
            delegated: &["SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"],
        },
    ),
    (
        "graph.security.alerts_v2.update",
        Permissions { application: &["SecurityAlert.ReadWrite.All"], delegated: &["SecurityAlert.ReadWrite.All"] },
    ),
    (
        "graph.security.incidents.get",
        Permissions {
            application: &["SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"],
            delegated: &["SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"],
        },
    ),
    (
        "graph.security.incidents.list",
        Permissions {
            application: &["SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"],
            delegated: &["SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"],
        },
    ),
    (
        "graph.security.incidents.update",
        Permissions {
            application: &["SecurityIncident.ReadWrite.All"],
            delegated: &["SecurityIncident.ReadWrite.All"],
        },
    ),
    (
        "graph.security.run_hunting_query",
        Permissions { application: &["ThreatHunting.Read.All"], delegated: &["ThreatHunting.Read.All"] },
    ),
    (
        "mde.advanced_hunting.run",
        Permissions { application: &["AdvancedQuery.Read.All"], delegated: &["AdvancedQuery.Read"] },
    ),
    ("mde.alerts.batch_update", Permissions { application: &["Alert.ReadWrite.All"], delegated: &["Alert.ReadWrite"] }),
    (
        "mde.alerts.create_by_reference",
        Permissions { application: &["Alert.ReadWrite.All"], delegated: &["Alert.ReadWrite"] },
    ),
    (
        "mde.alerts.get",
        Permissions {
            application: &["Alert.Read.All", "Alert.ReadWrite.All"],
            delegated: &["Alert.Read", "Alert.ReadWrite"],
        },
    ),
    (
        "mde.alerts.list",
        Permissions {
            application: &["Alert.Read.All", "Alert.ReadWrite.All"],
            delegated: &["Alert.Read", "Alert.ReadWrite"],
        },
    ),
    ("mde.alerts.related_domains", Permissions { application: &["URL.Read.All"], delegated: &["URL.Read.All"] }),
    ("mde.alerts.related_files", Permissions { application: &["File.Read.All"], delegated: &["File.Read.All"] }),
    ("mde.alerts.related_ips", Permissions { application: &["Ip.Read.All"], delegated: &["Ip.Read.All"] }),
    (
        "mde.alerts.related_machine",
        Permissions {
            application: &["Machine.Read.All", "Machine.ReadWrite.All"],
            delegated: &["Machine.Read", "Machine.ReadWrite"],
        },
    ),
    ("mde.alerts.related_user", Permissions { application: &["User.Read.All"], delegated: &["User.Read.All"] }),
    ("mde.alerts.update", Permissions { application: &["Alert.ReadWrite.All"], delegated: &["Alert.ReadWrite"] }),
    ("mde.domains.alerts", Permissions { application: &["Alert.ReadWrite.All"], delegated: &["Alert.ReadWrite"] }),
    (
        "mde.domains.machines",
        Permissions {
            application: &["Machine.Read.All", "Machine.ReadWrite.All"],
            delegated: &["Machine.Read", "Machine.ReadWrite"],
        },
    ),
    ("mde.domains.stats", Permissions { application: &["URL.Read.All"], delegated: &["URL.Read.All"] }),
    (
        "mde.files.alerts",
        Permissions {
            application: &["Alert.Read.All", "Alert.ReadWrite.All"],
            delegated: &["Alert.Read", "Alert.ReadWrite"],
        },
    ),
    ("mde.files.get", Permissions { application: &["File.Read.All"], delegated: &["File.Read.All"] }),
    (
        "mde.files.machines",
        Permissions {
            application: &["Machine.Read.All", "Machine.ReadWrite.All"],
            delegated: &["Machine.Read", "Machine.ReadWrite"],
        },
    ),
    ("mde.files.stats", Permissions { application: &["File.Read.All"], delegated: &["File.Read.All"] }),
    ("mde.indicators.batch_delete", Permissions { application: &["Ti.ReadWrite", "Ti.ReadWrite.All"], delegated: &[] }),
    ("mde.indicators.delete", Permissions { application: &["Ti.ReadWrite", "Ti.ReadWrite.All"], delegated: &[] }),
    (
        "mde.indicators.import",
        Permissions { application: &["Ti.ReadWrite", "Ti.ReadWrite.All"], delegated: &["Ti.ReadWrite"] },
    ),
    (
        "mde.indicators.list",
        Permissions { application: &["Ti.ReadWrite", "Ti.ReadWrite.All"], delegated: &["Ti.ReadWrite"] },
    ),
    (
        "mde.indicators.submit",
        Permissions { application: &["Ti.ReadWrite", "Ti.ReadWrite.All"], delegated: &["Ti.ReadWrite"] },
    ),
    (
        "mde.investigations.get",
        Permissions {
            application: &["Alert.Read.All", "Alert.ReadWrite.All"],
            delegated: &["Alert.Read", "Alert.ReadWrite"],
        },
    ),
    (
        "mde.investigations.list",
        Permissions {
            application: &["Alert.Read.All", "Alert.ReadWrite.All"],
            delegated: &["Alert.Read", "Alert.ReadWrite"],
        },
    ),
    (
        "mde.investigations.start",
        Permissions { application: &["Alert.ReadWrite.All"], delegated: &["Alert.ReadWrite"] },
    ),
    (
        "mde.ips.alerts",
        Permissions {
            application: &["Alert.Read.All", "Alert.ReadWrite.All"],
            delegated: &["Alert.Read", "Alert.ReadWrite"],
        },
    ),
    ("mde.ips.stats", Permissions { application: &["Ip.Read.All"], delegated: &["Ip.Read.All"] }),
    (
        "mde.machineactions.cancel",
        Permissions {
            application: &[
                "Machine.CollectForensics",
                "Machine.Isolate",
                "Machine.RestrictExecution",
                "Machine.Scan",
                "Machine.Offboard",
                "Machine.StopAndQuarantine",
                "Machine.LiveResponse",
            ],
            delegated: &[
                "Machine.CollectForensics",
                "Machine.Isolate",
                "Machine.RestrictExecution",
                "Machine.Scan",
                "Machine.Offboard",
                "Machine.StopAndQuarantine",
                "Machine.LiveResponse",
            ],
        },
    ),
    (
        "mde.machineactions.get",
        Permissions {
            application: &["Machine.Read.All", "Machine.ReadWrite.All"],
            delegated: &["Machine.Read", "Machine.ReadWrite"],
        },
    ),
    (
        "mde.machineactions.get_live_response_result",
        Permissions {
            application: &["Machine.Read.All", "Machine.ReadWrite.All"],
            delegated: &["Machine.LiveResponse"],
        },
    ),
    (
        "mde.machineactions.get_package_uri",
        Permissions {
            application: &["Machine.Read.All", "Machine.ReadWrite.All"],
            delegated: &["Machine.CollectForensics"],
        },
    ),
    (
        "mde.machineactions.list",
        Permissions {
            application: &["Machine.Read.All", "Machine.ReadWrite.All"],
            delegated: &["Machine.Read", "Machine.ReadWrite"],
        },
    ),
    (
        "mde.machines.alerts",
        Permissions {
            application: &["Alert.Read.All", "Alert.ReadWrite.All"],
            delegated: &["Alert.Read", "Alert.ReadWrite"],
        },
    ),
    (
        "mde.machines.collect_investigation_package",
        Permissions { application: &["Machine.CollectForensics"], delegated: &["Machine.CollectForensics"] },
    ),
    (
        "mde.machines.find_by_ip",
        Permissions {
            application: &["Machine.Read.All", "Machine.ReadWrite.All"],
            delegated: &["Machine.Read", "Machine.ReadWrite"],
        },
    ),
    (
        "mde.machines.find_by_tag",
        Permissions {
            application: &["Machine.Read.All", "Machine.ReadWrite.All"],
            delegated: &["Machine.Read", "Machine.ReadWrite"],
        },
    ),
    (
        "mde.machines.get",
        Permissions {
            application: &["Machine.Read.All", "Machine.ReadWrite.All"],
            delegated: &["Machine.Read", "Machine.ReadWrite"],
        },
    ),
    ("mde.machines.isolate", Permissions { application: &["Machine.Isolate"], delegated: &["Machine.Isolate"] }),
    (
        "mde.machines.list",
        Permissions {
            application: &["Machine.Read.All", "Machine.ReadWrite.All"],
            delegated: &["Machine.Read", "Machine.ReadWrite"],
        },
    ),
    ("mde.machines.logon_users", Permissions { application: &["User.Read.All"], delegated: &["User.Read.All"] }),
    ("mde.machines.offboard", Permissions { application: &["Machine.Offboard"], delegated: &["Machine.Offboard"] }),
    (
        "mde.machines.restrict_code_execution",
        Permissions { application: &["Machine.RestrictExecution"], delegated: &["Machine.RestrictExecution"] },
    ),
    ("mde.machines.run_av_scan", Permissions { application: &["Machine.Scan"], delegated: &["Machine.Scan"] }),
    (
        "mde.machines.run_live_response",
        Permissions { application: &["Machine.LiveResponse"], delegated: &["Machine.LiveResponse"] },
    ),
    ("mde.machines.software", Permissions { application: &["Software.Read.All"], delegated: &["Software.Read"] }),
    (
        "mde.machines.stop_and_quarantine_file",
        Permissions { application: &["Machine.StopAndQuarantine"], delegated: &["Machine.StopAndQuarantine"] },
    ),
    ("mde.machines.tags", Permissions { application: &["Machine.ReadWrite.All"], delegated: &["Machine.ReadWrite"] }),
    (
        "mde.machines.tags_multiple",
        Permissions { application: &["Machine.ReadWrite.All"], delegated: &["Machine.ReadWrite"] },
    ),
    ("mde.machines.unisolate", Permissions { application: &["Machine.Isolate"], delegated: &["Machine.Isolate"] }),
    (
        "mde.machines.unrestrict_code_execution",
        Permissions { application: &["Machine.RestrictExecution"], delegated: &["Machine.RestrictExecution"] },
    ),
    (
        "mde.machines.vulnerabilities",
        Permissions { application: &["Vulnerability.Read.All"], delegated: &["Vulnerability.Read"] },
    ),
    (
        "mde.users.alerts",
        Permissions {
            application: &["Alert.Read.All", "Alert.ReadWrite.All"],
            delegated: &["Alert.Read", "Alert.ReadWrite"],
        },
    ),
    ("mde.users.machines", Permissions { application: &["Machine.ReadWrite.All"], delegated: &["Machine.ReadWrite"] }),
    (
        "xdr.advanced_hunting.run",
        Permissions { application: &["AdvancedHunting.Read.All"], delegated: &["AdvancedHunting.Read"] },
    ),
    (
        "xdr.incidents.get",
        Permissions {
            application: &["Incident.Read.All", "Incident.ReadWrite.All"],
            delegated: &["Incident.Read", "Incident.ReadWrite"],
        },
    ),
    (
        "xdr.incidents.list",
        Permissions {
            application: &["Incident.Read.All", "Incident.ReadWrite.All"],
            delegated: &["Incident.Read", "Incident.ReadWrite"],
        },
    ),
    (
        "xdr.incidents.update",
        Permissions { application: &["Incident.ReadWrite.All"], delegated: &["Incident.ReadWrite"] },
    ),
];

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
/// API (`mde.`, `xdr.`, `graph.`), as `scripts/grant-permissions.sh` grants them.
pub fn application_grant(endpoints: &[&str]) -> std::collections::BTreeSet<&'static str> {
    let mut out = std::collections::BTreeSet::new();
    for api in ["mde.", "xdr.", "graph."] {
        let needs: Vec<&'static [&'static str]> =
            endpoints.iter().filter(|e| e.starts_with(api)).filter_map(|e| needs(e)).map(|p| p.application).collect();
        out.extend(minimal(&needs));
    }
    out
}

/// The [`RESPONSE`] permissions among `held_roles` outside the [`application_grant`] of `endpoints`:
/// write rights the token should not carry for these endpoints (the reader's token holding
/// `Machine.Isolate`, or `Incident.ReadWrite.All` where `Incident.Read.All` suffices).
pub fn excess(held_roles: &[String], endpoints: &[&str]) -> Vec<String> {
    let grant = application_grant(endpoints);
    held_roles.iter().filter(|r| RESPONSE.contains(&r.as_str()) && !grant.contains(r.as_str())).cloned().collect()
}

/// The permissions `endpoint` needs; `None` for a name that is not a documented endpoint.
pub fn needs(endpoint: &str) -> Option<&'static Permissions> {
    MANIFEST.iter().find(|(name, _)| *name == endpoint).map(|(_, p)| p)
}

/// Which of `endpoints` an application token holding `held_roles` (its `roles` claim) cannot call,
/// each with the application permissions of which it would need one. An unknown endpoint name is
/// reported with an empty list: nothing can grant it.
pub fn missing<'a>(held_roles: &[String], endpoints: &[&'a str]) -> Vec<(&'a str, &'static [&'static str])> {
    missing_by(held_roles, endpoints, |p| p.application)
}

/// As [`missing`], for a user-context token's delegated scopes (its `scp` claim, split on spaces).
pub fn missing_delegated<'a>(held_scopes: &[String], endpoints: &[&'a str]) -> Vec<(&'a str, &'static [&'static str])> {
    missing_by(held_scopes, endpoints, |p| p.delegated)
}

fn missing_by<'a>(
    held: &[String],
    endpoints: &[&'a str],
    pick: fn(&Permissions) -> &'static [&'static str],
) -> Vec<(&'a str, &'static [&'static str])> {
    endpoints
        .iter()
        .filter_map(|e| {
            let needed = needs(e).map_or(&[][..], pick);
            let ok = needed.iter().any(|p| held.iter().any(|h| h == p));
            (!ok).then_some((*e, needed))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn any_one_permission_suffices() {
        assert!(missing(&held(&["Alert.Read.All"]), &["mde.alerts.list", "mde.alerts.get"]).is_empty());
        assert!(missing(&held(&["Alert.ReadWrite.All"]), &["mde.alerts.list"]).is_empty());
        assert_eq!(
            missing(&held(&["Alert.Read.All"]), &["mde.alerts.list", "mde.machines.isolate"]),
            vec![("mde.machines.isolate", &["Machine.Isolate"][..])]
        );
        assert_eq!(needs("mde.machines.isolate").map(|p| p.delegated), Some(&["Machine.Isolate"][..]));
    }

    #[test]
    fn excess_names_response_rights_no_endpoint_needs() {
        let held = held(&["Machine.Read.All", "Machine.Isolate", "Incident.ReadWrite.All", "Alert.ReadWrite.All"]);
        assert_eq!(excess(&held, &["mde.machines.get"]), ["Machine.Isolate", "Incident.ReadWrite.All"]);
        // Incident.Read.All suffices for reading: the write right is excess even where it is accepted.
        assert_eq!(excess(&held, &["xdr.incidents.get"]), ["Machine.Isolate", "Incident.ReadWrite.All"]);
        assert_eq!(excess(&held, &["mde.machines.isolate", "xdr.incidents.update"]), Vec::<String>::new());
    }

    #[test]
    fn roles_are_compared_exactly_and_unknown_endpoints_are_reported() {
        assert_eq!(missing(&held(&["alert.read.all"]), &["mde.alerts.list"]).len(), 1);
        assert_eq!(missing(&held(&["Alert.Read.All"]), &["mde.no.such"]), vec![("mde.no.such", &[][..])]);
        assert!(needs("mde.no.such").is_none());
        // Delegated: Ti.* delete endpoints list no delegated permission, so no scope grants them.
        assert_eq!(missing_delegated(&held(&["Ti.ReadWrite"]), &["mde.indicators.delete"]).len(), 1);
        assert!(missing_delegated(&held(&["Ti.ReadWrite"]), &["mde.indicators.list"]).is_empty());
    }
}
