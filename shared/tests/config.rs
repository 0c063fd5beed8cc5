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

use testkit::{
    demo::{APP as CLIENT, SECRET},
    sim::SimEnv,
};

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
    let sim = SimEnv::demo().await;
    let tenant = sim.tenant_id();
    let config = Config::from_lookup(sim.lookup(&[])).unwrap();
    let ca = std::fs::read_to_string(config.extra_ca_file.as_ref().unwrap()).unwrap();
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
