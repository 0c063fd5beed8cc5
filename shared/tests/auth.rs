//! `TokenProvider` against the simulated tenant over TLS: every credential kind, the errors that name
//! their fix, single-flight, refresh-ahead, vault rotation, the device-code sign-in with rotating
//! refresh tokens, and the `azure_core` credential the Key Vault SDK uses.
//!
//! Time is the simulator's: the provider reads the simulated clock and device-code waits advance it,
//! so nothing here sleeps.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use azure_core::credentials::TokenCredential;
use chrono::{DateTime, Utc};
use defender_shared::{
    auth::{
        AssertionSource, AuthError, Clock, CredentialKind, DeviceCodeLogin, EntraCause, Material, ProviderCredential,
        TenantCredential, TokenProvider, TokenSource, device_code_login,
    },
    ids::{ClientId, TenantId, TenantName},
    secret::SecretString,
    vault::{SecretStore, VaultError},
};
use futures::future::BoxFuture;
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tenant_sim::{RunningSim, SimOptions, state::Sim};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const APP: &str = "11111111-1111-4111-8111-111111111111";
const SECRET: &str = "demo-secret-value-do-not-use-in-prod";
const REPORTER: &str = "22222222-2222-4222-8222-222222222222";
const REPORTER_SECRET: &str = "reporter-secret-value";
const PUBLIC: &str = "33333333-3333-4333-8333-333333333333";
const CERT_APP: &str = "44444444-4444-4444-8444-444444444444";
const FED_APP: &str = "55555555-5555-4555-8555-555555555555";
const FED_SUBJECT: &str = "system:serviceaccount:defender:functions";
const VAULT_SECRET: &str = "defender-client-secret";
const MDE: &str = "https://api.securitycenter.microsoft.com/.default";
const GRAPH: &str = "https://graph.microsoft.com/.default";
const VAULT: &str = "https://vault.azure.net/.default";

// ------------------------------------------------------------------------------------------------
// Fixtures
// ------------------------------------------------------------------------------------------------

/// An in-memory secret store; `get_fresh` may answer differently from `get` (a rotated secret that the
/// cache behind `get` has not seen yet).
#[derive(Debug, Default)]
struct MemStore {
    values: Mutex<HashMap<String, String>>,
    fresh: Mutex<HashMap<String, String>>,
    fresh_reads: Mutex<Vec<String>>,
    writes: Mutex<Vec<String>>,
}

impl MemStore {
    fn with(pairs: &[(&str, &str)]) -> Arc<Self> {
        let store = Self::default();
        for (k, v) in pairs {
            store.values.lock().unwrap().insert((*k).to_string(), (*v).to_string());
        }
        Arc::new(store)
    }
    fn value(&self, name: &str) -> Option<String> {
        self.values.lock().unwrap().get(name).cloned()
    }
}

impl SecretStore for MemStore {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        Box::pin(
            async move { self.value(name).map(SecretString::new).ok_or_else(|| VaultError::NotFound(name.into())) },
        )
    }
    fn get_fresh<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        Box::pin(async move {
            self.fresh_reads.lock().unwrap().push(name.to_string());
            let fresh = self.fresh.lock().unwrap().get(name).cloned();
            fresh.or_else(|| self.value(name)).map(SecretString::new).ok_or_else(|| VaultError::NotFound(name.into()))
        })
    }
    fn set<'a>(&'a self, name: &'a str, value: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
        Box::pin(async move {
            self.writes.lock().unwrap().push(name.to_string());
            self.values.lock().unwrap().insert(name.to_string(), value.expose().to_string());
            Ok(())
        })
    }
}

/// The simulator's clock. `sleep` advances it (recording how long was asked); `short_first_sleep`
/// makes the first wait advance only 1 s (a client polling too fast); `gate_second_sleep` = (go, done):
/// the second wait signals `go` and holds until `done` (the user acts in the meantime).
#[derive(Debug)]
struct SimTime {
    sim: Arc<Sim>,
    sleeps: Arc<Mutex<Vec<Duration>>>,
    short_first_sleep: bool,
    gate_second_sleep: Option<(Arc<tokio::sync::Notify>, Arc<tokio::sync::Notify>)>,
}

impl SimTime {
    fn new(sim: &RunningSim) -> Arc<Self> {
        Arc::new(Self {
            sim: sim.sim.clone(),
            sleeps: Arc::default(),
            short_first_sleep: false,
            gate_second_sleep: None,
        })
    }
}

impl Clock for SimTime {
    fn utc_now(&self) -> DateTime<Utc> {
        self.sim.now()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        let n = {
            let mut sleeps = self.sleeps.lock().unwrap();
            sleeps.push(d);
            sleeps.len()
        };
        let sim = self.sim.clone();
        let advance = if n == 1 && self.short_first_sleep { Duration::from_secs(1) } else { d };
        let gate = self.gate_second_sleep.clone().filter(|_| n == 2);
        Box::pin(async move {
            if let Some((go, done)) = gate {
                go.notify_one();
                done.notified().await;
            }
            sim.clock.advance(chrono::Duration::from_std(advance).unwrap());
        })
    }
}

fn name(s: &str) -> TenantName {
    s.parse().unwrap()
}

fn credential(sim: &RunningSim, client_id: &str, kind: CredentialKind) -> TenantCredential {
    TenantCredential {
        tenant_id: sim.tenant_id().parse::<TenantId>().unwrap(),
        client_id: client_id.parse::<ClientId>().unwrap(),
        authority: url::Url::parse(&sim.url).unwrap(),
        kind,
    }
}

fn inline(s: &str) -> Material {
    Material::Inline(SecretString::new(s))
}

fn provider(
    sim: &RunningSim,
    store: Arc<dyn SecretStore>,
    tenants: Vec<(&str, TenantCredential)>,
) -> Result<TokenProvider, Box<dyn std::error::Error>> {
    let p = TokenProvider::new(sim.client()?, store, tenants.into_iter().map(|(n, c)| (name(n), c)))?;
    Ok(p.with_clock(SimTime::new(sim)))
}

/// A provider for contoso alone, as `client_id` with `kind`, over an empty store.
fn contoso(
    sim: &RunningSim,
    client_id: &str,
    kind: CredentialKind,
) -> Result<TokenProvider, Box<dyn std::error::Error>> {
    provider(sim, MemStore::with(&[]), vec![("contoso", credential(sim, client_id, kind))])
}

async fn control(sim: &RunningSim, path: &str, body: &Value) -> Result<Value, Box<dyn std::error::Error>> {
    let resp = sim.client()?.post(format!("{}/_sim/{path}", sim.url)).json(body).send().await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    assert!(status.is_success(), "/_sim/{path}: {status} {body}");
    Ok(body)
}

/// The token-endpoint requests in the simulator's log: (status, client id).
async fn token_requests(sim: &RunningSim) -> Result<Vec<(u64, String)>, Box<dyn std::error::Error>> {
    let log: Value = sim.client()?.get(format!("{}/_sim/requests", sim.url)).send().await?.json().await?;
    Ok(log["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["method"] == "POST" && e["path"].as_str().unwrap().ends_with("/oauth2/v2.0/token"))
        .map(|e| (e["status"].as_u64().unwrap(), e["client"].as_str().unwrap_or_default().to_string()))
        .collect())
}

async fn token_count(sim: &RunningSim) -> Result<usize, Box<dyn std::error::Error>> {
    Ok(token_requests(sim).await?.len())
}

/// A self-signed certificate and its RSA key, PEM, in one document.
fn certificate() -> (String, String) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert =
        rcgen::CertificateParams::new(vec!["defender-functions-test".into()]).unwrap().self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Seeds the demo tenant plus a certificate app and a federated app.
async fn seed_extra_apps(sim: &RunningSim, cert_pem: &str) -> TestResult {
    let mut seed: Value = serde_json::from_str(tenant_sim::seed::DEMO)?;
    let apps = seed["apps"].as_array_mut().unwrap();
    apps.push(json!({
        "client_id": CERT_APP, "display_name": "certificate app", "certificate_pem": cert_pem,
        "roles": ["Alert.Read.All", "Machine.Read.All"],
    }));
    apps.push(json!({
        "client_id": FED_APP, "display_name": "federated app",
        "federated": {
            "issuer": format!("{}/_sim/issuer", sim.url), "subject": FED_SUBJECT,
            "audience": "api://AzureADTokenExchange", "jwks_url": format!("{}/_sim/issuer/jwks", sim.url),
        },
        "roles": ["Alert.Read.All"],
    }));
    control(sim, "seed", &seed).await?;
    Ok(())
}

fn refusal(e: &AuthError) -> &defender_shared::auth::EntraRefusal {
    e.entra().unwrap_or_else(|| panic!("not an Entra refusal: {e:?}"))
}

// ------------------------------------------------------------------------------------------------
// Credential kinds
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn client_secret_from_the_vault_gets_a_token_and_the_cache_serves_the_next_call() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let store = MemStore::with(&[(VAULT_SECRET, SECRET)]);
    let kind = CredentialKind::ClientSecret(Material::Vault(VAULT_SECRET.into()));
    let p = provider(&sim, store, vec![("contoso", credential(&sim, APP, kind))])?;
    let t = p.token(&name("contoso"), MDE).await?;
    let claims = t.claims()?;
    assert_eq!(claims.aud.as_deref(), Some("https://api.securitycenter.microsoft.com"));
    assert_eq!(claims.appid.as_deref(), Some(APP));
    assert!(claims.roles.iter().any(|r| r == "Machine.Isolate"), "{claims:?}");
    let left = t.expires_at - sim.sim.now();
    assert!((3590..=3600).contains(&left.num_seconds()), "{left}");
    let again = p.token(&name("contoso"), MDE).await?;
    assert_eq!(again.secret, t.secret, "a cache hit returns the same token");
    assert_eq!(token_requests(&sim).await?, vec![(200, APP.to_string())], "a cache hit does not call Entra");
    Ok(())
}

#[tokio::test]
async fn certificate_assertion_gets_a_token() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let (cert_pem, key_pem) = certificate();
    seed_extra_apps(&sim, &cert_pem).await?;
    // Certificate and key together, as the vault holds them; the key block first to show order does not matter.
    let bundle = format!("{key_pem}{cert_pem}");
    let store = MemStore::with(&[("cert-pem", &bundle)]);
    let kind = CredentialKind::Certificate(Material::Vault("cert-pem".into()));
    let p = provider(&sim, store, vec![("contoso", credential(&sim, CERT_APP, kind))])?;
    let t = p.token(&name("contoso"), MDE).await?;
    let claims = t.claims()?;
    assert_eq!(claims.appid.as_deref(), Some(CERT_APP));
    assert_eq!(claims.roles, vec!["Alert.Read.All", "Machine.Read.All"]);
    // A second scope signs a second assertion with a new jti (the simulator refuses replays).
    p.token(&name("contoso"), GRAPH).await?;
    assert_eq!(token_requests(&sim).await?.iter().filter(|(s, _)| *s == 200).count(), 2);
    Ok(())
}

#[tokio::test]
async fn certificate_not_registered_on_the_app_is_named() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let (registered, _) = certificate();
    seed_extra_apps(&sim, &registered).await?;
    let (other_cert, other_key) = certificate();
    let kind = CredentialKind::Certificate(inline(&format!("{other_cert}{other_key}")));
    let p = contoso(&sim, CERT_APP, kind)?;
    let e = p.token(&name("contoso"), MDE).await.unwrap_err();
    let r = refusal(&e);
    assert_eq!(r.cause(), EntraCause::CertificateNotRegistered);
    assert!(r.has_code(50_012), "{:?}", r.codes);
    let shown = e.to_string();
    assert!(shown.contains("certificate for app 44444444") && shown.contains("not registered"), "{shown}");
    assert_eq!(token_count(&sim).await?, 1, "inline material is not retried");
    Ok(())
}

#[tokio::test]
async fn federated_token_file_gets_a_token_is_reread_and_an_expired_one_is_named() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    seed_extra_apps(&sim, &certificate().0).await?;
    let dir = std::env::temp_dir().join(format!("defender-auth-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("token");
    let issue = |ttl: i64| {
        let sim = &sim;
        async move { control(sim, "issuer/token", &json!({"sub": FED_SUBJECT, "ttl_s": ttl})).await }
    };
    std::fs::write(&file, issue(600).await?["token"].as_str().unwrap())?;
    let kind = CredentialKind::Federated(AssertionSource::File(file.clone()));
    let p = contoso(&sim, FED_APP, kind)?;
    let t = p.token(&name("contoso"), MDE).await?;
    assert_eq!(t.claims()?.appid.as_deref(), Some(FED_APP));

    // Ten minutes later the projected token in the file has expired (nobody rotated it).
    control(&sim, "clock", &json!({"advance_s": 700})).await?;
    let e = p.token(&name("contoso"), GRAPH).await.unwrap_err();
    assert_eq!(refusal(&e).cause(), EntraCause::AssertionExpired);
    assert!(refusal(&e).has_code(700_024));
    let shown = e.to_string();
    assert!(shown.contains(&format!("federated token from file {}", file.display())), "{shown}");
    assert!(shown.contains("has expired") && shown.contains("AADSTS700024"), "{shown}");

    // The platform rotates the file: the next request reads the new token.
    std::fs::write(&file, issue(600).await?["token"].as_str().unwrap())?;
    p.token(&name("contoso"), GRAPH).await?;

    // A subject the app does not trust: today's AADSTS70021, retried a bounded number of times (it
    // is also what a credential that is still propagating answers), then named.
    let wrong = control(&sim, "issuer/token", &json!({"sub": "someone-else"})).await?;
    std::fs::write(&file, wrong["token"].as_str().unwrap())?;
    let before = token_count(&sim).await?;
    let e = p.token(&name("contoso"), VAULT).await.unwrap_err();
    assert_eq!(refusal(&e).cause(), EntraCause::FederatedCredentialNotFound);
    assert!(refusal(&e).has_code(70_021));
    assert_eq!(token_count(&sim).await? - before, 4, "one request and three bounded retries");
    let shown = e.to_string();
    assert!(shown.contains("propagated") && shown.contains("iss, sub and aud"), "{shown}");

    // A missing file is named, without a request.
    std::fs::remove_dir_all(&dir)?;
    let before = token_count(&sim).await?;
    let e = p.token(&name("contoso"), "https://api.security.microsoft.com/.default").await.unwrap_err();
    assert!(matches!(e, AuthError::Assertion { .. }), "{e:?}");
    assert!(e.to_string().contains("cannot read the token file"), "{e}");
    assert_eq!(token_count(&sim).await?, before);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Errors that say what to fix
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn wrong_secret_is_a_typed_error_naming_app_tenant_code_and_where_to_fix_it() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let tid = sim.tenant_id();
    let p = provider(
        &sim,
        MemStore::with(&[(VAULT_SECRET, "stale")]),
        vec![
            ("inline", credential(&sim, APP, CredentialKind::ClientSecret(inline("nope")))),
            ("vaulted", credential(&sim, APP, CredentialKind::ClientSecret(Material::Vault(VAULT_SECRET.into())))),
        ],
    )?;
    let e = p.token(&name("inline"), MDE).await.unwrap_err();
    let r = refusal(&e);
    assert_eq!((r.cause(), r.status, r.error.as_str()), (EntraCause::WrongSecret, 401, "invalid_client"));
    assert_eq!(r.codes, vec![7_000_215]);
    assert!(r.trace_id.as_deref().is_some_and(|t| !t.is_empty()));
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!(
            "the client secret for app {APP} in tenant inline ({tid}) is wrong or expired (AADSTS7000215); update the client secret in the configuration [trace id "
        )),
        "{shown}"
    );
    assert!(!shown.contains("nope") && !format!("{e:?}").contains("nope"), "the secret leaked: {shown}");
    assert_eq!(token_count(&sim).await?, 1, "inline material: no retry");

    // From the vault, and still wrong after the fresh read: exactly one retry, then the vault's name.
    let e = p.token(&name("vaulted"), MDE).await.unwrap_err();
    assert_eq!(refusal(&e).cause(), EntraCause::WrongSecret);
    assert!(e.to_string().contains("update secret 'defender-client-secret' in the vault"), "{e}");
    assert_eq!(token_count(&sim).await?, 3, "one request, one retry, never a loop");
    Ok(())
}

#[tokio::test]
async fn wrong_tenant_and_unknown_app_say_so() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let mut elsewhere = credential(&sim, APP, CredentialKind::ClientSecret(inline(SECRET)));
    elsewhere.tenant_id = "00000000-0000-4000-8000-000000000000".parse()?;
    let p = provider(
        &sim,
        MemStore::with(&[]),
        vec![
            ("elsewhere", elsewhere),
            (
                "ghost",
                credential(&sim, "99999999-9999-4999-8999-999999999999", CredentialKind::ClientSecret(inline("x"))),
            ),
            ("contoso", credential(&sim, APP, CredentialKind::ClientSecret(inline(SECRET)))),
        ],
    )?;
    let e = p.token(&name("elsewhere"), MDE).await.unwrap_err();
    assert_eq!(refusal(&e).cause(), EntraCause::TenantNotFound);
    assert!(e.to_string().contains("wrong cloud?"), "{e}");
    let e = p.token(&name("ghost"), MDE).await.unwrap_err();
    assert_eq!(refusal(&e).cause(), EntraCause::AppNotFound);
    assert!(e.to_string().contains("wrong tenant or cloud"), "{e}");
    let e = p.token(&name("contoso"), "https://api.securitycenter.microsoft.com/Alert.Read.All").await.unwrap_err();
    assert_eq!(refusal(&e).cause(), EntraCause::InvalidScope);
    let e = p.token(&name("contoso"), "https://unknown.example.com/.default").await.unwrap_err();
    assert_eq!(refusal(&e).cause(), EntraCause::ConsentMissing);
    assert!(matches!(p.token(&name("nobody"), MDE).await, Err(AuthError::UnknownTenant(t)) if t == "nobody"));
    let http = credential(&sim, APP, CredentialKind::ClientSecret(inline(SECRET)));
    let http = TenantCredential { authority: url::Url::parse("http://login.example.com")?, ..http };
    let e = TokenProvider::new(sim.client()?, MemStore::with(&[]), [(name("plain"), http)]).unwrap_err();
    assert!(matches!(e, AuthError::Config { .. }) && e.to_string().contains("https"), "{e}");
    Ok(())
}

#[tokio::test]
async fn a_missing_role_is_named_from_the_token_claims() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let kind = CredentialKind::ClientSecret(inline(REPORTER_SECRET));
    let p = contoso(&sim, REPORTER, kind)?;
    let t = p.token(&name("contoso"), MDE).await?;
    let claims = t.claims()?;
    assert_eq!(claims.roles, vec!["Alert.Read.All", "Machine.Read.All"]);
    assert_eq!(claims.idtyp.as_deref(), Some("app"));
    t.require_permission("Alert.Read.All")?;
    let e = t.require_permission("Machine.Isolate").unwrap_err();
    let AuthError::MissingPermission { permission, app, delegated, held, .. } = &e else { panic!("{e:?}") };
    assert_eq!((permission.as_str(), app.as_str(), *delegated), ("Machine.Isolate", REPORTER, false));
    assert_eq!(held, &vec!["Alert.Read.All".to_string(), "Machine.Read.All".to_string()]);
    let shown = e.to_string();
    assert!(shown.contains("lacks the application permission 'Machine.Isolate'"), "{shown}");
    assert!(shown.contains("grant admin consent"), "{shown}");
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Cache: single-flight, refresh-ahead, isolation
// ------------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_callers_cause_one_token_request() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let kind = CredentialKind::ClientSecret(Material::Vault(VAULT_SECRET.into()));
    let store = MemStore::with(&[(VAULT_SECRET, SECRET)]);
    let p = Arc::new(provider(&sim, store, vec![("contoso", credential(&sim, APP, kind))])?);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move { p.token(&name("contoso"), MDE).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for t in futures::future::join_all(tasks).await {
        tokens.push(t??.secret);
    }
    assert_eq!(tokens.len(), 100);
    assert!(tokens.iter().all(|t| *t == tokens[0]), "every caller got the one token");
    assert_eq!(token_count(&sim).await?, 1);
    Ok(())
}

#[tokio::test]
async fn a_token_is_refreshed_five_minutes_before_it_expires() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let kind = CredentialKind::ClientSecret(inline(SECRET));
    let p = contoso(&sim, APP, kind)?;
    let first = p.token(&name("contoso"), MDE).await?;
    control(&sim, "clock", &json!({"advance_s": 3000})).await?;
    assert_eq!(p.token(&name("contoso"), MDE).await?.secret, first.secret, "at 50 min the token is served");
    assert_eq!(token_count(&sim).await?, 1);
    control(&sim, "clock", &json!({"advance_s": 360})).await?;
    let second = p.token(&name("contoso"), MDE).await?;
    assert_ne!(second.secret, first.secret, "at 56 min a new token is fetched");
    assert!(second.expires_at > first.expires_at);
    assert_eq!(token_count(&sim).await?, 2);
    Ok(())
}

#[tokio::test]
async fn a_hanging_tenant_does_not_block_another() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    // An authority that accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let (accepted_tx, mut accepted) = tokio::sync::mpsc::unbounded_channel();
    let black_hole = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
            let _ = accepted_tx.send(());
        }
    });
    let mut hanging = credential(&sim, APP, CredentialKind::ClientSecret(inline(SECRET)));
    hanging.authority = url::Url::parse(&format!("https://127.0.0.1:{port}"))?;
    hanging.tenant_id = "0a0a0a0a-0000-4000-8000-000000000001".parse()?;
    let p = Arc::new(provider(
        &sim,
        MemStore::with(&[]),
        vec![("hanging", hanging), ("contoso", credential(&sim, APP, CredentialKind::ClientSecret(inline(SECRET))))],
    )?);
    let slow = {
        let p = p.clone();
        tokio::spawn(async move { p.token(&name("hanging"), MDE).await })
    };
    accepted.recv().await.expect("the hanging tenant's request started");
    // Same scope, same app, another tenant: answered while the first still hangs.
    let fast = tokio::time::timeout(Duration::from_secs(30), p.token(&name("contoso"), MDE)).await?;
    assert!(fast.is_ok(), "{fast:?}");
    assert!(!slow.is_finished(), "the hanging tenant is still waiting");
    slow.abort();
    black_hole.abort();
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Rotation
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_rotated_vault_secret_is_read_again_once_and_succeeds() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let store = MemStore::with(&[(VAULT_SECRET, "the-old-rotated-away-secret")]);
    store.fresh.lock().unwrap().insert(VAULT_SECRET.into(), SECRET.into());
    let kind = CredentialKind::ClientSecret(Material::Vault(VAULT_SECRET.into()));
    let p = provider(&sim, store.clone(), vec![("contoso", credential(&sim, APP, kind))])?;
    let t = p.token(&name("contoso"), MDE).await?;
    assert_eq!(t.claims()?.appid.as_deref(), Some(APP));
    assert_eq!(token_requests(&sim).await?, vec![(401, APP.to_string()), (200, APP.to_string())]);
    assert_eq!(*store.fresh_reads.lock().unwrap(), vec![VAULT_SECRET.to_string()]);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// User context
// ------------------------------------------------------------------------------------------------

/// A device-code sign-in to contoso by the public client, with an empty store, whose user answers
/// (`answer`, plus the code, to the simulator's approve endpoint) once the code is shown and the
/// client has polled twice: the clock holds its second sleep until the answer is in.
struct DeviceCodeRig {
    sim: RunningSim,
    store: Arc<MemStore>,
    user_cred: TenantCredential,
    login: DeviceCodeLogin,
    clock: SimTime,
    code_tx: tokio::sync::oneshot::Sender<String>,
    user: tokio::task::JoinHandle<()>,
}

async fn device_code_rig(short_first_sleep: bool, answer: Value) -> Result<DeviceCodeRig, Box<dyn std::error::Error>> {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let user_cred = credential(&sim, PUBLIC, CredentialKind::User { refresh_token_secret: "user-refresh".into() });
    let login = DeviceCodeLogin::for_tenant(&name("contoso"), &user_cred, GRAPH)?;
    let (go, answered) = (Arc::new(tokio::sync::Notify::new()), Arc::new(tokio::sync::Notify::new()));
    let clock = SimTime {
        sim: sim.sim.clone(),
        sleeps: Arc::default(),
        short_first_sleep,
        gate_second_sleep: Some((go.clone(), answered.clone())),
    };
    let (code_tx, code_rx) = tokio::sync::oneshot::channel::<String>();
    let (http, url) = (sim.client()?, sim.url.clone());
    let user = tokio::spawn(async move {
        let mut body = answer;
        body["user_code"] = json!(code_rx.await.unwrap());
        go.notified().await;
        let resp = http.post(format!("{url}/_sim/devicecode/approve")).json(&body).send().await.unwrap();
        assert!(resp.status().is_success());
        answered.notify_one();
    });
    Ok(DeviceCodeRig { sim, store: MemStore::with(&[]), user_cred, login, clock, code_tx, user })
}

#[tokio::test]
async fn device_code_sign_in_then_rotating_refresh_tokens() -> TestResult {
    // The user approves once the code is shown and the client has polled twice (pending, slow_down).
    let DeviceCodeRig { sim, store, user_cred, login, clock, code_tx, user: approver } =
        device_code_rig(true, json!({"upn": "alice@contoso.com"})).await?;
    let mut shown = None;
    let outcome = device_code_login(&sim.client()?, &*store, &login, &clock, |prompt| {
        shown = Some(prompt.clone());
        code_tx.send(prompt.user_code.clone()).unwrap();
    })
    .await?;
    approver.await?;
    let prompt = shown.unwrap();
    assert_eq!(prompt.verification_uri, "https://microsoft.com/devicelogin");
    assert!(prompt.message.contains(&prompt.user_code));
    assert_eq!(outcome.user.as_deref(), Some("alice@contoso.com"));
    assert!(outcome.scopes.iter().any(|s| s == "offline_access"), "{:?}", outcome.scopes);
    // Polls: pending; too fast (1 s after) -> slow_down; approved. The interval went 5 s -> 10 s.
    let polls: Vec<u64> = token_requests(&sim).await?.iter().map(|(s, _)| *s).collect();
    assert_eq!(polls, vec![400, 400, 200]);
    assert_eq!(*clock.sleeps.lock().unwrap(), vec![Duration::from_secs(5), Duration::from_secs(10)]);
    let first_refresh = store.value("user-refresh").expect("the refresh token was stored");

    // Run time: a delegated MDE token from the stored refresh token, which rotates.
    let p = provider(&sim, store.clone(), vec![("contoso", user_cred.clone())])?;
    let t = p.token(&name("contoso"), MDE).await?;
    let claims = t.claims()?;
    assert_eq!(claims.upn.as_deref(), Some("alice@contoso.com"));
    assert_eq!(claims.idtyp.as_deref(), Some("user"));
    assert!(claims.scp.iter().any(|s| s == "Machine.Isolate"), "{claims:?}");
    let rotated = store.value("user-refresh").unwrap();
    assert_ne!(rotated, first_refresh, "the rotated refresh token was written back");
    // A second scope uses the rotated token (refreshes of one sign-in are serialised).
    p.token(&name("contoso"), GRAPH).await?;
    assert_eq!(store.writes.lock().unwrap().len(), 3, "login + two refreshes");

    // Entra does not revoke the redeemed refresh token (rotation is not revocation): it still works,
    // so nothing here may depend on it being spent.
    let resp = sim
        .client()?
        .post(format!("{}/{}/oauth2/v2.0/token", sim.url, sim.tenant_id()))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", PUBLIC),
            ("refresh_token", first_refresh.as_str()),
            ("scope", MDE),
        ])
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200);
    // A sign-in unused past its 90 days makes a provider say to sign in again (after one fresh read
    // that finds the same token).
    control(&sim, "clock", &json!({"advance_s": 91 * 86_400})).await?;
    let stale = MemStore::with(&[("user-refresh", &first_refresh)]);
    let p = provider(&sim, stale.clone(), vec![("contoso", user_cred.clone())])?;
    let e = p.token(&name("contoso"), MDE).await.unwrap_err();
    assert_eq!(refusal(&e).cause(), EntraCause::SignInExpired);
    assert!(e.to_string().contains("run `defender-functions login` again"), "{e}");
    assert_eq!(stale.fresh_reads.lock().unwrap().len(), 1);
    // Nobody signed in at all.
    let p = provider(&sim, MemStore::with(&[]), vec![("contoso", user_cred)])?;
    let e = p.token(&name("contoso"), MDE).await.unwrap_err();
    assert!(matches!(e, AuthError::LoginRequired { .. }), "{e:?}");
    assert!(e.to_string().contains("run `defender-functions login` first"), "{e}");
    Ok(())
}

#[tokio::test]
async fn a_declined_device_code_sign_in_is_named() -> TestResult {
    let DeviceCodeRig { sim, store, user_cred: _, login, clock, code_tx, user: decliner } =
        device_code_rig(false, json!({"decline": true})).await?;
    let e = device_code_login(&sim.client()?, &*store, &login, &clock, |prompt| {
        code_tx.send(prompt.user_code.clone()).unwrap();
    })
    .await
    .unwrap_err();
    decliner.await?;
    assert_eq!(refusal(&e).cause(), EntraCause::Declined);
    assert!(e.to_string().contains("declined"), "{e}");
    assert!(store.writes.lock().unwrap().is_empty());
    let polls: Vec<u64> = token_requests(&sim).await?.iter().map(|(s, _)| *s).collect();
    assert_eq!(polls, vec![400, 400, 400], "pending, pending, declined");
    // A confidential app cannot start a device-code sign-in.
    let confidential = DeviceCodeLogin { client_id: APP.parse()?, ..login };
    let e = device_code_login(&sim.client()?, &*store, &confidential, &clock, |_| {}).await.unwrap_err();
    assert_eq!(refusal(&e).cause(), EntraCause::NoCredential);
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// azure_core
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_azure_core_credential_shares_the_provider_and_its_cache() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let kind = CredentialKind::ClientSecret(inline(SECRET));
    let p = Arc::new(contoso(&sim, APP, kind)?);
    let cred = ProviderCredential::new(p.clone(), name("contoso"));
    let t = cred.get_token(&[VAULT], None).await?;
    let ours = p.token(&name("contoso"), VAULT).await?;
    assert_eq!(t.token.secret(), ours.secret.expose(), "the same cached token");
    assert_eq!(t.expires_on.unix_timestamp(), ours.expires_at.timestamp());
    assert_eq!(token_count(&sim).await?, 1);
    assert_eq!(ours.claims()?.aud.as_deref(), Some("https://vault.azure.net"));

    // The Key Vault SDK, through our credential, reads a secret from the simulated vault.
    let mut options = azure_security_keyvault_secrets::SecretClientOptions::default();
    options.client_options.transport = Some(azure_core::http::Transport::new(Arc::new(sim.client()?)));
    options.verify_challenge_resource = Some(false);
    let client = azure_security_keyvault_secrets::SecretClient::new(&sim.url, Arc::new(cred), Some(options))?;
    // (Written, then read back by version: the simulator does not serve the SDK's versionless
    // `GET /secrets/{name}/` with its trailing slash.)
    let params = azure_security_keyvault_secrets::models::SetSecretParameters {
        value: Some("written-through-the-sdk".into()),
        ..Default::default()
    };
    let written = client.set_secret("auth-test", params.try_into()?, None).await?.into_model()?;
    let version = written.id.as_deref().and_then(|id| id.rsplit('/').next()).unwrap().to_string();
    let options = azure_security_keyvault_secrets::models::SecretClientGetSecretOptions {
        secret_version: Some(version),
        ..Default::default()
    };
    let read = client.get_secret("auth-test", Some(options)).await?.into_model()?;
    assert_eq!(read.value.as_deref(), Some("written-through-the-sdk"));
    assert_eq!(token_count(&sim).await?, 1, "the SDK used the cached vault token");

    // An Entra refusal reaches the SDK as a credential error with our message.
    let bad = CredentialKind::ClientSecret(inline("wrong"));
    let p = Arc::new(contoso(&sim, APP, bad)?);
    let e = ProviderCredential::new(p, name("contoso")).get_token(&[VAULT], None).await.unwrap_err();
    assert!(matches!(e.kind(), azure_core::error::ErrorKind::Credential), "{e:?}");
    assert!(e.to_string().contains("AADSTS7000215"), "{e}");
    Ok(())
}

#[tokio::test]
async fn a_federated_credential_that_is_still_propagating_is_retried_until_it_answers() -> TestResult {
    let sim = tenant_sim::start(SimOptions::demo()?).await?;
    let mut seed: Value = serde_json::from_str(tenant_sim::seed::DEMO)?;
    seed["apps"].as_array_mut().unwrap().push(json!({
        "client_id": FED_APP, "display_name": "federated app",
        "federated": {
            "issuer": format!("{}/_sim/issuer", sim.url), "subject": FED_SUBJECT,
            "audience": "api://AzureADTokenExchange", "jwks_url": format!("{}/_sim/issuer/jwks", sim.url),
            // Added just now: Entra does not see it for five more seconds.
            "visible_from": (sim.sim.now() + chrono::Duration::seconds(5)).to_rfc3339(),
        },
        "roles": ["Alert.Read.All"],
    }));
    control(&sim, "seed", &seed).await?;
    let dir = std::env::temp_dir().join(format!("defender-auth-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("token");
    let token = control(&sim, "issuer/token", &json!({"sub": FED_SUBJECT, "ttl_s": 600})).await?;
    std::fs::write(&file, token["token"].as_str().unwrap())?;
    let clock = SimTime::new(&sim);
    let kind = CredentialKind::Federated(AssertionSource::File(file.clone()));
    let p =
        TokenProvider::new(sim.client()?, MemStore::with(&[]), [(name("contoso"), credential(&sim, FED_APP, kind))])?
            .with_clock(clock.clone());
    let t = p.token(&name("contoso"), MDE).await?;
    assert_eq!(t.claims()?.appid.as_deref(), Some(FED_APP));
    let statuses: Vec<u64> = token_requests(&sim).await?.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, vec![400, 400, 200], "refused twice while propagating, then issued");
    assert_eq!(*clock.sleeps.lock().unwrap(), vec![Duration::from_secs(2), Duration::from_secs(4)]);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
