//! The real binary, as Lambda runs it: `scheduled-export` is spawned with the Runtime API variables,
//! initialises against the simulated tenant, polls the Runtime API, and answers an EventBridge
//! Scheduler event by exporting into a local directory; a second event exports nothing new.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use lambda_emu::Emulator;
use serde_json::Value;
use std::{process::Stdio, time::Duration};
use testkit::SimEnv;

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_exports_on_a_scheduler_event_and_resumes_from_its_cursor() {
    let sim = SimEnv::demo().await;
    let dir = &sim.dir;
    let emu = Emulator::start().await.unwrap();
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_scheduled-export"))
        .env_clear()
        .envs(emu.env("scheduled-export"))
        // The export reads no secret: no vault.
        .envs(sim.env_without(&["KEY_VAULT_URL"]))
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
}

/// `scheduled-export backfill --from .. --to ..` from a shell: the window's versions into the backfill's
/// own prefix, the summary as JSON on stdout, no progress bar when stderr is not a terminal; the same
/// command again finds everything done.
#[tokio::test(flavor = "multi_thread")]
async fn the_binary_backfills_a_window_from_the_command_line() {
    let sim = SimEnv::demo().await;
    let dir = &sim.dir;
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let times: Vec<chrono::DateTime<chrono::Utc>> = {
        let t = sim.sim.tenant.lock().unwrap();
        t.seed.alerts.iter().map(|a| a["lastUpdateTime"].as_str().unwrap().parse().unwrap()).collect()
    };
    let (lo, hi) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
    let (from, to) = (lo + (hi - lo) / 4, lo + (hi - lo) * 3 / 4);
    let inside = times.iter().filter(|t| **t >= from && **t < to).count() as u64;
    assert!(inside > 0 && inside < times.len() as u64);
    let run = || {
        tokio::process::Command::new(env!("CARGO_BIN_EXE_scheduled-export"))
            .env_clear()
            .args(["backfill", "--from", &from.to_rfc3339(), "--to", &to.to_rfc3339()])
            // The export reads no secret: no vault.
            .envs(sim.env_without(&["KEY_VAULT_URL"]))
            .env("EXPORT_DIR", dir.join("out"))
            .env("EXPORT_STREAMS", "mde-alerts")
            .output()
    };
    let out = run().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("[#") && !stderr.contains("[-"), "no progress bar without a terminal: {stderr}");
    // stdout: the EMF lines (as in Lambda), then the pass's summary.
    let last =
        |b: &[u8]| -> Value { serde_json::from_str(String::from_utf8_lossy(b).lines().last().unwrap()).unwrap() };
    let summary = last(&out.stdout);
    assert_eq!(summary["mode"], "backfill");
    assert_eq!(summary["streams"][0]["records"], inside, "{summary}");
    assert!(dir.join("out/backfill").is_dir(), "the backfill's own prefix");
    let again = run().await.unwrap();
    let second = last(&again.stdout);
    assert_eq!(second["streams"][0]["records"], 0, "resumed from the backfill's cursor: {second}");
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_scheduled-export"))
        .args(["backfill", "--from", "yesterday"])
        .env_clear()
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("RFC 3339"), "{}", String::from_utf8_lossy(&bad.stderr));
}
