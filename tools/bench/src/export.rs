//! `make bench`, the scheduled export: 1,000,000 MDE alerts from the simulated tenant through the
//! export core (closed time windows read in `$skip` pages of the documented 10,000, overlapping by
//! one, `$expand=evidence`) into the local-directory sink (gzip JSON Lines, one object and one
//! conditional cursor commit per page).
//!
//! The simulator runs as its own process (the release `tenant-sim` beside this binary) and serves a
//! procedural alert sequence (`generated_alerts` in its seed: each page written as JSON text on
//! request, nothing held), in its strict order (a keyed permutation of each filtered range, unrelated to time), so
//! neither its memory nor a million seeded documents pollute the measurement. Reported: records/s,
//! this process's RSS and peak RSS when 10 %, 50 % and 100 % of the alerts were committed, and API
//! calls against the minimum ceil(N / 10,000) and the stated bound, and the identities the cursor
//! keeps. Pages are read as they stream in (no page held, each record gzip'd as it arrives), so
//! memory is the page's compressed object and versions plus the cursor's identities — the overlap
//! window (30,000 at the bench's 100 alerts/s, at most 100,000) and the window being read (sized for
//! about 40,000) — and must stay flat once those are full (target: peak RSS ≤ 64 MiB).
//! `export-bench <alerts>` runs this part alone, with fewer alerts.

use crate::{
    BoxError,
    part::{Row, row},
    setup,
    sim::Sim,
};
use defender_shared::defender::{Deadline, DefenderClient, api::MDE_MAX_PAGE, governor::Governor};
use scheduled_export::{
    defender,
    export::{Job, Outcome, StopSignal, Stream, StreamKind, export_stream},
    sink::DirSink,
};
use serde_json::{Value, json};
use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Alerts exported.
pub const ALERTS: u64 = 1_000_000;
/// Milliseconds between two generated alerts: 100 alerts/s, so the 5-minute overlap window holds
/// 30,000 identities (the cursor's `recent` set) once it is full.
pub const STEP_MS: u64 = 10;

/// `VmRSS` and `VmHWM` of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Memory readings taken when the committed count first reaches each mark.
struct Readings {
    marks: Vec<u64>,
    taken: Mutex<Vec<(u64, (u64, u64))>>,
}

impl StopSignal for Readings {
    fn should_stop(&self) -> bool {
        false
    }
    fn progress(&self, _stream: &Stream, records: u64, _at: chrono::DateTime<chrono::Utc>) {
        if let Ok(mut t) = self.taken.lock()
            && let Some(mark) = self.marks.iter().find(|m| records >= **m && !t.iter().any(|(k, _)| k == *m))
        {
            t.push((*mark, rss_kib()));
        }
    }
}

/// The simulator in its own process, serving `alerts` generated alerts.
fn start_sim(dir: &std::path::Path, alerts: u64) -> Result<Sim, BoxError> {
    let mut seed: Value = serde_json::from_str(tenant_sim::seed::DEMO)?;
    let first = chrono::Utc::now() - chrono::Duration::days(2);
    seed["generated_alerts"] = json!({"count": alerts, "first": first.to_rfc3339(), "step_ms": STEP_MS});
    let path = dir.join("export-seed.json");
    std::fs::write(&path, seed.to_string())?;
    Sim::start(path.to_str().ok_or("temp path is not UTF-8")?, dir, "export")
}

/// CPU seconds (user + system) a process has used so far, from `/proc/<pid>/stat` (`self` for this
/// one): on 2 cores shared with the simulator and whatever else runs, records per CPU second says
/// what the export costs where records/s also says how busy the machine was.
fn cpu_s(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's `)`: state is the 3rd field, utime and stime the 14th and 15th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let ticks: u64 = rest.split_whitespace().skip(11).take(2).filter_map(|f| f.parse::<u64>().ok()).sum();
    // The kernel's USER_HZ, 100 on every Linux that Lambda and this bench run on.
    ticks as f64 / 100.0
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Runs the export bench over `alerts` generated alerts ([`ALERTS`] in `make bench`) and returns its
/// table.
///
/// # Errors
/// The simulator does not start, or the export fails or exports other than `alerts` alerts.
pub async fn run(alerts: u64) -> Result<Vec<Row>, BoxError> {
    let dir = std::env::temp_dir().join(format!("defender-bench-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let sim = start_sim(&dir, alerts)?;
    let rt = setup::runtime(&setup::env(&sim.url, testkit::demo::TENANT, &sim.ca_path, &[])).await?;
    let tenant = rt.registry.iter().next().ok_or("no tenant")?.name.clone();
    let client = DefenderClient::new(rt.http.clone(), rt.tokens.clone(), rt.registry.clone())
        .with_governor(Governor::disabled());
    let source = defender::source(Arc::new(client), tenant);
    let sink = DirSink::new(dir.join("out"));
    let now = chrono::Utc::now();
    let job = Job {
        run_id: "bench".into(),
        started: now,
        lease_until: now + chrono::Duration::hours(1),
        tenant: "bench".into(),
        stream: StreamKind::MdeAlerts.into(),
        page_size: MDE_MAX_PAGE,
        overlap: chrono::Duration::minutes(5),
        backfill: None,
        deadline: Deadline::after(Duration::from_secs(3600)),
    };
    let (early, mid) = (alerts / 10, alerts / 2);
    let readings = Readings { marks: vec![early, mid, alerts], taken: Mutex::new(Vec::new()) };
    let (rss_start, _) = rss_kib();
    let sim_pid = sim.pid().to_string();
    let (cpu_start, sim_cpu_start) = (cpu_s("self"), cpu_s(&sim_pid));
    let t = Instant::now();
    let sum = export_stream(&source, &sink, &job, &readings).await?;
    let secs = t.elapsed().as_secs_f64();
    let (cpu, sim_cpu) = (cpu_s("self") - cpu_start, cpu_s(&sim_pid) - sim_cpu_start);
    drop(sim);
    let bytes = du(&dir.join("out"));
    std::fs::remove_dir_all(&dir).ok();
    if sum.outcome != Outcome::Complete || sum.records != alerts {
        return Err(format!("exported {} alerts ({:?}), expected {alerts}", sum.records, sum.outcome).into());
    }
    let taken = readings.taken.lock().map_err(|_| "poisoned")?.clone();
    let at = |mark: u64| taken.iter().find(|(m, _)| *m == mark).map(|(_, r)| *r).unwrap_or_default();
    let ((rss_early, hwm_early), (rss_mid, hwm_mid), (rss_end, hwm_end)) = (at(early), at(mid), at(alerts));
    let page = MDE_MAX_PAGE as u64;
    let pages = alerts.div_ceil(page);
    // The bound docs/export.md states: a quarter above the minimum, plus 8 for sizing the windows.
    let bound = pages * 5 / 4 + 8;
    Ok(vec![
        row(
            format!(
                "export {alerts} MDE alerts → gzip JSON Lines in a directory ({} objects, {:.0} MB)",
                sum.objects,
                bytes as f64 / 1e6
            ),
            format!("{:.0} records/s ({secs:.1} s)", alerts as f64 / secs),
        ),
        row(
            "CPU of the export's process / of the simulator's (user + system)",
            format!("{cpu:.1} s ({:.0} records per CPU second) / {sim_cpu:.1} s", alerts as f64 / cpu.max(0.01)),
        ),
        row(
            format!("API calls vs ceil(N / {MDE_MAX_PAGE}) and the bound"),
            format!(
                "{} vs {pages} (bound {bound}{}; {} steps back)",
                sum.api_calls,
                if sum.api_calls > bound { ", EXCEEDED" } else { "" },
                sum.steps_back
            ),
        ),
        row(
            "cursor identities kept after the run (bound 100,000 below the mark)",
            format!("{} ({} dropped)", sum.identities, sum.identities_dropped),
        ),
        row("RSS at start", mib(rss_start)),
        row(format!("RSS / peak RSS after {early} alerts"), format!("{} / {}", mib(rss_early), mib(hwm_early))),
        row(format!("RSS / peak RSS after {mid} alerts"), format!("{} / {}", mib(rss_mid), mib(hwm_mid))),
        row(format!("RSS / peak RSS after {alerts} alerts"), format!("{} / {}", mib(rss_end), mib(hwm_end))),
    ])
}

fn du(p: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![p.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}
