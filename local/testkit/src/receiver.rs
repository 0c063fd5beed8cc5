//! A local stand-in for Slack's `response_url`: records every JSON POST to `/hook/<id>` that Slack
//! would take. As Slack documents, a `response_url` takes at most 5 posts within 30 minutes of the
//! interaction: the sixth post answers 404 `used_url`, a later one 404 `expired_url` (the interaction
//! time is the first post's unless [`Receiver::issue`] registered it), and a refused post is not
//! recorded. (The strict Web API stand-in, `chat.postMessage` and `users.info`, is chat-ops' own, in
//! `functions/chatops/tests/common`: it needs issued ids and the bot token.)

use axum::{Json, Router, extract::Path, http::StatusCode, routing::post};
use serde_json::Value;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

/// Posts a `response_url` takes.
pub const MAX_POSTS: usize = 5;
/// How long a `response_url` lives after the interaction.
pub const LIFETIME: Duration = Duration::from_secs(30 * 60);

/// The running receiver.
#[derive(Debug)]
pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook/` (append an id).
    pub base: String,
    posts: Arc<Mutex<Vec<(String, Value)>>>,
    issued: Arc<Mutex<HashMap<String, Instant>>>,
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
    pub async fn start() -> Result<Self, std::io::Error> {
        let posts: Arc<Mutex<Vec<(String, Value)>>> = Arc::default();
        let issued: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let (p, i) = (posts.clone(), issued.clone());
        let app = Router::new().route(
            "/hook/{id}",
            post(move |Path(id): Path<String>, Json(v): Json<Value>| {
                let (p, i) = (p.clone(), i.clone());
                async move {
                    let (Ok(mut posts), Ok(mut issued)) = (p.lock(), i.lock()) else {
                        return (StatusCode::INTERNAL_SERVER_ERROR, "internal_error");
                    };
                    let at = *issued.entry(id.clone()).or_insert_with(Instant::now);
                    if at.elapsed() >= LIFETIME {
                        return (StatusCode::NOT_FOUND, "expired_url");
                    }
                    if posts.iter().filter(|(h, _)| *h == id).count() >= MAX_POSTS {
                        return (StatusCode::NOT_FOUND, "used_url");
                    }
                    posts.push((id, v));
                    (StatusCode::OK, "ok")
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { base: format!("http://{addr}/hook/"), posts, issued, task })
    }

    /// Registers the interaction that issued `/hook/<id>` as happening now (the 30 minutes run from
    /// here, not from the first post).
    pub fn issue(&self, id: &str) {
        if let Ok(mut g) = self.issued.lock() {
            g.entry(id.to_string()).or_insert_with(Instant::now);
        }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn a_response_url_takes_five_posts_then_slack_refuses() {
        let r = Receiver::start().await.unwrap();
        r.issue("h");
        let http = reqwest::Client::new();
        let mut answers = Vec::new();
        for i in 0..6 {
            let resp = http.post(format!("{}h", r.base)).json(&serde_json::json!({"text": i})).send().await.unwrap();
            answers.push((resp.status().as_u16(), resp.text().await.unwrap()));
        }
        assert_eq!(answers[4], (200, "ok".to_string()));
        assert_eq!(answers[5], (404, "used_url".to_string()), "Slack's answer to a sixth post");
        assert_eq!(r.posted("h").len(), 5, "the refused post is not shown");
    }
}
