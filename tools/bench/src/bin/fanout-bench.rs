//! The MSSP fan-out rows of `make bench` on their own (`cargo run --release -p defender-bench --bin
//! fanout-bench [tenants] [workers]`): prints its table. Defaults: 500 tenants, 20 workers.

#[path = "../fanout.rs"]
mod fanout;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let arg = |i: usize, default: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (tenants, workers) = (arg(1, fanout::TENANTS).max(1), arg(2, fanout::WORKERS).max(1));
    match fanout::run(tenants, workers).await {
        Ok(rows) => {
            let build = if cfg!(debug_assertions) { "debug build" } else { "release build" };
            println!("scheduled-export fan-out against a tenant-sim fleet ({build}, in-process workers and queue)");
            println!("| measure | value |");
            println!("|---|---|");
            for r in rows {
                println!("| {} | {} |", r.measure, r.value);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fanout-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
