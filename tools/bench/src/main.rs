//! `make bench` — measures defender-functions against the simulated tenant, side by side with the
//! Python Lambda a SOC engineer would write by hand (`bench/baseline-python/`), prints one table and
//! writes it to `bench/results.md`.
//!
//! The measuring parts are the library's (`lib.rs` maps them). The export (1M alerts) and the fan-out
//! (500 tenants) run as their own binaries (`export-bench`, `fanout-bench`, read back through
//! `part`), so this process's peak RSS, reported in the `shared client` rows, is the shared client's.
//!
//! Usage: `defender-bench [--python PATH --baseline DIR --package DIR] [--runs N] [--warm N] [--out FILE]
//! [--function PATH] [--only functions]` (`--function`: another webhook-enrich build than the one next to
//! this binary; `--only functions`: the function rows alone, for iterating on the cold start)
//! (the Makefile passes them; without `--python` the Python column is left empty and says why).

mod functions;

// `functions` (this binary's own) reaches these as `crate::…`.
use defender_bench::{
    BoxError, artifact, client, economy, export, fanout, part, signature, sim, size,
    table::{Row, Table, faster, median, quantile, share},
};
use functions::{Events, Launch, RunStats};
use serde_json::Value;
use std::{path::PathBuf, process::ExitCode};

/// Command-line options.
#[derive(Debug)]
struct Args {
    python: Option<PathBuf>,
    baseline: PathBuf,
    package: Option<PathBuf>,
    runs: usize,
    warm: usize,
    out: Option<PathBuf>,
    function: Option<PathBuf>,
    /// `--only functions`: the function rows alone (cold start, warm, RSS, latency), nothing else.
    only_functions: bool,
}

fn parse_args(raw: &[String]) -> Result<Args, BoxError> {
    let mut a = Args {
        python: None,
        baseline: PathBuf::from("bench/baseline-python"),
        package: None,
        runs: 10,
        warm: 20,
        out: None,
        function: None,
        only_functions: false,
    };
    let mut it = raw.iter().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--python" => a.python = Some(PathBuf::from(value()?)),
            "--baseline" => a.baseline = PathBuf::from(value()?),
            "--package" => a.package = Some(PathBuf::from(value()?)),
            "--runs" => a.runs = value()?.parse().map_err(|_| "--runs takes a whole number")?,
            "--warm" => a.warm = value()?.parse().map_err(|_| "--warm takes a whole number")?,
            "--out" => a.out = Some(PathBuf::from(value()?)),
            "--function" => a.function = Some(PathBuf::from(value()?)),
            "--only" => match value()?.as_str() {
                "functions" => a.only_functions = true,
                other => return Err(format!("--only takes `functions`, not '{other}'").into()),
            },
            other => return Err(format!("unknown argument '{other}'").into()),
        }
    }
    // Absolute without resolving symlinks: a venv's python must be run by its own path to be that venv.
    a.python = a.python.map(std::path::absolute).transpose()?;
    a.package = a.package.map(std::path::absolute).transpose()?;
    a.baseline = std::path::absolute(&a.baseline)?;
    if a.runs == 0 || a.warm == 0 {
        return Err("--runs and --warm must be at least 1".into());
    }
    Ok(a)
}

#[tokio::main]
async fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().collect();
    if let [_, flag, path] = raw.as_slice()
        && flag == "--write-seed"
    {
        return match client::big_seed().and_then(|s| std::fs::write(path, s).map_err(Into::into)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("defender-bench: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let outcome = match parse_args(&raw) {
        Ok(args) => run(args).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("defender-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn command_line(program: &std::path::Path, arg: &str) -> String {
    std::process::Command::new(program)
        .arg(arg)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            let text = if o.stdout.is_empty() { o.stderr } else { o.stdout };
            String::from_utf8_lossy(&text).trim().to_string()
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The 1-minute load average (the machine may be shared: it says how much).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn machine_description() -> String {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map(|kib| kib / 1_048_576.0)
        .unwrap_or(0.0);
    format!("nproc {cores} ({cpu}), {mem_gib:.0} GiB")
}

async fn run(args: Args) -> Result<(), BoxError> {
    let started = std::time::Instant::now();
    let load_before = load_average();
    let dir = std::env::temp_dir().join(format!("defender-bench-{}", std::process::id()));
    let home = dir.join("home");
    std::fs::create_dir_all(&home)?;
    let mut table = Table::default();
    let result = measure(&args, &dir, &home, &mut table).await;
    std::fs::remove_dir_all(&dir).ok();
    result?;

    let rustc =
        command_line(std::path::Path::new(&std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into())), "--version");
    let python = args.python.as_deref().map(|p| command_line(p, "--version")).unwrap_or_else(|| "not run".into());
    let header = format!(
        "# Benchmark results\n\n`make bench`, {} UTC, took {:.0} s. Machine: {}; load average {load_before} before, \
         {} after; {rustc}; {python}. Release build, loopback TLS to the simulated tenant (own process, quotas \
         off, no faults).\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M"),
        started.elapsed().as_secs_f64(),
        machine_description(),
        load_average(),
    );
    let text = format!("{header}\n{}", table.markdown());
    println!("{text}");
    if let Some(out) = &args.out {
        std::fs::write(out, &text).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
        eprintln!("defender-bench: written to {}", out.display());
    }
    Ok(())
}

/// The latency injected per round trip in the latency rows, ms (as from an AWS region to Entra and Key Vault).
const LATENCY_MS: u64 = 20;

/// Cold starts of each side against a simulator with [`LATENCY_MS`] per round trip, alternating.
async fn latency_rows(
    args: &Args,
    rust: &Launch,
    python: Option<&Launch>,
    home: &std::path::Path,
    events: &mut Events,
    dir: &std::path::Path,
) -> Result<(Vec<functions::FirstAnswer>, Vec<functions::FirstAnswer>), BoxError> {
    let sim = sim::Sim::start_with_latency("demo", dir, "latency", LATENCY_MS)?;
    let (mut r, mut p) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        r.push(functions::first_answer(rust, &sim, events, home).await?);
        if let Some(py) = python {
            p.push(functions::first_answer(py, &sim, events, home).await?);
        }
    }
    for (side, v) in [("Rust", &r), ("Python", &p)] {
        let each: Vec<String> = v.iter().map(|a| format!("{:.0} ms/{}", a.cold_ms, a.round_trips.total)).collect();
        eprintln!("defender-bench: {LATENCY_MS} ms latency, {side}: cold start/round trips {}", each.join(", "));
    }
    Ok((r, p))
}

fn ms(x: f64) -> String {
    if x < 10.0 { format!("{x:.2} ms") } else { format!("{x:.0} ms") }
}

fn mib_kib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}

async fn measure(
    args: &Args,
    dir: &std::path::Path,
    home: &std::path::Path,
    table: &mut Table,
) -> Result<(), BoxError> {
    let sim = sim::Sim::start("demo", dir, "demo")?;
    let seed: Value = serde_json::from_str(tenant_sim::seed::DEMO)?;
    let machine = seed["machines"][0]["id"].as_str().ok_or("the demo seed has no machine")?.to_string();
    let mut events = Events::for_machine(&machine)?;
    let exe = std::env::current_exe()?;
    let function = args.function.clone().unwrap_or_else(|| exe.with_file_name("webhook-enrich"));
    let rust = Launch::Rust { exe: function.clone() };
    let python = args.python.as_ref().map(|p| Launch::Python { python: p.clone(), dir: args.baseline.clone() });

    // 1. Side by side, alternating.
    let (mut rs, mut ps): (Vec<RunStats>, Vec<RunStats>) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        rs.push(functions::run_once(&rust, &sim, &mut events, args.warm, home).await?);
        if let Some(p) = &python {
            ps.push(functions::run_once(p, &sim, &mut events, args.warm, home).await?);
        }
    }
    if let (Some(r), Some(p)) = (rs.first(), ps.first())
        && r.facts != p.facts
    {
        return Err(
            format!("the two functions disagree on the machine: Rust {:?}, Python {:?}", r.facts, p.facts).into()
        );
    }
    let stat = |v: &[RunStats], f: fn(&RunStats) -> f64| median(&v.iter().map(f).collect::<Vec<_>>());
    let warm = |v: &[RunStats]| v.iter().flat_map(|r| r.warm_ms.iter().copied()).collect::<Vec<f64>>();
    let (rw, pw) = (warm(&rs), warm(&ps));
    let have_py = !ps.is_empty();
    let py = |s: String| if have_py { s } else { "not run (no --python)".into() };
    let ratio = |s: String| if have_py { s } else { "—".into() };
    const F: &str = "function";
    let n = args.runs;
    table.push(Row::both(
        F,
        format!("init: spawn → first Runtime API poll (median of {n})"),
        ms(stat(&rs, |r| r.init_ms)),
        py(ms(stat(&ps, |r| r.init_ms))),
        ratio(faster(stat(&rs, |r| r.init_ms), stat(&ps, |r| r.init_ms), None)),
    ));
    table.push(Row::both(
        F,
        format!("cold start: spawn → first answer incl. vault read, token, 3 Defender calls (median of {n})"),
        ms(stat(&rs, |r| r.cold_ms)),
        py(ms(stat(&ps, |r| r.cold_ms))),
        ratio(faster(stat(&rs, |r| r.cold_ms), stat(&ps, |r| r.cold_ms), Some(15.0))),
    ));
    table.push(Row::both(
        F,
        format!("cold start CPU time: user + system, all threads, at the first answer (median of {n})"),
        ms(stat(&rs, |r| r.cold_cpu_ms)),
        py(ms(stat(&ps, |r| r.cold_cpu_ms))),
        ratio(faster(stat(&rs, |r| r.cold_cpu_ms), stat(&ps, |r| r.cold_cpu_ms), None)),
    ));
    table.push(Row::both(
        F,
        format!("warm request, one machine, 3 Defender calls ({} per side): p50 / p99", rw.len()),
        format!("{} / {}", ms(median(&rw)), ms(quantile(&rw, 0.99))),
        py(format!("{} / {}", ms(median(&pw)), ms(quantile(&pw, 0.99)))),
        ratio(faster(median(&rw), median(&pw), None)),
    ));
    table.push(Row::both(
        F,
        format!("peak RSS of the function process (median of {n})"),
        mib_kib(stat(&rs, |r| r.rss_kib as f64)),
        py(mib_kib(stat(&ps, |r| r.rss_kib as f64))),
        ratio(share(stat(&rs, |r| r.rss_kib as f64), stat(&ps, |r| r.rss_kib as f64), Some(4.0))),
    ));

    // 1b. The same cold start with latency on every round trip to Microsoft (a simulator of its own).
    let (rl, pl) = latency_rows(args, &rust, python.as_ref(), home, &mut events, dir).await?;
    let lat = |v: &[functions::FirstAnswer], f: fn(&functions::FirstAnswer) -> f64| {
        median(&v.iter().map(f).collect::<Vec<_>>())
    };
    let trips = |v: &[functions::FirstAnswer]| {
        format!(
            "{:.0} requests ({:.0} with TCP + TLS handshakes; {:.0} requests, {:.0} connections in all)",
            lat(v, |a| f64::from(a.round_trips.requests)),
            lat(v, |a| f64::from(a.round_trips.total)),
            lat(v, |a| a.round_trips.request_count as f64),
            lat(v, |a| a.round_trips.connection_count as f64),
        )
    };
    table.push(Row::both(
        F,
        format!(
            "cold start under {LATENCY_MS} ms injected latency per round trip: spawn → first answer (median of {n})"
        ),
        ms(lat(&rl, |a| a.cold_ms)),
        py(ms(lat(&pl, |a| a.cold_ms))),
        ratio(faster(lat(&rl, |a| a.cold_ms), lat(&pl, |a| a.cold_ms), None)),
    ));
    table.push(Row::both(
        F,
        format!("sequential round trips before the first answer under {LATENCY_MS} ms latency (median of {n})"),
        trips(&rl),
        py(trips(&pl)),
        ratio(format!(
            "{:.0} vs {:.0} round trips",
            lat(&rl, |a| f64::from(a.round_trips.total)),
            lat(&pl, |a| f64::from(a.round_trips.total))
        )),
    ));

    if args.only_functions {
        return Ok(());
    }

    // 2. Token and vault economy.
    const E: &str = "economy";
    let c = economy::concurrent(&sim, &machine, 100).await?;
    table.push(Row::rust_only(
        E,
        "100 concurrent invocations in one process (shared TokenProvider + CachedStore, init included)",
        format!("100 invocations → {} token requests, {} vault reads", c.token, c.vault_reads),
    ));
    let seq_r = functions::sequential_counts(&rust, &sim, &mut events, 100, home).await?;
    let seq_p = match &python {
        Some(p) => Some(functions::sequential_counts(p, &sim, &mut events, 100, home).await?),
        None => None,
    };
    let line = |c: &sim::Counts| format!("100 invocations → {} token requests, {} vault reads", c.token, c.vault_reads);
    table.push(Row::both(
        E,
        "100 sequential invocations of one container (cold start included)",
        line(&seq_r),
        py(seq_p.as_ref().map(line).unwrap_or_default()),
        "—",
    ));
    table.note(format!("economy, 100 concurrent in one process: {}", c.summary()));
    table.note(format!("economy, 100 sequential, Rust: {}", seq_r.summary()));
    if let Some(p) = &seq_p {
        table.note(format!("economy, 100 sequential, Python: {}", p.summary()));
    }
    drop(sim);

    // 3. Deployment artifacts.
    const A: &str = "artifact";
    table.push(size::row(exe.parent().unwrap_or(std::path::Path::new("."))));
    let script = args.baseline.parent().unwrap_or(std::path::Path::new(".")).join("zip_artifact.py");
    match (&args.python, &args.package) {
        (Some(py_exe), Some(package)) => {
            let bin = function.to_str().ok_or("path is not UTF-8")?;
            let r = artifact::zip(py_exe, &script, &dir.join("rust.zip"), None, &[format!("{bin}=bootstrap")])?;
            let pkg = package.to_str().ok_or("path is not UTF-8")?.to_string();
            let handler = args.baseline.join("handler.py").to_str().ok_or("path is not UTF-8")?.to_string();
            let sources = [pkg, handler];
            let p = artifact::zip(py_exe, &script, &dir.join("python.zip"), None, &sources)?;
            let p_lean = artifact::zip(
                py_exe,
                &script,
                &dir.join("python-lean.zip"),
                Some(artifact::RUNTIME_PROVIDED),
                &sources,
            )?;
            table.push(Row::both(
                A,
                "deployment zip (Rust: release binary as bootstrap; Python: site-packages of the pinned requirements + handler)",
                format!("{} (unzipped {})", artifact::mib(r.zipped), artifact::mib(r.unzipped)),
                format!("{} (unzipped {})", artifact::mib(p.zipped), artifact::mib(p.unzipped)),
                share(r.zipped as f64, p.zipped as f64, None),
            ));
            table.push(Row::both(
                A,
                format!("the same, leaving out what the managed Python runtime ships ({})", artifact::RUNTIME_PROVIDED),
                "—",
                format!("{} (unzipped {})", artifact::mib(p_lean.zipped), artifact::mib(p_lean.unzipped)),
                share(r.zipped as f64, p_lean.zipped as f64, None),
            ));
        }
        _ => table.note("artifact sizes not measured: pass --python and --package (the Makefile does)"),
    }

    // 4. The scheduled export (1,000,000 generated alerts to the directory sink) and the MSSP fan-out
    //    (in-process workers and FIFO queue, a simulated tenant per customer, quotas on), each in its
    //    own process: their memory is theirs, not the shared client's below.
    let rows = |section: &'static str, rows: Vec<part::Row>| {
        rows.into_iter().map(move |r| Row::rust_only(section, r.measure, r.value))
    };
    table.extend(rows("export", part::run("export-bench", &[export::ALERTS.to_string()]).await?));
    let sizes = [fanout::TENANTS.to_string(), fanout::WORKERS.to_string()];
    table.extend(rows("fan-out", part::run("fanout-bench", &sizes).await?));

    // 5. Refusing unauthenticated webhooks: the signature check with 1, 8 and 1,000 bogus signatures.
    table.extend(rows("signature", signature::run()));

    // 6. The shared library alone.
    table.extend(client::bench(dir).await?);

    table.note(format!(
        "function rows: each run is a fresh process under the Runtime API emulator (lambda-emu), Rust and \
         Python alternating; the event is a signed Standard Webhooks request for one machine; warm = {} \
         more events per run. Python runs under awslambdaric with bytecode precompiled in its venv (on Lambda \
         /var/task is read-only, so a zip without .pyc compiles on every cold start: this favours Python).",
        args.warm
    ));
    table.note(
        "export and fan-out rows: each part runs as its own process (export-bench, fanout-bench; the rows read \
         back from its output), so its memory is its own and the shared client's peak RSS is this process's.",
    );
    table.note(
        "Rust's cold start runs its permission self-check (token claims vs. the endpoints it calls), which the \
         Python handler does not do, beside the first request: its tokens are fetched with the others.",
    );
    table.note(format!(
        "latency rows: a second simulator started with --latency-ms {LATENCY_MS} (each request waits {LATENCY_MS} \
         ms, each new connection twice that for the TCP and TLS handshakes); round trips = the heaviest chain \
         of requests (and handshakes) in its timeline each of which arrived after the previous one was \
         answered, among those answered before the first answer (tenant_sim::latency::round_trips). One origin \
         serves Entra, Key Vault and Defender here, so connections are a lower bound (three hosts in Azure)."
    ));
    Ok(())
}
