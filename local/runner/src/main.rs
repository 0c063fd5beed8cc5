//! `make run`: the main job on the embedded default.
//!
//! Starts the simulated tenant (demo seed, HTTPS with its generated CA) in-process and walks through
//! what every defender-functions Lambda does at cold start and per event: an application token from
//! Entra ID, a secret from Key Vault (challenge auth first, as real vaults do), and Defender calls
//! (machines, alerts, an incident, a hunting query). It prints each step and fails loudly if any step
//! does not answer as documented. Grows as the functions land.

use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::process::ExitCode;
use tenant_sim::{SimOptions, start};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The demo tenant's application (see `local/tenant-sim/seeds/demo.json`).
const CLIENT_ID: &str = "11111111-1111-4111-8111-111111111111";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("defender-local: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let sim = start(SimOptions::demo()?).await?;
    let http = sim.client()?;
    let tenant = sim.tenant_id();
    println!("== simulated tenant {tenant} listening on {} (TLS, generated CA)", sim.url);

    // 1. Key Vault: an unauthenticated read gets the challenge that tells the client where to sign in.
    let vault = format!("{}/secrets/defender-client-secret?api-version=7.5", sim.url);
    let challenge = http.get(&vault).send().await?;
    let www = challenge.headers().get("www-authenticate").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    expect(challenge.status(), StatusCode::UNAUTHORIZED, "vault challenge")?;
    println!("-- key vault challenge: 401, {www}");

    // 2. The app signs in for the vault with its bootstrap credential and reads the Defender client secret.
    let bootstrap = "demo-secret-value-do-not-use-in-prod";
    let vault_token = token(&http, &sim.url, &tenant, bootstrap, "https://vault.azure.net/.default").await?;
    let secret: Value = http.get(&vault).bearer_auth(&vault_token).send().await?.error_for_status()?.json().await?;
    let client_secret = secret["value"].as_str().ok_or("vault answered without a value")?.to_string();
    println!(
        "-- key vault: read secret defender-client-secret (version {}, {} chars; value not shown)",
        secret["id"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default(),
        client_secret.len()
    );

    // 3. Application tokens for Defender for Endpoint and Defender XDR.
    let mde =
        token(&http, &sim.url, &tenant, &client_secret, "https://api.securitycenter.microsoft.com/.default").await?;
    let xdr = token(&http, &sim.url, &tenant, &client_secret, "https://api.security.microsoft.com/.default").await?;
    println!("-- entra id: application tokens for MDE and XDR (client {CLIENT_ID}, expires in ~1 h)");

    // 4. Defender calls.
    let machines: Value =
        get(&http, &format!("{}/api/machines?$filter=healthStatus eq 'Active'&$top=5", sim.url), &mde).await?;
    println!("-- GET /api/machines?$filter=healthStatus eq 'Active'&$top=5");
    for m in machines["value"].as_array().into_iter().flatten() {
        println!(
            "     {:<40} {:<18} risk {:<7} exposure {}",
            s(m, "computerDnsName"),
            s(m, "osPlatform"),
            s(m, "riskScore"),
            s(m, "exposureLevel")
        );
    }
    let alerts: Value = get(
        &http,
        &format!("{}/api/alerts?$filter=severity eq 'High' and status ne 'Resolved'&$top=3&$expand=evidence", sim.url),
        &mde,
    )
    .await?;
    println!("-- GET /api/alerts (high, open, with evidence)");
    for a in alerts["value"].as_array().into_iter().flatten() {
        println!(
            "     {} {} on {} ({} evidence)",
            s(a, "id"),
            s(a, "title"),
            s(a, "computerDnsName"),
            a["evidence"].as_array().map_or(0, Vec::len)
        );
    }
    let incidents: Value = get(&http, &format!("{}/api/incidents?$top=3", sim.url), &xdr).await?;
    println!("-- GET /api/incidents?$top=3 (XDR)");
    for i in incidents["value"].as_array().into_iter().flatten() {
        println!(
            "     #{} {} [{}] {} alerts",
            i["incidentId"],
            s(i, "incidentName"),
            s(i, "severity"),
            i["alerts"].as_array().map_or(0, Vec::len)
        );
    }
    let query = r#"DeviceProcessEvents | where InitiatingProcessFileName =~ "powershell.exe" and ProcessCommandLine contains "appdata" | summarize count() by DeviceName"#;
    let hunt: Value = http
        .post(format!("{}/api/advancedqueries/run", sim.url))
        .bearer_auth(&mde)
        .json(&serde_json::json!({ "Query": query }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("-- POST /api/advancedqueries/run: {query}");
    for r in hunt["Results"].as_array().into_iter().flatten() {
        println!("     {:<40} {}", s(r, "DeviceName"), r["count_"]);
    }

    // 5. Enforcement is real: a Graph token is refused by MDE, a read-only app cannot isolate.
    let refused = http.get(format!("{}/api/machines", sim.url)).bearer_auth(&xdr).send().await?;
    expect(refused.status(), StatusCode::UNAUTHORIZED, "XDR token on MDE")?;
    println!("-- an XDR-audience token on /api/machines: 401 as the real service answers");
    println!("== done: token, vault secret and Defender calls all went through the simulated tenant");
    Ok(())
}

async fn token(http: &Client, base: &str, tenant: &str, secret: &str, scope: &str) -> Result<String, BoxError> {
    let resp = http
        .post(format!("{base}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", secret),
            ("scope", scope),
        ])
        .send()
        .await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    if !status.is_success() {
        return Err(format!("token request for {scope} failed: {status} {}", body["error_description"]).into());
    }
    Ok(body["access_token"].as_str().ok_or("no access_token in the token response")?.to_string())
}

async fn get(http: &Client, url: &str, token: &str) -> Result<Value, BoxError> {
    let resp = http.get(url).bearer_auth(token).send().await?;
    let status = resp.status();
    let body: Value = resp.json().await?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status} {body}").into());
    }
    Ok(body)
}

fn expect(got: StatusCode, want: StatusCode, what: &str) -> Result<(), BoxError> {
    if got == want { Ok(()) } else { Err(format!("{what}: expected {want}, got {got}").into()) }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("-")
}
