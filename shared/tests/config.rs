//! Local mode end to end: a configuration that points at the simulated tenant resolves, for every API
//! family, a scope the simulator's Entra issues a token for and a base under which the documented
//! paths answer 200 with that token. This checks the commercial column of the cloud table and the
//! override rules (Graph's `/v1.0`) against the contract-bound simulator, not against our own reading.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use defender_shared::{
    cloud::{ApiEndpoints, ApiFamily},
    config::Config,
    tenants::TenantRegistry,
};
use std::collections::HashMap;

const CLIENT: &str = "11111111-1111-4111-8111-111111111111";
const SECRET: &str = "demo-secret-value-do-not-use-in-prod";

async fn token(http: &reqwest::Client, e: &ApiEndpoints, tenant: &str) -> String {
    let url = e.authority.join(&format!("{tenant}/oauth2/v2.0/token")).unwrap();
    let form =
        [("grant_type", "client_credentials"), ("client_id", CLIENT), ("client_secret", SECRET), ("scope", &e.scope)];
    let resp = http.post(url).form(&form).send().await.unwrap();
    assert_eq!(resp.status(), 200, "token for {}", e.scope);
    let body: serde_json::Value = resp.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn local_mode_config_reaches_every_api_of_the_simulator() {
    let sim = tenant_sim::start(tenant_sim::SimOptions::demo().unwrap()).await.unwrap();
    let ca_path = std::env::temp_dir().join(format!("defender-sim-ca-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&ca_path, &sim.ca_pem).unwrap();
    let tenant = sim.tenant_id();

    let env: HashMap<&str, String> = [
        ("AZURE_TENANT_ID", tenant.clone()),
        ("AZURE_CLIENT_ID", CLIENT.to_string()),
        ("AZURE_CLIENT_SECRET", SECRET.to_string()),
        ("AZURE_AUTHORITY_HOST", sim.url.clone()),
        ("KEY_VAULT_URL", sim.url.clone()),
        ("MDE_API_URL", sim.url.clone()),
        ("XDR_API_URL", sim.url.clone()),
        ("GRAPH_API_URL", sim.url.clone()),
        ("DEFENDER_LOCAL_MODE", "1".to_string()),
        ("DEFENDER_EXTRA_CA_FILE", ca_path.to_string_lossy().to_string()),
    ]
    .into_iter()
    .collect();
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let ca = std::fs::read_to_string(config.extra_ca_file.as_ref().unwrap()).unwrap();
    std::fs::remove_file(&ca_path).unwrap();
    let http = defender_shared::http::client(Some(&ca)).unwrap();

    let registry = TenantRegistry::single(&config);
    let name = "default".parse().unwrap();
    for (api, path) in [
        (ApiFamily::Mde, "/api/machines"),
        (ApiFamily::Xdr, "/api/incidents"),
        (ApiFamily::Graph, "/security/alerts_v2"),
    ] {
        let e = registry.resolve(&name, api).unwrap();
        let bearer = token(&http, &e, &tenant).await;
        let resp = http.get(e.url(path)).query(&[("$top", "1")]).bearer_auth(&bearer).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{api} {}", e.url(path));
    }

    // Key Vault: the table's scope, the configured vault URL.
    let e = registry.resolve(&name, ApiFamily::KeyVault).unwrap();
    let bearer = token(&http, &e, &tenant).await;
    let mut url = config.key_vault_url().unwrap().join("secrets/defender-client-secret").unwrap();
    url.set_query(Some("api-version=7.5"));
    let resp = http.get(url).bearer_auth(&bearer).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["value"], SECRET);

    // A token for one API is refused by another: the scopes really differ per family.
    let mde = registry.resolve(&name, ApiFamily::Mde).unwrap();
    let graph = registry.resolve(&name, ApiFamily::Graph).unwrap();
    let graph_token = token(&http, &graph, &tenant).await;
    let resp = http.get(mde.url("/api/machines")).bearer_auth(&graph_token).send().await.unwrap();
    assert_eq!(resp.status(), 401);
}
