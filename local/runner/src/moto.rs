//! moto's S3 server (`.venv/moto/bin/moto_server`) on an ephemeral loopback port.

use crate::{StackError, free_port, paths::Paths, wait_listening};
use std::process::Stdio;

/// A running moto server; killed on drop.
#[derive(Debug)]
pub struct Moto {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    _child: tokio::process::Child,
}

impl Moto {
    /// Starts moto.
    ///
    /// # Errors
    /// moto is not installed, or does not listen within 30 s.
    pub async fn start(paths: &Paths) -> Result<Self, StackError> {
        let bin = paths.moto()?;
        let port = free_port()?;
        let child = tokio::process::Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| StackError::Spawn { what: "moto_server".into(), source })?;
        if !wait_listening(port, 30).await {
            return Err(StackError::NotListening {
                what: "moto_server".into(),
                addr: format!("127.0.0.1:{port}"),
                secs: 30,
                log: "(not kept)".into(),
            });
        }
        Ok(Self { url: format!("http://127.0.0.1:{port}"), _child: child })
    }

    /// The environment that points an AWS SDK at this server (static test credentials).
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL_S3", self.url.as_str()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }
}
