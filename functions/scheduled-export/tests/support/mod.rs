//! What the simulator and real-response tests of the export share: the client source over the test
//! kit's simulator ([`source_for`]), a job ([`job_at`]), and what an export wrote into a
//! local-directory sink, read back ([`gz_lines`]).

use chrono::{DateTime, Duration as CDuration, Utc};
use defender_shared::{
    defender::{Deadline, DefenderClient, governor::Governor, retry::RetryPolicy},
    ids::TenantName,
};
use flate2::read::GzDecoder;
use scheduled_export::{
    defender,
    export::{Job, Source, Stream},
};
use std::{
    io::Read,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};
use testkit::SimEnv;

/// A client source for `sim` with `governor`'s pacing and the tests' short backoff.
pub async fn source_for(sim: &SimEnv, governor: Governor) -> Arc<dyn Source> {
    let rt = sim.runtime().await;
    let tenant: TenantName = rt.registry.iter().next().unwrap().name.clone();
    let retry =
        RetryPolicy { base: Duration::from_millis(2), cap: Duration::from_millis(20), ..RetryPolicy::default() };
    let client = DefenderClient::new(rt.http.clone(), rt.tokens.clone(), rt.registry.clone())
        .with_governor(governor)
        .with_retry(retry);
    Arc::new(defender::source(Arc::new(client), tenant))
}

/// A job of the default tenant started at `now`: a 15-minute lease, 5 minutes of overlap, two minutes
/// to run.
pub fn job_at(now: DateTime<Utc>, stream: impl Into<Stream>, page: usize, run: &str) -> Job {
    Job {
        run_id: run.to_string(),
        started: now,
        lease_until: now + CDuration::minutes(15),
        tenant: "default".into(),
        stream: stream.into(),
        page_size: page,
        overlap: CDuration::minutes(5),
        backfill: None,
        deadline: Deadline::after(Duration::from_secs(120)),
    }
}

/// The lines of every data object of the stream whose folder is `stream=<folder>` under `dir`.
pub fn gz_lines(dir: &Path, folder: &str) -> Vec<String> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
            let path = e.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "gz") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&dir.join("tenant=default").join(format!("stream={folder}")), &mut files);
    let mut out = Vec::new();
    for f in files {
        let mut text = String::new();
        GzDecoder::new(std::fs::File::open(&f).unwrap()).read_to_string(&mut text).unwrap();
        out.extend(text.lines().map(str::to_string));
    }
    out
}
