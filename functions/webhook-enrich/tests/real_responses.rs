//! Real responses through enrichment: every recorded alert and XDR incident of
//! `contract/real-responses/` (the corpus `shared/tests/real_responses.rs` decodes) is read as a page
//! item and expanded into the indicators an `alertId`/`incidentId` request item would enrich, each of
//! which must parse as its kind (a refused one would be answered `invalid` instead of enriched); every
//! recorded alert and machine becomes the facts the response carries, serialisable and keeping the
//! values as received.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::defender::models::{Page, alerts::Alert, incidents::Incident, machines::Machine};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::path::PathBuf;
use webhook_enrich::{
    defender::{alert_evidence, alert_facts, incident_evidence, machine_facts},
    request::Indicator,
};

/// The entities of every recorded file of `kind`, each with its place (`file[i]`).
fn recorded(kind: &str) -> Vec<(String, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../contract/real-responses");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let mut out = Vec::new();
    for path in files.iter().filter(|p| p.extension().is_some_and(|e| e == "json")) {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        if doc["kind"] == kind {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            for (i, e) in doc["entities"].as_array().unwrap().iter().enumerate() {
                out.push((format!("{file}[{i}]"), e.clone()));
            }
        }
    }
    out
}

/// The typed views of the entities, read as one page's items (the invented few without one are the
/// shared corpus test's business).
fn typed<T: DeserializeOwned>(entities: &[(String, Value)]) -> Vec<(String, Value, T)> {
    let values: Vec<&Value> = entities.iter().map(|(_, v)| v).collect();
    let page: Page<T> = serde_json::from_value(serde_json::json!({ "value": values })).unwrap();
    assert_eq!(page.value.len(), entities.len(), "no item is lost");
    entities
        .iter()
        .zip(page.value)
        .filter_map(|((at, v), item)| item.into_parts().1.ok().map(|t| (at.clone(), v.clone(), t)))
        .collect()
}

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
