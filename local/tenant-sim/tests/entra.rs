//! The Entra ID stand-in over TLS: client secret, certificate and federated assertions, device code,
//! refresh-token rotation, discovery and JWKS.

// Test helpers outside `#[test]` functions: clippy's allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use common::{APP, SECRET, TestResult};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, jwk::Jwk};
use serde_json::{Value, json};
use sha2::Digest;
use tenant_sim::RunningSim;

const PUBLIC: &str = "33333333-3333-4333-8333-333333333333";
const MDE: &str = "https://api.securitycenter.microsoft.com";

fn token_url(sim: &RunningSim) -> String {
    format!("{}/{}/oauth2/v2.0/token", sim.url, sim.tenant_id())
}

async fn post_form(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> Result<(u16, Value), reqwest::Error> {
    let resp = http.post(url).form(form).send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await?))
}

async fn post_json(http: &reqwest::Client, url: &str, body: &Value) -> Result<(u16, Value), reqwest::Error> {
    let resp = http.post(url).json(body).send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await?))
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn assert_entra_error(body: &Value, error: &str, code: u64) {
    assert_eq!(body["error"], error, "{body}");
    assert_eq!(body["error_codes"], json!([code]), "{body}");
    let desc = body["error_description"].as_str().unwrap();
    assert!(desc.starts_with(&format!("AADSTS{code}:")), "{desc}");
    assert!(body["trace_id"].is_string() && body["correlation_id"].is_string());
}

/// An answer refused with `status`, Entra's `error` and the AADSTS `code`.
fn assert_refused((status, body): (u16, Value), expected: u16, error: &str, code: u64) {
    assert_eq!(status, expected, "{body}");
    assert_entra_error(&body, error, code);
}

/// What the token endpoint answers `form` with: its status and body.
async fn token_answer(sim: &RunningSim, http: &reqwest::Client, form: &[(&str, &str)]) -> Answer {
    post_form(http, &token_url(sim), form).await
}

/// A status and a JSON body, or the request failed.
type Answer = Result<(u16, Value), reqwest::Error>;

/// A client-credentials grant with a client secret.
async fn secret_grant(sim: &RunningSim, http: &reqwest::Client, client: &str, secret: &str, scope: &str) -> Answer {
    let form =
        [("grant_type", "client_credentials"), ("client_id", client), ("client_secret", secret), ("scope", scope)];
    token_answer(sim, http, &form).await
}

async fn client_credentials(sim: &RunningSim, http: &reqwest::Client, scope: &str) -> Answer {
    secret_grant(sim, http, APP, SECRET, scope).await
}

#[tokio::test]
async fn client_secret_issues_a_token_for_one_resource() -> TestResult {
    let (sim, http) = common::demo().await?;
    let (status, body) = client_credentials(&sim, &http, &format!("{MDE}/.default")).await?;
    assert_eq!(status, 200, "{body}");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["token_type", "expires_in", "ext_expires_in", "access_token"]);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3599);
    let claims = payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], MDE);
    assert_eq!(claims["tid"], sim.tenant_id());
    assert_eq!(claims["appid"], APP);
    assert_eq!(claims["idtyp"], "app");
    assert_eq!(claims["iss"], format!("{}/{}/v2.0", sim.url, sim.tenant_id()));
    let roles: Vec<&str> = claims["roles"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(roles.contains(&"Alert.Read.All") && roles.contains(&"Machine.Isolate"));
    assert!(!roles.contains(&"SecurityAlert.Read.All"), "Graph roles leak into an MDE token: {roles:?}");
    assert!(!roles.contains(&"Incident.Read.All"), "XDR roles leak into an MDE token: {roles:?}");
    let now = sim.sim.now().timestamp();
    let exp = claims["exp"].as_i64().unwrap();
    assert!((exp - now - 3599).abs() <= 5, "exp {exp} now {now}");
    // Another resource, other roles; the oid is stable.
    let (_, graph) = client_credentials(&sim, &http, "https://graph.microsoft.com/.default").await?;
    let g = payload(graph["access_token"].as_str().unwrap());
    assert_eq!(g["aud"], "https://graph.microsoft.com");
    assert!(g["roles"].as_array().unwrap().iter().all(|r| r != "Alert.Read.All"));
    assert_eq!(g["oid"], claims["oid"]);
    // Key Vault: no roles at all.
    let (_, vault) = client_credentials(&sim, &http, "https://vault.azure.net/.default").await?;
    assert!(payload(vault["access_token"].as_str().unwrap()).get("roles").is_none());
    Ok(())
}

#[tokio::test]
async fn wrong_secret_is_401_7000215() -> TestResult {
    let (sim, http) = common::demo().await?;
    let answer = secret_grant(&sim, &http, APP, "nope", "https://graph.microsoft.com/.default").await?;
    assert_refused(answer, 401, "invalid_client", 7_000_215);
    Ok(())
}

#[tokio::test]
async fn unknown_client_is_700016_and_missing_credential_7000218() -> TestResult {
    let (sim, http) = common::demo().await?;
    let unknown = "99999999-9999-4999-8999-999999999999";
    let (status, body) = secret_grant(&sim, &http, unknown, "x", "https://graph.microsoft.com/.default").await?;
    assert_eq!(status, 400, "{body}");
    assert_entra_error(&body, "unauthorized_client", 700_016);
    assert!(body["error_description"].as_str().unwrap().contains(unknown));
    let form =
        [("grant_type", "client_credentials"), ("client_id", APP), ("scope", "https://graph.microsoft.com/.default")];
    let (status, body) = post_form(&http, &token_url(&sim), &form).await?;
    // Today's Entra answers a missing client credential with 401.
    assert_eq!(status, 401);
    assert_entra_error(&body, "invalid_client", 7_000_218);
    Ok(())
}

#[tokio::test]
async fn request_errors_are_entra_shaped() -> TestResult {
    let (sim, http) = common::demo().await?;
    let url = token_url(&sim);
    assert_refused(
        post_form(
            &http,
            &url,
            &[("grant_type", "client_credentials"), ("client_id", APP), ("client_secret", SECRET), ("resource", MDE)],
        )
        .await?,
        400,
        "invalid_request",
        901_002,
    );
    assert_refused(post_form(&http, &url, &[("client_id", APP)]).await?, 400, "invalid_request", 900_144);
    assert_refused(
        post_json(&http, &url, &json!({"grant_type": "client_credentials"})).await?,
        400,
        "invalid_request",
        900_144,
    );
    assert_refused(
        post_form(&http, &url, &[("grant_type", "password"), ("client_id", APP)]).await?,
        400,
        "unsupported_grant_type",
        70_003,
    );
    let other = format!("{}/contoso.onmicrosoft.com/oauth2/v2.0/token", sim.url);
    assert_refused(
        post_form(&http, &other, &[("grant_type", "client_credentials")]).await?,
        400,
        "invalid_request",
        90_002,
    );
    assert_refused(
        client_credentials(
            &sim,
            &http,
            "https://graph.microsoft.com/.default https://api.security.microsoft.com/.default",
        )
        .await?,
        400,
        "invalid_scope",
        700_022,
    );
    assert_refused(
        client_credentials(&sim, &http, "https://example.contoso.com/.default").await?,
        400,
        "invalid_resource",
        500_011,
    );
    // Client credentials without `/.default`: today's code is AADSTS1002012.
    assert_refused(
        client_credentials(&sim, &http, "https://graph.microsoft.com/User.Read").await?,
        400,
        "invalid_scope",
        1_002_012,
    );
    assert_refused(client_credentials(&sim, &http, "openid").await?, 400, "invalid_scope", 1_002_012);
    assert_refused(
        post_form(&http, &url, &[("grant_type", "client_credentials"), ("grant_type", "x")]).await?,
        400,
        "invalid_request",
        9_000_411,
    );
    Ok(())
}

#[tokio::test]
async fn basic_auth_and_v1_resource_work() -> TestResult {
    let (sim, http) = common::demo().await?;
    let (status, body) = http
        .post(token_url(&sim))
        .basic_auth(APP, Some(SECRET))
        .form(&[("grant_type", "client_credentials"), ("scope", "https://api.security.microsoft.com/.default")])
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))?;
    let body: Value = body.json().await?;
    assert_eq!(status, 200, "{body}");
    let claims = payload(body["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://api.security.microsoft.com");
    assert!(claims["roles"].as_array().unwrap().iter().any(|r| r == "Incident.Read.All"));
    // Basic with a wrong secret.
    let resp = http
        .post(token_url(&sim))
        .basic_auth(APP, Some("wrong"))
        .form(&[("grant_type", "client_credentials"), ("scope", "https://api.security.microsoft.com/.default")])
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 401);
    // v1 with resource=.
    let v1 = format!("{}/{}/oauth2/token", sim.url, sim.tenant_id());
    let (status, body) = post_form(
        &http,
        &v1,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APP),
            ("client_secret", SECRET),
            ("resource", "https://api.security.microsoft.com"),
        ],
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["resource"], "https://api.security.microsoft.com");
    assert_eq!(payload(body["access_token"].as_str().unwrap())["aud"], "https://api.security.microsoft.com");
    Ok(())
}

// --- certificate assertions ------------------------------------------------------------------------

const CERT_APP: &str = "44444444-4444-4444-8444-444444444444";
const FED_APP: &str = "55555555-5555-4555-8555-555555555555";

struct Cert {
    key_pem: String,
    der: Vec<u8>,
}

fn new_cert() -> Result<(Cert, String), Box<dyn std::error::Error>> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)?;
    let cert = rcgen::CertificateParams::new(vec![])?.self_signed(&key)?;
    Ok((Cert { key_pem: key.serialize_pem(), der: cert.der().to_vec() }, cert.pem()))
}

async fn reseed(sim: &RunningSim, http: &reqwest::Client, extra_apps: Vec<Value>) -> TestResult {
    let mut seed: Value = serde_json::from_str(tenant_sim::seed::DEMO)?;
    seed["apps"].as_array_mut().unwrap().extend(extra_apps);
    let resp = http.post(format!("{}/_sim/seed", sim.url)).json(&seed).send().await?;
    assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().await?);
    Ok(())
}

fn assertion(cert: &Cert, signer_pem: &str, alg: Algorithm, aud: &str, exp_offset: i64, jti: &str, now: i64) -> String {
    let mut header = Header::new(alg);
    header.x5t_s256 = Some(URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&cert.der)));
    let claims = json!({"aud": aud, "iss": CERT_APP, "sub": CERT_APP, "jti": jti, "nbf": now, "iat": now, "exp": now + exp_offset});
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(signer_pem.as_bytes()).unwrap()).unwrap()
}

/// A client-credentials grant authenticated by a signed assertion (`client_assertion`): a
/// certificate's or a federated identity's.
async fn assertion_grant(sim: &RunningSim, http: &reqwest::Client, client: &str, jwt: &str, scope: &str) -> Answer {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", jwt),
        ("scope", scope),
    ];
    token_answer(sim, http, &form).await
}

async fn assert_with(sim: &RunningSim, http: &reqwest::Client, jwt: &str) -> Answer {
    assertion_grant(sim, http, CERT_APP, jwt, "https://graph.microsoft.com/.default").await
}

#[tokio::test]
async fn certificate_assertions_are_verified() -> TestResult {
    let (sim, http) = common::demo().await?;
    let (cert, pem) = new_cert()?;
    let (other, _) = new_cert()?;
    reseed(&sim, &http, vec![json!({"client_id": CERT_APP, "certificate_pem": pem, "roles": ["SecurityAlert.Read.All", "Alert.Read.All"]})]).await?;
    let aud = token_url(&sim);
    let now = sim.sim.now().timestamp();
    let jti = || uuid::Uuid::new_v4().to_string();

    for alg in [Algorithm::RS256, Algorithm::PS256] {
        let (s, b) = assert_with(&sim, &http, &assertion(&cert, &cert.key_pem, alg, &aud, 600, &jti(), now)).await?;
        assert_eq!(s, 200, "{alg:?}: {b}");
        let claims = payload(b["access_token"].as_str().unwrap());
        assert_eq!(claims["appid"], CERT_APP);
        assert_eq!(claims["roles"], json!(["SecurityAlert.Read.All"]));
    }
    // Signed by another key, but claiming the registered certificate.
    assert_refused(
        assert_with(&sim, &http, &assertion(&cert, &other.key_pem, Algorithm::PS256, &aud, 600, &jti(), now)).await?,
        401,
        "invalid_client",
        700_027,
    );
    // Another certificate's thumbprint.
    assert_refused(
        assert_with(&sim, &http, &assertion(&other, &other.key_pem, Algorithm::PS256, &aud, 600, &jti(), now)).await?,
        401,
        "invalid_client",
        50_012,
    );
    // Wrong audience.
    let wrong_aud = format!("{}/{}/v2.0", sim.url, sim.tenant_id());
    assert_refused(
        assert_with(&sim, &http, &assertion(&cert, &cert.key_pem, Algorithm::PS256, &wrong_aud, 600, &jti(), now))
            .await?,
        401,
        "invalid_client",
        50_012,
    );
    // Expired.
    assert_refused(
        assert_with(&sim, &http, &assertion(&cert, &cert.key_pem, Algorithm::PS256, &aud, -600, &jti(), now - 1200))
            .await?,
        401,
        "invalid_client",
        700_024,
    );
    // Replayed jti.
    let once = assertion(&cert, &cert.key_pem, Algorithm::PS256, &aud, 600, &jti(), now);
    assert_eq!(assert_with(&sim, &http, &once).await?.0, 200);
    assert_refused(assert_with(&sim, &http, &once).await?, 401, "invalid_client", 50_012);
    // Not a JWT.
    assert_refused(assert_with(&sim, &http, "not-a-jwt").await?, 400, "invalid_request", 50_027);
    Ok(())
}

// --- federated credentials -------------------------------------------------------------------------

async fn issue(
    sim: &RunningSim,
    http: &reqwest::Client,
    sub: &str,
    aud: &str,
) -> Result<String, Box<dyn std::error::Error>> {
    let (s, b) =
        post_json(http, &format!("{}/_sim/issuer/token", sim.url), &json!({"sub": sub, "aud": aud, "ttl_s": 600}))
            .await?;
    assert_eq!(s, 200, "{b}");
    Ok(b["token"].as_str().unwrap().to_string())
}

async fn federated(sim: &RunningSim, http: &reqwest::Client, jwt: &str) -> Answer {
    assertion_grant(sim, http, FED_APP, jwt, "https://api.securitycenter.microsoft.com/.default").await
}

#[tokio::test]
async fn federated_credentials_match_issuer_subject_and_audience() -> TestResult {
    let (sim, http) = common::demo().await?;
    let fic = json!({
        "issuer": format!("{}/_sim/issuer", sim.url),
        "subject": "system:serviceaccount:x",
        "audience": "api://AzureADTokenExchange",
        "jwks_url": format!("{}/_sim/issuer/jwks", sim.url),
    });
    reseed(&sim, &http, vec![json!({"client_id": FED_APP, "federated": fic, "roles": ["Machine.Read.All"]})]).await?;
    let good = issue(&sim, &http, "system:serviceaccount:x", "api://AzureADTokenExchange").await?;
    let (s, b) = federated(&sim, &http, &good).await?;
    assert_eq!(s, 200, "{b}");
    assert_eq!(payload(b["access_token"].as_str().unwrap())["roles"], json!(["Machine.Read.All"]));
    // Federated tokens may be presented again.
    assert_eq!(federated(&sim, &http, &good).await?.0, 200);
    let wrong_sub = issue(&sim, &http, "system:serviceaccount:y", "api://AzureADTokenExchange").await?;
    let (s, b) = federated(&sim, &http, &wrong_sub).await?;
    // Today's Entra: AADSTS70021 with the assertion's issuer, subject and audience.
    assert_eq!(s, 400);
    assert_entra_error(&b, "invalid_request", 70_021);
    assert!(b["error_description"].as_str().unwrap().contains("Assertion Subject: 'system:serviceaccount:y'"), "{b}");
    let wrong_aud = issue(&sim, &http, "system:serviceaccount:x", "api://Other").await?;
    assert_refused(federated(&sim, &http, &wrong_aud).await?, 400, "invalid_request", 70_021);
    // Expired on the simulated clock.
    http.post(format!("{}/_sim/clock", sim.url)).json(&json!({"advance_s": 601})).send().await?;
    assert_refused(federated(&sim, &http, &good).await?, 401, "invalid_client", 700_024);
    Ok(())
}

// --- device code and refresh tokens ----------------------------------------------------------------

async fn start_device(
    sim: &RunningSim,
    http: &reqwest::Client,
    scope: &str,
) -> Result<Value, Box<dyn std::error::Error>> {
    let url = format!("{}/{}/oauth2/v2.0/devicecode", sim.url, sim.tenant_id());
    let (s, b) = post_form(http, &url, &[("client_id", PUBLIC), ("scope", scope)]).await?;
    assert_eq!(s, 200, "{b}");
    Ok(b)
}

async fn poll(sim: &RunningSim, http: &reqwest::Client, device_code: &str) -> Answer {
    let form = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", PUBLIC),
        ("device_code", device_code),
    ];
    token_answer(sim, http, &form).await
}

async fn advance(sim: &RunningSim, http: &reqwest::Client, s: i64) -> TestResult {
    let resp = http.post(format!("{}/_sim/clock", sim.url)).json(&json!({"advance_s": s})).send().await?;
    assert_eq!(resp.status().as_u16(), 200);
    Ok(())
}

async fn approve(sim: &RunningSim, http: &reqwest::Client, body: Value) -> TestResult {
    let (s, b) = post_json(http, &format!("{}/_sim/devicecode/approve", sim.url), &body).await?;
    assert_eq!(s, 200, "{b}");
    Ok(())
}

/// Signs alice in through the device flow; returns the token response.
async fn alice_signs_in(sim: &RunningSim, http: &reqwest::Client) -> Result<Value, Box<dyn std::error::Error>> {
    let dc = start_device(sim, http, &format!("{MDE}/.default offline_access")).await?;
    approve(sim, http, json!({"user_code": dc["user_code"], "upn": "alice@contoso.com"})).await?;
    let (s, b) = poll(sim, http, dc["device_code"].as_str().unwrap()).await?;
    assert_eq!(s, 200, "{b}");
    Ok(b)
}

#[tokio::test]
async fn device_code_flow_pending_slow_down_then_token() -> TestResult {
    let (sim, http) = common::demo().await?;
    let dc = start_device(&sim, &http, &format!("{MDE}/.default offline_access")).await?;
    let user_code = dc["user_code"].as_str().unwrap();
    assert_eq!(user_code.len(), 9);
    assert!(user_code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
    assert_eq!(dc["verification_uri"], "https://microsoft.com/devicelogin");
    assert_eq!(dc["expires_in"], 900);
    assert_eq!(dc["interval"], 5);
    assert_eq!(
        dc["message"],
        format!(
            "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {user_code} to authenticate."
        )
    );
    let code = dc["device_code"].as_str().unwrap();
    assert_refused(poll(&sim, &http, code).await?, 400, "authorization_pending", 70_016);
    let (s, b) = poll(&sim, &http, code).await?;
    assert_eq!(s, 400);
    assert_eq!(b["error"], "slow_down");
    advance(&sim, &http, 6).await?;
    let (_, b) = poll(&sim, &http, code).await?;
    assert_eq!(b["error"], "authorization_pending");
    approve(&sim, &http, json!({"user_code": user_code, "upn": "alice@contoso.com"})).await?;
    advance(&sim, &http, 6).await?;
    let (s, b) = poll(&sim, &http, code).await?;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["token_type"], "Bearer");
    assert!(b["refresh_token"].is_string());
    assert!(b["scope"].as_str().unwrap().contains(&format!("{MDE}/Alert.Read")));
    let claims = payload(b["access_token"].as_str().unwrap());
    assert_eq!(claims["idtyp"], "user");
    assert_eq!(claims["upn"], "alice@contoso.com");
    assert!(claims.get("roles").is_none());
    let scp: Vec<&str> = claims["scp"].as_str().unwrap().split(' ').collect();
    assert!(scp.contains(&"Alert.Read") && scp.contains(&"Machine.Isolate"));
    assert!(!scp.contains(&"SecurityAlert.Read.All"), "{scp:?}");
    // Redeemed once only.
    advance(&sim, &http, 6).await?;
    assert_refused(poll(&sim, &http, code).await?, 400, "invalid_grant", 70_000);
    // Unknown code.
    let (_, b) = poll(&sim, &http, "nope").await?;
    assert_eq!(b["error"], "invalid_grant");
    Ok(())
}

#[tokio::test]
async fn device_code_without_offline_access_has_no_refresh_token() -> TestResult {
    let (sim, http) = common::demo().await?;
    let dc = start_device(&sim, &http, "https://graph.microsoft.com/SecurityAlert.Read.All").await?;
    approve(&sim, &http, json!({"user_code": dc["user_code"], "upn": "alice@contoso.com"})).await?;
    let (s, b) = poll(&sim, &http, dc["device_code"].as_str().unwrap()).await?;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("refresh_token").is_none());
    let claims = payload(b["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["scp"], "SecurityAlert.Read.All SecurityIncident.Read.All ThreatHunting.Read.All");
    Ok(())
}

#[tokio::test]
async fn device_code_expires_and_can_be_declined() -> TestResult {
    let (sim, http) = common::demo().await?;
    let dc = start_device(&sim, &http, &format!("{MDE}/.default")).await?;
    advance(&sim, &http, 901).await?;
    assert_refused(poll(&sim, &http, dc["device_code"].as_str().unwrap()).await?, 400, "expired_token", 70_020);

    let dc = start_device(&sim, &http, &format!("{MDE}/.default")).await?;
    approve(&sim, &http, json!({"user_code": dc["user_code"], "decline": true})).await?;
    let (s, b) = poll(&sim, &http, dc["device_code"].as_str().unwrap()).await?;
    assert_eq!(s, 400);
    assert_eq!(b["error"], "authorization_declined");

    // Confidential clients cannot start a device flow.
    let url = format!("{}/{}/oauth2/v2.0/devicecode", sim.url, sim.tenant_id());
    assert_refused(
        post_form(&http, &url, &[("client_id", APP), ("scope", "https://graph.microsoft.com/.default")]).await?,
        400,
        "invalid_client",
        7_000_218,
    );
    Ok(())
}

async fn refresh(sim: &RunningSim, http: &reqwest::Client, rt: &str, scope: &str) -> Answer {
    token_answer(
        sim,
        http,
        &[("grant_type", "refresh_token"), ("client_id", PUBLIC), ("refresh_token", rt), ("scope", scope)],
    )
    .await
}

#[tokio::test]
async fn refresh_tokens_rotate() -> TestResult {
    let (sim, http) = common::demo().await?;
    let first = alice_signs_in(&sim, &http).await?;
    let rt1 = first["refresh_token"].as_str().unwrap();
    // Another resource of the same user.
    let (s, b) = refresh(&sim, &http, rt1, "https://graph.microsoft.com/.default offline_access").await?;
    assert_eq!(s, 200, "{b}");
    let claims = payload(b["access_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["upn"], "alice@contoso.com");
    let rt2 = b["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(rt1, rt2);
    // Entra does not revoke the redeemed one: it still works (the product must not rely on it
    // being spent).
    let (s, b) = refresh(&sim, &http, rt1, "https://graph.microsoft.com/.default").await?;
    assert_eq!(s, 200, "{b}");
    // The new one works, and again.
    let (s, b) = refresh(&sim, &http, &rt2, &format!("{MDE}/.default")).await?;
    assert_eq!(s, 200, "{b}");
    let (s, _) = refresh(&sim, &http, &rt2, &format!("{MDE}/.default")).await?;
    assert_eq!(s, 200);
    // Unknown, and expired after 90 days.
    let (_, b) = refresh(&sim, &http, "garbage", &format!("{MDE}/.default")).await?;
    assert_eq!(b["error"], "invalid_grant");
    let rt3 = b_refresh(&sim, &http).await?;
    advance(&sim, &http, 91 * 86_400).await?;
    let (_, b) = refresh(&sim, &http, &rt3, &format!("{MDE}/.default")).await?;
    assert_entra_error(&b, "invalid_grant", 70_008);
    Ok(())
}

async fn b_refresh(sim: &RunningSim, http: &reqwest::Client) -> Result<String, Box<dyn std::error::Error>> {
    Ok(alice_signs_in(sim, http).await?["refresh_token"].as_str().unwrap().to_string())
}

// --- discovery ----------------------------------------------------------------------------------------

#[tokio::test]
async fn discovery_and_jwks_verify_issued_tokens() -> TestResult {
    let (sim, http) = common::demo().await?;
    let tid = sim.tenant_id();
    let meta: Value =
        http.get(format!("{}/{tid}/v2.0/.well-known/openid-configuration", sim.url)).send().await?.json().await?;
    assert_eq!(meta["token_endpoint"], token_url(&sim));
    assert_eq!(meta["issuer"], format!("{}/{tid}/v2.0", sim.url));
    assert_eq!(meta["device_authorization_endpoint"], format!("{}/{tid}/oauth2/v2.0/devicecode", sim.url));
    let jwks: Value = http.get(meta["jwks_uri"].as_str().unwrap()).send().await?.json().await?;
    let common: Value = http.get(format!("{}/common/discovery/v2.0/keys", sim.url)).send().await?.json().await?;
    assert_eq!(jwks, common);
    let jwk: Jwk = serde_json::from_value(jwks["keys"][0].clone())?;
    let (_, body) = client_credentials(&sim, &http, &format!("{MDE}/.default")).await?;
    let token = body["access_token"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(token)?;
    assert_eq!(header.kid.as_deref(), jwks["keys"][0]["kid"].as_str());
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[MDE]);
    v.set_issuer(&[meta["issuer"].as_str().unwrap()]);
    let data = jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(&jwk)?, &v)?;
    assert_eq!(data.claims["appid"], APP);
    let bad = http.get(format!("{}/not-a-tenant/discovery/v2.0/keys", sim.url)).send().await?;
    assert_eq!(bad.status().as_u16(), 400);
    Ok(())
}

#[tokio::test]
async fn a_federated_credential_still_propagating_answers_70021_until_it_is_visible() -> TestResult {
    let (sim, http) = common::demo().await?;
    let visible = (sim.sim.now() + chrono::Duration::seconds(20)).to_rfc3339();
    let fic = json!({
        "issuer": format!("{}/_sim/issuer", sim.url),
        "subject": "system:serviceaccount:x",
        "audience": "api://AzureADTokenExchange",
        "jwks_url": format!("{}/_sim/issuer/jwks", sim.url),
        "visible_from": visible,
    });
    reseed(&sim, &http, vec![json!({"client_id": FED_APP, "federated": fic, "roles": ["Machine.Read.All"]})]).await?;
    let good = issue(&sim, &http, "system:serviceaccount:x", "api://AzureADTokenExchange").await?;
    assert_refused(federated(&sim, &http, &good).await?, 400, "invalid_request", 70_021);
    advance(&sim, &http, 21).await?;
    let (s, b) = federated(&sim, &http, &good).await?;
    assert_eq!(s, 200, "{b}");
    Ok(())
}
