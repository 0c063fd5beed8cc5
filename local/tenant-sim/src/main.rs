//! `tenant-sim` — run the simulated tenant as a process.
//!
//! ```text
//! tenant-sim [--addr 127.0.0.1:0] [--seed demo|PATH] [--ca-out PATH] [--no-control] [--no-quotas]
//!            [--latency-ms N]
//! ```
//! The first stdout line is `tenant-sim listening on <base url>`; the process runs until Ctrl-C.

use clap::Parser;
use std::io::Write;
use std::{net::SocketAddr, path::PathBuf, process::ExitCode};
use tenant_sim::{Seed, SimOptions, state::SimConfig};

#[derive(Debug, Parser)]
#[command(name = "tenant-sim", about = "Simulated Entra ID, Key Vault and Defender APIs over HTTPS")]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// `demo` or the path of a seed document.
    #[arg(long, default_value = "demo")]
    seed: String,
    /// Write the generated CA certificate (PEM) here, for clients to trust.
    #[arg(long)]
    ca_out: Option<PathBuf>,
    /// Do not serve the /_sim/ control API.
    #[arg(long)]
    no_control: bool,
    /// Do not enforce the documented rate limits.
    #[arg(long)]
    no_quotas: bool,
    /// Latency per round trip, ms, as from an AWS region to Microsoft: each request waits this long and
    /// each new connection twice as long (default: `TENANT_SIM_LATENCY_MS`, else 0).
    #[arg(long)]
    latency_ms: Option<u64>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tenant-sim: {}", tenant_sim::errors::chain(&*e));
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let seed = if args.seed == "demo" {
        Seed::demo()?
    } else {
        let len = std::fs::metadata(&args.seed).map_err(|e| format!("cannot read seed {}: {e}", args.seed))?.len();
        if len > tenant_sim::seed::SEED_LIMIT as u64 {
            return Err(format!(
                "seed {} is {len} bytes, over the limit of {} bytes (POST /_sim/seed has the same)",
                args.seed,
                tenant_sim::seed::SEED_LIMIT
            )
            .into());
        }
        let text = std::fs::read_to_string(&args.seed).map_err(|e| format!("cannot read seed {}: {e}", args.seed))?;
        Seed::parse(&text)?
    };
    let config = SimConfig { quotas: !args.no_quotas, ..SimConfig::default() };
    let latency_ms = match args.latency_ms {
        Some(ms) => ms,
        None => match std::env::var("TENANT_SIM_LATENCY_MS") {
            Ok(v) => {
                v.trim().parse().map_err(|_| format!("TENANT_SIM_LATENCY_MS is not a whole number of ms: {v:?}"))?
            }
            Err(_) => 0,
        },
    };
    let latency = std::time::Duration::from_millis(latency_ms);
    let sim =
        tenant_sim::start(SimOptions { addr: args.addr, seed, control: !args.no_control, config, latency }).await?;
    if let Some(path) = &args.ca_out {
        std::fs::write(path, &sim.ca_pem).map_err(|e| format!("cannot write CA to {}: {e}", path.display()))?;
    }
    // A reader that closed its end of the pipe after the first line must not take the server down.
    let mut out = std::io::stdout();
    let _ = writeln!(out, "tenant-sim listening on {}", sim.url);
    let _ =
        writeln!(out, "tenant {} · token endpoint {}/{}/oauth2/v2.0/token", sim.tenant_id(), sim.url, sim.tenant_id());
    let _ = out.flush();
    tokio::signal::ctrl_c().await?;
    Ok(())
}
