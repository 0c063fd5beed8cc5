//! The scheduled-export part of `make bench` on its own (`cargo run --release -p defender-bench --bin
//! export-bench [alerts]`, after `cargo build --release -p tenant-sim`): prints its table. `alerts`
//! (default 1,000,000) makes a reduced run.

#[path = "../export.rs"]
mod export;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let alerts = match std::env::args().nth(1).map(|a| a.parse::<u64>()) {
        None => export::ALERTS,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("export-bench: the argument is a whole number of alerts");
            return ExitCode::FAILURE;
        }
    };
    match export::run(alerts).await {
        Ok(rows) => {
            let build = if cfg!(debug_assertions) { "debug build" } else { "release build" };
            println!("scheduled-export against tenant-sim ({build}, simulator in its own process)");
            println!("| measure | value |");
            println!("|---|---|");
            for r in rows {
                println!("| {} | {} |", r.measure, r.value);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("export-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
