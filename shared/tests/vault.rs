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

/// A fresh simulator and the full-access app's store on its vault.
async fn vault() -> (RunningSim, KeyVaultStore) {
    let sim = sim().await;
    let store = store(&sim);
    (sim, store)
}

fn store_as(sim: &RunningSim, client_id: &str, secret: &str) -> KeyVaultStore {
    let http = http(sim);
    kv(&sim.url, credential(sim, &http, client_id, secret), http, true)
}

/// `(method, path, status, client)` of every logged request whose path starts with `prefix`.
async fn logged(sim: &RunningSim, prefix: &str) -> Vec<(String, String, u16, Option<String>)> {
    testkit::sim::logged(sim, prefix).await.into_iter().map(|l| (l.method, l.path, l.status, l.client)).collect()
}

#[tokio::test]
async fn reads_the_seeded_secret_through_the_challenge() {
    let (sim, store) = vault().await;
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
    let (sim, store) = vault().await;
    write(&store, "defender-refresh-token", "rt-1").await;
    assert_eq!(store.get("defender-refresh-token").await.unwrap().expose(), "rt-1");
    write(&store, "defender-refresh-token", "rt-2").await;
    assert_eq!(store.get("defender-refresh-token").await.unwrap().expose(), "rt-2");

    // Two versions exist; the seeded secret is untouched.
    let puts: Vec<_> =
        logged(&sim, "/secrets/defender-refresh-token").await.into_iter().filter(|r| r.0 == "PUT").collect();
    assert_eq!(puts.iter().filter(|r| r.2 == 200).count(), 2, "{puts:?}");
    assert_eq!(store.get(SEEDED).await.unwrap().expose(), FULL_SECRET);

    // Overwriting the seeded secret makes a new latest version.
    write(&store, SEEDED, "rotated-secret").await;
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
    let token =
        sim.client_credentials(&http(&sim), (FULL_APP, FULL_SECRET), "https://vault.azure.net/.default").await.unwrap();
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
    write(&store, "written-via-name", "v").await;
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
    let (sim, store) = vault().await;
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

/// `(version, enabled)` of every version of `name` in the simulated vault, oldest first.
fn versions_of(sim: &RunningSim, name: &str) -> Vec<(String, bool)> {
    let tenant = sim.sim.tenant.lock().unwrap();
    tenant.secrets.get(name).map(|v| v.iter().map(|x| (x.version.clone(), x.enabled)).collect()).unwrap_or_default()
}

/// Whether each version of `name` is enabled, oldest first.
fn enabled(sim: &RunningSim, name: &str) -> Vec<bool> {
    versions_of(sim, name).into_iter().map(|v| v.1).collect()
}

/// A GET of one version over the REST surface, with the full-access app's vault token.
async fn get_version(sim: &RunningSim, name: &str, version: &str) -> (u16, Value) {
    let http = http(sim);
    let token = credential(sim, &http, FULL_APP, FULL_SECRET)
        .get_token(&["https://vault.azure.net/.default"], None)
        .await
        .unwrap();
    let r = http
        .get(format!("{}/secrets/{name}/{version}?api-version=7.6", sim.url))
        .bearer_auth(token.token.secret())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Writes `value` as the new version of `name` (it must succeed).
async fn write(store: &KeyVaultStore, name: &str, value: impl Into<String>) {
    store.set(name, &SecretString::new(value)).await.unwrap();
}

async fn advance(sim: &RunningSim, s: i64) {
    let r = http(sim).post(format!("{}/_sim/clock", sim.url)).json(&json!({"advance_s": s})).send().await.unwrap();
    assert!(r.status().is_success());
}

#[tokio::test]
async fn a_write_disables_every_superseded_version() {
    let (sim, store) = vault().await;
    let name = "chatops-user-default-u0analyst";
    for (i, v) in ["rt-1", "rt-2", "rt-3"].into_iter().enumerate() {
        if i > 0 {
            advance(&sim, 1).await;
        }
        write(&store, name, v).await;
    }
    let versions = versions_of(&sim, name);
    assert_eq!(versions.iter().map(|v| v.1).collect::<Vec<_>>(), [false, false, true], "{versions:?}");
    assert_eq!(store.get(name).await.unwrap().expose(), "rt-3");
    // An old version is unreadable: Key Vault's 403 SecretDisabled.
    let (status, body) = get_version(&sim, name, &versions[0].0).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["innererror"]["code"], "SecretDisabled");
    // Disabled through Update Secret (PATCH of that version), once each.
    let patches: Vec<_> =
        logged(&sim, &format!("/secrets/{name}/")).await.into_iter().filter(|r| r.0 == "PATCH").collect();
    assert_eq!(patches.iter().filter(|r| r.2 == 200).count(), 2, "{patches:?}");
    assert!(patches.iter().any(|r| r.1 == format!("/secrets/{name}/{}", versions[0].0)), "{patches:?}");
}

#[tokio::test]
async fn a_version_not_older_than_the_new_one_is_never_disabled() {
    // Two writers race: the other one's version was stamped at (or after) ours. Disabling it could
    // disable the newest refresh token, so only strictly older versions are retired; the next write
    // retires the rest.
    let (sim, store) = vault().await;
    let name = "chatops-user-default-u0reader";
    write(&store, name, "a").await;
    let later = sim.sim.now().timestamp() + 30;
    sim.sim.tenant.lock().unwrap().secrets.get_mut(name).unwrap()[0].created = later;
    write(&store, name, "b").await;
    assert_eq!(enabled(&sim, name), [true, true]);
    advance(&sim, 31).await;
    write(&store, name, "c").await;
    assert_eq!(enabled(&sim, name), [false, false, true]);
}

#[tokio::test]
async fn a_failed_disable_never_loses_the_new_value_and_the_next_write_retries_it() {
    let (sim, store) = vault().await;
    let name = "defender-refresh-token";
    write(&store, name, "rt-1").await;
    advance(&sim, 1).await;
    // Every Update Secret fails (a 500 the SDK retries, then gives up on).
    let rule = json!({"method": "PATCH", "path_prefix": "/secrets/", "status": 500});
    let r = http(&sim).post(format!("{}/_sim/faults", sim.url)).json(&rule).send().await.unwrap();
    assert!(r.status().is_success());
    write(&store, name, "rt-2").await;
    assert_eq!(enabled(&sim, name), [true, true], "not disabled yet");
    assert_eq!(store.get(name).await.unwrap().expose(), "rt-2", "the new value was kept");
    // The vault recovers: the next write retires both older versions.
    let r = http(&sim).delete(format!("{}/_sim/faults", sim.url)).send().await.unwrap();
    assert!(r.status().is_success());
    advance(&sim, 1).await;
    write(&store, name, "rt-3").await;
    assert_eq!(enabled(&sim, name), [false, false, true]);
}

#[tokio::test]
async fn after_two_refreshes_only_the_newest_refresh_token_is_readable() {
    use defender_shared::auth::{CredentialKind, TenantCredential, TokenProvider, TokenSource};
    const PUBLIC: &str = "33333333-3333-4333-8333-333333333333";
    const MDE: &str = "https://api.securitycenter.microsoft.com/.default";
    let name = "chatops-user-default-u0analyst";
    let sim = sim().await;
    let store: Arc<KeyVaultStore> = Arc::new(store(&sim));
    // alice signs in (device code, approved at the simulated Entra); her refresh token goes to the vault.
    let client = sim.client().unwrap();
    let base = format!("{}/{}/oauth2/v2.0", sim.url, sim.tenant_id());
    let scope = format!("{MDE} offline_access");
    let dc = testkit::sim::json_of(
        client.post(format!("{base}/devicecode")).form(&[("client_id", PUBLIC), ("scope", &scope)]),
    )
    .await;
    let approve = json!({"user_code": dc["user_code"], "upn": "alice@contoso.com"});
    assert!(
        client
            .post(format!("{}/_sim/devicecode/approve", sim.url))
            .json(&approve)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let grant = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", PUBLIC),
        ("device_code", dc["device_code"].as_str().unwrap()),
    ];
    let t: Value = client.post(format!("{base}/token")).form(&grant).send().await.unwrap().json().await.unwrap();
    let first = t["refresh_token"].as_str().unwrap().to_string();
    write(&store, name, first.clone()).await;

    let tenant: defender_shared::ids::TenantName = "default".parse().unwrap();
    let cred = TenantCredential {
        tenant_id: sim.tenant_id().parse().unwrap(),
        client_id: PUBLIC.parse().unwrap(),
        authority: url::Url::parse(&sim.url).unwrap(),
        kind: CredentialKind::User { refresh_token_secret: name.into() },
    };
    // Two refreshes (two cold starts: nothing cached between them), each rotating the refresh token
    // into a new vault version.
    for _ in 0..2 {
        advance(&sim, 1).await;
        let p = TokenProvider::new(client.clone(), store.clone(), [(tenant.clone(), cred.clone())]).unwrap();
        p.token(&tenant, MDE).await.unwrap();
    }
    let versions = versions_of(&sim, name);
    assert_eq!(versions.len(), 3, "sign-in + two refreshes: {versions:?}");
    assert_eq!(versions.iter().map(|v| v.1).collect::<Vec<_>>(), [false, false, true]);
    for (version, _) in &versions[..2] {
        let (status, body) = get_version(&sim, name, version).await;
        assert_eq!((status, body["error"]["innererror"]["code"].as_str()), (403, Some("SecretDisabled")), "{body}");
    }
    let (status, newest) = get_version(&sim, name, &versions[2].0).await;
    assert_eq!(status, 200);
    assert_ne!(newest["value"].as_str().unwrap(), first);
    // Why it matters: Entra still redeems the first refresh token.
    let redeem =
        [("grant_type", "refresh_token"), ("client_id", PUBLIC), ("refresh_token", first.as_str()), ("scope", MDE)];
    assert_eq!(client.post(format!("{base}/token")).form(&redeem).send().await.unwrap().status(), 200);
}
