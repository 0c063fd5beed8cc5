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
use testkit::{
    demo::{APP, READER_APP, READER_SECRET, SECRET, TENANT},
    sim::{SimEnv, requests},
};

fn env(pairs: &[(&str, String)]) -> Config {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
    Config::from_lookup(|k| map.get(k).cloned()).unwrap()
}

#[tokio::test]
async fn env_credential_opens_the_vault_and_a_registry_tenant_uses_its_vault_secret() {
    let sim = SimEnv::demo().await;
    let registry = sim.dir.join("tenants.json");
    std::fs::write(
        &registry,
        format!(
            r#"{{"tenants":[{{"name":"contoso","tenant_id":"{}","client_id":"{APP}","credential":{{"kind":"client_secret","secret_name":"defender-client-secret"}},"allowed_actions":["isolate"]}}]}}"#,
            sim.tenant_id()
        ),
    )
    .unwrap();
    let rt = sim.runtime_with(&[("DEFENDER_TENANTS_FILE", registry.display().to_string())]).await;
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
    let log = requests(&sim).await;
    let vault_reads = log
        .iter()
        .filter(|e| e["path"].as_str().unwrap().starts_with("/secrets/defender-client-secret") && e["status"] == 200)
        .count();
    assert_eq!(vault_reads, 1, "one vault read (then the TTL cache): {log:?}");
}

#[tokio::test]
async fn a_vault_credential_that_lives_in_the_vault_is_refused_at_init() {
    let config = env(&[
        ("AZURE_TENANT_ID", TENANT.into()),
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
    let sim = SimEnv::demo().await;
    // The reader app with its inline secret, and no vault (an inline secret needs none).
    let mut vars: Vec<(String, String)> = sim.env_without(&["KEY_VAULT_URL"]);
    vars.extend(
        [("AZURE_CLIENT_ID", READER_APP), ("AZURE_CLIENT_SECRET", READER_SECRET)].map(|(k, v)| (k.into(), v.into())),
    );
    let config = env(&vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect::<Vec<_>>());
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
}
