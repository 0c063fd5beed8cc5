//! `KeyVaultStore` (the official Azure SDK) against the simulated tenant over TLS, with a real
//! `azure_identity::ClientSecretCredential` pointed at the simulator as a custom cloud.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use azure_core::{
    cloud::{CloudConfiguration, CustomConfiguration},
    credentials::{Secret, TokenCredential},
    http::{ClientOptions, Transport},
};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use defender_shared::{
    secret::SecretString,
    vault::{CachedStore, KeyVaultStore, SecretStore, VaultError},
};
use serde_json::{Value, json};
use std::{net::SocketAddr, sync::Arc};
use tenant_sim::{RunningSim, SimOptions};

const FULL_APP: &str = "11111111-1111-4111-8111-111111111111";
const FULL_SECRET: &str = "demo-secret-value-do-not-use-in-prod";
const READ_ONLY_APP: &str = "22222222-2222-4222-8222-222222222222";
const READ_ONLY_SECRET: &str = "reporter-secret-value";
const SEEDED: &str = "defender-client-secret";

async fn sim() -> RunningSim {
    tenant_sim::start(SimOptions::demo().unwrap()).await.unwrap()
}

fn sim_addr(sim: &RunningSim) -> SocketAddr {
    sim.url.trim_start_matches("https://").parse().unwrap()
}

/// The simulator's CA, redirects off, and `demo.vault.localhost` mapped to the simulator.
fn http(sim: &RunningSim) -> reqwest::Client {
    let certs = reqwest::Certificate::from_pem_bundle(sim.ca_pem.as_bytes()).unwrap();
    reqwest::Client::builder()
        .tls_certs_merge(certs)
        .redirect(reqwest::redirect::Policy::none())
        .resolve("demo.vault.localhost", sim_addr(sim))
        .build()
        .unwrap()
}

/// A client-secret credential whose authority host is the simulator, over the same reqwest client.
fn credential(sim: &RunningSim, http: &reqwest::Client, client_id: &str, secret: &str) -> Arc<dyn TokenCredential> {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = sim.url.clone();
    let options = ClientSecretCredentialOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(http.clone()))),
            cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
            ..Default::default()
        },
    };
    ClientSecretCredential::new(&sim.tenant_id(), client_id.to_string(), Secret::new(secret.to_string()), Some(options))
        .unwrap()
}

fn kv(url: &str, credential: Arc<dyn TokenCredential>, http: reqwest::Client, local_mode: bool) -> KeyVaultStore {
    KeyVaultStore::new(url, credential, http, local_mode).unwrap()
}

/// The vault at `https://127.0.0.1:<port>` as the full-access app, in local mode.
fn store(sim: &RunningSim) -> KeyVaultStore {
    store_as(sim, FULL_APP, FULL_SECRET)
}

fn store_as(sim: &RunningSim, client_id: &str, secret: &str) -> KeyVaultStore {
    let http = http(sim);
    kv(&sim.url, credential(sim, &http, client_id, secret), http, true)
}

/// `(method, path, status, client)` of every logged request whose path starts with `prefix`.
async fn logged(sim: &RunningSim, prefix: &str) -> Vec<(String, String, u16, Option<String>)> {
    let log: Value = http(sim).get(format!("{}/_sim/requests", sim.url)).send().await.unwrap().json().await.unwrap();
    log["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"].as_str().unwrap().starts_with(prefix))
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_string(),
                e["path"].as_str().unwrap().to_string(),
                u16::try_from(e["status"].as_u64().unwrap()).unwrap(),
                e["client"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[tokio::test]
async fn reads_the_seeded_secret_through_the_challenge() {
    let sim = sim().await;
    let store = store(&sim);
    assert_eq!(store.get(SEEDED).await.unwrap().expose(), FULL_SECRET);

    // The SDK's first request carries no token; the vault answers 401 with the challenge, the SDK gets a
    // token for the challenge's resource and retries.
    let vault = logged(&sim, "/secrets/").await;
    // The SDK reads the latest version as `/secrets/{name}/` (empty version segment).
    let path = format!("/secrets/{SEEDED}/");
    assert_eq!(
        vault,
        [
            ("GET".to_string(), path.clone(), 401, None),
            ("GET".to_string(), path.clone(), 200, Some(FULL_APP.to_string())),
        ]
    );
    let token_requests = logged(&sim, &format!("/{}/oauth2/v2.0/token", sim.tenant_id())).await;
    assert_eq!(token_requests.len(), 1);
    assert_eq!(token_requests[0].2, 200);

    // Later requests reuse the discovered scope and the token: no second challenge.
    assert_eq!(store.get_fresh(SEEDED).await.unwrap().expose(), FULL_SECRET);
    let vault = logged(&sim, "/secrets/").await;
    assert_eq!(vault.len(), 3);
    assert_eq!(vault[2].2, 200);
}

#[tokio::test]
async fn writes_a_new_version_then_reads_it() {
    let sim = sim().await;
    let store = store(&sim);
    store.set("defender-refresh-token", &SecretString::new("rt-1")).await.unwrap();
    assert_eq!(store.get("defender-refresh-token").await.unwrap().expose(), "rt-1");
    store.set("defender-refresh-token", &SecretString::new("rt-2")).await.unwrap();
    assert_eq!(store.get("defender-refresh-token").await.unwrap().expose(), "rt-2");

    // Two versions exist; the seeded secret is untouched.
    let puts: Vec<_> =
        logged(&sim, "/secrets/defender-refresh-token").await.into_iter().filter(|r| r.0 == "PUT").collect();
    assert_eq!(puts.iter().filter(|r| r.2 == 200).count(), 2, "{puts:?}");
    assert_eq!(store.get(SEEDED).await.unwrap().expose(), FULL_SECRET);

    // Overwriting the seeded secret makes a new latest version.
    store.set(SEEDED, &SecretString::new("rotated-secret")).await.unwrap();
    assert_eq!(store.get(SEEDED).await.unwrap().expose(), "rotated-secret");
}

#[tokio::test]
async fn an_unknown_name_is_not_found() {
    let sim = sim().await;
    let e = store(&sim).get("no-such-secret").await.unwrap_err();
    assert!(matches!(&e, VaultError::NotFound(n) if n == "no-such-secret"), "{e:?}");
    // From the vault itself, after the challenge — not from a missing route.
    let statuses: Vec<_> = logged(&sim, "/secrets/").await.into_iter().map(|r| (r.2, r.3)).collect();
    assert_eq!(statuses, [(401, None), (404, Some(FULL_APP.to_string()))]);
}

#[tokio::test]
async fn an_invalid_name_never_reaches_the_vault() {
    let sim = sim().await;
    let e = store(&sim).get("../oauth2/token").await.unwrap_err();
    assert!(matches!(e, VaultError::InvalidName(_)), "{e:?}");
    assert!(logged(&sim, "/").await.iter().all(|r| !r.1.starts_with("/secrets") && !r.1.contains("oauth2")));
}

#[tokio::test]
async fn an_app_without_vault_access_is_denied() {
    let sim = sim().await;
    let store = store_as(&sim, READ_ONLY_APP, READ_ONLY_SECRET);
    let e = store.get(SEEDED).await.unwrap_err();
    match &e {
        VaultError::AccessDenied { vault, name, status } => {
            assert_eq!((vault.as_str(), name.as_str(), *status), (sim.url.as_str(), SEEDED, 403));
        }
        other => panic!("expected AccessDenied, got {other:?}"),
    }
    let shown = e.to_string();
    assert!(shown.contains(SEEDED) && shown.contains(&sim.url) && !shown.contains(FULL_SECRET), "{shown}");
    assert!(!e.is_retryable());

    let e = store.set(SEEDED, &SecretString::new("attempt")).await.unwrap_err();
    assert!(matches!(e, VaultError::AccessDenied { status: 403, .. }), "{e:?}");
    // The denied write changed nothing.
    assert_eq!(self::store(&sim).get(SEEDED).await.unwrap().expose(), FULL_SECRET);
}

/// Azure RBAC scoped to single secrets (split identities): an app holding "Key Vault Secrets User" on
/// one secret reads that one; another secret, a write and listing the vault are 403 `AccessDenied`.
#[tokio::test]
async fn a_secret_scoped_app_reads_only_its_own_secrets() {
    let mut opts = SimOptions::demo().unwrap();
    let app = opts.seed.apps.iter_mut().find(|a| a.client_id == FULL_APP).unwrap();
    app.vault_secrets = Some(vec!["webhook-secret".into()]);
    let sim = tenant_sim::start(opts).await.unwrap();
    let store = store(&sim);
    assert!(store.get("Webhook-Secret").await.unwrap().expose().starts_with("whsec_"), "names are case-insensitive");
    for other in ["slack-signing-secret", SEEDED] {
        let e = store.get(other).await.unwrap_err();
        assert!(matches!(e, VaultError::AccessDenied { status: 403, .. }), "{other}: {e:?}");
    }
    let e = store.set("webhook-secret", &SecretString::new("whsec_attempt")).await.unwrap_err();
    assert!(matches!(e, VaultError::AccessDenied { status: 403, .. }), "{e:?}");
    // Listing the vault needs a vault-scope role.
    let token: Value = http(&sim)
        .post(format!("{}/{}/oauth2/v2.0/token", sim.url, sim.tenant_id()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", FULL_APP),
            ("client_secret", FULL_SECRET),
            ("scope", "https://vault.azure.net/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap();
    let list =
        |path: &'static str| http(&sim).get(format!("{}{path}?api-version=7.4", sim.url)).bearer_auth(token).send();
    assert_eq!(list("/secrets").await.unwrap().status().as_u16(), 403);
    assert_eq!(list("/secrets/webhook-secret/versions").await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn a_wrong_client_secret_is_a_credential_failure() {
    let sim = sim().await;
    let e = store_as(&sim, FULL_APP, "not-the-secret").get(SEEDED).await.unwrap_err();
    assert!(matches!(e, VaultError::Unavailable { .. }), "{e:?}");
    assert!(!format!("{e:?}").contains(FULL_SECRET));
}

#[tokio::test]
async fn other_statuses_keep_the_status() {
    let sim = sim().await;
    let rule = json!({"path_prefix": "/secrets/", "status": 409, "times": 1});
    let r = http(&sim).post(format!("{}/_sim/faults", sim.url)).json(&rule).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    let e = store(&sim).get(SEEDED).await.unwrap_err();
    assert!(matches!(e, VaultError::Http { status: 409, .. }), "{e:?}");
    assert_eq!(e.status(), Some(409));
}

#[tokio::test]
async fn vault_localhost_passes_the_challenge_check_without_relaxing_it() {
    let sim = sim().await;
    let http = http(&sim);
    let url = format!("https://demo.vault.localhost:{}", sim_addr(&sim).port());
    let store = kv(&url, credential(&sim, &http, FULL_APP, FULL_SECRET), http, false);
    assert_eq!(store.get(SEEDED).await.unwrap().expose(), FULL_SECRET);
    store.set("written-via-name", &SecretString::new("v")).await.unwrap();
    assert_eq!(store.get("written-via-name").await.unwrap().expose(), "v");
    let vault = logged(&sim, "/secrets/").await;
    assert_eq!(vault[0].2, 401, "the challenge was answered: {vault:?}");
    assert!(vault[1..].iter().all(|r| r.2 == 200), "{vault:?}");
}

#[tokio::test]
async fn at_an_ip_address_the_check_fails_unless_local_mode_relaxes_it() {
    let sim = sim().await;
    let http = http(&sim);
    let strict = kv(&sim.url, credential(&sim, &http, FULL_APP, FULL_SECRET), http, false);
    let e = strict.get(SEEDED).await.unwrap_err();
    assert!(matches!(e, VaultError::Unavailable { .. }), "{e:?}");
    // The SDK refused before asking for a token: nothing but the unauthenticated probe was sent.
    let all = logged(&sim, "/").await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!((all[0].2, all[0].3.as_deref()), (401, None));
    // The same vault in local mode works (see `reads_the_seeded_secret_through_the_challenge`).
    assert_eq!(store(&sim).get(SEEDED).await.unwrap().expose(), FULL_SECRET);
}

#[tokio::test]
async fn the_cache_reads_the_vault_once_for_concurrent_callers() {
    let sim = sim().await;
    let cached = CachedStore::new(store(&sim));
    let results = futures::future::join_all((0..25).map(|_| cached.get(SEEDED))).await;
    assert!(results.iter().all(|r| r.as_ref().unwrap().expose() == FULL_SECRET));
    // The SDK reads the latest version as `/secrets/{name}/` (empty version segment).
    let path = format!("/secrets/{SEEDED}/");
    let reads = |log: &[(String, String, u16, Option<String>)]| {
        log.iter().filter(|r| r.0 == "GET" && r.1 == path && r.2 == 200).count()
    };
    assert_eq!(reads(&logged(&sim, "/secrets/").await), 1);

    assert_eq!(cached.get(SEEDED).await.unwrap().expose(), FULL_SECRET);
    assert_eq!(reads(&logged(&sim, "/secrets/").await), 1, "served from the cache");

    // Rotation: someone writes a new version; the cache still serves the old one until get_fresh.
    store(&sim).set(SEEDED, &SecretString::new("rotated")).await.unwrap();
    assert_eq!(cached.get(SEEDED).await.unwrap().expose(), FULL_SECRET);
    assert_eq!(cached.get_fresh(SEEDED).await.unwrap().expose(), "rotated");
    assert_eq!(cached.get(SEEDED).await.unwrap().expose(), "rotated");
    assert_eq!(reads(&logged(&sim, "/secrets/").await), 2);
}

async fn throttle_vault(sim: &RunningSim, next: u32, retry_after_s: u64) {
    let cfg = json!({"vault_throttle_next": next, "vault_retry_after_s": retry_after_s});
    let r = http(sim).post(format!("{}/_sim/config", sim.url)).json(&cfg).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
}

#[tokio::test]
async fn a_throttled_read_is_retried_after_retry_after() {
    let sim = sim().await;
    let store = store(&sim);
    // Warm the token first, so the throttled request is the secret read itself.
    assert_eq!(store.get(SEEDED).await.unwrap().expose(), FULL_SECRET);
    throttle_vault(&sim, 1, 1).await;
    assert_eq!(store.get(SEEDED).await.unwrap().expose(), FULL_SECRET);
    let statuses: Vec<u16> = logged(&sim, "/secrets/").await.iter().map(|r| r.2).collect();
    assert!(statuses.ends_with(&[429, 200]), "429 then a retry that succeeded: {statuses:?}");
}

#[tokio::test]
async fn a_long_retry_after_is_bounded_and_retryable_and_the_cache_bridges_it() {
    let sim = sim().await;
    let cached = CachedStore::new(store(&sim));
    assert_eq!(cached.get(SEEDED).await.unwrap().expose(), FULL_SECRET);
    throttle_vault(&sim, 100, 30).await;
    let started = std::time::Instant::now();
    let e = store(&sim).get(SEEDED).await.unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "bounded: {:?}", started.elapsed());
    assert!(e.is_retryable(), "a throttled vault is retryable: {e:?}");
    // A caller holding a value keeps it while the vault throttles.
    assert_eq!(cached.get(SEEDED).await.unwrap().expose(), FULL_SECRET);
}
