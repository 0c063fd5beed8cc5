//! The procedural alert sequence (`generated_alerts`, what the volume benches export): each alert is
//! the first seeded alert with its own `id` and `lastUpdateTime`, listed under the same rules as the
//! seeded alerts — `$filter` on the time, `$top` at most 10,000, `$skip`, evidence only with
//! `$expand=evidence`, and in the strict order a keyed permutation unrelated to time.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{APP, SECRET, TestResult, token};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tenant_sim::{SimOptions, seed::GeneratedAlerts};

const MDE: &str = "https://api.securitycenter.microsoft.com/.default";

#[tokio::test]
async fn generated_alerts_are_the_template_with_their_own_id_and_time_listed_strictly() -> TestResult {
    let mut opts = SimOptions::demo()?;
    opts.seed.generated_alerts =
        Some(GeneratedAlerts { count: 25, first: "2026-11-01T00:00:00Z".into(), step_ms: 1_000 });
    let sim = tenant_sim::start(opts).await?;
    // The first seeded alert as the simulator holds it (its times moved to the simulator's clock).
    let template = sim.sim.tenant.lock().unwrap().seed.alerts[0].clone();
    let http = sim.client()?;
    let bearer = token(&sim, &http, (APP, SECRET), MDE).await?;
    let get = |query: String| {
        let (http, bearer, url) = (http.clone(), bearer.clone(), format!("{}/api/alerts?{query}", sim.url));
        async move {
            let r = http.get(url).bearer_auth(bearer).send().await?;
            let status = r.status().as_u16();
            let json = r.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            Ok::<_, reqwest::Error>((status, json, r.json::<Value>().await?))
        }
    };
    // A time range in pages of 4: every alert in it once, none outside, each the template's members
    // (evidence expanded) with its own id and time.
    let filter = "lastUpdateTime ge 2026-11-01T00:00:03Z and lastUpdateTime lt 2026-11-01T00:00:20.5Z";
    let mut seen = Vec::new();
    for skip in (0..20).step_by(4) {
        let (status, json, page) = get(format!("$filter={filter}&$top=4&$skip={skip}&$expand=evidence")).await?;
        assert!(status == 200 && json, "{status} {page}");
        assert!(page["@odata.context"].as_str().is_some_and(|c| c.ends_with("/api/$metadata#Alerts")), "{page}");
        assert!(page.get("@odata.nextLink").is_none(), "no next link when $top is given: {page}");
        for a in page["value"].as_array().unwrap() {
            let id = a["id"].as_str().unwrap();
            let i: i64 = id.strip_prefix("da-gen-").unwrap().parse().unwrap();
            assert_eq!(a["lastUpdateTime"], json!(format!("2026-11-01T00:00:{i:02}.0000000Z")), "{a}");
            // In the template's member order (the text a tree of clones would serialise to).
            let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
            assert_eq!(keys(a), keys(&template), "alert {i}: members in the template's order");
            let mut rest = a.clone();
            let mut expected = template.clone();
            for k in ["id", "lastUpdateTime"] {
                rest.as_object_mut().unwrap().remove(k);
                expected.as_object_mut().unwrap().remove(k);
            }
            assert_eq!(rest, expected, "alert {i}: the template's other members");
            seen.push(i);
        }
    }
    let distinct: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!((seen.len(), distinct), (18, (3..=20).collect()), "each alert in the range once");
    assert_ne!(seen, (3..=20).collect::<Vec<_>>(), "the strict order is not the time order");
    // Without `$expand=evidence` the evidence is empty; without `$top`, a next link.
    let (_, _, page) = get("$top=2".into()).await?;
    assert!(page["value"].as_array().unwrap().iter().all(|a| a["evidence"] == json!([])), "{page}");
    let (_, _, page) = get(String::new()).await?;
    assert_eq!(page["value"].as_array().unwrap().len(), 25);
    // Over the documented maximum, and a filter on another field: refused.
    let (status, _, answer) = get("$top=10001".into()).await?;
    assert_eq!(status, 400, "{answer}");
    let (status, _, answer) = get("$filter=severity eq 'High'".into()).await?;
    assert_eq!(status, 400, "{answer}");
    Ok(())
}
