//! The control API's seed route against what `--seed PATH` accepts (issue 19.4): a large seed is
//! loaded, and one over the limit is answered `413` naming the limit — never a closed connection.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::Value;
use tenant_sim::{
    RunningSim, Seed, SimOptions,
    seed::{DEMO, SEED_LIMIT},
};

async fn sim() -> RunningSim {
    tenant_sim::start(SimOptions::demo().unwrap()).await.unwrap()
}

/// The demo seed with one alert's description padded so the document is a little over `bytes` long.
fn padded_seed(bytes: usize) -> String {
    let mut v: Value = serde_json::from_str(DEMO).unwrap();
    v["alerts"][0]["description"] = Value::String("x".repeat(bytes));
    v.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_25_mb_seed_posted_is_loaded_as_from_a_file() {
    let sim = sim().await;
    let doc = padded_seed(25 * 1024 * 1024);
    assert!(doc.len() > 25 * 1024 * 1024);
    // What `--seed PATH` does with the same document.
    let dir = std::env::temp_dir().join(format!("sim-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.json");
    std::fs::write(&path, &doc).unwrap();
    let from_file = Seed::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let resp = sim.client().unwrap().post(format!("{}/_sim/seed", sim.url)).body(doc).send().await;
    let resp = resp.unwrap_or_else(|e| panic!("no answer to a 25 MB seed: {e:?}"));
    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["seeded"]["alerts"], from_file.alerts.len(), "{body}");
    let desc = sim.sim.tenant.lock().unwrap().seed.alerts[0]["description"].as_str().unwrap().len();
    assert!(desc > 20 * 1024 * 1024, "the padded alert was loaded");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_seed_over_the_limit_is_answered_413_with_the_limit() {
    let sim = sim().await;
    let limit = SEED_LIMIT;
    let body = vec![b' '; limit + 1];
    let resp = sim.client().unwrap().post(format!("{}/_sim/seed", sim.url)).body(body).send().await;
    let resp = resp.unwrap_or_else(|e| panic!("no answer to an oversized seed: {e:?}"));
    assert_eq!(resp.status().as_u16(), 413);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["limit_bytes"], limit, "{body}");
    assert_eq!(body["error"]["code"], "PayloadTooLarge", "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains(&limit.to_string()), "{body}");
    // The simulator still serves the old tenant.
    let alerts = sim.sim.tenant.lock().unwrap().seed.alerts.len();
    assert_eq!(alerts, Seed::demo().unwrap().alerts.len());
}
