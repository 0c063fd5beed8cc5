//! The signature-check rows of `make bench` on their own (`make bench-signature`, or `cargo run
//! --release -p defender-bench --bin signature-bench`): prints its table.

use defender_bench::{part, signature};
use std::process::ExitCode;

fn main() -> ExitCode {
    let title = "webhook signature check, unauthenticated requests (in process)";
    part::report("signature-bench", title, Ok(signature::run()))
}
