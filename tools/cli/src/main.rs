//! `defender-functions` — the operator's command line.
//!
//! ```text
//! defender-functions login  --tenant NAME [--scope SCOPE]   # user context: device-code sign-in, refresh token to the vault
//! defender-functions doctor [--tenant NAME] [--function all|webhook-enrich]
//! defender-functions permissions                           # the table behind docs/permissions.md
//! defender-functions grant-script                          # scripts/grant-permissions.sh (az CLI), same source
//! defender-functions sign webhook|slack --secret-file F --body B   # curl -H arguments for a signed request
//! ```
//! `login` and `doctor` read the same environment as the functions (see `docs/configuration.md`);
//! the others read nothing from it.

mod grant;

use clap::{Parser, Subcommand};
use defender_shared::{
    auth::{DeviceCodeLogin, SystemClock, device_code_login},
    config::Config,
    defender::Endpoint,
    doctor,
    ids::TenantName,
    runtime::Runtime,
    secret::SecretString,
    webhook,
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
    /// Print the Azure CLI script that grants each function's permissions (scripts/grant-permissions.sh).
    GrantScript,
    /// Print curl `-H` arguments that sign a request body (for `make dev`'s commands).
    Sign {
        /// Which scheme.
        #[command(subcommand)]
        scheme: SignScheme,
    },
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

#[derive(Debug, Subcommand)]
enum SignScheme {
    /// Standard Webhooks (webhook-enrich): webhook-id, webhook-timestamp, webhook-signature.
    Webhook {
        /// A file holding the `whsec_...` secret (read, never printed).
        #[arg(long)]
        secret_file: std::path::PathBuf,
        /// The exact request body.
        #[arg(long)]
        body: String,
        /// The message id (default: msg_<unix time>).
        #[arg(long)]
        id: Option<String>,
    },
    /// Slack request signing (chat-ops): x-slack-request-timestamp, x-slack-signature.
    Slack {
        /// A file holding the Slack signing secret (read, never printed).
        #[arg(long)]
        secret_file: std::path::PathBuf,
        /// The exact request body.
        #[arg(long)]
        body: String,
    },
}

fn read_secret(path: &std::path::Path) -> Result<SecretString, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    Ok(SecretString::new(text.trim()))
}

/// The curl arguments for a signed request (header values hold no spaces, so `$(...)` splits them right).
fn sign(scheme: &SignScheme) -> Result<String, Box<dyn std::error::Error>> {
    let ts = defender_shared::clock::now_unix();
    Ok(match scheme {
        SignScheme::Webhook { secret_file, body, id } => {
            let id = id.clone().unwrap_or_else(|| format!("msg_{ts}"));
            let sig = webhook::sign_standard(&read_secret(secret_file)?, &id, ts, body.as_bytes())?;
            format!("-Hwebhook-id:{id} -Hwebhook-timestamp:{ts} -Hwebhook-signature:{sig}")
        }
        SignScheme::Slack { secret_file, body } => {
            let sig = webhook::sign_slack(&read_secret(secret_file)?, ts, body.as_bytes())?;
            format!("-Hx-slack-request-timestamp:{ts} -Hx-slack-signature:{sig}")
        }
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Cli::parse()).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("defender-functions: {}", defender_shared::errors::chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// Every function and the documented endpoints it may call.
pub const FUNCTIONS: &[(&str, &[Endpoint])] = &[
    ("webhook-enrich", webhook_enrich::ENDPOINTS),
    ("chatops", chatops::ENDPOINTS),
    ("scheduled-export", scheduled_export::ENDPOINTS),
];

/// The two app registrations (split identities, docs/security.md) and the functions each serves: the
/// template gives webhook-enrich and scheduled-export `ReaderClientId`, the chat-ops callback and
/// worker `ResponderClientId`.
pub const IDENTITIES: &[(&str, &[&str])] =
    &[("reader", &["webhook-enrich", "scheduled-export"]), ("responder", &["chatops"])];

async fn run(cli: Cli) -> Result<ExitCode, Box<dyn std::error::Error>> {
    match &cli.command {
        Command::Permissions => {
            print!("{}", doctor::permissions_markdown(FUNCTIONS, IDENTITIES));
            return Ok(ExitCode::SUCCESS);
        }
        Command::GrantScript => {
            print!("{}", grant::script(grant::TEMPLATE, FUNCTIONS, IDENTITIES)?);
            return Ok(ExitCode::SUCCESS);
        }
        Command::Sign { scheme } => {
            println!("{}", sign(scheme)?);
            return Ok(ExitCode::SUCCESS);
        }
        Command::Login { .. } | Command::Doctor { .. } => {}
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
        Command::Permissions | Command::GrantScript | Command::Sign { .. } => Ok(ExitCode::SUCCESS),
        Command::Doctor { tenant, function } => {
            let endpoints: Vec<Endpoint> = if function == "all" {
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
