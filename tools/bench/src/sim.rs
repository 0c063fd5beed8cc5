//! The simulated tenant in its own process (release `tenant-sim` next to this binary, quotas off, no
//! delays), so the memory measured is never the simulator's, and its request log read back to count
//! what each client asked Entra ID, Key Vault and Defender for.

use crate::BoxError;
use serde_json::Value;
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

/// A running simulator; killed when dropped.
pub struct Sim {
    child: std::process::Child,
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The CA it generated, PEM.
    pub ca_pem: String,
    /// Where that CA is written (for clients that take a file).
    pub ca_path: PathBuf,
    http: reqwest::Client,
}

impl Sim {
    /// The simulator's process id (to read its CPU time beside the measured process's).
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim").field("url", &self.url).field("ca_path", &self.ca_path).finish_non_exhaustive()
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim {
    /// Starts `tenant-sim --seed <seed>` (a path or `demo`) writing its CA into `dir`.
    ///
    /// # Errors
    /// The binary is missing (run `make bench`, which builds it) or did not announce its address.
    pub fn start(seed: &str, dir: &Path, name: &str) -> Result<Self, BoxError> {
        Self::start_with_latency(seed, dir, name, 0)
    }

    /// [`Sim::start`] with `latency_ms` injected per round trip (`tenant-sim --latency-ms`).
    ///
    /// # Errors
    /// As [`Sim::start`].
    pub fn start_with_latency(seed: &str, dir: &Path, name: &str, latency_ms: u64) -> Result<Self, BoxError> {
        let exe = std::env::current_exe()?.with_file_name("tenant-sim");
        let ca_path = dir.join(format!("{name}-ca.pem"));
        let mut child = Command::new(&exe)
            .args(["--addr", "127.0.0.1:0", "--no-quotas", "--seed", seed, "--ca-out"])
            .arg(&ca_path)
            .args(["--latency-ms", &latency_ms.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e} (run `make bench`, which builds it)", exe.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut reader = BufReader::new(stdout);
        let mut first = String::new();
        reader.read_line(&mut first)?;
        // Keep draining the simulator's stdout so it never writes into a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut reader, &mut std::io::sink()));
        let url = first
            .trim()
            .strip_prefix("tenant-sim listening on ")
            .ok_or_else(|| format!("unexpected first line from tenant-sim: {first:?}"))?
            .to_string();
        let ca_pem = std::fs::read_to_string(&ca_path)?;
        let http = defender_shared::http::client(Some(&ca_pem))?;
        Ok(Self { child, url, ca_pem, ca_path, http })
    }

    /// Empties the request log.
    ///
    /// # Errors
    /// The control API did not answer.
    pub async fn clear_log(&self) -> Result<(), BoxError> {
        let r = self.http.delete(format!("{}/_sim/requests", self.url)).send().await?;
        if !r.status().is_success() {
            return Err(format!("clearing the request log: {}", r.status()).into());
        }
        Ok(())
    }

    /// Empties the timeline of connections and requests.
    ///
    /// # Errors
    /// The control API did not answer.
    pub async fn clear_timeline(&self) -> Result<(), BoxError> {
        let r = self.http.delete(format!("{}/_sim/timeline", self.url)).send().await?;
        if !r.status().is_success() {
            return Err(format!("clearing the timeline: {}", r.status()).into());
        }
        Ok(())
    }

    /// The timeline of connections and requests since it was last cleared.
    ///
    /// # Errors
    /// The control API did not answer or answered something else.
    pub async fn timeline(&self) -> Result<Vec<tenant_sim::latency::Span>, BoxError> {
        let doc: Value = self.http.get(format!("{}/_sim/timeline", self.url)).send().await?.json().await?;
        Ok(serde_json::from_value(doc["value"].clone())?)
    }

    /// What the simulator was asked since the log was last cleared, counted.
    ///
    /// # Errors
    /// The control API did not answer.
    pub async fn counts(&self) -> Result<Counts, BoxError> {
        let log: Value = self.http.get(format!("{}/_sim/requests", self.url)).send().await?.json().await?;
        Ok(Counts::of(log["value"].as_array().map(Vec::as_slice).unwrap_or_default()))
    }
}

/// Requests in the simulator's log, by what they were for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `POST …/oauth2/v2.0/token`.
    pub token: usize,
    /// Key Vault secret reads that returned the secret.
    pub vault_reads: usize,
    /// Key Vault requests answered 401 (the SDK's challenge round trip, or a refusal).
    pub vault_challenges: usize,
    /// Defender for Endpoint API calls (`/api/…`).
    pub defender: usize,
    /// Anything else (OIDC discovery, Graph, XDR…), the control API excluded.
    pub other: usize,
}

impl Counts {
    /// Counts log entries (`method`, `path`, `status`).
    pub fn of(log: &[Value]) -> Self {
        let mut c = Self::default();
        for e in log {
            let path = e["path"].as_str().unwrap_or_default();
            let status = e["status"].as_u64().unwrap_or_default();
            if path.starts_with("/_sim/") {
                continue;
            }
            if path.ends_with("/oauth2/v2.0/token") {
                c.token += 1;
            } else if path.starts_with("/secrets") {
                if status == 401 {
                    c.vault_challenges += 1;
                } else if status == 200 && e["method"] == "GET" {
                    c.vault_reads += 1;
                } else {
                    c.other += 1;
                }
            } else if path.starts_with("/api/") {
                c.defender += 1;
            } else {
                c.other += 1;
            }
        }
        c
    }

    /// "N token requests, M vault reads (+C challenges)".
    pub fn summary(&self) -> String {
        format!(
            "{} token requests, {} vault reads (+{} 401 challenges), {} Defender calls, {} other",
            self.token, self.vault_reads, self.vault_challenges, self.defender, self.other
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn log_entries_are_counted_by_purpose() {
        let log = vec![
            json!({"method": "POST", "path": "/t/oauth2/v2.0/token", "status": 200}),
            json!({"method": "GET", "path": "/secrets/webhook-secret", "status": 401}),
            json!({"method": "GET", "path": "/secrets/webhook-secret", "status": 200}),
            json!({"method": "GET", "path": "/api/machines/abc", "status": 200}),
            json!({"method": "GET", "path": "/t/v2.0/.well-known/openid-configuration", "status": 200}),
            json!({"method": "GET", "path": "/_sim/requests", "status": 200}),
        ];
        let c = Counts::of(&log);
        assert_eq!(c, Counts { token: 1, vault_reads: 1, vault_challenges: 1, defender: 1, other: 1 });
        assert!(c.summary().starts_with("1 token requests, 1 vault reads (+1 401 challenges)"));
    }
}
