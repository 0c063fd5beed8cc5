//! The scheduled-export part of `make bench` on its own (`cargo run --release -p defender-bench --bin
//! export-bench [alerts]`, after `cargo build --release -p tenant-sim`): prints its table, which
//! `defender-bench` runs it for and reads back. `alerts` (default 1,000,000) makes a reduced run.

use defender_bench::{export, part};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let rows = match std::env::args().nth(1).map(|a| a.parse::<u64>()) {
        None => export::run(export::ALERTS).await,
        Some(Ok(n)) if n > 0 => export::run(n).await,
        Some(_) => Err("the argument is a whole number of alerts".into()),
    };
    part::report("export-bench", "scheduled-export against tenant-sim (simulator in its own process)", rows)
}
