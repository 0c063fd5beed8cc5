//! The CLI binary against the simulated tenant: `doctor` names missing permissions and exits non-zero;
//! `login` runs the device-code flow and stores the refresh token in the vault.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};
use tenant_sim::{SimOptions, start};

struct Env {
    _dir: TempDir,
    vars: Vec<(String, String)>,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.0).ok();
    }
}

fn env(sim: &tenant_sim::RunningSim, tag: &str, app: (&str, &str), registry: Option<String>) -> Env {
    let dir = std::env::temp_dir().join(format!("df-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &sim.ca_pem).unwrap();
    let mut vars = vec![
        ("AZURE_TENANT_ID".to_string(), sim.tenant_id()),
        ("AZURE_CLIENT_ID".into(), app.0.into()),
        ("AZURE_CLIENT_SECRET".into(), app.1.into()),
        ("AZURE_AUTHORITY_HOST".into(), sim.url.clone()),
        ("KEY_VAULT_URL".into(), sim.url.clone()),
        ("MDE_API_URL".into(), sim.url.clone()),
        ("XDR_API_URL".into(), sim.url.clone()),
        ("GRAPH_API_URL".into(), sim.url.clone()),
        ("DEFENDER_EXTRA_CA_FILE".into(), ca.display().to_string()),
        ("DEFENDER_LOCAL_MODE".into(), "1".into()),
    ];
    if let Some(doc) = registry {
        let path = dir.join("tenants.json");
        std::fs::write(&path, doc).unwrap();
        vars.push(("DEFENDER_TENANTS_FILE".into(), path.display().to_string()));
    }
    Env { _dir: TempDir(dir), vars }
}

fn cli(env: &Env, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_defender-functions"));
    c.args(args).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in &env.vars {
        c.env(k, v);
    }
    c
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_passes_for_the_demo_app_and_names_what_the_reader_lacks() {
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    let full =
        env(&sim, "full", ("11111111-1111-4111-8111-111111111111", "demo-secret-value-do-not-use-in-prod"), None);
    let out = tokio::task::spawn_blocking(move || cli(&full, &["doctor"]).output().unwrap()).await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // Every endpoint is permitted; but the demo app holds every role, and Ti.ReadWrite.All is one no
    // function needs: doctor names that excess and fails (it passed before the split-identity check).
    assert!(text.contains("ok       default Mde"), "{text}");
    assert!(!text.contains("MISSING"), "{text}");
    assert!(text.contains("EXCESS") && text.contains("Ti.ReadWrite.All"), "{text}");
    assert!(!out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));

    // Split identities: the one all-roles app, used for the enrichment, is named as too broad.
    let full = env(
        &sim,
        "full-enrich",
        ("11111111-1111-4111-8111-111111111111", "demo-secret-value-do-not-use-in-prod"),
        None,
    );
    let out =
        tokio::task::spawn_blocking(move || cli(&full, &["doctor", "--function", "webhook-enrich"]).output().unwrap())
            .await
            .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    let excess = text.lines().find(|l| l.starts_with("EXCESS   default Mde")).unwrap_or_else(|| panic!("{text}"));
    assert!(excess.contains("Machine.Isolate") && excess.contains("Machine.CollectForensics"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("EXCESS   default Xdr") && l.contains("Incident.ReadWrite.All")),
        "{text}"
    );

    let reader = env(&sim, "reader", ("22222222-2222-4222-8222-222222222222", "reporter-secret-value"), None);
    let out = tokio::task::spawn_blocking(move || {
        cli(&reader, &["doctor", "--function", "webhook-enrich"]).output().unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(text.contains("mde.files.get needs one of File.Read.All"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn login_stores_the_refresh_token_in_the_vault() {
    let sim = start(SimOptions::demo().unwrap()).await.unwrap();
    let registry = format!(
        r#"{{"tenants":[{{"name":"alice","tenant_id":"{}","client_id":"33333333-3333-4333-8333-333333333333","credential":{{"kind":"user","refresh_token_secret":"alice-refresh-token","client_id":"33333333-3333-4333-8333-333333333333"}}}}]}}"#,
        sim.tenant_id()
    );
    let e = env(
        &sim,
        "login",
        ("11111111-1111-4111-8111-111111111111", "demo-secret-value-do-not-use-in-prod"),
        Some(registry),
    );
    let mut child =
        cli(&e, &["login", "--tenant", "alice"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let reader = std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().unwrap().unwrap();
        tx.send(first).unwrap();
        lines.map_while(Result::ok).collect::<Vec<_>>()
    });
    let prompt = rx.await.unwrap();
    let code = prompt.split("enter the code ").nth(1).unwrap().split_whitespace().next().unwrap().to_string();
    let http = sim.client().unwrap();
    let r = http
        .post(format!("{}/_sim/devicecode/approve", sim.url))
        .json(&serde_json::json!({"user_code": code, "upn": "alice@contoso.com"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    let rest = reader.join().unwrap().join("\n");
    assert!(status.success(), "{rest}");
    assert!(rest.contains("signed in as alice@contoso.com"), "{rest}");
    assert!(rest.contains("alice-refresh-token"), "{rest}");
    let stored = sim.sim.tenant.lock().unwrap().secrets.get("alice-refresh-token").map(|v| v.len());
    assert_eq!(stored, Some(1), "the refresh token is in the vault");
}

#[test]
fn docs_permissions_md_is_current() {
    let out = Command::new(env!("CARGO_BIN_EXE_defender-functions")).arg("permissions").env_clear().output().unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/permissions.md")).unwrap_or_default();
    assert!(
        generated == committed,
        "docs/permissions.md is stale: run `cargo run -q -p defender-cli -- permissions > docs/permissions.md`"
    );
    assert!(generated.contains("| `mde.machines.get` | Machine.Read.All, Machine.ReadWrite.All |"), "{generated}");
}

#[test]
fn scripts_grant_permissions_sh_is_current_and_valid_bash() {
    let out = Command::new(env!("CARGO_BIN_EXE_defender-functions")).arg("grant-script").env_clear().output().unwrap();
    assert!(out.status.success());
    let generated = String::from_utf8(out.stdout).unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/grant-permissions.sh");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(generated == committed, "scripts/grant-permissions.sh is stale: run `make grant-script`");
    // The generated grant table (`function kind API:permission ...`) names every function.
    for f in ["webhook-enrich", "chatops", "scheduled-export"] {
        assert!(generated.contains(&format!("\n{f} application ")), "{f} missing");
    }
    // Isolation needs Machine.Isolate for chat-ops; the export reads incidents from XDR.
    assert!(
        generated.lines().any(|l| l.starts_with("chatops application ") && l.contains(" MDE:Machine.Isolate ")),
        "{generated}"
    );
    assert!(
        generated
            .lines()
            .any(|l| l.starts_with("scheduled-export application ") && l.contains(" XDR:Incident.Read.All")),
        "{generated}"
    );
    let check = Command::new("bash").args(["-n", path]).status().unwrap();
    assert!(check.success(), "bash -n refuses the script");
}

/// A recording stand-in for the Azure CLI: logs every call to `$AZ_LOG`; `az cloud show` answers the
/// active cloud's endpoints as the real CLI prints them (`$AZ_CLOUD_LOGIN`, `$AZ_CLOUD_GRAPH`, Graph with
/// its trailing slash); `az account show` the signed-in tenant; `az ad sp show` a role id named after
/// the permission; admin consent fails when `$AZ_CONSENT_FAILS` is set.
fn fake_az(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let az = dir.join("az");
    std::fs::write(
        &az,
        "#!/usr/bin/env bash\necho \"$*\" >> \"$AZ_LOG\"\n\
         case \"$1 $2\" in\n\
           'cloud show') if [[ \"$*\" == *activeDirectory* ]]; then echo \"$AZ_CLOUD_LOGIN\"; else echo \"$AZ_CLOUD_GRAPH\"; fi ;;\n\
           'account show') echo 4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f ;;\n\
         esac\n\
         if [[ \"$1 $2 $3\" == \"ad sp show\" ]]; then q=\"$*\"; p=\"${q#*value==\\'}\"; echo \"id-${p%%\\'*}\"; fi\n\
         if [[ \"$*\" == 'ad app permission admin-consent'* && -n \"${AZ_CONSENT_FAILS:-}\" ]]; then exit 1; fi\n",
    )
    .unwrap();
    std::process::Command::new("chmod").arg("+x").arg(&az).status().unwrap();
}

const COMMERCIAL_AZ: (&str, &str) = ("https://login.microsoftonline.com", "https://graph.microsoft.com/");
const US_GOV_AZ: (&str, &str) = ("https://login.microsoftonline.us", "https://graph.microsoft.us/");

struct GrantRun {
    ok: bool,
    stdout: String,
    stderr: String,
    calls: Vec<String>,
}

/// scripts/grant-permissions.sh with `args`, the fake CLI on PATH pointed at `cloud` (login, graph).
fn run_grant(dir: &std::path::Path, tag: &str, args: &[&str], cloud: (&str, &str), env: &[(&str, &str)]) -> GrantRun {
    let log = dir.join(format!("log-{tag}"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/grant-permissions.sh");
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut cmd = Command::new("bash");
    cmd.arg(script).args(args).env("PATH", path).env("AZ_LOG", &log).env_remove("DEFENDER_CLOUD");
    cmd.env("AZ_CLOUD_LOGIN", cloud.0).env("AZ_CLOUD_GRAPH", cloud.1);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    GrantRun {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        calls: std::fs::read_to_string(&log).unwrap_or_default().lines().map(str::to_string).collect(),
    }
}

impl GrantRun {
    /// The permissions added (`ad app permission add ... id-<name>=Role`).
    fn granted(&self) -> Vec<String> {
        self.calls
            .iter()
            .filter(|l| l.starts_with("ad app permission add"))
            .filter_map(|l| l.split("id-").nth(1).and_then(|r| r.split('=').next()).map(str::to_string))
            .collect()
    }
    fn consented(&self) -> bool {
        self.calls.iter().any(|l| l.starts_with("ad app permission admin-consent"))
    }
    /// Any call that changes the directory.
    fn wrote(&self) -> bool {
        self.calls.iter().any(|l| l.starts_with("ad app permission"))
    }
}

/// The committed grant script, run with a recording stand-in for the Azure CLI: what each identity's
/// app registration is actually granted. The reader (webhook-enrich, scheduled-export) gets no
/// response permission (`permissions::RESPONSE`); the responder gets the machine actions; an app id
/// without an identity is refused (split identities, docs/security.md).
#[test]
fn the_grant_script_gives_the_reader_app_no_response_permission_and_the_responder_its_actions() {
    use defender_shared::defender::permissions::RESPONSE;
    let dir = std::env::temp_dir().join(format!("df-cli-grant-{}", std::process::id()));
    fake_az(&dir);
    let app = "00000000-0000-4000-8000-00000000000a";
    let granted = |identity: Option<&str>| -> (bool, Vec<String>) {
        let mut args = vec![app];
        args.extend(identity);
        let run = run_grant(&dir, identity.unwrap_or("none"), &args, COMMERCIAL_AZ, &[]);
        (run.ok, run.granted())
    };
    let (ok, reader) = granted(Some("reader"));
    assert!(ok && !reader.is_empty(), "{reader:?}");
    let write: Vec<&String> = reader.iter().filter(|r| RESPONSE.contains(&r.as_str())).collect();
    assert!(write.is_empty(), "the reader app is granted response permissions: {write:?} (all: {reader:?})");
    assert!(reader.contains(&"Machine.ReadWrite.All".to_string()) && reader.contains(&"Incident.Read.All".to_string()));
    let (ok, responder) = granted(Some("responder"));
    assert!(ok, "{responder:?}");
    for r in ["Machine.Isolate", "Machine.Scan", "Machine.RestrictExecution", "Incident.ReadWrite.All"] {
        assert!(responder.contains(&r.to_string()), "{r}: {responder:?}");
    }
    assert!(!granted(None).0, "an app id without an identity is refused");
    assert!(!granted(Some("all")).0, "there is no one app for everything");
    std::fs::remove_dir_all(&dir).ok();
}

/// GCC High and DoD (docs/deploy.md, "Government clouds"): the Azure CLI adds permissions and consents
/// through its active cloud, so the script refuses to touch anything unless that cloud signs in at the
/// chosen cloud's authority and calls its Graph — DoD's is dod-graph.microsoft.us, not the CLI's
/// built-in AzureUSGovernment Graph — and the consent URL it prints is on the cloud's own sign-in host.
#[test]
fn the_grant_script_consents_in_the_government_clouds_and_refuses_a_cli_on_another_cloud() {
    let dir = std::env::temp_dir().join(format!("df-cli-grant-gov-{}", std::process::id()));
    fake_az(&dir);
    let app = "00000000-0000-4000-8000-00000000000b";
    let tenant = "4a6f2e1c-8d3b-4c7a-9e5f-2b1d0c9a8e7f";

    // DEFENDER_CLOUD (as the functions read it) says GCC High; the CLI is still on the commercial cloud.
    let run = run_grant(&dir, "env-high", &[app, "reader"], COMMERCIAL_AZ, &[("DEFENDER_CLOUD", "gcc-high")]);
    assert!(!run.ok, "a CLI on the commercial cloud must not grant a GCC High app: {:?}", run.calls);
    assert!(!run.wrote(), "nothing may be written before the cloud is right: {:?}", run.calls);
    assert!(run.stderr.contains("az cloud set --name AzureUSGovernment"), "{}", run.stderr);

    // GCC High with the CLI on AzureUSGovernment: granted and consented there.
    let run = run_grant(&dir, "high", &[app, "responder", "--cloud", "gcc-high"], US_GOV_AZ, &[]);
    assert!(run.ok, "{}", run.stderr);
    assert!(run.granted().contains(&"Machine.Isolate".to_string()) && run.consented(), "{:?}", run.calls);

    // DoD: AzureUSGovernment's Graph is graph.microsoft.us; a DoD tenant's is dod-graph.microsoft.us.
    let run = run_grant(&dir, "dod-gov", &[app, "reader", "--cloud=dod"], US_GOV_AZ, &[]);
    assert!(!run.ok && !run.wrote(), "{:?}", run.calls);
    assert!(
        run.stderr.contains("--endpoint-microsoft-graph-resource-id https://dod-graph.microsoft.us/"),
        "{}",
        run.stderr
    );
    let dod_az = ("https://login.microsoftonline.us/", "https://dod-graph.microsoft.us/");
    let run = run_grant(&dir, "dod", &[app, "reader", "--cloud", "dod"], dod_az, &[]);
    assert!(run.ok && run.consented(), "{}", run.stderr);

    // Without consent (or when it fails): the URL an administrator opens is on the cloud's own host.
    let url = format!("https://login.microsoftonline.us/{tenant}/adminconsent?client_id={app}");
    let run = run_grant(&dir, "high-later", &[app, "reader", "--cloud", "gcc-high", "--no-consent"], US_GOV_AZ, &[]);
    assert!(run.ok && !run.consented() && run.stdout.contains(&url), "{}", run.stdout);
    let run =
        run_grant(&dir, "high-fails", &[app, "reader", "--cloud", "gcc-high"], US_GOV_AZ, &[("AZ_CONSENT_FAILS", "1")]);
    assert!(!run.ok && run.stderr.contains(&url), "{}", run.stderr);

    // GCC signs in to commercial Entra; the GCC High CLI is the wrong one for it.
    assert!(run_grant(&dir, "gcc", &[app, "reader", "--cloud", "gcc"], COMMERCIAL_AZ, &[]).ok);
    assert!(!run_grant(&dir, "gcc-gov", &[app, "reader", "--cloud", "gcc"], US_GOV_AZ, &[]).ok);
    assert!(!run_grant(&dir, "bad", &[app, "reader", "--cloud", "azurechina"], COMMERCIAL_AZ, &[]).ok);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn sign_prints_curl_headers_that_verify() {
    use defender_shared::{secret::SecretString, webhook};
    let dir = std::env::temp_dir().join(format!("df-cli-sign-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("s");
    std::fs::write(&secret, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n").unwrap();
    let body = r#"{"indicators":{"ips":["10.1.2.3"]}}"#;
    let out = Command::new(env!("CARGO_BIN_EXE_defender-functions"))
        .args(["sign", "webhook", "--secret-file"])
        .arg(&secret)
        .args(["--body", body, "--id", "msg_cli"])
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).unwrap();
    assert!(!line.contains("MfKQ9r8"), "the secret is never printed");
    let h: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(h.len(), 3, "{line}");
    let ts: i64 = h[1].strip_prefix("-Hwebhook-timestamp:").unwrap().parse().unwrap();
    let expected = webhook::sign_standard(
        &SecretString::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        "msg_cli",
        ts,
        body.as_bytes(),
    )
    .unwrap();
    assert_eq!(h[0], "-Hwebhook-id:msg_cli");
    assert_eq!(h[2], format!("-Hwebhook-signature:{expected}"));
    let missing = Command::new(env!("CARGO_BIN_EXE_defender-functions"))
        .args(["sign", "slack", "--secret-file", "/nonexistent/secret", "--body", "a=b"])
        .env_clear()
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/secret"));
    std::fs::remove_dir_all(&dir).ok();
}
