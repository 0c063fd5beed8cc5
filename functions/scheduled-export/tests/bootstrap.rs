//! The real binary, as Lambda runs it: `scheduled-export` is spawned with the Runtime API variables,
//! initialises against the simulated tenant, polls the Runtime API, and answers an EventBridge
//! Scheduler event by exporting into a local directory; a second event exports nothing new.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lambda_emu::Emulator;
use serde_json::Value;
use std::{process::Stdio, time::Duration};
use tenant_sim::{SimOptions, start};

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_exports_on_a_scheduler_event_and_resumes_from_its_cursor() {
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    let emu = Emulator::start().await.unwrap();
    let dir = std::env::temp_dir().join(format!("df-export-boot-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &sim.ca_pem).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scheduled-export"))
        .env_clear()
        .envs(emu.env("scheduled-export"))
        .env("AZURE_TENANT_ID", sim.tenant_id())
        .env("AZURE_CLIENT_ID", "11111111-1111-4111-8111-111111111111")
        .env("AZURE_CLIENT_SECRET", "demo-secret-value-do-not-use-in-prod")
        .env("AZURE_AUTHORITY_HOST", &sim.url)
        .env("MDE_API_URL", &sim.url)
        .env("XDR_API_URL", &sim.url)
        .env("GRAPH_API_URL", &sim.url)
        .env("DEFENDER_EXTRA_CA_FILE", &ca)
        .env("DEFENDER_LOCAL_MODE", "1")
        .env("EXPORT_DIR", dir.join("out"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let event: Value = serde_json::from_str(include_str!("fixtures/eventbridge-scheduler-input.json")).unwrap();
    let first = match emu.invoke(&event, Duration::from_secs(120)).await {
        Ok(a) => a,
        Err(e) => {
            let _ = child.start_kill();
            let out = child.wait_with_output().await.unwrap();
            panic!("{e}\nstderr:\n{}", String::from_utf8_lossy(&out.stderr));
        }
    };
    let summary: Value = serde_json::from_slice(&first).unwrap();
    let records = |s: &Value, stream: &str| {
        s["streams"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["stream"] == stream)
            .map(|x| x["records"].as_u64().unwrap())
            .unwrap()
    };
    let (alerts, incidents) = {
        let t = sim.sim.tenant.lock().unwrap();
        (t.seed.alerts.len() as u64, t.seed.incidents.len() as u64)
    };
    assert_eq!(records(&summary, "mde-alerts"), alerts, "{summary}");
    assert_eq!(records(&summary, "xdr-incidents"), incidents, "{summary}");
    let second: Value = serde_json::from_slice(&emu.invoke(&event, Duration::from_secs(60)).await.unwrap()).unwrap();
    assert_eq!(records(&second, "mde-alerts"), 0, "resumed from the committed cursor: {second}");
    assert_eq!(records(&second, "xdr-incidents"), 0);
    child.start_kill().ok();
    std::fs::remove_dir_all(&dir).ok();
}
