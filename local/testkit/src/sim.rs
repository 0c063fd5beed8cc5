//! "Point this function at the simulator": the simulated tenant started in-process, its CA written to
//! a file of the test's own, and the environment a deployed function reads (`docs/configuration.md`)
//! with every Microsoft endpoint at the simulator.
//!
//! ```ignore
//! let sim = SimEnv::demo().await;                      // derefs to tenant_sim::RunningSim
//! let rt = sim.runtime().await;                        // defender_shared::Runtime over that env
//! let cfg = EnrichConfig::from_lookup(sim.lookup(&[("WEBHOOK_CALLBACK_URL", url)])).unwrap();
//! Command::new(bin).env_clear().envs(sim.env()) ...    // a real binary, same variables
//! let calls = requests(&sim).await;                    // what Defender received (`/_sim/requests`)
//! ```

use crate::demo;
use defender_shared::{
    config::Config,
    runtime::Runtime,
    secret::SecretString,
    vault::{SecretStore, VaultError},
};
use serde_json::Value;
use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::atomic::{AtomicU64, Ordering},
};
use tenant_sim::{RunningSim, SimOptions};

/// The variables every function gets, pointed at the simulator at `url` (tenant `tenant`) whose CA is
/// in `ca`: the demo app's client secret, the authority, the vault and the three API hosts, the extra
/// CA and local mode.
pub fn function_env(url: &str, tenant: &str, ca: &Path) -> Vec<(String, String)> {
    [
        ("AZURE_TENANT_ID", tenant),
        ("AZURE_CLIENT_ID", demo::APP),
        ("AZURE_CLIENT_SECRET", demo::SECRET),
        ("AZURE_AUTHORITY_HOST", url),
        ("KEY_VAULT_URL", url),
        ("MDE_API_URL", url),
        ("XDR_API_URL", url),
        ("GRAPH_API_URL", url),
        ("DEFENDER_EXTRA_CA_FILE", &ca.display().to_string()),
        ("DEFENDER_LOCAL_MODE", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A directory of its own under the system temp dir (`<prefix>-<pid>-<n>`), created.
///
/// # Panics
/// When it cannot be created (a test set-up failure).
pub fn temp_dir(prefix: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir =
        std::env::temp_dir().join(format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// A running simulator with its CA written to a file, and the environment that points a function at it.
/// Derefs to [`RunningSim`] (`.url`, `.sim`, `.client()`, `.tenant_id()`); the directory is removed on drop.
#[derive(Debug)]
pub struct SimEnv {
    /// The simulator.
    pub running: RunningSim,
    /// The CA file (`DEFENDER_EXTRA_CA_FILE`).
    pub ca: PathBuf,
    /// The test's own directory (holds the CA; put a test's files here).
    pub dir: PathBuf,
}

impl std::ops::Deref for SimEnv {
    type Target = RunningSim;
    fn deref(&self) -> &RunningSim {
        &self.running
    }
}

impl Drop for SimEnv {
    fn drop(&mut self) {
        std::fs::remove_dir_all(&self.dir).ok();
    }
}

impl SimEnv {
    /// The demo tenant ([`SimOptions::demo`]).
    ///
    /// # Panics
    /// When the simulator cannot start (a test set-up failure).
    pub async fn demo() -> Self {
        Self::start(SimOptions::demo().unwrap_or_else(|e| panic!("demo seed: {e}"))).await
    }

    /// A simulator started with `opts`.
    ///
    /// # Panics
    /// When the simulator cannot start.
    pub async fn start(opts: SimOptions) -> Self {
        let running = tenant_sim::start(opts).await.unwrap_or_else(|e| panic!("the simulator did not start: {e}"));
        Self::around(running)
    }

    /// Points at a simulator the test started itself.
    ///
    /// # Panics
    /// When the CA file cannot be written.
    pub fn around(running: RunningSim) -> Self {
        let dir = temp_dir("df-sim");
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, &running.ca_pem).unwrap_or_else(|e| panic!("cannot write {}: {e}", ca.display()));
        Self { running, ca, dir }
    }

    /// The variables every function gets ([`function_env`]).
    pub fn env(&self) -> Vec<(String, String)> {
        function_env(&self.running.url, &self.running.tenant_id(), &self.ca)
    }

    /// [`SimEnv::env`] less the variables named in `names` (a function that must run without them).
    pub fn env_without(&self, names: &[&str]) -> Vec<(String, String)> {
        self.env().into_iter().filter(|(k, _)| !names.contains(&k.as_str())).collect()
    }

    /// [`SimEnv::env`] with `extra` added (a later value wins), as a map.
    pub fn env_with(&self, extra: &[(&str, String)]) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = self.env().into_iter().collect();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        env
    }

    /// A `from_lookup` closure over [`SimEnv::env_with`]`(extra)`.
    pub fn lookup(&self, extra: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
        let env = self.env_with(extra);
        move |k| env.get(k).cloned()
    }

    /// The shared runtime (config, vault, token provider, HTTP client) a function builds at cold start,
    /// from [`SimEnv::env`].
    ///
    /// # Panics
    /// When the configuration is refused or the runtime cannot be built.
    pub async fn runtime(&self) -> Runtime {
        self.runtime_with(&[]).await
    }

    /// [`SimEnv::runtime`] with `extra` variables.
    ///
    /// # Panics
    /// As [`SimEnv::runtime`].
    pub async fn runtime_with(&self, extra: &[(&str, String)]) -> Runtime {
        let config = Config::from_lookup(self.lookup(extra)).unwrap_or_else(|e| panic!("config refused: {e}"));
        Runtime::from_config(config).await.unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    /// A value of the simulated vault (the demo seed's `secrets`), e.g. `slack-signing-secret`.
    ///
    /// # Panics
    /// When the seed holds no such secret.
    pub fn secret(&self, name: &str) -> String {
        let tenant = self.running.sim.tenant.lock().unwrap_or_else(|e| e.into_inner());
        tenant.seed.secrets.get(name).map(ToString::to_string).unwrap_or_else(|| panic!("no secret {name}"))
    }
}

/// A secret store that holds nothing (every read and write is `NotFound`): for a token provider whose
/// credentials are all inline, so that a test proves no secret is looked up.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoStore;

type Answer<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, VaultError>> + Send + 'a>>;

impl SecretStore for NoStore {
    fn get<'a>(&'a self, name: &'a str) -> Answer<'a, SecretString> {
        Box::pin(async move { Err(VaultError::NotFound(name.into())) })
    }
    fn get_fresh<'a>(&'a self, name: &'a str) -> Answer<'a, SecretString> {
        self.get(name)
    }
    fn set<'a>(&'a self, name: &'a str, _: &'a SecretString) -> Answer<'a, ()> {
        Box::pin(async move { Err(VaultError::NotFound(name.into())) })
    }
}

/// The simulator's request log (`GET /_sim/requests`, its `value`): one JSON object per call Defender,
/// Entra or the vault received, in order (`method`, `path`, `query`, `status`, `client`, ...).
///
/// # Panics
/// When the control API does not answer.
pub async fn requests(sim: &RunningSim) -> Vec<Value> {
    let http = sim.client().unwrap_or_else(|e| panic!("client: {e}"));
    let resp = http.get(format!("{}/_sim/requests", sim.url)).send().await;
    let resp = resp.unwrap_or_else(|e| panic!("/_sim/requests: {e}"));
    let log: Value = resp.json().await.unwrap_or_else(|e| panic!("/_sim/requests is not JSON: {e}"));
    log["value"].as_array().cloned().unwrap_or_else(|| panic!("/_sim/requests has no value: {log}"))
}

/// One entry of the simulator's request log, typed (what most assertions on it read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string (`""` without one).
    pub query: String,
    /// The status the simulator answered.
    pub status: u16,
    /// The client (app) id the call authenticated as, where it did.
    pub client: Option<String>,
}

/// The entries of [`requests`] whose path starts with `prefix`, in order.
///
/// # Panics
/// As [`requests`], or when an entry lacks its method, path, query or status.
pub async fn logged(sim: &RunningSim, prefix: &str) -> Vec<Logged> {
    let text = |e: &Value, k: &str| e[k].as_str().unwrap_or_else(|| panic!("log entry without {k}: {e}")).to_string();
    requests(sim)
        .await
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.starts_with(prefix)))
        .map(|e| Logged {
            method: text(e, "method"),
            path: text(e, "path"),
            query: text(e, "query"),
            status: e["status"].as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or_else(|| panic!("status: {e}")),
            client: e["client"].as_str().map(str::to_string),
        })
        .collect()
}

/// The paths of [`requests`], in order.
///
/// # Panics
/// As [`requests`].
pub async fn request_paths(sim: &RunningSim) -> Vec<String> {
    requests(sim).await.iter().filter_map(|e| e["path"].as_str().map(str::to_string)).collect()
}

/// Sends `request` and reads its answer as JSON, whatever the status (a test asserts on the body).
///
/// # Panics
/// When the request cannot be sent or the answer is not JSON.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let resp = request.send().await.unwrap_or_else(|e| panic!("request not sent: {e}"));
    let status = resp.status();
    resp.json().await.unwrap_or_else(|e| panic!("the {status} answer is not JSON: {e}"))
}

/// Empties the request log (`DELETE /_sim/requests`).
///
/// # Panics
/// When the control API does not answer.
pub async fn clear_requests(sim: &RunningSim) {
    let http = sim.client().unwrap_or_else(|e| panic!("client: {e}"));
    http.delete(format!("{}/_sim/requests", sim.url)).send().await.unwrap_or_else(|e| panic!("{e}"));
}
