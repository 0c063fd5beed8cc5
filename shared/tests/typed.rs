//! The typed calls over the network: built by `defender::api`, sent by the core client, answered by
//! the simulated tenant, decoded into our models. Hostile values travel only as escaped literals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::{
    auth::{CredentialKind, Material, TenantCredential, TokenProvider},
    defender::{
        Deadline, DefenderClient, StaticTargets,
        api::ListQuery,
        kql::HuntingQuery,
        models::{
            actions::{IsolateRequest, IsolationType},
            hunting::GraphHuntingRequest,
        },
        odata::{Filter, fields::alerts},
    },
    ids::{MachineId, TenantName},
    secret::SecretString,
};
use futures::StreamExt;
use serde_json::Value;
use std::{sync::Arc, time::Duration};
use tenant_sim::{SimOptions, start};
use testkit::sim::NoStore;

async fn client() -> (tenant_sim::RunningSim, DefenderClient<TokenProvider>, TenantName) {
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    let http = sim.client().unwrap();
    let tenant: TenantName = "demo".parse().unwrap();
    let cred = TenantCredential {
        tenant_id: sim.tenant_id().parse().unwrap(),
        client_id: "11111111-1111-4111-8111-111111111111".parse().unwrap(),
        authority: sim.url.parse().unwrap(),
        kind: CredentialKind::ClientSecret(Material::Inline(SecretString::new("demo-secret-value-do-not-use-in-prod"))),
    };
    let tokens = Arc::new(TokenProvider::new(http.clone(), Arc::new(NoStore), [(tenant.clone(), cred)]).unwrap());
    let targets = Arc::new(StaticTargets::single_origin(&sim.url.parse().unwrap()).unwrap());
    (sim, DefenderClient::new(http, tokens, targets), tenant)
}

fn soon() -> Deadline {
    Deadline::after(Duration::from_secs(20))
}

async fn log(sim: &tenant_sim::RunningSim) -> Vec<Value> {
    let v: Value =
        sim.client().unwrap().get(format!("{}/_sim/requests", sim.url)).send().await.unwrap().json().await.unwrap();
    v["value"].as_array().unwrap().clone()
}

#[tokio::test]
async fn typed_reads_streams_and_actions_against_the_simulator() {
    let (sim, client, tenant) = client().await;
    let seeded = sim.sim.tenant.lock().unwrap().seed.clone();
    let machine_id: MachineId = seeded.machines[2]["id"].as_str().unwrap().parse().unwrap();
    let m = client.get_machine(&tenant, &machine_id, soon()).await.unwrap();
    assert_eq!(m.computer_dns_name.as_deref(), seeded.machines[2]["computerDnsName"].as_str());

    let query = ListQuery { filter: Some(Filter::eq(alerts::SEVERITY, "High")), ..ListQuery::default() };
    let pages: Vec<_> = client.alerts(&tenant, &query, soon()).collect().await;
    let high: usize = pages.into_iter().map(|p| p.unwrap().len()).sum();
    let want = seeded.alerts.iter().filter(|a| a["severity"] == "High").count();
    assert_eq!(high, want);
    assert!(want > 0);

    let req =
        IsolateRequest { comment: "IR-42 requested by alice@contoso.com".into(), isolation_type: IsolationType::Full };
    let action = client.isolate(&tenant, &machine_id, &req, soon()).await.unwrap();
    assert_eq!(action.requestor.as_deref(), Some("11111111-1111-4111-8111-111111111111"));
    let again = client.isolate(&tenant, &machine_id, &req, soon()).await.unwrap_err();
    assert_eq!(again.code(), Some("ActiveRequestAlreadyExists"), "{again}");
    let isolates = log(&sim)
        .await
        .iter()
        .filter(|e| e["method"] == "POST" && e["path"].as_str().unwrap().ends_with("/isolate"))
        .count();
    assert_eq!(isolates, 2, "a refused second isolate is not retried");
}

#[tokio::test]
async fn hostile_values_reach_defender_only_as_escaped_literals() {
    let (sim, client, tenant) = client().await;
    let hostile = "x' or 1 eq 1) | where 1==1\n// \"";
    let query = ListQuery { filter: Some(Filter::eq(alerts::STATUS, hostile)), ..ListQuery::default() };
    let pages: Vec<_> = client.alerts(&tenant, &query, soon()).collect().await;
    assert!(pages.iter().all(|p| p.as_ref().is_ok_and(|v| v.is_empty())), "matched nothing, broke nothing: {pages:?}");
    let sent = log(&sim).await.into_iter().find(|e| e["path"] == "/api/alerts").unwrap();
    let filter: String = url::form_urlencoded::parse(sent["query"].as_str().unwrap().as_bytes())
        .find(|(k, _)| k == "$filter")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert_eq!(filter, "status eq 'x'' or 1 eq 1) | where 1==1\n// \"'");

    let q = HuntingQuery::new("DeviceProcessEvents | where FileName == {file} | take 5")
        .bind("file", hostile)
        .render()
        .unwrap();
    let out = client.graph_hunt(&tenant, &GraphHuntingRequest { query: q, timespan: None }, soon()).await.unwrap();
    assert_eq!(out.results.map(|r| r.len()), Some(0), "the literal matched no row and ended no statement");
}
