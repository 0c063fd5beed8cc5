//! `defender-functions` — the operator's command line.
//!
//! ```text
//! defender-functions login  --tenant NAME [--scope SCOPE]   # user context: device-code sign-in, refresh token to the vault
//! defender-functions doctor [--tenant NAME] [--function all|webhook-enrich]
//! defender-functions permissions                           # the table behind docs/permissions.md
//! ```
//! Both read the same environment as the functions (see `docs/configuration.md`).

use clap::{Parser, Subcommand};
use defender_shared::{
    auth::{DeviceCodeLogin, SystemClock, device_code_login},
    config::Config,
    doctor,
    ids::TenantName,
    runtime::Runtime,
};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "defender-functions", about = "Operate defender-functions: sign in, check permissions")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Sign a user in with the device-code flow and store the refresh token in the vault.
    Login {
        /// Tenant name in the registry (its credential must be `kind: user`).
        #[arg(long)]
        tenant: String,
        /// Scope to consent to first (the refresh token then serves every API of that user).
        #[arg(long, default_value = "https://api.securitycenter.microsoft.com/.default offline_access")]
        scope: String,
    },
    /// Print the permissions each function needs (the source of docs/permissions.md).
    Permissions,
    /// Check that each tenant's tokens hold the permissions the functions need.
    Doctor {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Which function's needs to check.
        #[arg(long, default_value = "all")]
        function: String,
    },
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("defender-functions: {}", chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// Every function and the documented endpoints it may call.
pub const FUNCTIONS: &[(&str, &[&str])] = &[
    ("webhook-enrich", webhook_enrich::ENDPOINTS),
    ("chatops", chatops::ENDPOINTS),
    ("scheduled-export", scheduled_export::ENDPOINTS),
];

async fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if let Command::Permissions = cli.command {
        print!("{}", doctor::permissions_markdown(FUNCTIONS));
        return Ok(ExitCode::SUCCESS);
    }
    let rt = Runtime::from_config(Config::from_env()?).await?;
    match cli.command {
        Command::Login { tenant, scope } => {
            let name: TenantName = tenant.parse()?;
            let cred = rt.tokens.tenant(&name).ok_or_else(|| format!("tenant {name} is not in the registry"))?;
            let login = DeviceCodeLogin::for_tenant(&name, cred, &scope)?;
            let outcome = device_code_login(&rt.http, rt.store.as_ref(), &login, &SystemClock, |p| {
                println!("{}", p.message);
            })
            .await?;
            println!(
                "signed in as {} — refresh token stored in secret '{}' (scopes: {})",
                outcome.user.as_deref().unwrap_or("(unknown user)"),
                outcome.refresh_token_secret,
                outcome.scopes.join(" ")
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Permissions => Ok(ExitCode::SUCCESS),
        Command::Doctor { tenant, function } => {
            let endpoints: Vec<&str> = if function == "all" {
                FUNCTIONS.iter().flat_map(|(_, e)| e.iter().copied()).collect()
            } else {
                let known: Vec<&str> = FUNCTIONS.iter().map(|(n, _)| *n).collect();
                FUNCTIONS
                    .iter()
                    .find(|(n, _)| *n == function)
                    .map(|(_, e)| e.to_vec())
                    .ok_or_else(|| format!("unknown function '{function}' (known: {})", known.join(", ")))?
            };
            let tenants: Vec<TenantName> = tenant.map(|t| t.parse()).transpose()?.into_iter().collect();
            let findings = doctor::check(&rt, &tenants, &endpoints).await;
            for f in &findings {
                println!("{f}");
            }
            Ok(if findings.iter().any(doctor::Finding::is_problem) { ExitCode::FAILURE } else { ExitCode::SUCCESS })
        }
    }
}
