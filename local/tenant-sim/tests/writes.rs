//! The simulator refuses writes the way the least lenient Defender plausibly would: an indicator
//! whose action its kind does not take, `Audit` without `generateAlert`, an unknown (or miscased)
//! body parameter; an alert update with an unknown status or determination. And a read: a file asked
//! for by its hash in another case than the lower-case hex Defender answers with is no file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{APP, SECRET, TestResult, token};
use serde_json::{Value, json};

const MDE: &str = "https://api.securitycenter.microsoft.com/.default";

async fn send(
    http: &reqwest::Client,
    bearer: &str,
    method: reqwest::Method,
    url: String,
    body: Value,
) -> Result<(u16, Value), reqwest::Error> {
    let r = http.request(method, url).bearer_auth(bearer).json(&body).send().await?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or(Value::Null)))
}

fn indicator(value: &str, kind: &str, action: &str) -> Value {
    json!({"indicatorValue": value, "indicatorType": kind, "action": action, "title": "t", "description": "d"})
}

#[tokio::test]
async fn indicator_submissions_are_refused_unless_the_kind_takes_the_action() -> TestResult {
    let (sim, http) = common::demo().await?;
    let bearer = token(&sim, &http, (APP, SECRET), MDE).await?;
    let url = format!("{}/api/indicators", sim.url);
    let post = |body: Value| send(&http, &bearer, reqwest::Method::POST, url.clone(), body);
    let sha1 = "220e7d15b011d7fac48f2bd61114db1022197f7f";
    for (body, why) in [
        (indicator("45.137.21.9", "IpAddress", "BlockAndRemediate"), "BlockAndRemediate"),
        (indicator("evil.example", "DomainName", "BlockAndRemediate"), "BlockAndRemediate"),
        (indicator(sha1, "CertificateThumbprint", "Warn"), "Warn"),
        (indicator("evil.example", "DomainName", "Audit"), "generateAlert"),
        (indicator("evil.example", "DomainName", "Quarantine"), "not supported"),
        (indicator("evil.example", "Domain", "Block"), "not supported"),
        (indicator("evil.example", "IpAddress", "Block"), "not a valid IpAddress"),
    ] {
        let (status, answer) = post(body.clone()).await?;
        assert_eq!(status, 400, "{body} → {answer}");
        assert!(answer.to_string().contains(why), "{body} → {answer}");
    }
    let mut miscased = indicator("evil.example", "DomainName", "Block");
    miscased["ExpirationTime"] = json!("2027-01-01T00:00:00Z");
    let (status, answer) = post(miscased).await?;
    assert_eq!(status, 400, "{answer}");
    assert!(answer.to_string().contains("ExpirationTime"), "{answer}");
    let mut bad_expiry = indicator("evil.example", "DomainName", "Block");
    bad_expiry["expirationTime"] = json!("next tuesday");
    assert_eq!(post(bad_expiry).await?.0, 400);
    assert_eq!(sim.sim.tenant.lock().unwrap().seed.indicators.len(), 9, "nothing refused was stored");

    // What the kinds take is accepted.
    let mut audit = indicator("evil.example", "DomainName", "Audit");
    audit["generateAlert"] = json!(true);
    for body in
        [indicator("45.137.21.9", "IpAddress", "Block"), indicator(sha1, "FileSha1", "BlockAndRemediate"), audit]
    {
        let (status, answer) = post(body.clone()).await?;
        assert_eq!(status, 200, "{body} → {answer}");
    }
    Ok(())
}

#[tokio::test]
async fn alert_updates_with_unknown_values_are_refused() -> TestResult {
    let (sim, http) = common::demo().await?;
    let bearer = token(&sim, &http, (APP, SECRET), MDE).await?;
    let id = sim.sim.tenant.lock().unwrap().seed.alerts[0]["id"].as_str().unwrap().to_string();
    let url = format!("{}/api/alerts/{id}", sim.url);
    let patch = |body: Value| send(&http, &bearer, reqwest::Method::PATCH, url.clone(), body);
    for body in [
        json!({"status": "Closed"}),
        json!({"status": "resolved"}),
        json!({"classification": "TruePositive", "determination": "NotMalicious"}),
        json!({"assignedTo": 7}),
        json!({"Status": "Resolved"}),
    ] {
        let (status, answer) = patch(body.clone()).await?;
        assert_eq!(status, 400, "{body} → {answer}");
    }
    let (status, answer) = patch(json!({"classification": "TruePositive", "determination": "Malware"})).await?;
    assert_eq!((status, answer["determination"].as_str()), (200, Some("Malware")), "{answer}");
    Ok(())
}

#[tokio::test]
async fn a_file_is_found_only_by_the_lower_case_hex_defender_answers_with() -> TestResult {
    let (sim, http) = common::demo().await?;
    let bearer = token(&sim, &http, (APP, SECRET), MDE).await?;
    // A seeded file that alerts name as evidence (so its alerts and machines are not empty).
    let sha1 = {
        let t = sim.sim.tenant.lock().unwrap();
        let alerts = serde_json::to_string(&t.seed.alerts)?;
        let named = t.seed.files.iter().filter_map(|f| f["file"]["sha1"].as_str()).find(|h| alerts.contains(h));
        named.unwrap().to_string()
    };
    let upper = sha1.to_ascii_uppercase();
    assert_ne!(upper, sha1, "the seeded hash has letters");
    let get = |hash: &str, tail: &str| {
        let req = http.get(format!("{}/api/files/{hash}{tail}", sim.url)).bearer_auth(&bearer);
        async move {
            let r = req.send().await?;
            Ok::<_, reqwest::Error>((r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null)))
        }
    };
    for tail in ["", "/stats"] {
        let (status, answer) = get(&sha1, tail).await?;
        assert_eq!(status, 200, "{tail}: {answer}");
        let (status, answer) = get(&upper, tail).await?;
        assert_eq!(status, 404, "{tail}: {answer}");
        assert_eq!(answer["error"]["code"], "ResourceNotFound", "{tail}: {answer}");
    }
    for tail in ["/alerts", "/machines"] {
        let (status, answer) = get(&sha1, tail).await?;
        assert_eq!(status, 200, "{tail}: {answer}");
        assert!(!answer["value"].as_array().unwrap().is_empty(), "{tail}: {answer}");
        let (status, answer) = get(&upper, tail).await?;
        assert_eq!(status, 200, "{tail}: {answer}");
        assert_eq!(answer["value"], json!([]), "another spelling names no file: {tail}: {answer}");
    }
    Ok(())
}
