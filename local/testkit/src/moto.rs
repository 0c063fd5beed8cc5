//! The one starter of moto's server (`.venv/moto`, installed by `make moto`) for every test that needs
//! AWS stand-ins (S3, SQS, DynamoDB, CloudWatch Logs — one server serves them all). It runs
//! `strict_moto.py` (beside this crate's `Cargo.toml`), which corrects what moto gets wrong or lets
//! through (conditions, DynamoDB/Logs resource ARNs, S3's 403 for a missing key without
//! `s3:ListBucket`; docs/security.md). The server stops when the [`Moto`] is dropped.
//!
//! - [`Moto::start`]: no IAM, every request allowed (the stores' own tests, static credentials);
//! - [`Moto::start_with_iam`]: the [`Plan`]'s resources and roles are created, one session is assumed
//!   per role, and from then on every request is checked against its caller's policies.

use serde_json::{Value, json};
use std::{
    collections::HashMap,
    io::{BufRead, BufReader},
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
    /// Spawning, binding or writing the plan failed.
    #[error("cannot start moto")]
    Io(#[from] std::io::Error),
    /// It never said it was ready.
    #[error("moto on port {0} was not ready within 60 s (or failed its setup; run strict_moto.py by hand to see why)")]
    NotReady(u16),
    /// Its ready line was not the expected JSON.
    #[error("moto's ready line is not understood: {0}")]
    Protocol(String),
}

/// AWS credentials of one principal of the stand-in.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key (a stand-in value, never a real one).
    pub secret_access_key: String,
    /// Session token (assumed roles).
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

impl Credentials {
    fn from_json(v: &Value) -> Option<Self> {
        Some(Self {
            access_key_id: v["access_key_id"].as_str()?.to_string(),
            secret_access_key: v["secret_access_key"].as_str()?.to_string(),
            session_token: v["session_token"].as_str().map(str::to_string),
        })
    }

    /// The variables the AWS SDKs read these credentials from (as Lambda sets them for a role).
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("AWS_ACCESS_KEY_ID".to_string(), self.access_key_id.clone()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), self.secret_access_key.clone()),
        ];
        if let Some(t) = &self.session_token {
            v.push(("AWS_SESSION_TOKEN".to_string(), t.clone()));
        }
        v
    }
}

/// One IAM role of a [`Plan`]: its name and its inline policies (`{"PolicyName", "PolicyDocument"}`,
/// as CloudFormation's `AWS::IAM::Role.Policies`).
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// Role name.
    pub name: String,
    /// Inline policies.
    pub policies: Vec<Value>,
}

/// What [`Moto::start_with_iam`] creates before it enforces IAM.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// Region (default `us-east-1`).
    pub region: Option<String>,
    /// Bucket names.
    pub buckets: Vec<String>,
    /// Queue names (with their SQS attributes, e.g. `RedrivePolicy`).
    pub queues: Vec<(String, Value)>,
    /// Table names (hash key `pk`, string — the chat-ops idempotency table's schema).
    pub tables: Vec<String>,
    /// Log group names.
    pub log_groups: Vec<String>,
    /// Roles: each gets one assumed-role session.
    pub roles: Vec<Role>,
}

impl Plan {
    fn to_json(&self) -> Value {
        json!({
            "region": self.region.as_deref().unwrap_or("us-east-1"),
            "buckets": self.buckets,
            "queues": self.queues.iter().map(|(n, a)| json!({"name": n, "attributes": a})).collect::<Vec<_>>(),
            "tables": self.tables,
            "log_groups": self.log_groups,
            "roles": self.roles.iter().map(|r| json!({"name": r.name, "policies": r.policies})).collect::<Vec<_>>(),
        })
    }
}

/// A running moto server.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// With IAM: an administrator, for a test's own set-up and inspection.
    pub admin: Option<Credentials>,
    roles: HashMap<String, Credentials>,
    queues: HashMap<String, String>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn venv() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/moto")
}

/// moto's Python (`<workspace>/.venv/moto/bin/python`), which runs `strict_moto.py`.
pub fn python() -> PathBuf {
    venv().join("bin/python")
}

/// The launcher script.
pub fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("strict_moto.py")
}

impl Moto {
    /// Starts moto on a free loopback port without IAM: every request is allowed.
    ///
    /// # Errors
    /// [`MotoError`].
    pub async fn start() -> Result<Self, MotoError> {
        Self::spawn(None).await
    }

    /// Starts moto, creates `plan` (resources, roles with exactly their policies, one assumed-role
    /// session per role) and from then on enforces IAM on every request.
    ///
    /// # Errors
    /// [`MotoError`] (a set-up call that fails ends the server before it is ready).
    pub async fn start_with_iam(plan: &Plan) -> Result<Self, MotoError> {
        Self::spawn(Some(plan.to_json())).await
    }

    async fn spawn(plan: Option<Value>) -> Result<Self, MotoError> {
        let bin = python();
        if !bin.exists() {
            return Err(MotoError::NotInstalled(bin.display().to_string()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut cmd = Command::new(bin);
        cmd.arg(script()).args(["--port", &port.to_string()]);
        let plan_file = match plan {
            Some(p) => {
                let path = std::env::temp_dir().join(format!("strict-moto-plan-{}-{port}.json", std::process::id()));
                std::fs::write(&path, p.to_string())?;
                cmd.arg("--plan").arg(&path);
                Some(path)
            }
            None => None,
        };
        let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn()?;
        let stdout = child.stdout.take();
        let line = tokio::time::timeout(
            Duration::from_secs(60),
            tokio::task::spawn_blocking(move || {
                let mut line = String::new();
                if let Some(out) = stdout {
                    let _ = BufReader::new(out).read_line(&mut line);
                }
                line
            }),
        )
        .await;
        if let Some(p) = plan_file {
            let _ = std::fs::remove_file(p);
        }
        let mut moto = Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            admin: None,
            roles: HashMap::new(),
            queues: HashMap::new(),
        };
        let line = match line {
            Ok(Ok(l)) if !l.trim().is_empty() => l,
            _ => return Err(MotoError::NotReady(port)),
        };
        let ready: Value = serde_json::from_str(&line).map_err(|e| MotoError::Protocol(e.to_string()))?;
        moto.admin = ready.get("admin").and_then(Credentials::from_json);
        if let Some(roles) = ready["roles"].as_object() {
            for (name, c) in roles {
                let c = Credentials::from_json(c).ok_or_else(|| MotoError::Protocol(format!("role {name}")))?;
                moto.roles.insert(name.clone(), c);
            }
        }
        if let Some(queues) = ready["queues"].as_object() {
            for (name, url) in queues {
                moto.queues.insert(name.clone(), url.as_str().unwrap_or_default().to_string());
            }
        }
        Ok(moto)
    }

    /// The assumed-role session of `role` (with IAM).
    pub fn role(&self, role: &str) -> Option<&Credentials> {
        self.roles.get(role)
    }

    /// The URL moto gave the queue `name` (with IAM).
    pub fn queue_url(&self, name: &str) -> Option<&str> {
        self.queues.get(name).map(String::as_str)
    }

    /// The environment that points every AWS SDK client at this server (`AWS_ENDPOINT_URL`) with
    /// `creds`, in us-east-1.
    pub fn env(&self, creds: &Credentials) -> Vec<(String, String)> {
        let mut v = creds.env();
        v.push(("AWS_ENDPOINT_URL".into(), self.url.clone()));
        v.push(("AWS_REGION".into(), "us-east-1".into()));
        v
    }

    /// [`Moto::env`] with static test credentials (for a server without IAM).
    pub fn open_env(&self) -> Vec<(String, String)> {
        self.env(&Credentials { access_key_id: "test".into(), secret_access_key: "test".into(), session_token: None })
    }
}
