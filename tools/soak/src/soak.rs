//! The soak: webhook requests and chat-ops button clicks at a fixed concurrency through the real
//! handlers (each function with its own runtime, as separate Lambdas), while the simulated tenant
//! injects seeded 429s, 5xx and delays on every Defender API and the vault fails (503) for a window
//! in the middle of the run.
//!
//! Verdicts ([`Report::problems`]):
//! - every answer is well formed: webhook 200 with a result per item (`found`, `not_found`,
//!   `invalid`, or `error` with a reason) or 503 with `Retry-After`; chat-ops 200 with a message or
//!   503 with `Retry-After`;
//! - no machine action runs twice: at most one successful action request per confirmation token in
//!   the simulator's log, at most one "Confirmed" answer per token, none to a user without the right;
//! - nothing panicked (a process-wide panic hook counts every thread and task);
//! - memory is flat: resident set growth over the second half of the run is bounded.
//!
//! Phases: prepare the confirmation tokens (no faults) → load, first 30 % → vault outage, next 20 % →
//! vault back, the rest → wait for the workers. Everything is loopback; the order of requests and the
//! faults are fixed by the seed.

use crate::harness::{self, ANALYST, Answer, READER, Stack, StackOptions, rss_kib, until};
use futures::StreamExt;
use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde_json::{Value, json};
use std::{
    collections::{BTreeMap, HashMap},
    sync::Mutex,
    time::{Duration, Instant},
};

/// How big a soak.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// Webhook requests.
    pub webhooks: usize,
    /// Chat-ops button clicks.
    pub clicks: usize,
    /// Requests in flight at once.
    pub concurrency: usize,
    /// Distinct confirmation tokens the clicks are spread over (one machine each).
    pub actions: usize,
    /// Seed for the request order and the fault rules.
    pub seed: u64,
    /// Fail the vault (503) for the middle 20 % of the requests.
    pub vault_outage: bool,
}

impl SoakConfig {
    /// The numbers: 500 webhooks and 200 clicks at 50-way concurrency.
    pub fn full(seed: u64) -> Self {
        Self { webhooks: 500, clicks: 200, concurrency: 50, actions: 20, seed, vault_outage: true }
    }
}

/// What one request got.
#[derive(Debug, Clone)]
struct Outcome {
    kind: Kind,
    phase: Phase,
    answer: Answer,
    token: Option<usize>,
    user: &'static str,
    latency: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Webhook,
    Click,
}

/// Which part of the run a request was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Before the vault outage.
    Before,
    /// During it.
    Outage,
    /// After it.
    After,
}

/// Figures and verdicts.
#[derive(Debug, Default)]
pub struct Report {
    /// Webhook answers by status.
    pub webhook_status: BTreeMap<u16, usize>,
    /// Webhook result items by status (`found`, `error`, ...).
    pub webhook_items: BTreeMap<String, usize>,
    /// Why webhook items were `error`.
    pub webhook_errors: BTreeMap<String, usize>,
    /// Click answers by status.
    pub click_status: BTreeMap<u16, usize>,
    /// Click answers by what they said (first words).
    pub click_answers: BTreeMap<String, usize>,
    /// Answers that are not well formed, with why (at most 20 kept).
    pub malformed: Vec<String>,
    /// How many answers were not well formed.
    pub malformed_count: usize,
    /// Of those, how many came during the vault outage.
    pub malformed_in_outage: usize,
    /// Confirmation tokens prepared.
    pub tokens: usize,
    /// Tokens answered "Confirmed" more than once, or confirmed for a user without the right.
    pub double_confirmed: Vec<String>,
    /// Successful machine-action requests in the simulator's log.
    pub action_requests: usize,
    /// Machines with more than one successful action request.
    pub acted_twice: Vec<String>,
    /// Panics counted during the run.
    pub panics: usize,
    /// Resident set (KiB) after preparation, after the outage phase, at the end; and the peak.
    pub rss_kib: [u64; 3],
    /// Peak resident set (KiB).
    pub peak_kib: u64,
    /// Requests the simulator served, and how many of them were injected faults.
    pub sim_requests: (usize, usize),
    /// Latency p50 / p99 / max, webhook and click, ms (outside the vault outage).
    pub latency_ms: [(u128, u128, u128); 2],
    /// Click latency p99 / max during the vault outage, ms.
    pub outage_click_ms: (u128, u128),
    /// Wall time of the load phases.
    pub elapsed: Duration,
    /// Why the run could not finish (setup failures).
    pub aborted: Option<String>,
}

impl Report {
    /// Every verdict that failed.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if let Some(a) = &self.aborted {
            p.push(format!("aborted: {a}"));
        }
        if self.malformed_count > 0 {
            p.push(format!(
                "{} answers not well formed ({} during the vault outage), e.g. {:?}",
                self.malformed_count,
                self.malformed_in_outage,
                self.malformed.first()
            ));
        }
        if !self.double_confirmed.is_empty() {
            p.push(format!("confirmations accepted twice or for the wrong user: {:?}", self.double_confirmed));
        }
        if !self.acted_twice.is_empty() {
            p.push(format!("machine actions run twice: {:?}", self.acted_twice));
        }
        if self.panics > 0 {
            p.push(format!("{} panics", self.panics));
        }
        if self.latency_ms[1].1 > SLACK_ACK_MS {
            p.push(format!("click p99 {} ms is over Slack's {SLACK_ACK_MS} ms", self.latency_ms[1].1));
        }
        if self.outage_click_ms.0 > SLACK_ACK_MS {
            p.push(format!(
                "click p99 during the vault outage {} ms is over Slack's {SLACK_ACK_MS} ms",
                self.outage_click_ms.0
            ));
        }
        let [_, mid, end] = self.rss_kib;
        if end > mid + (mid / 4).max(16 * 1024) {
            p.push(format!("memory grew over the second half: {mid} KiB -> {end} KiB"));
        }
        p
    }

    /// The figures as a small table.
    pub fn table(&self) -> String {
        let [start, mid, end] = self.rss_kib;
        let [(w50, w99, wmax), (c50, c99, cmax)] = self.latency_ms;
        let mut s = String::new();
        s.push_str(&format!("webhook answers by status   {:?}\n", self.webhook_status));
        s.push_str(&format!("webhook items by status     {:?}\n", self.webhook_items));
        s.push_str(&format!("webhook item errors         {:?}\n", self.webhook_errors));
        s.push_str(&format!("click answers by status     {:?}\n", self.click_status));
        s.push_str(&format!("click answers               {:?}\n", self.click_answers));
        s.push_str(&format!(
            "latency ms p50/p99/max      webhook {w50}/{w99}/{wmax}, click {c50}/{c99}/{cmax} (outside the vault outage)\n"
        ));
        s.push_str(&format!("click ms p99/max in outage  {}/{}\n", self.outage_click_ms.0, self.outage_click_ms.1));
        s.push_str(&format!(
            "confirmation tokens         {} ; successful action requests {} ; acted twice {}\n",
            self.tokens,
            self.action_requests,
            self.acted_twice.len()
        ));
        s.push_str(&format!(
            "simulator requests          {} ({} injected faults)\n",
            self.sim_requests.0, self.sim_requests.1
        ));
        s.push_str(&format!(
            "RSS KiB start/mid/end/peak  {start}/{mid}/{end}/{}\npanics                      {}\n",
            self.peak_kib, self.panics
        ));
        s.push_str(&format!(
            "malformed answers           {} ({} in the vault outage)\n",
            self.malformed_count, self.malformed_in_outage
        ));
        s.push_str(&format!("load wall time              {:.1} s\n", self.elapsed.as_secs_f64()));
        s
    }
}

/// Slack's deadline for the acknowledgement of a slash command or a click.
pub const SLACK_ACK_MS: u128 = 3000;

fn faults(seed: u64) -> Value {
    json!([
        {"path_prefix": "/api/", "status": 429, "retry_after_s": 1, "probability": 0.08, "seed": seed},
        {"path_prefix": "/api/", "status": 503, "probability": 0.04, "seed": seed + 1},
        {"path_prefix": "/api/", "status": 500, "probability": 0.02, "seed": seed + 2},
        {"path_prefix": "/api/", "delay_ms": 250, "probability": 0.10, "seed": seed + 3},
    ])
}

fn webhook_body(rng: &mut StdRng, machines: &[Value], alerts: &[Value]) -> String {
    let pick = |rng: &mut StdRng, v: &[Value], k: &str| -> String {
        v.get(rng.random_range(0..v.len().max(1))).and_then(|m| m[k].as_str()).unwrap_or_default().to_string()
    };
    match rng.random_range(0..5) {
        0 => json!({"alert_id": pick(rng, alerts, "id")}).to_string(),
        1 => json!({"indicators": {"hostnames": [pick(rng, machines, "computerDnsName")], "ips": ["not-an-ip"]}})
            .to_string(),
        2 => json!({"indicators": {"ips": [pick(rng, machines, "lastIpAddress")], "domains": ["evil.example"]}})
            .to_string(),
        _ => json!({"indicators": {"machine_ids": [pick(rng, machines, "id"), pick(rng, machines, "id")]}}).to_string(),
    }
}

fn percentiles(mut v: Vec<Duration>) -> (u128, u128, u128) {
    v.sort();
    let at = |q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).map_or(0, Duration::as_millis);
    (at(0.5), at(0.99), v.last().map_or(0, Duration::as_millis))
}

fn text_of(a: &Answer) -> String {
    a.json()["text"].as_str().unwrap_or_default().to_string()
}

/// Checks one answer; `Some(why)` when it is not well formed.
fn malformed(o: &Outcome) -> Option<String> {
    let a = &o.answer;
    if a.status == 503 {
        return if a.retry_after.is_some() { None } else { Some("503 without Retry-After".into()) };
    }
    if a.status != 200 {
        return Some(format!("{:?} answered {}: {}", o.kind, a.status, a.body.chars().take(160).collect::<String>()));
    }
    let doc = a.json();
    match o.kind {
        Kind::Webhook => {
            let Some(results) = doc["results"].as_array() else { return Some(format!("no results: {}", a.body)) };
            for r in results {
                let status = r["status"].as_str().unwrap_or_default();
                if !["found", "not_found", "invalid", "error"].contains(&status) {
                    return Some(format!("item status {status:?}"));
                }
                if (status == "error" || status == "invalid") && r["reason"].as_str().is_none_or(|s| s.is_empty()) {
                    return Some(format!("{status} item without a reason: {r}"));
                }
            }
            None
        }
        Kind::Click => {
            if text_of(a).is_empty() {
                Some(format!("click answered no text: {}", a.body))
            } else {
                None
            }
        }
    }
}

/// Runs the soak.
pub async fn run(cfg: &SoakConfig) -> Report {
    harness::count_panics();
    let panics_before = harness::panics();
    let mut report = Report::default();
    let stack = match Stack::start(StackOptions { secrets: None, secret_ttl_s: 1, export: false }).await {
        Ok(s) => s,
        Err(e) => {
            report.aborted = Some(e);
            return report;
        }
    };
    let (machines, alerts) = {
        let t = stack.sim.sim.tenant.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (t.seed.machines.clone(), t.seed.alerts.clone())
    };

    // Preparation (no faults): one isolation asked per machine, its confirm button collected.
    let candidates: Vec<String> = machines
        .iter()
        .filter(|m| m["isolationState"].as_str() != Some("Isolated") && m["healthStatus"].as_str() == Some("Active"))
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .take(cfg.actions)
        .collect();
    let asks = candidates.iter().enumerate().map(|(k, id)| {
        let body = stack.slash_body(ANALYST, &format!("isolate {id} soak drill {k}"), &format!("ask-{k}"));
        stack.chat(stack.slack_event(&body, None))
    });
    futures::future::join_all(asks).await;
    until(Duration::from_secs(60), || (0..candidates.len()).all(|k| !stack.posted(&format!("ask-{k}")).is_empty()))
        .await;
    let tokens: Vec<String> = (0..candidates.len())
        .filter_map(|k| {
            let prompt = stack.posted(&format!("ask-{k}")).pop()?;
            prompt["blocks"][1]["elements"][0]["value"].as_str().map(str::to_string)
        })
        .collect();
    report.tokens = tokens.len();
    if tokens.is_empty() && cfg.clicks > 0 {
        report.aborted = Some("no confirmation prompt was posted".into());
        return report;
    }

    // The load, in a seeded order.
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let mut ops: Vec<(Kind, usize)> = (0..cfg.webhooks).map(|i| (Kind::Webhook, i)).collect();
    ops.extend((0..cfg.clicks).map(|j| (Kind::Click, j)));
    ops.shuffle(&mut rng);
    let bodies: Vec<String> = (0..cfg.webhooks).map(|_| webhook_body(&mut rng, &machines, &alerts)).collect();
    if let Err(e) = stack.control("POST", "/_sim/faults", Some(faults(cfg.seed))).await {
        report.aborted = Some(e);
        return report;
    }
    let (a, b) = (ops.len() * 3 / 10, ops.len() / 2);
    let phases = [(Phase::Before, &ops[..a]), (Phase::Outage, &ops[a..b]), (Phase::After, &ops[b..])];
    let outcomes: Mutex<Vec<Outcome>> = Mutex::new(Vec::new());
    report.rss_kib[0] = rss_kib().0;
    let started = Instant::now();
    for (phase, slice) in phases {
        if phase == Phase::Outage && cfg.vault_outage {
            let outage = json!({"path_prefix": "/secrets", "status": 503, "retry_after_s": 2});
            if let Err(e) = stack.control("POST", "/_sim/faults", Some(outage)).await {
                report.aborted = Some(e);
            }
        }
        if phase == Phase::After {
            let restored = async {
                stack.control("DELETE", "/_sim/faults", None).await?;
                stack.control("POST", "/_sim/faults", Some(faults(cfg.seed + 100))).await
            };
            if let Err(e) = restored.await {
                report.aborted = Some(e);
            }
            report.rss_kib[1] = rss_kib().0;
        }
        let stack = &stack;
        let (bodies, tokens, outcomes) = (&bodies, &tokens, &outcomes);
        futures::stream::iter(slice.iter().copied())
            .for_each_concurrent(cfg.concurrency, |(kind, i)| async move {
                let t0 = Instant::now();
                let (answer, token, user) = match kind {
                    Kind::Webhook => {
                        let id = format!("soak-{i}");
                        (stack.webhook(stack.webhook_event(&bodies[i], &id)).await, None, ANALYST)
                    }
                    Kind::Click => {
                        let k = i % tokens.len().max(1);
                        let user = if i % 10 == 9 { READER } else { ANALYST };
                        let retry = (i % 7 == 3).then_some(1);
                        let body = stack.button_body(user, "confirm", &tokens[k], &format!("confirm-{k}"));
                        (stack.chat(stack.slack_event(&body, retry)).await, Some(k), user)
                    }
                };
                let o = Outcome { kind, phase, answer, token, user, latency: t0.elapsed() };
                outcomes.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(o);
            })
            .await;
    }
    report.elapsed = started.elapsed();
    let outcomes = outcomes.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);

    // Let the workers finish what was confirmed (the result is posted to the thread).
    let confirmed: Vec<usize> = outcomes
        .iter()
        .filter(|o| o.kind == Kind::Click && text_of(&o.answer).starts_with("Confirmed:"))
        .filter_map(|o| o.token)
        .collect();
    until(Duration::from_secs(90), || confirmed.iter().all(|k| !stack.posted(&format!("confirm-{k}")).is_empty()))
        .await;
    stack.control("DELETE", "/_sim/faults", None).await.ok();
    report.rss_kib[2] = rss_kib().0;
    report.peak_kib = rss_kib().1;

    // Verdicts.
    let mut per_token: HashMap<usize, usize> = HashMap::new();
    let mut lat: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
    let mut outage_clicks = Vec::new();
    for o in &outcomes {
        if o.phase == Phase::Outage && cfg.vault_outage {
            if o.kind == Kind::Click {
                outage_clicks.push(o.latency);
            }
        } else {
            lat[usize::from(o.kind == Kind::Click)].push(o.latency);
        }
        if let Some(why) = malformed(o) {
            report.malformed_count += 1;
            if o.phase == Phase::Outage {
                report.malformed_in_outage += 1;
            }
            if report.malformed.len() < 20 {
                report.malformed.push(why);
            }
        }
        match o.kind {
            Kind::Webhook => {
                *report.webhook_status.entry(o.answer.status).or_default() += 1;
                for r in o.answer.json()["results"].as_array().into_iter().flatten() {
                    let status = r["status"].as_str().unwrap_or("?");
                    *report.webhook_items.entry(status.to_string()).or_default() += 1;
                    if status == "error" {
                        let reason = r["reason"].as_str().unwrap_or("?").to_string();
                        *report.webhook_errors.entry(reason).or_default() += 1;
                    }
                }
            }
            Kind::Click => {
                *report.click_status.entry(o.answer.status).or_default() += 1;
                let text = text_of(&o.answer);
                // The answer without what is quoted in it (names, request ids), so like answers group.
                let gist: String = text.split('`').step_by(2).collect::<Vec<_>>().join("…");
                let gist: String = gist.split_whitespace().take(6).collect::<Vec<_>>().join(" ");
                *report.click_answers.entry(gist).or_default() += 1;
                if text.starts_with("Confirmed:") {
                    if o.user != ANALYST {
                        report.double_confirmed.push(format!("token {:?} confirmed for {}", o.token, o.user));
                    }
                    if let Some(k) = o.token {
                        *per_token.entry(k).or_default() += 1;
                    }
                }
            }
        }
    }
    for (k, n) in per_token {
        if n > 1 {
            report.double_confirmed.push(format!("token {k} confirmed {n} times"));
        }
    }
    report.latency_ms = [percentiles(std::mem::take(&mut lat[0])), percentiles(std::mem::take(&mut lat[1]))];
    let (_, p99, max) = percentiles(outage_clicks);
    report.outage_click_ms = (p99, max);
    match stack.requests().await {
        Ok(log) => {
            let injected = log
                .iter()
                .filter(|r| {
                    let path = r["path"].as_str().unwrap_or_default();
                    let status = r["status"].as_u64().unwrap_or(0);
                    (path.starts_with("/api/") || path.starts_with("/secrets")) && [429, 500, 503].contains(&status)
                })
                .count();
            report.sim_requests = (log.len(), injected);
            let mut acted: BTreeMap<String, usize> = BTreeMap::new();
            for r in &log {
                let path = r["path"].as_str().unwrap_or_default();
                let ok = r["status"].as_u64().is_some_and(|s| (200..300).contains(&s));
                if r["method"] == "POST" && ok && path.starts_with("/api/machines/") && path.ends_with("/isolate") {
                    *acted.entry(path.to_string()).or_default() += 1;
                }
            }
            report.action_requests = acted.values().sum();
            report.acted_twice = acted.into_iter().filter(|(_, n)| *n > 1).map(|(p, n)| format!("{p} x{n}")).collect();
        }
        Err(e) => report.aborted = Some(e),
    }
    report.panics = harness::panics() - panics_before;
    report
}
