//! Fidelity: our models and typed calls held to the documented contract (`contract/defender-api`),
//! without a network.
//!
//! **The round-trip rule.** For every contract file with a `response_example` (and
//! `response_example_2`/`_3`, `result_file_example`), the example is deserialised into our model for
//! that endpoint and serialised again; the result must equal the example as JSON values, where an
//! object member whose value is `null` counts the same as an absent member (our models read both as
//! `None` and write `None` as absent). Nothing else is normalised: key spellings, enum spellings,
//! timestamp texts, numbers and unknown fields must come back exactly.
//!
//! For every `request_example` (and `request_example_2`), we build the typed request and
//! `serde_json::to_value(request)` must equal the example exactly.
//!
//! Every endpoint of the contract has a typed call, and the `Call` each builds uses the contract's
//! method and path pattern. The permission manifest equals the contract's `permissions`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use chrono::{DateTime, Utc};
use defender_shared::{
    cloud::ApiFamily,
    defender::{
        Call, DefenderError, Endpoint, api,
        kql::HuntingQuery,
        models::{
            DownloadLink, ODataList,
            actions::*,
            alerts::*,
            files::{FileHash, FileInfo, FileStats},
            graph::*,
            hunting::*,
            incidents::{Incident, IncidentStatus, IncidentUpdate},
            indicators::*,
            investigations::{Investigation, InvestigationId},
            machines::*,
            network::{DomainStats, IpStats},
        },
        permissions,
    },
    ids::*,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};
use std::{collections::BTreeMap, net::IpAddr};

mod pinned;

// ---------------------------------------------------------------------------------------------
// The contract
// ---------------------------------------------------------------------------------------------

fn contract() -> BTreeMap<String, Value> {
    let out: BTreeMap<String, Value> = pinned::contract_documents("defender-api")
        .into_iter()
        .map(|(_, doc)| (doc["name"].as_str().unwrap().to_string(), doc))
        .collect();
    assert!(out.len() >= 71, "contract files missing: {}", out.len());
    out
}

/// Every endpoint with a typed call, by contract name (generated from the contract: the test compares
/// it with the files read here).
fn endpoints() -> Vec<&'static str> {
    Endpoint::ALL.iter().map(|e| e.name()).collect()
}

/// Endpoints with typed calls: everything but the token endpoints and the error envelopes.
fn is_api_endpoint(name: &str) -> bool {
    !name.starts_with("auth.") && !name.ends_with(".errors")
}

/// Removes object members whose value is `null`, recursively (the round-trip rule).
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), without_nulls(v))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(example: &Value) -> Result<Value, String> {
    let model: T = serde_json::from_value(example.clone()).map_err(|e| format!("decode: {e}"))?;
    serde_json::to_value(&model).map_err(|e| format!("encode: {e}"))
}

/// Our model for each endpoint's response, as a round trip; `None` when there is no model.
fn response_round_trip(endpoint: &str, example: &Value) -> Option<Result<Value, String>> {
    Some(match endpoint {
        "graph.security.alerts_v2.get" | "graph.security.alerts_v2.update" => round_trip::<GraphAlert>(example),
        "graph.security.alerts_v2.list" => round_trip::<ODataList<GraphAlert>>(example),
        "graph.security.incidents.get" | "graph.security.incidents.update" => round_trip::<GraphIncident>(example),
        "graph.security.incidents.list" => round_trip::<ODataList<GraphIncident>>(example),
        "graph.security.run_hunting_query" | "mde.advanced_hunting.run" | "xdr.advanced_hunting.run" => {
            round_trip::<HuntingResponse>(example)
        }
        "mde.alerts.get" | "mde.alerts.update" | "mde.alerts.create_by_reference" => round_trip::<Alert>(example),
        "mde.alerts.list"
        | "mde.machines.alerts"
        | "mde.files.alerts"
        | "mde.ips.alerts"
        | "mde.domains.alerts"
        | "mde.users.alerts" => round_trip::<ODataList<Alert>>(example),
        "mde.alerts.related_domains" => round_trip::<ODataList<AlertDomain>>(example),
        "mde.alerts.related_files" => round_trip::<ODataList<FileInfo>>(example),
        "mde.alerts.related_ips" => round_trip::<ODataList<AlertIp>>(example),
        "mde.alerts.related_machine" | "mde.machines.get" | "mde.machines.tags" => round_trip::<Machine>(example),
        "mde.alerts.related_user" => round_trip::<MdeUser>(example),
        "mde.machines.list"
        | "mde.machines.find_by_ip"
        | "mde.machines.find_by_tag"
        | "mde.files.machines"
        | "mde.domains.machines"
        | "mde.users.machines"
        | "mde.machines.tags_multiple" => round_trip::<ODataList<Machine>>(example),
        "mde.domains.stats" => round_trip::<DomainStats>(example),
        "mde.ips.stats" => round_trip::<IpStats>(example),
        "mde.files.get" => round_trip::<FileInfo>(example),
        "mde.files.stats" => round_trip::<FileStats>(example),
        "mde.indicators.import" => round_trip::<ODataList<IndicatorImportResult>>(example),
        "mde.indicators.list" => round_trip::<ODataList<Indicator>>(example),
        "mde.indicators.submit" => round_trip::<Indicator>(example),
        "mde.investigations.list" => round_trip::<ODataList<Investigation>>(example),
        "mde.investigations.get" | "mde.investigations.start" => round_trip::<Investigation>(example),
        "mde.machineactions.list" => round_trip::<ODataList<MachineAction>>(example),
        "mde.machineactions.get"
        | "mde.machineactions.cancel"
        | "mde.machines.isolate"
        | "mde.machines.unisolate"
        | "mde.machines.restrict_code_execution"
        | "mde.machines.unrestrict_code_execution"
        | "mde.machines.run_av_scan"
        | "mde.machines.collect_investigation_package"
        | "mde.machines.stop_and_quarantine_file"
        | "mde.machines.offboard"
        | "mde.machines.run_live_response" => round_trip::<MachineAction>(example),
        "mde.machineactions.get_package_uri" | "mde.machineactions.get_live_response_result" => {
            round_trip::<DownloadLink>(example)
        }
        "mde.machines.logon_users" => round_trip::<ODataList<MdeUser>>(example),
        "mde.machines.software" => round_trip::<ODataList<Software>>(example),
        "mde.machines.vulnerabilities" => round_trip::<ODataList<Vulnerability>>(example),
        "xdr.incidents.list" => round_trip::<ODataList<Incident>>(example),
        "xdr.incidents.get" | "xdr.incidents.update" => round_trip::<Incident>(example),
        _ => return None,
    })
}

#[test]
fn every_endpoint_has_a_response_model() {
    // Also the endpoints whose docs show no body (their answers have the shape of a sibling's).
    let empty_body = ["mde.alerts.batch_update", "mde.indicators.delete", "mde.indicators.batch_delete"];
    for name in endpoints().iter().filter(|n| !empty_body.contains(n)) {
        assert!(response_round_trip(name, &json!({})).is_some(), "{name}: no response model");
    }
}

/// The documented responses: the endpoint's own model reads them (the live response transcript, a
/// download behind a link, has its own).
const RESPONSE_EXAMPLES: [&str; 4] =
    ["response_example", "response_example_2", "response_example_3", "result_file_example"];
const REQUEST_EXAMPLES: [&str; 2] = ["request_example", "request_example_2"];

/// Every API endpoint's example under one of `keys` (absent and `null` ones skipped), as
/// `(endpoint, key, example)`.
fn examples(keys: &[&'static str]) -> Vec<(String, &'static str, Value)> {
    let mut out = Vec::new();
    for (name, doc) in contract().into_iter().filter(|(name, _)| is_api_endpoint(name)) {
        for key in keys {
            if let Some(example) = doc.get(*key).filter(|v| !v.is_null()) {
                out.push((name.clone(), *key, example.clone()));
            }
        }
    }
    out
}

/// A response example read by its model and written again.
fn written_again(name: &str, key: &str, example: &Value) -> Value {
    if key == "result_file_example" {
        return round_trip::<LiveResponseScriptResult>(example).unwrap_or_else(|e| panic!("{name} {key}: {e}"));
    }
    response_round_trip(name, example)
        .unwrap_or_else(|| panic!("{name}: no model for {key}"))
        .unwrap_or_else(|e| panic!("{name} {key}: {e}"))
}

#[test]
fn every_response_example_round_trips() {
    let mut checked = 0;
    for (name, key, example) in examples(&RESPONSE_EXAMPLES) {
        let again = written_again(&name, key, &example);
        assert_eq!(without_nulls(&again), without_nulls(&example), "{name} {key}");
        checked += 1;
    }
    // 43 documented bodies at the time of writing; fewer means files lost their examples.
    assert!(checked >= 43, "only {checked} examples checked");
}

/// Adds a member the models do not know to `v` and to every object in its `value` list.
fn with_new_fields(v: &Value) -> Value {
    let mut v = v.clone();
    let novel = json!({ "nested": [1, "two", null], "n": 1.5 });
    if let Some(m) = v.as_object_mut() {
        m.insert("brandNewField".into(), novel.clone());
        if let Some(items) = m.get_mut("value").and_then(Value::as_array_mut) {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.insert("brandNewField".into(), novel.clone());
            }
        }
    }
    v
}

#[test]
fn unknown_fields_survive_every_model() {
    for (name, doc) in contract() {
        if !is_api_endpoint(&name) {
            continue;
        }
        let Some(example) = doc.get("response_example").filter(|v| v.is_object()) else { continue };
        let extended = with_new_fields(example);
        let again = response_round_trip(&name, &extended).unwrap().unwrap();
        assert_eq!(without_nulls(&again), without_nulls(&extended), "{name}");
    }
}

#[test]
fn unknown_enum_values_and_evidence_kinds_survive() {
    let doc = &contract()["graph.security.alerts_v2.get"];
    let mut alert = doc["response_example"].clone();
    alert["status"] = json!("someFutureStatus");
    alert["evidence"].as_array_mut().unwrap().push(json!({
        "@odata.type": "#microsoft.graph.security.kubernetesPodEvidence",
        "name": "pod-1", "verdict": "unknown", "labels": { "app": "x" }
    }));
    let model: GraphAlert = serde_json::from_value(alert.clone()).unwrap();
    let evidence = model.evidence.as_ref().unwrap();
    assert!(matches!(evidence[0], GraphEvidence::Device(_)));
    assert!(matches!(evidence[1], GraphEvidence::File(_)));
    assert!(matches!(evidence[2], GraphEvidence::Process(_)));
    assert!(matches!(evidence[3], GraphEvidence::RegistryKey(_)));
    assert!(matches!(evidence[4], GraphEvidence::Other(_)));
    assert_eq!(evidence[4].odata_type(), Some("#microsoft.graph.security.kubernetesPodEvidence"));
    let GraphEvidence::Device(d) = &evidence[0] else { panic!("not a device") };
    assert_eq!(d.common.verdict, Some(GraphVerdict::UNKNOWN));
    assert!(!d.extra.contains_key("verdict"), "common fields are not duplicated into extra");
    assert!(d.mde_device_id.as_ref().unwrap().valid().is_some());
    assert_eq!(model.status.as_ref().map(GraphAlertStatus::documented), Some(None));
    assert_eq!(without_nulls(&serde_json::to_value(&model).unwrap()), without_nulls(&alert));

    let mut action = contract()["mde.machineactions.get"]["response_example"].clone();
    action["status"] = json!("Paused");
    action["type"] = json!("ContainDevice");
    let a: MachineAction = serde_json::from_value(action.clone()).unwrap();
    assert_eq!(a.status, Some(ActionStatus::Unrecognized("Paused".into())));
    assert_eq!(a.kind, Some(ActionType::Unrecognized("ContainDevice".into())));
    assert_eq!(without_nulls(&serde_json::to_value(&a).unwrap()), without_nulls(&action));
}

#[test]
fn typed_readings_of_the_examples() {
    let c = contract();
    let decode = |name: &str, key: &str| c[name][key].clone();
    // Both spellings of the action update time are read.
    let list: ODataList<MachineAction> =
        serde_json::from_value(decode("mde.machineactions.list", "response_example")).unwrap();
    assert!(list.value.iter().all(|a| a.last_update().is_some() && a.last_update_time_utc.is_some()));
    assert_eq!(
        list.value[0].machine_id.as_ref().unwrap().valid().map(MachineId::as_str),
        Some("f46b9bb259ed4a7fb9981b73510e3cc7aa81ec1f")
    );
    let get: MachineAction = serde_json::from_value(decode("mde.machineactions.get", "response_example")).unwrap();
    assert!(get.last_update().is_some() && get.last_update_date_time_utc.is_some());
    assert!(get.id.valid().is_some());
    assert_eq!(get.status, Some(ActionStatus::Succeeded));
    assert!(get.status.as_ref().unwrap().is_final());

    // The live response example's ids are placeholders: kept as text, not valid ids.
    let lr: MachineAction =
        serde_json::from_value(decode("mde.machines.run_live_response", "response_example")).unwrap();
    assert_eq!(lr.id.as_str(), "{machine_action_id}");
    assert!(lr.id.valid().is_none());
    assert!(lr.machine_id.as_ref().unwrap().valid().is_none());
    assert_eq!(
        lr.commands.as_ref().unwrap()[1].result().unwrap().command.as_ref().unwrap().kind,
        LiveResponseCommandType::GetFile
    );

    // Timestamps keep the instant and the text.
    let alert: Alert = serde_json::from_value(decode("mde.alerts.get", "response_example")).unwrap();
    let t = alert.last_update_time.as_ref().unwrap();
    assert_eq!(t.as_str(), "2021-01-26T20:33:59.2Z");
    assert_eq!(t.at(), "2021-01-26T20:33:59.200Z".parse::<DateTime<Utc>>().unwrap());
    assert_eq!(alert.incident_id, Some(IncidentId(1126093)));
    assert_eq!(alert.evidence.as_ref().unwrap().len(), 3);

    // Graph enums are case-insensitive: Example 1 writes `TruePositive`, Example 2 `truePositive`.
    let inc: ODataList<GraphIncident> =
        serde_json::from_value(decode("graph.security.incidents.list", "response_example")).unwrap();
    let inc2: ODataList<GraphIncident> =
        serde_json::from_value(decode("graph.security.incidents.list", "response_example_2")).unwrap();
    assert_eq!(inc.value[0].classification, Some(GraphClassification::TRUE_POSITIVE));
    assert_eq!(inc2.value[0].classification, Some(GraphClassification::TRUE_POSITIVE));
    assert_eq!(inc.value[0].status, inc2.value[0].status);
    assert_eq!(inc.value[0].id.valid(), Some(&IncidentId(2972395)));
    assert_eq!(inc2.value[0].alerts.as_ref().unwrap().len(), 1);

    // Hunting: MDE/XDR PascalCase, Graph lowercase and PascalCase column keys.
    let hunt = |name: &str, key: &str| -> HuntingResponse { serde_json::from_value(decode(name, key)).unwrap() };
    let mde = hunt("mde.advanced_hunting.run", "response_example");
    let xdr = hunt("xdr.advanced_hunting.run", "response_example");
    let g1 = hunt("graph.security.run_hunting_query", "response_example");
    let g3 = hunt("graph.security.run_hunting_query", "response_example_3");
    for r in [&mde, &xdr, &g1, &g3] {
        assert_eq!(r.rows().len(), 2);
        assert_eq!(r.columns()[0].name, "Timestamp");
        assert_eq!(r.columns()[0].column_type, Some(ColumnType::DateTime));
    }
    assert!(xdr.stats.is_some() && mde.stats.is_none());
    assert_eq!((mde.key_case, mde.columns()[0].key_case), (KeyCase::Pascal, KeyCase::Pascal));
    assert_eq!((g1.key_case, g1.columns()[0].key_case), (KeyCase::Camel, KeyCase::Camel));
    assert_eq!((g3.key_case, g3.columns()[0].key_case), (KeyCase::Camel, KeyCase::Pascal));

    // The package link is documented wrapped in quotes.
    let link: DownloadLink =
        serde_json::from_value(decode("mde.machineactions.get_package_uri", "response_example")).unwrap();
    assert_eq!(link.url().unwrap().host_str(), Some("userrequests-us.securitycenter.windows.com"));

    // XDR incidents: ids from other services inside alerts are kept; device ids validated.
    let xi: ODataList<Incident> = serde_json::from_value(decode("xdr.incidents.list", "response_example")).unwrap();
    assert!(xi.value.iter().all(|i| i.status == Some(IncidentStatus::Active)));
    let devices: Vec<_> =
        xi.value.iter().flat_map(|i| i.alerts.iter().flatten()).flat_map(|a| a.devices.iter().flatten()).collect();
    assert!(!devices.is_empty());
    assert!(devices.iter().all(|d| d.mdatp_device_id.as_ref().unwrap().valid().is_some()));
}

/// Keys of `extra` other than OData annotations: fields the docs show but the model does not type.
fn untyped(extra: &serde_json::Map<String, Value>) -> Vec<&str> {
    extra.keys().map(String::as_str).filter(|k| !k.starts_with("@odata.")).collect()
}

fn first<T: DeserializeOwned>(c: &BTreeMap<String, Value>, name: &str, key: &str) -> T {
    let v = &c[name][key];
    let item = v.get("value").and_then(|l| l.get(0)).unwrap_or(v);
    serde_json::from_value(item.clone()).unwrap()
}

/// Every field the examples show is a typed field (the round trip alone would pass with everything
/// in `extra`). The documented exceptions are listed.
#[test]
fn documented_fields_are_typed() {
    let c = contract();
    let none: Vec<&str> = Vec::new();
    let alert: Alert = first(&c, "mde.alerts.list", "response_example_2");
    assert_eq!(untyped(&alert.extra), none);
    for e in alert.evidence.iter().flatten() {
        assert_eq!(untyped(&e.extra), none);
    }
    for c in alert.comments.iter().flatten() {
        assert_eq!(untyped(&c.extra), none);
    }
    assert_eq!(untyped(&alert.related_user.unwrap().extra), none);
    let m: Machine = first(&c, "mde.machines.get", "response_example");
    assert_eq!(untyped(&m.extra), none);
    let m: Machine = first(&c, "mde.alerts.related_machine", "response_example");
    assert_eq!(untyped(&m.extra), none);
    assert!(m.ip_addresses.iter().flatten().all(|i| untyped(&i.extra).is_empty()));
    for (name, key) in [
        ("mde.machineactions.list", "response_example"),
        ("mde.machineactions.get", "response_example"),
        ("mde.machines.run_live_response", "response_example"),
    ] {
        let list = &c[name][key];
        let items = list.get("value").and_then(Value::as_array).cloned().unwrap_or_else(|| vec![list.clone()]);
        for item in items {
            let a: MachineAction = serde_json::from_value(item).unwrap();
            assert_eq!(untyped(&a.extra), none, "{name}");
            assert!(a.related_file_info.iter().all(|r| untyped(&r.extra).is_empty()));
            assert!(a.commands.iter().flatten().all(|r| untyped(&r.result().unwrap().extra).is_empty()));
        }
    }
    let u: MdeUser = first(&c, "mde.alerts.related_user", "response_example");
    assert_eq!(untyped(&u.extra), none);
    let u: MdeUser = first(&c, "mde.machines.logon_users", "response_example");
    assert_eq!(untyped(&u.extra), none);
    let s: Software = first(&c, "mde.machines.software", "response_example");
    assert_eq!(untyped(&s.extra), none);
    let v: Vulnerability = first(&c, "mde.machines.vulnerabilities", "response_example");
    assert_eq!(untyped(&v.extra), none);
    let f: FileInfo = first(&c, "mde.files.get", "response_example");
    assert_eq!(untyped(&f.extra), none);
    let f: FileInfo = first(&c, "mde.alerts.related_files", "response_example");
    assert_eq!(untyped(&f.extra), none);
    let f: FileStats = first(&c, "mde.files.stats", "response_example");
    assert_eq!(untyped(&f.extra), none);
    let i: IpStats = first(&c, "mde.ips.stats", "response_example");
    assert_eq!(untyped(&i.extra), none);
    let d: DomainStats = first(&c, "mde.domains.stats", "response_example");
    assert_eq!(untyped(&d.extra), none);
    let d: AlertDomain = first(&c, "mde.alerts.related_domains", "response_example");
    assert_eq!(untyped(&d.extra), none);
    let d: AlertIp = first(&c, "mde.alerts.related_ips", "response_example");
    assert_eq!(untyped(&d.extra), none);
    let i: Indicator = first(&c, "mde.indicators.list", "response_example");
    assert_eq!(untyped(&i.extra), none);
    let i: IndicatorImportResult = first(&c, "mde.indicators.import", "response_example");
    assert_eq!(untyped(&i.extra), none);
    let i: Investigation = first(&c, "mde.investigations.list", "response_example");
    assert_eq!(untyped(&i.extra), none);
    let l: LiveResponseScriptResult =
        serde_json::from_value(c["mde.machineactions.get_live_response_result"]["result_file_example"].clone())
            .unwrap();
    assert_eq!(untyped(&l.extra), none);
    let incidents: ODataList<Incident> =
        serde_json::from_value(c["xdr.incidents.list"]["response_example"].clone()).unwrap();
    for inc in &incidents.value {
        assert_eq!(untyped(&inc.extra), none);
        for a in inc.alerts.iter().flatten() {
            assert_eq!(untyped(&a.extra), none);
            assert!(a.devices.iter().flatten().all(|d| untyped(&d.extra).is_empty()), "{:?}", a.devices);
            assert!(a.entities.iter().flatten().all(|e| untyped(&e.extra).is_empty()), "{:?}", a.entities);
        }
    }
    let g: GraphAlert = first(&c, "graph.security.alerts_v2.get", "response_example");
    assert_eq!(untyped(&g.extra), none);
    for e in g.evidence.iter().flatten() {
        let extra = match e {
            GraphEvidence::Device(d) => &d.extra,
            GraphEvidence::File(f) => &f.extra,
            GraphEvidence::Process(p) => &p.extra,
            GraphEvidence::RegistryKey(r) => &r.extra,
            other => panic!("unexpected evidence {other:?}"),
        };
        assert_eq!(untyped(extra), none);
    }
    // Graph incidents: Example 2 spells custom tags `tags`, and the docs' comments carry
    // `createdBy`/`createdTime` (the v1.0 alertComment has `createdByDisplayName`/`createdDateTime`).
    let gi: GraphIncident = first(&c, "graph.security.incidents.list", "response_example");
    assert_eq!(untyped(&gi.extra), none);
    let gi2: GraphIncident = first(&c, "graph.security.incidents.list", "response_example_2");
    assert_eq!(untyped(&gi2.extra), vec!["tags"]);
    assert_eq!(untyped(&gi.comments.unwrap()[0].extra), vec!["createdBy", "createdTime"]);
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

fn p<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().unwrap()
}

fn v<S: Serialize>(s: &S) -> Value {
    serde_json::to_value(s).unwrap()
}

/// An indicator as the contract's submit and import examples write one: `[title, description,
/// application, expiration]`, the severity and device groups, and `nothing` as recommended actions.
fn example_indicator(
    value: IndicatorValue,
    (action, severity): (IndicatorAction, IndicatorSeverity),
    [title, description, application, expiration]: [&str; 4],
    groups: &[&str],
) -> IndicatorSubmit {
    let mut s = IndicatorSubmit::new(&value, action, title, description);
    s.application = Some(application.into());
    s.expiration_time = Some(p(expiration));
    s.severity = Some(severity);
    s.recommended_actions = Some("nothing".into());
    s.rbac_group_names = Some(groups.iter().map(|g| (*g).to_string()).collect());
    s
}

fn resolve_update() -> AlertUpdate {
    AlertUpdate {
        status: Some(AlertStatus::Resolved),
        assigned_to: Some("secop2@contoso.com".into()),
        classification: Some(Classification::FalsePositive),
        determination: Some(Determination::Malware),
        comment: Some("Resolve my alert and assign to secop2".into()),
    }
}

const PS_QUERY: &str = "DeviceProcessEvents | where InitiatingProcessFileName =~ \"powershell.exe\" | project Timestamp, FileName, InitiatingProcessFileName | order by Timestamp desc | limit 2";

fn request_for(endpoint: &str, key: &str) -> Option<Value> {
    Some(match (endpoint, key) {
        ("graph.security.alerts_v2.update", _) => v(&GraphAlertUpdate {
            assigned_to: Some("secAdmin@contoso.onmicrosoft.com".into()),
            classification: Some(GraphClassification::TRUE_POSITIVE),
            determination: Some(GraphDetermination::MALWARE),
            status: Some(GraphAlertStatus::IN_PROGRESS),
        }),
        // The doc example writes PascalCase values (v1.0 is camelCase): sent as spelled.
        ("graph.security.incidents.update", _) => v(&GraphIncidentUpdate {
            classification: Some("TruePositive".into()),
            determination: Some("MultiStagedAttack".into()),
            custom_tags: Some(vec!["Demo".into()]),
            ..Default::default()
        }),
        ("graph.security.run_hunting_query", "request_example") => {
            v(&GraphHuntingRequest { query: HuntingQuery::new(PS_QUERY).render().unwrap(), timespan: None })
        }
        ("graph.security.run_hunting_query", "request_example_2") => v(&GraphHuntingRequest {
            query: HuntingQuery::new("DeviceProcessEvents").render().unwrap(),
            timespan: Some(IsoDuration::days(90)),
        }),
        ("mde.advanced_hunting.run", _) => v(&HuntingRequest {
            query: HuntingQuery::new(
                "DeviceProcessEvents |where InitiatingProcessFileName =~ 'powershell.exe' |where ProcessCommandLine contains 'appdata'|project Timestamp, FileName, InitiatingProcessFileName, DeviceId|limit 2",
            )
            .render()
            .unwrap(),
        }),
        ("xdr.advanced_hunting.run", _) => v(&HuntingRequest { query: HuntingQuery::new(PS_QUERY).render().unwrap() }),
        ("mde.alerts.update", _) => v(&resolve_update()),
        ("mde.alerts.batch_update", _) => v(&AlertBatchUpdate {
            alert_ids: vec![p("da637399794050273582_760707377"), p("da637399989469816469_51697947354")],
            update: resolve_update(),
        }),
        ("mde.alerts.create_by_reference", _) => v(&CreateAlertByReference {
            machine_id: p("1e5bc9d7e413ddd7902c2932e418702b84d0cc07"),
            severity: AlertSeverity::Low,
            title: "example".into(),
            description: "example alert".into(),
            recommended_action: "nothing".into(),
            event_time: p("2018-08-03T16:45:21.7115183Z"),
            report_id: "20776".into(),
            category: "Exploit".into(),
        }),
        ("mde.indicators.batch_delete", _) => v(&IndicatorBatchDelete { indicator_ids: vec![p("1"), p("2"), p("5")] }),
        ("mde.indicators.submit", _) => v(&example_indicator(
            IndicatorValue::Sha1(p("220e7d15b011d7fac48f2bd61114db1022197f7f")),
            (IndicatorAction::AlertAndBlock, IndicatorSeverity::Informational),
            ["test", "test", "demo-test", "2020-12-12T00:00:00Z"],
            &["group1", "group2"],
        )),
        ("mde.indicators.import", _) => v(&IndicatorImport {
            indicators: vec![
                example_indicator(
                    IndicatorValue::Sha1(p("220e7d15b011d7fac48f2bd61114db1022197f7f")),
                    (IndicatorAction::Alert, IndicatorSeverity::Informational),
                    ["demo", "demo2", "demo-test", "2021-12-12T00:00:00Z"],
                    &["group1", "group2"],
                ),
                example_indicator(
                    IndicatorValue::Sha256(p("2233223322332233223322332233223322332233223322332233223322332222")),
                    (IndicatorAction::Alert, IndicatorSeverity::Medium),
                    ["demo2", "demo2", "demo-test2", "2021-12-12T00:00:00Z"],
                    &[],
                ),
            ],
        }),
        ("mde.investigations.start", _) => v(&CommentRequest::new("Test investigation")),
        ("mde.machineactions.cancel", _) => v(&CommentRequest::new("Machine action was canceled by automation")),
        ("mde.machines.collect_investigation_package", _) => v(&CommentRequest::new("Collect forensics due to alert 1234")),
        ("mde.machines.isolate", _) => v(&IsolateRequest {
            comment: "Isolate machine due to alert 1234".into(),
            isolation_type: IsolationType::Full,
        }),
        ("mde.machines.offboard", _) => v(&CommentRequest::new("Offboard machine by automation")),
        ("mde.machines.restrict_code_execution", _) => v(&CommentRequest::new("Restrict code execution due to alert 1234")),
        ("mde.machines.unrestrict_code_execution", _) => {
            v(&CommentRequest::new("Unrestrict code execution since machine was cleaned and validated"))
        }
        ("mde.machines.unisolate", _) => v(&CommentRequest::new("Unisolate machine since it was clean and validated")),
        ("mde.machines.run_av_scan", _) => v(&ScanRequest {
            comment: "Check machine for viruses due to alert 3212".into(),
            scan_type: ScanType::Full,
        }),
        ("mde.machines.run_live_response", _) => v(&LiveResponseRequest {
            commands: vec![
                LiveResponseCommand::run_script("minidump.ps1", Some("OfficeClickToRun".into())),
                LiveResponseCommand::get_file("C:\\windows\\TEMP\\OfficeClickToRun.dmp.zip"),
            ],
            comment: "Testing Live Response API".into(),
        }),
        ("mde.machines.stop_and_quarantine_file", _) => v(&StopAndQuarantineRequest {
            comment: "Stop and quarantine file on machine due to alert 441688558380765161_2136280442".into(),
            sha1: p("87662bc3d60e4200ceaf7aae249d1c343f4b83c9"),
        }),
        ("mde.machines.tags", _) => v(&TagRequest { value: p("test Tag 2"), action: TagAction::Add }),
        ("mde.machines.tags_multiple", _) => v(&TagMultipleRequest {
            value: p("Tag"),
            action: TagAction::Add,
            machine_ids: vec![
                p("34e83ca3feea4dae2353006ba389262c033a025e"),
                p("2a398439b4975924e87a65943972bc702469b329"),
                p("a610c00c65fdf79960cc0077d9d8c569d23f09a5"),
            ],
        }),
        ("xdr.incidents.update", _) => v(&IncidentUpdate {
            status: Some(IncidentStatus::Resolved),
            assigned_to: Some("secop2@contoso.com".into()),
            classification: Some(Classification::TruePositive),
            determination: Some(Determination::Malware),
            tags: Some(vec!["Yossi's playground".into(), "Don't mess with the Zohan".into()]),
            comment: Some("pen testing".into()),
        }),
        _ => return None,
    })
}

#[test]
fn every_request_example_is_built_exactly() {
    let mut checked = 0;
    for (name, key, example) in examples(&REQUEST_EXAMPLES) {
        let ours = request_for(&name, key).unwrap_or_else(|| panic!("{name}: no typed request for {key}"));
        assert_eq!(ours, example, "{name} {key}");
        checked += 1;
    }
    assert!(checked >= 26, "only {checked} request examples checked");
}

/// What our models write is pinned byte for byte (`tests/pinned`): every response example read and
/// written again (no `null` normalisation), every request example built, and the body of every
/// endpoint's sample call (the update bodies with nothing set among them).
#[test]
fn every_body_serialises_as_pinned() {
    let mut bodies = BTreeMap::new();
    for (name, key, example) in examples(&RESPONSE_EXAMPLES) {
        bodies.insert(format!("{name}#{key}"), written_again(&name, key, &example).to_string());
    }
    for name in contract().into_keys().filter(|name| is_api_endpoint(name)) {
        for key in REQUEST_EXAMPLES {
            if let Some(ours) = request_for(&name, key) {
                bodies.insert(format!("{name}#{key}"), ours.to_string());
            }
        }
        if let Some(body) = sample_call(&name).body {
            bodies.insert(format!("{name}#sample_call"), body.to_string());
        }
    }
    assert!(bodies.len() >= 43 + 26, "only {} bodies", bodies.len());
    pinned::check("contract_examples.sha256", &bodies);
}

// ---------------------------------------------------------------------------------------------
// Calls
// ---------------------------------------------------------------------------------------------

const MACHINE: &str = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07";
const ALERT: &str = "da637472900382838869_1364969609";
const ACTION: &str = "988cc94e-7a8f-4b28-ab65-54970c5d5018";

/// A `Call` for every endpoint, built with sample values and without sending anything.
// The retiring MDE/XDR hunting calls are still documented endpoints: their shapes are checked too.
#[allow(deprecated)]
fn sample_call(endpoint: &str) -> Call {
    use api::*;
    let m: MachineId = p(MACHINE);
    let a: AlertId = p(ALERT);
    let act: ActionId = p(ACTION);
    let ip: IpAddr = p("10.209.67.177");
    let dom: DomainName = p("example.com");
    let user: AccountName = p("user1");
    let sha1: FileHash = FileHash::Sha1(p("4388963aaa83afe2042a46a3c017ad50bdcdafb3"));
    let inc = IncidentId(924518);
    let comment = CommentRequest::new("why");
    let q = HuntingRequest { query: HuntingQuery::new("DeviceProcessEvents | take 1").render().unwrap() };
    let tag: MachineTag = p("vip");
    let r = |c: Result<Call, DefenderError>| c.unwrap();
    match endpoint {
        "graph.security.alerts_v2.get" => graph::alert_get_call(&a),
        "graph.security.alerts_v2.list" => graph::alerts_list_call(&ListQuery::new()),
        "graph.security.alerts_v2.update" => r(graph::alert_update_call(&a, &GraphAlertUpdate::default())),
        "graph.security.incidents.get" => graph::incident_get_call(inc),
        "graph.security.incidents.list" => graph::incidents_list_call(&ListQuery::new()),
        "graph.security.incidents.update" => r(graph::incident_update_call(inc, &GraphIncidentUpdate::default())),
        "graph.security.run_hunting_query" => {
            r(hunting::graph_run_call(&GraphHuntingRequest { query: q.query.clone(), timespan: None }))
        }
        "mde.advanced_hunting.run" => r(hunting::mde_run_call(&q)),
        "xdr.advanced_hunting.run" => r(hunting::xdr_run_call(&q)),
        "mde.alerts.batch_update" => {
            r(alerts::batch_update_call(&AlertBatchUpdate { alert_ids: vec![a], update: AlertUpdate::default() }))
        }
        "mde.alerts.create_by_reference" => r(alerts::create_by_reference_call(&CreateAlertByReference {
            machine_id: m,
            severity: AlertSeverity::Low,
            title: "t".into(),
            description: "d".into(),
            recommended_action: "r".into(),
            event_time: p("2026-11-28T10:00:00Z"),
            report_id: "1".into(),
            category: "Exploit".into(),
        })),
        "mde.alerts.get" => alerts::get_call(&a),
        "mde.alerts.list" => alerts::list_call(&ListQuery::new()),
        "mde.alerts.related_domains" => alerts::related_domains_call(&a),
        "mde.alerts.related_files" => alerts::related_files_call(&a),
        "mde.alerts.related_ips" => alerts::related_ips_call(&a),
        "mde.alerts.related_machine" => alerts::related_machine_call(&a),
        "mde.alerts.related_user" => alerts::related_user_call(&a),
        "mde.alerts.update" => r(alerts::update_call(&a, &AlertUpdate::default())),
        "mde.domains.alerts" => domains::alerts_call(&dom),
        "mde.domains.machines" => domains::machines_call(&dom),
        "mde.domains.stats" => domains::stats_call(&dom, Some(48)),
        "mde.files.alerts" => files::alerts_call(&sha1),
        "mde.files.get" => files::get_call(&sha1),
        "mde.files.machines" => files::machines_call(&sha1),
        "mde.files.stats" => files::stats_call(&sha1, None),
        "mde.indicators.batch_delete" => {
            r(indicators::batch_delete_call(&IndicatorBatchDelete { indicator_ids: vec![p("995")] }))
        }
        "mde.indicators.delete" => indicators::delete_call(&p("995")),
        "mde.indicators.import" => r(indicators::import_call(&IndicatorImport { indicators: vec![] })),
        "mde.indicators.list" => indicators::list_call(&ListQuery::new()),
        "mde.indicators.submit" => {
            r(indicators::submit_call(&IndicatorSubmit::new(&IndicatorValue::Ip(ip), IndicatorAction::Block, "t", "d")))
        }
        "mde.investigations.get" => investigations::get_call(&p::<InvestigationId>("63017")),
        "mde.investigations.list" => investigations::list_call(&ListQuery::new()),
        "mde.investigations.start" => r(investigations::start_call(&m, &comment)),
        "mde.ips.alerts" => ips::alerts_call(ip),
        "mde.ips.stats" => ips::stats_call(ip, Some(48)),
        "mde.machineactions.cancel" => r(actions::cancel_call(&act, &comment)),
        "mde.machineactions.get" => actions::get_call(&act),
        "mde.machineactions.get_live_response_result" => actions::get_live_response_result_call(&act, 0),
        "mde.machineactions.get_package_uri" => actions::get_package_uri_call(&act),
        "mde.machineactions.list" => actions::list_call(&ListQuery::new()),
        "mde.machines.alerts" => machines::alerts_call(&m),
        "mde.machines.collect_investigation_package" => r(machines::collect_investigation_package_call(&m, &comment)),
        "mde.machines.find_by_ip" => machines::find_by_ip_call(ip, p("2019-09-22T08:44:05Z")),
        "mde.machines.find_by_tag" => machines::find_by_tag_call(&tag, true),
        "mde.machines.get" => machines::get_call(&m),
        "mde.machines.isolate" => r(machines::isolate_call(
            &m,
            &IsolateRequest { comment: "c".into(), isolation_type: IsolationType::Selective },
        )),
        "mde.machines.list" => machines::list_call(&ListQuery::new()),
        "mde.machines.logon_users" => machines::logon_users_call(&m),
        "mde.machines.offboard" => r(machines::offboard_call(&m, &comment)),
        "mde.machines.restrict_code_execution" => r(machines::restrict_code_execution_call(&m, &comment)),
        "mde.machines.run_av_scan" => {
            r(machines::run_av_scan_call(&m, &ScanRequest { comment: "c".into(), scan_type: ScanType::Quick }))
        }
        "mde.machines.run_live_response" => r(machines::run_live_response_call(
            &m,
            &LiveResponseRequest { commands: vec![LiveResponseCommand::put_file("x.ps1")], comment: "c".into() },
        )),
        "mde.machines.software" => machines::software_call(&m),
        "mde.machines.stop_and_quarantine_file" => r(machines::stop_and_quarantine_file_call(
            &m,
            &StopAndQuarantineRequest { comment: "c".into(), sha1: p("87662bc3d60e4200ceaf7aae249d1c343f4b83c9") },
        )),
        "mde.machines.tags" => r(machines::tags_call(&m, &TagRequest { value: tag, action: TagAction::Remove })),
        "mde.machines.tags_multiple" => r(machines::tags_multiple_call(&TagMultipleRequest {
            value: tag,
            action: TagAction::Add,
            machine_ids: vec![m],
        })),
        "mde.machines.unisolate" => r(machines::unisolate_call(&m, &comment)),
        "mde.machines.unrestrict_code_execution" => r(machines::unrestrict_code_execution_call(&m, &comment)),
        "mde.machines.vulnerabilities" => machines::vulnerabilities_call(&m),
        "mde.users.alerts" => users::alerts_call(&user),
        "mde.users.machines" => users::machines_call(&user),
        "xdr.incidents.get" => incidents::get_call(inc),
        "xdr.incidents.list" => incidents::list_call(&ListQuery::new()),
        "xdr.incidents.update" => r(incidents::update_call(inc, &IncidentUpdate::default())),
        other => panic!("no sample call for {other}"),
    }
}

/// Matches `text` against a contract path pattern where `{...}` stands for one or more characters
/// other than `/`; returns the placeholder values. With `loose`, literal parts compare
/// ASCII-case-insensitively (the docs' example URLs vary the case of segments).
fn match_pattern(pattern: &str, text: &str, loose: bool) -> Option<Vec<(String, String)>> {
    fn same(a: &str, b: &str, loose: bool) -> bool {
        if loose { a.eq_ignore_ascii_case(b) } else { a == b }
    }
    fn go(p: &str, t: &str, loose: bool, caps: &mut Vec<(String, String)>) -> bool {
        let Some(open) = p.find('{') else { return same(p, t, loose) };
        let lit = &p[..open];
        if !(t.is_char_boundary(lit.len().min(t.len())) && t.len() >= lit.len() && same(&t[..lit.len()], lit, loose)) {
            return false;
        }
        let Some(close) = p[open..].find('}').map(|c| open + c) else { return false };
        let name = &p[open + 1..close];
        let rest = &p[close + 1..];
        let t = &t[lit.len()..];
        let max = t.find('/').unwrap_or(t.len());
        for end in (1..=max).rev().filter(|e| t.is_char_boundary(*e)) {
            caps.push((name.to_string(), t[..end].to_string()));
            if go(rest, &t[end..], loose, caps) {
                return true;
            }
            caps.pop();
        }
        false
    }
    let mut caps = Vec::new();
    go(pattern, text, loose, &mut caps).then_some(caps)
}

#[test]
fn every_contract_endpoint_has_a_typed_call_matching_its_method_and_path() {
    let c = contract();
    let documented: Vec<&str> = c.keys().map(String::as_str).filter(|n| is_api_endpoint(n)).collect();
    let mut ours: Vec<&str> = endpoints();
    ours.sort_unstable();
    assert_eq!(ours, documented, "Endpoint::ALL must list exactly the contract's endpoints");

    for name in &endpoints() {
        let doc = &c[*name];
        let call = sample_call(name);
        assert_eq!(call.endpoint.name(), *name);
        assert_eq!(call.method().as_str(), doc["method"].as_str().unwrap(), "{name}");
        assert_eq!(call.endpoint.path_template(), doc["path"].as_str().unwrap(), "{name}");
        let family = match doc["api"].as_str().unwrap() {
            "mde" => ApiFamily::Mde,
            "xdr" => ApiFamily::Xdr,
            _ => ApiFamily::Graph,
        };
        assert_eq!(call.api(), family, "{name}");
        let pattern = doc["path"].as_str().unwrap();
        let (path_pattern, query_pattern) = pattern.split_once('?').unwrap_or((pattern, ""));
        assert!(match_pattern(path_pattern, &call.path, false).is_some(), "{name}: {} !~ {path_pattern}", call.path);
        for pair in query_pattern.split('&').filter(|s| !s.is_empty()) {
            let key = pair.split('=').next().unwrap();
            assert!(call.query.iter().any(|(k, _)| k == key), "{name}: query lacks {key}");
        }
        // A body exactly when the contract documents one.
        assert_eq!(call.body.is_some(), !doc["request_example"].is_null(), "{name}: body presence");
    }
}

#[test]
fn dynamic_path_segments_are_encoded() {
    let user: AccountName = p("CONTOSO\\first last");
    assert_eq!(api::users::alerts_call(&user).path, "/api/users/CONTOSO%5Cfirst%20last/alerts");
    let call = api::machines::find_by_ip_call(p("2001:db8::1"), p("2019-09-22T08:44:05.123Z"));
    assert_eq!(call.path, "/api/machines/findbyip(ip='2001:db8::1',timestamp=2019-09-22T08:44:05Z)");
    let call = api::actions::get_live_response_result_call(&p(ACTION), 3);
    assert!(call.path.ends_with("/GetLiveResponseResultDownloadLink(index=3)"));
    let call = api::files::stats_call(&FileHash::Sha1(p("4388963aaa83afe2042a46a3c017ad50bdcdafb3")), Some(10_000));
    assert_eq!(call.query, vec![("lookBackHours".to_string(), "720".to_string())]);
}

/// The docs' own request URLs, read through the newtypes our calls take. Every dynamic segment parses
/// except these, which are errors in the docs (and which our calls therefore cannot send):
/// - `collect_investigation_package`: a 32-hex machine id (device ids are 40 hex everywhere else);
/// - `get_package_uri`: a 40-hex machine-action id (action ids are GUIDs everywhere else).
#[test]
fn documented_request_urls_parse_through_our_newtypes() {
    let known_doc_errors = [
        ("mde.machineactions.get_package_uri", "7327b54fd718525cbca07dacde913b5ac3c85673"),
        ("mde.machines.collect_investigation_package", "fb9ab6be3965095a09c057be7c90f0a2"),
    ];
    let mut refused = Vec::new();
    let mut parsed = 0;
    for (name, doc) in contract() {
        if !is_api_endpoint(&name) {
            continue;
        }
        let pattern = doc["path"].as_str().unwrap();
        let path_pattern = pattern.split('?').next().unwrap();
        for url in doc["request_url_examples"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let url = url.split_once(' ').map_or(url, |(_, u)| u);
            let path = match url.find("://") {
                Some(i) => {
                    let rest = &url[i + 3..];
                    &rest[rest.find('/').unwrap_or(rest.len())..]
                }
                None => url,
            };
            let path = path.strip_prefix("/v1.0").unwrap_or(path).split('?').next().unwrap();
            let caps = match_pattern(path_pattern, path, true)
                .or_else(|| match_pattern(path_pattern, &format!("/api{path}"), true))
                .unwrap_or_else(|| panic!("{name}: example {path} does not fit {path_pattern}"));
            for (placeholder, value) in caps {
                if value.starts_with('{') {
                    continue; // the docs left the placeholder in
                }
                let area = name.split('.').nth(1).unwrap();
                let ok = match (area, placeholder.as_str()) {
                    ("alerts", _) | ("security", "alertId") => value.parse::<AlertId>().is_ok(),
                    ("machines", "IP") => value.parse::<IpAddr>().is_ok(),
                    ("machines", "TimeStamp") => value.parse::<DateTime<Utc>>().is_ok(),
                    ("machines" | "investigations", _) => value.parse::<MachineId>().is_ok(),
                    ("machineactions", "command-index") => value.parse::<u32>().is_ok(),
                    ("machineactions", _) => value.parse::<ActionId>().is_ok(),
                    ("files", _) => value.parse::<Sha1>().is_ok() || value.parse::<Sha256>().is_ok(),
                    ("ips", _) => value.parse::<IpAddr>().is_ok(),
                    ("domains", _) => value.parse::<DomainName>().is_ok(),
                    ("users", _) => value.parse::<AccountName>().is_ok(),
                    ("indicators", _) => value.parse::<IndicatorId>().is_ok(),
                    ("incidents", _) | ("security", "incidentId") => value.parse::<IncidentId>().is_ok(),
                    (area, ph) => panic!("{name}: no newtype for {area}/{ph}"),
                };
                if ok {
                    parsed += 1;
                } else {
                    refused.push((name.clone(), value));
                }
            }
        }
    }
    let refused: Vec<(&str, &str)> = refused.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(refused, known_doc_errors);
    assert!(parsed >= 35, "only {parsed} example segments parsed");
}

#[test]
fn permission_manifest_equals_the_contract() {
    let c = contract();
    let strs =
        |v: &Value| -> Vec<String> { v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect() };
    for e in Endpoint::ALL {
        let name = e.name();
        let needed = e.permissions();
        assert_eq!(needed.application, strs(&c[name]["permissions"]["application"]).as_slice(), "{name}");
        assert_eq!(needed.delegated, strs(&c[name]["permissions"]["delegated"]).as_slice(), "{name}");
    }
    // The doctor check over a read-only app's roles.
    let reader = vec!["Alert.Read.All".to_string(), "Machine.Read.All".to_string()];
    let missing = permissions::missing(
        &reader,
        &[Endpoint::MdeAlertsList, Endpoint::MdeMachinesGet, Endpoint::MdeMachinesIsolate],
    );
    assert_eq!(missing, vec![(Endpoint::MdeMachinesIsolate, &["Machine.Isolate"][..])]);
}

#[test]
fn the_round_trip_rule_equates_only_null_and_absent() {
    let a = json!({ "x": 1, "y": null, "z": { "w": null } });
    assert_eq!(without_nulls(&a), without_nulls(&json!({ "x": 1, "z": {} })));
    assert_ne!(without_nulls(&a), without_nulls(&json!({ "x": 2, "z": {} })), "a changed value");
    assert_ne!(without_nulls(&a), without_nulls(&json!({ "z": {} })), "a dropped member");
    assert_ne!(without_nulls(&json!({ "x": "New" })), without_nulls(&json!({ "x": "new" })), "a changed spelling");
}

/// An independent reading of the contract — the simulator's router — routes every call we build to
/// the endpoint it names, with the path parameter we put in.
#[test]
fn the_simulator_routes_every_call_to_its_endpoint() {
    let spec = tenant_sim::spec::SpecTable::load().unwrap();
    for name in &endpoints() {
        let call = sample_call(name);
        let path = if call.api() == ApiFamily::Graph { format!("/v1.0{}", call.path) } else { call.path.clone() };
        let routed = spec.route(call.method().as_str(), &path).unwrap_or_else(|_| panic!("{name}: {path} not routed"));
        assert_eq!(routed.endpoint.name, *name, "{path}");
        let first = routed.first_param();
        let expected = [MACHINE, ALERT, ACTION, "10.209.67.177", "example.com", "user1", "924518", "995", "63017"]
            .into_iter()
            .chain(["4388963aaa83afe2042a46a3c017ad50bdcdafb3"]);
        if !routed.params.is_empty() {
            assert!(expected.into_iter().any(|e| e == first), "{name}: parameter {first:?}");
        }
    }
}

/// Our per-resource filter fields are the ones the contract documents (as the simulator reads them).
#[test]
fn filter_fields_match_the_documented_ones() {
    use defender_shared::defender::odata::fields;
    let spec = tenant_sim::spec::SpecTable::load().unwrap();
    let documented = |name: &str| -> Vec<String> {
        let ep = spec.endpoints.iter().find(|e| e.name == name).unwrap();
        let mut f: Vec<String> = ep.filter_fields.iter().map(|s| s.to_ascii_lowercase()).collect();
        f.sort();
        f
    };
    fn ours<R>(all: &[defender_shared::defender::odata::Field<R>]) -> Vec<String> {
        let mut f: Vec<String> = all.iter().map(|f| f.name().to_ascii_lowercase()).collect();
        f.sort();
        f
    }
    // The alerts page misspells `assignedTo` ("asssignedTo (sic, as documented)"); the simulator
    // reads that note as the fields `assignedTo` and `as`. Ours is the real field only.
    let mut alerts_doc = documented("mde.alerts.list");
    alerts_doc.retain(|f| f != "as");
    for f in &mut alerts_doc {
        if f == "asssignedto" {
            *f = "assignedto".into();
        }
    }
    alerts_doc.sort();
    alerts_doc.dedup();
    assert_eq!(ours(fields::alerts::ALL), alerts_doc);
    assert_eq!(ours(fields::machines::ALL), documented("mde.machines.list"));
    assert_eq!(ours(fields::machine_actions::ALL), documented("mde.machineactions.list"));
    assert_eq!(ours(fields::indicators::ALL), documented("mde.indicators.list"));
    assert_eq!(ours(fields::investigations::ALL), documented("mde.investigations.list"));
    assert_eq!(ours(fields::incidents::ALL), documented("xdr.incidents.list"));
    assert_eq!(ours(fields::graph_alerts::ALL), documented("graph.security.alerts_v2.list"));
    assert_eq!(ours(fields::graph_incidents::ALL), documented("graph.security.incidents.list"));
}
