//! The cold-start wiring end to end against the simulated tenant: environment → vault (opened with
//! the environment's credential) → registry tenant whose client secret lives in the vault → Defender.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::{
    config::Config,
    defender::{Call, Deadline},
    runtime::Runtime,
    vault::SecretStore,
};
use serde_json::Value;
use std::{collections::HashMap, time::Duration};
use tenant_sim::{SimOptions, start};

const APP: &str = "11111111-1111-4111-8111-111111111111";
const SECRET: &str = "demo-secret-value-do-not-use-in-prod";

fn env(pairs: &[(&str, String)]) -> Config {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Config::from_lookup(|k| map.get(k).cloned()).unwrap()
}

#[tokio::test]
async fn env_credential_opens_the_vault_and_a_registry_tenant_uses_its_vault_secret() {
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("df-runtime-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &sim.ca_pem).unwrap();
    let registry = dir.join("tenants.json");
    std::fs::write(
        &registry,
        format!(
            r#"{{"tenants":[{{"name":"contoso","tenant_id":"{}","client_id":"{APP}","credential":{{"kind":"client_secret","secret_name":"defender-client-secret"}},"allowed_actions":["isolate"]}}]}}"#,
            sim.tenant_id()
        ),
    )
    .unwrap();
    let config = env(&[
        ("AZURE_TENANT_ID", sim.tenant_id()),
        ("AZURE_CLIENT_ID", APP.into()),
        ("AZURE_CLIENT_SECRET", SECRET.into()),
        ("AZURE_AUTHORITY_HOST", sim.url.clone()),
        ("KEY_VAULT_URL", sim.url.clone()),
        ("MDE_API_URL", sim.url.clone()),
        ("XDR_API_URL", sim.url.clone()),
        ("GRAPH_API_URL", sim.url.clone()),
        ("DEFENDER_TENANTS_FILE", registry.display().to_string()),
        ("DEFENDER_EXTRA_CA_FILE", ca.display().to_string()),
        ("DEFENDER_LOCAL_MODE", "1".into()),
    ]);
    let rt = Runtime::from_config(config).await.unwrap();
    assert_eq!(rt.store.get("defender-client-secret").await.unwrap().expose(), SECRET);
    let tenant = "contoso".parse().unwrap();
    let call = Call {
        endpoint: defender_shared::defender::Endpoint::MdeMachinesList,
        path: "/api/machines".into(),
        query: vec![("$top".into(), "3".into())],
        body: None,
    };
    let page: Value = rt.defender.call(&tenant, call, Deadline::after(Duration::from_secs(20))).await.unwrap();
    assert_eq!(page["value"].as_array().unwrap().len(), 3);
    // The tenant's secret was read from the vault, and the vault was opened with the env credential.
    let log: Value =
        sim.client().unwrap().get(format!("{}/_sim/requests", sim.url)).send().await.unwrap().json().await.unwrap();
    let vault_reads = log["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().unwrap().starts_with("/secrets/defender-client-secret") && e["status"] == 200)
        .count();
    assert_eq!(vault_reads, 1, "one vault read (then the TTL cache): {log}");
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_vault_credential_that_lives_in_the_vault_is_refused_at_init() {
    let config = env(&[
        ("AZURE_TENANT_ID", "4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f".into()),
        ("AZURE_CLIENT_ID", APP.into()),
        ("KEY_VAULT_URL", "https://contoso-kv.vault.azure.net".into()),
    ]);
    let err = Runtime::from_config(config).await.unwrap_err().to_string();
    assert!(err.contains("does not itself live in the vault"), "{err}");
}

#[tokio::test]
async fn doctor_names_the_permissions_a_function_needs_but_lacks() {
    use defender_shared::{
        cloud::ApiFamily,
        doctor::{Finding, check},
    };
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    let dir = std::env::temp_dir().join(format!("df-doctor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &sim.ca_pem).unwrap();
    let config = env(&[
        ("AZURE_TENANT_ID", sim.tenant_id()),
        ("AZURE_CLIENT_ID", "22222222-2222-4222-8222-222222222222".into()),
        ("AZURE_CLIENT_SECRET", "reporter-secret-value".into()),
        ("AZURE_AUTHORITY_HOST", sim.url.clone()),
        ("MDE_API_URL", sim.url.clone()),
        ("XDR_API_URL", sim.url.clone()),
        ("GRAPH_API_URL", sim.url.clone()),
        ("DEFENDER_EXTRA_CA_FILE", ca.display().to_string()),
        ("DEFENDER_LOCAL_MODE", "1".into()),
    ]);
    let rt = Runtime::from_config(config).await.unwrap();
    let findings = check(
        &rt,
        &[],
        &[
            defender_shared::defender::Endpoint::MdeMachinesGet,
            defender_shared::defender::Endpoint::MdeMachinesIsolate,
            defender_shared::defender::Endpoint::XdrIncidentsList,
            defender_shared::defender::Endpoint::GraphSecurityAlertsV2List,
        ],
    )
    .await;
    assert_eq!(findings.len(), 3, "{findings:?}");
    match &findings[0] {
        Finding::Missing { api: ApiFamily::Mde, missing, .. } => {
            assert_eq!(missing, &vec![("mde.machines.isolate".to_string(), vec!["Machine.Isolate".to_string()])]);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(&findings[1], Finding::Ok { api: ApiFamily::Xdr, endpoints: 1, .. }), "{:?}", findings[1]);
    assert!(matches!(&findings[2], Finding::Missing { api: ApiFamily::Graph, .. }), "{:?}", findings[2]);
    assert!(findings[0].to_string().contains("mde.machines.isolate needs one of Machine.Isolate"));
    std::fs::remove_dir_all(&dir).ok();
}
