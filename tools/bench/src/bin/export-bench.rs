//! The scheduled-export part of `make bench` on its own (`cargo run --release -p defender-bench --bin
//! export-bench`, after `cargo build --release -p tenant-sim`): prints its table.

#[path = "../export.rs"]
mod export;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match export::run().await {
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
