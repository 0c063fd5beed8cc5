//! A function's real binary as Lambda runs it: spawned with the Runtime API emulator's variables and
//! the environment given, its stderr kept so that a failed invocation shows why.

use lambda_emu::Emulator;
use serde_json::Value;
use std::{process::Stdio, time::Duration};
use tokio::process::{Child, Command};

/// A running binary and its Runtime API (the binary is killed when this is dropped).
pub struct Binary {
    /// The binary's Runtime API.
    pub emu: Emulator,
    child: Option<Child>,
}

impl std::fmt::Debug for Binary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binary").field("running", &self.child.is_some()).finish_non_exhaustive()
    }
}

impl Binary {
    /// Spawns `bin` as the function `name` with only the emulator's variables and `env`.
    ///
    /// # Panics
    /// When the emulator cannot start or the binary cannot be spawned.
    pub async fn spawn(bin: &str, name: &str, env: impl IntoIterator<Item = (String, String)>) -> Self {
        let emu = Emulator::start().await.unwrap_or_else(|e| panic!("the Runtime API emulator: {e}"));
        let child = Command::new(bin)
            .env_clear()
            .envs(emu.env(name))
            .envs(env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {bin}: {e}"));
        Self { emu, child: Some(child) }
    }

    /// Invokes the function with `event` and answers its response as JSON.
    ///
    /// # Panics
    /// When the invocation fails (the binary's stderr is in the message) or the answer is not JSON.
    pub async fn invoke(&mut self, event: &Value, timeout: Duration) -> Value {
        match self.emu.invoke(event, timeout).await {
            Ok(answer) => serde_json::from_slice(&answer).unwrap_or_else(|e| panic!("the answer is no JSON: {e}")),
            Err(e) => {
                let stderr = match self.child.take() {
                    Some(mut child) => {
                        let _ = child.start_kill();
                        let out = child.wait_with_output().await.map(|o| o.stderr).unwrap_or_default();
                        String::from_utf8_lossy(&out).into_owned()
                    }
                    None => String::new(),
                };
                panic!("{e}\nstderr:\n{stderr}");
            }
        }
    }
}
