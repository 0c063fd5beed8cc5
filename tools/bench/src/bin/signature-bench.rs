//! The signature-check rows of `make bench` on their own (`make bench-signature`, or `cargo run
//! --release -p defender-bench --bin signature-bench`): prints its table.

#[path = "../signature.rs"]
mod signature;

fn main() {
    let build = if cfg!(debug_assertions) { "debug build" } else { "release build" };
    println!("webhook signature check, unauthenticated requests ({build}, in process)");
    println!("| measure | value |");
    println!("|---|---|");
    for r in signature::run() {
        println!("| {} | {} |", r.measure, r.value);
    }
}
