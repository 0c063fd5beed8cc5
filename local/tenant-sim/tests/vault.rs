//! The Key Vault stand-in over TLS: challenge auth, versions, listing, and its errors.

// Test helpers outside `#[test]` functions: clippy's allow-unwrap-in-tests does not reach them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{APP, SECRET, TestResult, token};
use serde_json::{Value, json};
use tenant_sim::RunningSim;

const REPORTER: &str = "22222222-2222-4222-8222-222222222222";
const V: &str = "api-version=7.4";

async fn vault_token(sim: &RunningSim, http: &reqwest::Client) -> Result<String, Box<dyn std::error::Error>> {
    Ok(token(sim, http, (APP, SECRET), "https://vault.azure.net/.default").await?)
}

async fn get(http: &reqwest::Client, url: &str, bearer: &str) -> Result<(u16, Value), reqwest::Error> {
    let resp = http.get(url).bearer_auth(bearer).send().await?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await?))
}

#[tokio::test]
async fn missing_token_gets_the_challenge() -> TestResult {
    let (sim, http) = common::demo().await?;
    let resp = http.get(format!("{}/secrets/defender-client-secret?{V}", sim.url)).send().await?;
    assert_eq!(resp.status().as_u16(), 401);
    let challenge = resp.headers().get("www-authenticate").unwrap().to_str()?.to_string();
    assert_eq!(
        challenge,
        format!("Bearer authorization=\"{}/{}\", resource=\"https://vault.azure.net\"", sim.url, sim.tenant_id())
    );
    let body: Value = resp.json().await?;
    assert_eq!(
        body,
        json!({"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a Bearer or PoP token."}})
    );
    Ok(())
}

#[tokio::test]
async fn local_vault_host_challenges_for_vault_localhost() -> TestResult {
    let sim = tenant_sim::start(tenant_sim::SimOptions::demo()?).await?;
    let addr: std::net::SocketAddr = sim.url.trim_start_matches("https://").parse()?;
    let certs = reqwest::Certificate::from_pem_bundle(sim.ca_pem.as_bytes())?;
    let http = reqwest::Client::builder().tls_certs_merge(certs).resolve("myvault.vault.localhost", addr).build()?;
    let base = format!("https://myvault.vault.localhost:{}", addr.port());
    let resp = http.get(format!("{base}/secrets/webhook-secret?{V}")).send().await?;
    assert_eq!(resp.status().as_u16(), 401);
    let challenge = resp.headers().get("www-authenticate").unwrap().to_str()?.to_string();
    assert_eq!(
        challenge,
        format!("Bearer authorization=\"{}/{}\", resource=\"https://vault.localhost\"", sim.url, sim.tenant_id())
    );
    let t = token(&sim, &http, (APP, SECRET), "https://vault.localhost/.default").await?;
    let (s, b) = get(&http, &format!("{base}/secrets/webhook-secret?{V}"), &t).await?;
    assert_eq!(s, 200, "{b}");
    assert!(b["id"].as_str().unwrap().starts_with(&format!("{base}/secrets/webhook-secret/")));
    Ok(())
}

#[tokio::test]
async fn get_put_versions_and_list() -> TestResult {
    let (sim, http) = common::demo().await?;
    let t = vault_token(&sim, &http).await?;
    let (s, first) = get(&http, &format!("{}/secrets/defender-client-secret?{V}", sim.url), &t).await?;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first["value"], SECRET);
    let id1 = first["id"].as_str().unwrap().to_string();
    let prefix = format!("{}/secrets/defender-client-secret/", sim.url);
    assert!(id1.starts_with(&prefix), "{id1}");
    assert_eq!(id1.len(), prefix.len() + 32);
    assert_eq!(first["attributes"]["enabled"], true);
    assert_eq!(first["attributes"]["recoveryLevel"], "Recoverable+Purgeable");
    assert_eq!(first["attributes"]["recoverableDays"], 90);
    assert_eq!(first["tags"], json!({}));

    // Names are case-insensitive.
    let (s, _) = get(&http, &format!("{}/secrets/Defender-Client-Secret?{V}", sim.url), &t).await?;
    assert_eq!(s, 200);

    let resp = http
        .put(format!("{}/secrets/defender-client-secret?{V}", sim.url))
        .bearer_auth(&t)
        .json(&json!({"value": "rotated", "contentType": "text/plain", "tags": {"owner": "ops"}}))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 200);
    let put: Value = resp.json().await?;
    assert_eq!(put["value"], "rotated");
    assert_eq!(put["contentType"], "text/plain");
    assert_eq!(put["tags"], json!({"owner": "ops"}));
    let id2 = put["id"].as_str().unwrap().to_string();
    assert_ne!(id1, id2);

    let (_, latest) = get(&http, &format!("{}/secrets/defender-client-secret?{V}", sim.url), &t).await?;
    assert_eq!(latest["value"], "rotated");
    assert_eq!(latest["id"], id2.as_str());
    let (_, old) = get(&http, &format!("{id1}?{V}"), &t).await?;
    assert_eq!(old["value"], SECRET);

    let (s, versions) = get(&http, &format!("{}/secrets/defender-client-secret/versions?{V}", sim.url), &t).await?;
    assert_eq!(s, 200);
    // Key Vault documents no order for the versions list (the simulator lists by version id, not by
    // creation): both versions, in whatever order.
    let mut ids: Vec<&str> = versions["value"].as_array().unwrap().iter().filter_map(|v| v["id"].as_str()).collect();
    ids.sort_unstable();
    let mut want = [id1.as_str(), id2.as_str()];
    want.sort_unstable();
    assert_eq!(ids, want);

    // List: no values, paged.
    let (s, page1) = get(&http, &format!("{}/secrets?{V}&maxresults=3", sim.url), &t).await?;
    assert_eq!(s, 200, "{page1}");
    let items = page1["value"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|i| i.get("value").is_none() && i["attributes"].is_object()));
    assert!(items.iter().any(|i| i["id"] == format!("{}/secrets/defender-client-secret", sim.url)));
    let next = page1["nextLink"].as_str().unwrap();
    assert!(next.contains("$skiptoken=") && next.contains("api-version=7.4"));
    let (s, page2) = get(&http, next, &t).await?;
    assert_eq!(s, 200, "{page2}");
    // The demo seed holds six secrets (the callback's outbound key, issue 13; the Teams bot's, issue 14).
    assert_eq!(page2["value"].as_array().unwrap().len(), 3);
    assert_eq!(page2["nextLink"], Value::Null);
    Ok(())
}

#[tokio::test]
async fn access_is_refused_as_the_vault_does() -> TestResult {
    let (sim, http) = common::demo().await?;
    let url = format!("{}/secrets/defender-client-secret?{V}", sim.url);

    // The reporter app has no vault access.
    let reporter = token(&sim, &http, (REPORTER, "reporter-secret-value"), "https://vault.azure.net/.default").await?;
    let (s, b) = get(&http, &url, &reporter).await?;
    assert_eq!(s, 403, "{b}");
    assert_eq!(b["error"]["code"], "Forbidden");
    assert_eq!(b["error"]["innererror"]["code"], "AccessDenied");
    assert!(b["error"]["message"].as_str().unwrap().contains("does not have secrets get permission"));

    // An MDE token is not a vault token.
    let mde = token(&sim, &http, (APP, SECRET), "https://api.securitycenter.microsoft.com/.default").await?;
    let resp = http.get(&url).bearer_auth(&mde).send().await?;
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
    let b: Value = resp.json().await?;
    assert!(b["error"]["message"].as_str().unwrap().starts_with("AKV10022"), "{b}");

    // Garbage and expired tokens.
    let (s, _) = get(&http, &url, "not.a.token").await?;
    assert_eq!(s, 401);
    let t = vault_token(&sim, &http).await?;
    http.post(format!("{}/_sim/clock", sim.url)).json(&json!({"advance_s": 3600})).send().await?;
    let (s, _) = get(&http, &url, &t).await?;
    assert_eq!(s, 401);
    Ok(())
}

#[tokio::test]
async fn bad_requests_and_unknown_secrets() -> TestResult {
    let (sim, http) = common::demo().await?;
    let t = vault_token(&sim, &http).await?;
    let (s, b) = get(&http, &format!("{}/secrets/no-such-secret?{V}", sim.url), &t).await?;
    assert_eq!(s, 404);
    assert_eq!(b["error"]["code"], "SecretNotFound");
    assert!(
        b["error"]["message"].as_str().unwrap().starts_with("A secret with (name/id) no-such-secret was not found")
    );
    let (s, b) =
        get(&http, &format!("{}/secrets/defender-client-secret/00000000000000000000000000000000?{V}", sim.url), &t)
            .await?;
    assert_eq!(s, 404, "{b}");

    let (s, b) = get(&http, &format!("{}/secrets/defender-client-secret", sim.url), &t).await?;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["code"], "BadParameter");
    let (s, _) = get(&http, &format!("{}/secrets/defender-client-secret?api-version=1.0", sim.url), &t).await?;
    assert_eq!(s, 400);
    let (s, _) = get(&http, &format!("{}/secrets/defender-client-secret?api-version=2025-07-01", sim.url), &t).await?;
    assert_eq!(s, 200);

    let (s, b) = get(&http, &format!("{}/secrets/bad_name?{V}", sim.url), &t).await?;
    assert_eq!(s, 400);
    assert_eq!(b["error"]["code"], "BadParameter");

    let resp = http
        .put(format!("{}/secrets/new-secret?{V}", sim.url))
        .bearer_auth(&t)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 400);
    let b: Value = resp.json().await?;
    assert_eq!(b["error"]["code"], "BadParameter");
    let resp = http
        .put(format!("{}/secrets/new-secret?{V}", sim.url))
        .bearer_auth(&t)
        .json(&json!({"nope": 1}))
        .send()
        .await?;
    assert_eq!(resp.status().as_u16(), 400);

    let (s, _) = get(&http, &format!("{}/secrets?{V}&maxresults=26", sim.url), &t).await?;
    assert_eq!(s, 400);
    Ok(())
}

#[tokio::test]
async fn the_sdks_trailing_slash_form_reads_the_latest_version() -> TestResult {
    let (sim, http) = common::demo().await?;
    let resp = http.get(format!("{}/secrets/defender-client-secret/?{V}", sim.url)).send().await?;
    assert_eq!(resp.status().as_u16(), 401, "unauthenticated: the challenge, not a 404");
    let t = vault_token(&sim, &http).await?;
    let (status, body) = get(&http, &format!("{}/secrets/defender-client-secret/?{V}", sim.url), &t).await?;
    assert_eq!(status, 200);
    assert_eq!(body["value"], SECRET);
    Ok(())
}
