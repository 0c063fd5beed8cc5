//! cargo-lambda's Lambda emulator with our prebuilt binaries attached to it.
//!
//! `cargo lambda watch --only-lambda-apis` serves the Runtime API (`/.rt/<function>/2018-06-01/...`),
//! the invoke API (`/2015-03-31/functions/<function>/invocations`) and function URLs
//! (`/lambda-url/<function>/...`) without building or starting anything itself: no rebuild or restart
//! loops. Each function binary is started here with `AWS_LAMBDA_RUNTIME_API` pointing at its own path,
//! polls for events like it does on Lambda, and answers through the same API.
//!
//! One correction sits in between: cargo-lambda 1.9 sends `lambda-runtime-deadline-ms: 600000` — a
//! constant, i.e. 1970 — instead of "now + timeout" in epoch milliseconds, so a function that
//! budgets its work by the deadline (the export stops early to commit its cursor) would stop at once.
//! [`LambdaWatch`] therefore serves each function's runtime API through a small pass-through proxy
//! that forwards every call unchanged and rewrites only that header on `/next` to now + the
//! function's timeout from `infra/template.yaml`.

use crate::{StackError, free_port, paths::Paths, tail, wait_listening};
use axum::{
    Router,
    body::{Body, Bytes},
    extract::{Path as UrlPath, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode},
    response::Response,
    routing::any,
};
use serde_json::Value;
use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};
use tokio::process::{Child, Command};

/// A running `cargo lambda watch --only-lambda-apis`.
#[derive(Debug)]
pub struct LambdaWatch {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    /// Its log file.
    pub log: PathBuf,
    /// The deadline-correcting pass-through to cargo-lambda's runtime API (`http://127.0.0.1:<port>`).
    pub runtime_proxy: String,
    child: Child,
    proxy: tokio::task::JoinHandle<()>,
}

impl Drop for LambdaWatch {
    fn drop(&mut self) {
        self.proxy.abort();
    }
}

/// Each function's timeout in `infra/template.yaml` (what Lambda's deadline would be).
pub fn timeout_of(function: &str) -> Duration {
    Duration::from_secs(match function {
        "webhook-enrich" => 15,
        "scheduled-export" => 600,
        "chatops-callback" => 10,
        _ => 60,
    })
}

#[derive(Clone)]
struct Proxy {
    upstream: String,
    http: reqwest::Client,
}

async fn forward(
    State(p): State<Proxy>,
    UrlPath((function, rest)): UrlPath<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let url = format!("{}/.rt/{function}/{rest}", p.upstream);
    let mut req = p.http.request(method, &url).body(body);
    for (k, v) in &headers {
        if k != "host" && k != "content-length" {
            req = req.header(k, v);
        }
    }
    let bad = |e: String| {
        let mut r = Response::new(Body::from(e));
        *r.status_mut() = StatusCode::BAD_GATEWAY;
        r
    };
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) => return bad(e.to_string()),
    };
    let status = resp.status();
    let mut out_headers = resp.headers().clone();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return bad(e.to_string()),
    };
    if rest.ends_with("runtime/invocation/next") && out_headers.contains_key("lambda-runtime-deadline-ms") {
        let now_ms =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let deadline = now_ms + timeout_of(&function).as_millis() as u64;
        if let Ok(v) = HeaderValue::from_str(&deadline.to_string()) {
            out_headers.insert("lambda-runtime-deadline-ms", v);
        }
    }
    out_headers.remove("content-length");
    out_headers.remove("transfer-encoding");
    let mut r = Response::new(Body::from(body));
    *r.status_mut() = status;
    *r.headers_mut() = out_headers;
    r
}

fn log_file(dir: &Path, name: &str) -> Result<(std::fs::File, PathBuf), StackError> {
    let path = dir.join(format!("{name}.log"));
    let f = std::fs::File::create(&path).map_err(StackError::io(format!("creating {}", path.display())))?;
    Ok((f, path))
}

impl LambdaWatch {
    /// Starts the emulator in the workspace root on a free loopback port, logging to `log_dir`.
    ///
    /// # Errors
    /// cargo-lambda is missing, cannot start, or does not listen within 60 s.
    pub async fn start(paths: &Paths, log_dir: &Path) -> Result<Self, StackError> {
        let bin = paths.cargo_lambda()?;
        let port = free_port()?;
        let (log, log_path) = log_file(log_dir, "cargo-lambda-watch")?;
        let err = log.try_clone().map_err(StackError::io("log file"))?;
        let venv_bin = bin.parent().map(Path::to_path_buf).unwrap_or_default();
        let path = std::env::join_paths(
            std::iter::once(venv_bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
        )
        .unwrap_or_default();
        let child = Command::new(bin)
            .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes", "-A", "127.0.0.1", "-P"])
            .arg(port.to_string())
            .args(["--timeout", "120"])
            .current_dir(&paths.root)
            .env("PATH", path)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| StackError::Spawn { what: "cargo lambda watch".into(), source })?;
        if !wait_listening(port, 60).await {
            return Err(StackError::NotListening {
                what: "cargo lambda watch".into(),
                addr: format!("127.0.0.1:{port}"),
                secs: 60,
                log: log_path.display().to_string(),
            });
        }
        let url = format!("http://127.0.0.1:{port}");
        let state = Proxy { upstream: url.clone(), http: reqwest::Client::new() };
        let app = Router::new().route("/.rt/{function}/{*rest}", any(forward)).with_state(state);
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(StackError::io("binding the runtime proxy"))?;
        let addr = listener.local_addr().map_err(StackError::io("runtime proxy address"))?;
        let proxy = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { url, log: log_path, runtime_proxy: format!("http://{addr}"), child, proxy })
    }

    /// The `AWS_LAMBDA_RUNTIME_API` of one function (through the deadline-correcting proxy).
    pub fn runtime_api(&self, function: &str) -> String {
        format!("{}/.rt/{function}", self.runtime_proxy)
    }

    /// A function URL (`path` starts with `/`).
    pub fn function_url(&self, function: &str, path: &str) -> String {
        format!("{}/lambda-url/{function}{path}", self.url)
    }

    /// The invoke API of one function.
    pub fn invoke_url(&self, function: &str) -> String {
        format!("{}/2015-03-31/functions/{function}/invocations", self.url)
    }

    /// Stops the emulator.
    pub async fn stop(mut self) {
        self.proxy.abort();
        let _ = self.child.kill().await;
    }
}

/// A function binary attached to the emulator.
#[derive(Debug)]
pub struct Function {
    /// Its name (the binary's).
    pub name: String,
    /// Its log file (the function's stdout and stderr: the lines CloudWatch would get).
    pub log: PathBuf,
    child: Child,
}

impl Function {
    /// Starts `name` from `paths.bins` with only `env` plus the Lambda runtime variables.
    ///
    /// # Errors
    /// The binary is missing or cannot be spawned.
    pub fn start(
        paths: &Paths,
        watch: &LambdaWatch,
        name: &str,
        env: &[(String, String)],
        log_dir: &Path,
    ) -> Result<Self, StackError> {
        let bin = paths.binary(name)?;
        let (log, log_path) = log_file(log_dir, name)?;
        let err = log.try_clone().map_err(StackError::io("log file"))?;
        let child = Command::new(&bin)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", watch.runtime_api(name))
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_REGION", "eu-west-1")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| StackError::Spawn { what: bin.display().to_string(), source })?;
        Ok(Self { name: name.into(), log: log_path, child })
    }

    /// `Err` with the log's tail when the process has ended.
    ///
    /// # Errors
    /// [`StackError::Exited`].
    pub fn alive(&mut self) -> Result<(), StackError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(self.exited(status.to_string())),
            Err(e) => Err(self.exited(e.to_string())),
        }
    }

    fn exited(&self, status: String) -> StackError {
        StackError::Exited {
            name: self.name.clone(),
            status,
            log: self.log.display().to_string(),
            tail: tail(&self.log, 15),
        }
    }

    /// Stops the process.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// What came back over HTTP.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status.
    pub status: u16,
    /// The body (JSON when it parses, otherwise a string).
    pub body: Value,
}

/// Sends `req`, failing early with the function's log if its process dies while we wait.
///
/// # Errors
/// The function exited, or the request failed.
pub async fn send(
    what: &str,
    req: reqwest::RequestBuilder,
    function: &mut Function,
    timeout: Duration,
) -> Result<Answer, StackError> {
    let fut = req.timeout(timeout).send();
    tokio::pin!(fut);
    let resp = loop {
        tokio::select! {
            r = &mut fut => break r.map_err(|source| StackError::Http { what: what.into(), source })?,
            () = tokio::time::sleep(Duration::from_millis(250)) => function.alive()?,
        }
    };
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(|source| StackError::Http { what: what.into(), source })?;
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Ok(Answer { status, body })
}
