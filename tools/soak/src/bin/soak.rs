//! `make soak`: the full soak (500 webhook requests and 200 chat-ops clicks at 50-way concurrency
//! under seeded faults and a vault outage), its figures, and exit 1 when a verdict fails.
//!
//! `defender-soak [--webhooks N] [--clicks N] [--concurrency N] [--actions N] [--seed N] [--no-vault-outage]`

use defender_soak::soak::{SoakConfig, run};
use std::process::ExitCode;

fn parse(args: &[String]) -> Result<SoakConfig, String> {
    let mut cfg = SoakConfig::full(8);
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        if flag == "--no-vault-outage" {
            cfg.vault_outage = false;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let n: u64 = value.parse().map_err(|_| format!("{flag}: '{value}' is not a number"))?;
        let size = usize::try_from(n).map_err(|_| format!("{flag}: too large"))?;
        match flag.as_str() {
            "--webhooks" => cfg.webhooks = size,
            "--clicks" => cfg.clicks = size,
            "--concurrency" => cfg.concurrency = size.max(1),
            "--actions" => cfg.actions = size.max(1),
            "--seed" => cfg.seed = n,
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(cfg)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("defender-soak: {e}");
            return ExitCode::from(2);
        }
    };
    println!(
        "soak: {} webhook requests + {} clicks over {} confirmations at {}-way concurrency, seed {}",
        cfg.webhooks, cfg.clicks, cfg.actions, cfg.concurrency, cfg.seed
    );
    let report = run(&cfg).await;
    print!("{}", report.table());
    let problems = report.problems();
    if problems.is_empty() {
        println!("verdict: PASS");
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            println!("FAIL: {p}");
        }
        for m in &report.malformed {
            println!("  malformed: {m}");
        }
        ExitCode::from(1)
    }
}
