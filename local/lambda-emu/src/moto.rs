//! moto's server (`.venv/moto/bin/moto_server`, installed by `make moto`) on an ephemeral port, for
//! tests of the AWS stand-ins (S3, SQS, DynamoDB — one server serves them all). The server stops
//! when the [`Moto`] is dropped.

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

/// Why moto could not be started.
#[derive(Debug, thiserror::Error)]
pub enum MotoError {
    /// The venv is missing.
    #[error("moto is not installed: run `make moto` (or `make venv`) first; looked for {0}")]
    NotInstalled(String),
    /// Spawning or binding failed.
    #[error("cannot start moto_server")]
    Io(#[from] std::io::Error),
    /// It never listened.
    #[error("moto_server did not listen on {0} within 10 s")]
    NotListening(u16),
}

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The moto server binary of this workspace (`<workspace>/.venv/moto/bin/moto_server`).
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/moto/bin/moto_server")
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it accepts connections.
    ///
    /// # Errors
    /// [`MotoError`].
    pub async fn start() -> Result<Self, MotoError> {
        let bin = binary();
        if !bin.exists() {
            return Err(MotoError::NotInstalled(bin.display().to_string()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let moto = Self { child, url: format!("http://127.0.0.1:{port}") };
        // Start-up, not test logic: poll the port with a bound.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Ok(moto);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(MotoError::NotListening(port))
    }
}
