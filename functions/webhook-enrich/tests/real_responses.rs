//! Real responses through enrichment: every recorded alert and XDR incident of
//! `contract/real-responses/` (the corpus `shared/tests/real_responses.rs` decodes) is read as a page
//! item and expanded into the indicators an `alertId`/`incidentId` request item would enrich, each of
//! which must parse as its kind (a refused one would be answered `invalid` instead of enriched); every
//! recorded alert and machine becomes the facts the response carries, serialisable and keeping the
//! values as received.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::defender::models::{alerts::Alert, incidents::Incident, machines::Machine};
use serde_json::Value;
use testkit::recorded::{entities as recorded, typed};
use webhook_enrich::{
    defender::{alert_evidence, alert_facts, incident_evidence, machine_facts},
    request::Indicator,
};

#[test]
fn every_recorded_alert_and_incident_expands_into_indicators_that_parse() {
    // Hand-written fixtures' values, refused by design: `"sha256": "111"` (a docs-derived alert,
    // re-sanitised) and a machine id with `xy` in it.
    const INVENTED: &[&str] = &["Sha256 `111`", "MachineId `2df36d707c1ee508xyFf77f3dbfc95db65bc4a73`"];
    let mut refused = Vec::new();
    let mut expanded = 0;
    let alerts = typed::<Alert>(&recorded("alert"));
    let incidents = typed::<Incident>(&recorded("incident"));
    let evidence = alerts
        .into_iter()
        .map(|(at, _, a)| (at, alert_evidence(a)))
        .chain(incidents.into_iter().map(|(at, _, i)| (at, incident_evidence(i))));
    for (at, found) in evidence {
        for (kind, value) in found {
            match Indicator::parse(kind, &value) {
                Ok(_) => expanded += 1,
                Err(_) if INVENTED.contains(&format!("{kind:?} `{value}`").as_str()) => {}
                Err(e) => refused.push(format!("{at}: {kind:?} `{value}`: {e}")),
            }
        }
    }
    assert!(refused.is_empty(), "{} indicators refused:\n{}", refused.len(), refused.join("\n"));
    assert!(expanded >= 100, "only {expanded} indicators");
}

#[test]
fn every_recorded_alert_and_machine_becomes_the_facts_the_response_carries() {
    for (at, raw, a) in typed::<Alert>(&recorded("alert")) {
        let facts = serde_json::to_value(alert_facts(a)).unwrap();
        assert_eq!(facts["id"], raw["id"], "{at}");
        assert_eq!(facts["title"], raw.get("title").cloned().unwrap_or(Value::Null), "{at}");
    }
    for (at, raw, m) in typed::<Machine>(&recorded("machine")) {
        let facts = serde_json::to_value(machine_facts(m)).unwrap();
        assert_eq!(facts["id"], raw["id"], "{at}");
        for (f, r) in [
            ("computer_dns_name", "computerDnsName"),
            ("os_platform", "osPlatform"),
            ("last_ip_address", "lastIpAddress"),
        ] {
            assert_eq!(facts.get(f), raw.get(r).filter(|v| !v.is_null()), "{at}: {f}");
        }
    }
}
