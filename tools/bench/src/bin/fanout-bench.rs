//! The MSSP fan-out rows of `make bench` on their own (`cargo run --release -p defender-bench --bin
//! fanout-bench [tenants] [workers]`): prints its table, which `defender-bench` runs it for and reads
//! back. Defaults: 500 tenants, 20 workers.

use defender_bench::{fanout, part};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let arg = |i: usize, default: usize| std::env::args().nth(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (tenants, workers) = (arg(1, fanout::TENANTS).max(1), arg(2, fanout::WORKERS).max(1));
    let title = "scheduled-export fan-out against a tenant-sim fleet (in-process workers and queue)";
    part::report("fanout-bench", title, fanout::run(tenants, workers).await)
}
