//! `make run` / `make dev`: the three functions' real binaries under cargo-lambda's Lambda emulator,
//! against the simulated tenant.
//!
//! 1. Starts the simulated tenant (demo seed, HTTPS with a CA generated at start) and a local
//!    stand-in for Slack's `response_url`.
//! 2. In-process tour: Key Vault, tokens, the permission self-check, typed Defender calls.
//! 3. Starts `cargo lambda watch --only-lambda-apis` and attaches the prebuilt binaries
//!    (`webhook-enrich`, `scheduled-export`, `chatops-callback`, `chatops-worker`) to its runtime API,
//!    each with the environment a deployed function gets (docs/configuration.md), pointed at the
//!    simulator.
//! 4. Plays the use cases with real event shapes (see `play.rs`) and prints each.
//! 5. `--dev`: leaves everything running, prints URLs and ready-to-paste `curl` commands, until Ctrl-C.
//!
//! Exits non-zero if any step does not answer as documented. Logs go to a temporary directory outside
//! the project (printed at the start).

mod play;
mod tour;

use defender_shared::secret::SecretString;
use local_runner::{
    env,
    paths::{FUNCTIONS, Paths},
    receiver::Receiver,
    stack::{Function, LambdaWatch},
};
use std::{collections::HashMap, path::PathBuf, process::ExitCode};
use tenant_sim::{SimOptions, start};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> ExitCode {
    let dev = std::env::args().skip(1).any(|a| a == "--dev");
    match run(dev).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("defender-local: FAILED: {}", tenant_sim::errors::chain(&*e));
            ExitCode::FAILURE
        }
    }
}

/// What the use cases need.
pub(crate) struct Stack {
    /// The simulator.
    pub(crate) sim: tenant_sim::RunningSim,
    /// cargo-lambda.
    pub(crate) watch: LambdaWatch,
    /// The four functions, by name.
    pub(crate) functions: HashMap<&'static str, Function>,
    /// The `response_url` stand-in.
    pub(crate) hooks: Receiver,
    /// Where the export writes.
    pub(crate) export_dir: PathBuf,
    /// The demo webhook secret (never printed).
    pub(crate) webhook_secret: SecretString,
    /// The demo Slack signing secret (never printed).
    pub(crate) slack_secret: SecretString,
    /// Where logs (and, in dev mode, the demo secrets for the signing helper) are.
    pub(crate) run_dir: PathBuf,
}

async fn run(dev: bool) -> Result<(), BoxError> {
    let paths = Paths::discover();
    // Fail early, with the command to fix it, before starting anything.
    for f in FUNCTIONS {
        paths.binary(f)?;
    }
    paths.cargo_lambda()?;
    let run_dir = std::env::temp_dir().join(format!("defender-local-{}", std::process::id()));
    std::fs::create_dir_all(&run_dir)?;
    println!("== logs: {} (outside the project, so cargo-lambda never sees them change)", run_dir.display());

    let sim = start(SimOptions::demo()?).await?;
    sim.sim.config.lock().map_err(|_| "simulator state poisoned")?.bot_app_id = Some(env::BOT.to_string());
    println!("== simulated tenant {} on {} (TLS with a CA generated at start)", sim.tenant_id(), sim.url);
    let ca = run_dir.join("tenant-sim-ca.pem");
    std::fs::write(&ca, &sim.ca_pem)?;
    let hooks = Receiver::start().await?;
    let export_dir = paths.root.join("target").join("make-run-export");
    if export_dir.exists() {
        std::fs::remove_dir_all(&export_dir)?;
    }
    std::fs::create_dir_all(&export_dir)?;

    // The variables a deployed function reads (docs/configuration.md), pointed at the simulator.
    let base = env::base(&sim.url, &sim.tenant_id(), &ca);
    tour::run(&base).await?;

    let (webhook_secret, slack_secret) = {
        let t = sim.sim.tenant.lock().map_err(|_| "simulator state poisoned")?;
        let get = |k: &str| t.seed.secrets.get(k).cloned().ok_or(format!("no '{k}' in the demo seed"));
        (SecretString::new(get("webhook-secret")?), SecretString::new(get("slack-signing-secret")?))
    };

    let watch = LambdaWatch::start(&paths, &run_dir).await?;
    println!("== cargo lambda watch --only-lambda-apis on {} (runtime, invoke and function-URL APIs)", watch.url);
    let mut functions = HashMap::new();
    let export = [("EXPORT_DIR".to_string(), export_dir.display().to_string())];
    for name in FUNCTIONS {
        let env = env::for_function(&base, name, &hooks.base, &export);
        functions.insert(name, Function::start(&paths, &watch, name, &env, &run_dir)?);
    }
    println!("== attached {} prebuilt binaries from {}", functions.len(), paths.bins.display());

    let mut stack = Stack { sim, watch, functions, hooks, export_dir, webhook_secret, slack_secret, run_dir };
    let outcome = play::all(&mut stack).await;
    if let Err(e) = &outcome {
        for f in stack.functions.values() {
            eprintln!("-- {} log ({}):\n{}", f.name, f.log.display(), local_runner::tail(&f.log, 8));
        }
        return Err(format!("{e}").into());
    }
    if dev {
        play::dev(&mut stack).await?;
    }
    for (_, f) in stack.functions.drain() {
        f.stop().await;
    }
    stack.watch.stop().await;
    stack.sim.stop();
    if !dev {
        std::fs::remove_dir_all(&stack.run_dir).ok();
    }
    println!("== done: all three use cases answered through the Lambda runtime API; everything stopped");
    Ok(())
}
