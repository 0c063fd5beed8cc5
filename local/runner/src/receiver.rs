//! A local stand-in for Slack's `response_url`: records every JSON POST to `/hook/<id>`.

use crate::StackError;
use axum::{Json, Router, extract::Path, routing::post};
use serde_json::Value;
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

/// The running receiver.
#[derive(Debug)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook/` (append an id).
    pub base: String,
    posts: Arc<Mutex<Vec<(String, Value)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Starts on an ephemeral loopback port.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn start() -> Result<Self, StackError> {
        let posts: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let p = posts.clone();
        let app = Router::new().route(
            "/hook/{id}",
            post(move |Path(id): Path<String>, Json(v): Json<Value>| {
                let p = p.clone();
                async move {
                    if let Ok(mut g) = p.lock() {
                        g.push((id, v));
                    }
                    "ok"
                }
            }),
        );
        let listener =
            tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(StackError::io("binding the receiver"))?;
        let addr = listener.local_addr().map_err(StackError::io("receiver address"))?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { base: format!("http://{addr}/hook/"), posts, task })
    }

    /// What was posted to `/hook/<id>`, in order.
    pub fn posted(&self, id: &str) -> Vec<Value> {
        self.posts
            .lock()
            .map(|g| g.iter().filter(|(h, _)| h == id).map(|(_, v)| v.clone()).collect())
            .unwrap_or_default()
    }

    /// Every post so far, as `(id, body)`, in order.
    pub fn all(&self) -> Vec<(String, Value)> {
        self.posts.lock().map(|g| g.clone()).unwrap_or_default()
    }

    /// Waits (bounded) until `/hook/<id>` has at least `n` posts, and returns them.
    pub async fn wait_for(&self, id: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let until = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.posted(id);
            if got.len() >= n || tokio::time::Instant::now() >= until {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
