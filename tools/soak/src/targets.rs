//! The fuzz target bodies: one function per target, `fn(&[u8])`, shared by `cargo fuzz`
//! (`fuzz/fuzz_targets/*.rs` are one-line wrappers) and the stable corpus replay
//! (`tests/replay.rs`), so `make test` runs every committed corpus file through exactly the code the
//! fuzzer ran.
//!
//! Each body feeds the input to the code under test and **asserts a property**, not only "no panic":
//!
//! | target | input | property |
//! |---|---|---|
//! | `webhook` | byte 0 = mode, header lines, blank line, body | the handler answers one of its documented statuses with a JSON error or result document; a signed, valid document loses no item (every parsed item has a result) |
//! | `slack` | a form body (slash command or `payload=` block action) | a parsed command's typed arguments hold their invariants; a hunt renders; a button value never opens as a confirmation unless sealed with the key |
//! | `teams` | a Teams activity (JSON) | as `slack`; an activity the replay window accepts has a bounded id and a timestamp within the window of [`NOW`] |
//! | `indicators` | text (each id/indicator type) or JSON (free-form alert) | what parses re-parses to itself and carries no quote, pipe or control character |
//! | `odata` | text | every `$filter` built from it has the builder's skeleton, and its literals decode back to the input: a quote cannot end a literal |
//! | `kql` | text | the same for hunting queries; a refused value holds a control character |
//! | `models` | JSON | every Defender response model either refuses it or re-serialises it idempotently |
//! | `pages` | byte 0 = a recorded entity, then (op, key) pairs: drop a key, null it, change its type | a list page holding the mutated entity between two recorded ones decodes: no item lost, each kept exactly as sent, the recorded ones typed; as an `ODataList` every item is typed or named undecodable; a JSON page given whole loses no item either |
//!
//! The webhook secret, its signature and the clock are fixed ([`WHSEC`], [`NOW`]) so a crash reproduces.

use chatops::{
    command::{self, Command, Parsed, SlackRequest, TeamsRequest},
    confirm,
    reply::{Reply, untrusted},
};
use defender_shared::{
    defender::{
        kql::{HuntingQuery, KqlValue},
        models::{self as m, ODataList},
        odata::{Filter, fields},
    },
    ids::{
        AccountName, ActionId, AlertId, ClientId, DomainName, Hostname, IncidentId, InvalidId, MachineId, Md5, Sha1,
        Sha256, TenantId, TenantName, UrlIndicator,
    },
    secret::SecretString,
    vault::{SecretStore, VaultError},
    webhook,
};
use futures::future::BoxFuture;
use lambda_http::{
    Body, Request,
    http::{HeaderName, HeaderValue, Method, StatusCode},
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use std::{
    collections::HashMap,
    fmt::Debug,
    net::IpAddr,
    str::FromStr,
    sync::{Arc, Mutex},
};
use webhook_enrich::{
    enrich::{DefenderLookups, Evidence, Lookup},
    handler::{self, State, TenantLookups},
    request::{EnrichRequest, Indicator},
    response::{AlertFacts, FileFacts, MachineFacts, Prevalence},
};

/// The Standard Webhooks secret the `webhook` target verifies with.
pub const WHSEC: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// The fixed clock (unix seconds) of the `webhook` and chat targets.
pub const NOW: i64 = 1_795_757_400;
/// The Slack signing secret confirmation tokens are opened with.
pub const SLACK_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// A fuzz target body: panics when its property does not hold.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`.
pub const TARGETS: &[(&str, Target)] = &[
    ("webhook", webhook),
    ("slack", slack),
    ("teams", teams),
    ("indicators", indicators),
    ("odata", odata),
    ("kql", kql),
    ("models", models),
    ("senders", senders),
    ("pages", pages),
];

// ---------------------------------------------------------------------------------------------
// webhook: body + headers → the webhook-enrich handler
// ---------------------------------------------------------------------------------------------

/// An in-memory secret store holding the one webhook secret.
struct OneSecret;

impl SecretStore for OneSecret {
    fn get<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        Box::pin(async move {
            if name == "webhook-secret" {
                Ok(SecretString::new(WHSEC))
            } else {
                Err(VaultError::NotFound(name.to_string()))
            }
        })
    }
    fn get_fresh<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<SecretString, VaultError>> {
        self.get(name)
    }
    fn set<'a>(&'a self, _name: &'a str, _value: &'a SecretString) -> BoxFuture<'a, Result<(), VaultError>> {
        Box::pin(async { Ok(()) })
    }
}

/// Defender that knows nothing (every lookup answers "not known" at once): the fuzz is about the
/// request/extract layer, not the lookups.
struct KnowsNothing;

/// `KnowsNothing`'s lookups, one line each: what it answers at once.
macro_rules! knows_nothing {
    ($($name:ident($arg:ty) -> $out:ty = $answer:expr;)*) => {
        impl DefenderLookups for KnowsNothing {
            $(fn $name<'a>(&'a self, _: $arg) -> BoxFuture<'a, Lookup<$out>> {
                Box::pin(async { Ok($answer) })
            })*
        }
    };
}

knows_nothing! {
    machine(&'a MachineId) -> Option<MachineFacts> = None;
    machines_by_hostname(&'a Hostname) -> Vec<MachineFacts> = Vec::new();
    machines_by_ip(IpAddr) -> Vec<MachineFacts> = Vec::new();
    logged_on_users(&'a str) -> Vec<String> = Vec::new();
    machine_alerts(&'a str) -> Vec<AlertFacts> = Vec::new();
    file(&'a str) -> Option<FileFacts> = None;
    file_alerts(&'a Sha1) -> Vec<AlertFacts> = Vec::new();
    file_machines(&'a Sha1) -> Vec<MachineFacts> = Vec::new();
    ip_prevalence(IpAddr) -> Option<Prevalence> = None;
    ip_alerts(IpAddr) -> Vec<AlertFacts> = Vec::new();
    domain_prevalence(&'a DomainName) -> Option<Prevalence> = None;
    domain_alerts(&'a DomainName) -> Vec<AlertFacts> = Vec::new();
    domain_machines(&'a DomainName) -> Vec<MachineFacts> = Vec::new();
    user_alerts(&'a AccountName) -> Vec<AlertFacts> = Vec::new();
    user_machines(&'a AccountName) -> Vec<MachineFacts> = Vec::new();
    alert_indicators(&'a AlertId) -> Evidence = None;
    incident_indicators(IncidentId) -> Evidence = None;
}

/// One tenant, `default`; any other name is unknown.
struct DefaultTenant;

impl TenantLookups for DefaultTenant {
    fn lookups(
        &self,
        tenant: Option<&TenantName>,
        _deadline: tokio::time::Instant,
    ) -> Result<(String, Arc<dyn DefenderLookups>), String> {
        match tenant.map(TenantName::as_str) {
            None | Some("default") => Ok(("default".into(), Arc::new(KnowsNothing))),
            Some(other) => Err(format!("unknown tenant '{other}'")),
        }
    }
}

fn webhook_state() -> Option<State> {
    let default: TenantName = "default".parse().ok()?;
    Some(State {
        store: Arc::new(OneSecret),
        senders: defender_shared::senders::Senders::implicit(vec!["webhook-secret".into()], vec![], default),
        tenants: Arc::new(DefaultTenant),
        clock: || NOW,
        seen: Mutex::new(HashMap::new()),
        callback: None,
        hunting: Vec::new(),
        events: Default::default(),
    })
}

thread_local! {
    static RUNTIME: Option<tokio::runtime::Runtime> =
        tokio::runtime::Builder::new_current_thread().enable_time().build().ok();
}

/// Runs a future to completion on this thread's runtime.
fn block_on<F: std::future::Future>(f: F) -> Option<F::Output> {
    RUNTIME.with(|rt| rt.as_ref().map(|rt| rt.block_on(f)))
}

/// Splits `header: value` lines (up to the first blank line) from the body.
type Header<'a> = (&'a [u8], &'a [u8]);

fn split_headers(data: &[u8]) -> (Vec<Header<'_>>, &[u8]) {
    let end = data.windows(2).position(|w| w == b"\n\n");
    let (head, body) = match end {
        Some(i) => (&data[..i], &data[i + 2..]),
        None => (&data[..0], data),
    };
    let headers = head
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let value = &line[colon + 1..];
            Some((&line[..colon], value.strip_prefix(b" ").unwrap_or(value)))
        })
        .collect();
    (headers, body)
}

/// Byte 0: bit 0 set = send the headers as given; clear = sign the body (a valid Standard Webhooks
/// signature, `webhook-id` from the input or `msg_fuzz`), so the fuzzer reaches the parser. Bit 1 set =
/// a `GET`. Then `name: value` lines, a blank line, the body.
pub fn webhook(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else { return };
    let (headers, body) = split_headers(rest);
    let sign = mode & 1 == 0;
    let method = if mode & 2 == 0 { Method::POST } else { Method::GET };
    let mut builder = lambda_http::http::Request::builder().method(method.clone()).uri("https://fn.example/enrich");
    let mut id = "msg_fuzz".to_string();
    for (name, value) in &headers {
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) else { continue };
        if sign && name.as_str().starts_with("webhook-") {
            if name == "webhook-id" {
                id = value.to_str().map(str::to_string).unwrap_or(id);
            }
            continue;
        }
        builder = builder.header(name, value);
    }
    if sign {
        let Ok(sig) = webhook::sign_standard(&SecretString::new(WHSEC), &id, NOW, body) else { return };
        let (Ok(id_value), Ok(sig_value)) = (HeaderValue::from_str(&id), HeaderValue::from_str(&sig)) else { return };
        builder = builder
            .header("webhook-id", id_value)
            .header("webhook-timestamp", HeaderValue::from(NOW))
            .header("webhook-signature", sig_value);
    }
    let Ok(req): Result<Request, _> = builder.body(Body::Binary(body.to_vec())) else { return };
    let Some(state) = webhook_state() else { return };
    let Some(resp) = block_on(handler::handle(&state, req)) else { return };
    let status = resp.status();
    let allowed = [
        StatusCode::OK,
        StatusCode::BAD_REQUEST,
        StatusCode::UNAUTHORIZED,
        StatusCode::FORBIDDEN,
        StatusCode::METHOD_NOT_ALLOWED,
        StatusCode::CONFLICT,
        StatusCode::PAYLOAD_TOO_LARGE,
    ];
    assert!(allowed.contains(&status), "undocumented status {status}");
    let text = match resp.body() {
        Body::Text(t) => t.clone(),
        other => panic_free_text(other),
    };
    let doc: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    assert!(doc.is_object(), "the answer is not a JSON object: {text}");
    assert!(!text.contains(WHSEC), "the answer carries the webhook secret");
    if status != StatusCode::OK {
        assert!(doc["error"]["code"].is_string() && doc["error"]["message"].is_string(), "error shape: {text}");
        if status == StatusCode::UNAUTHORIZED {
            let bad_id = id.is_empty() || id.len() > 256;
            let refusable = !sign || method != Method::POST || body.len() > handler::MAX_BODY || bad_id;
            assert!(refusable, "a signed POST was refused");
        }
        return;
    }
    assert!(method == Method::POST, "a GET was answered 200");
    // A valid document loses nothing: every item it holds has a result, invalid ones with a reason.
    let Ok(parsed) = EnrichRequest::parse(body) else {
        unreachable_ok("200 for a body the parser refuses");
        return;
    };
    let results = doc["results"].as_array().map(Vec::as_slice).unwrap_or_default();
    for item in &parsed.items {
        let found = results.iter().any(|r| r["input"].as_str() == Some(item.input.as_str()));
        assert!(found, "item {:?} has no result in {text}", item.input);
    }
    for r in results {
        let status = r["status"].as_str().unwrap_or_default();
        assert!(["found", "not_found", "invalid", "error"].contains(&status), "result status {status}");
        if status == "invalid" || status == "error" {
            assert!(r["reason"].as_str().is_some_and(|s| !s.is_empty()), "no reason: {r}");
        }
    }
}

fn panic_free_text(body: &Body) -> String {
    match body {
        Body::Binary(b) => String::from_utf8_lossy(b).into_owned(),
        _ => String::new(),
    }
}

/// A property that must not hold: fails the run with its description.
fn unreachable_ok(what: &str) {
    assert!(what.is_empty(), "{what}");
}

// ---------------------------------------------------------------------------------------------
// slack / teams: chat payloads → chatops command parsing
// ---------------------------------------------------------------------------------------------

/// The invariants a parsed command's typed arguments must hold.
fn check_command(c: &Command) {
    match c {
        Command::Hunt(h) => {
            let q = h.query().render();
            assert!(q.is_ok(), "a parsed hunt does not render: {h:?}: {q:?}");
        }
        Command::Act { reason, .. } => {
            let r = reason.as_str();
            let n = r.chars().count();
            assert!((3..=command::MAX_REASON).contains(&n), "reason length {n}");
            assert!(!r.chars().any(char::is_control), "control character in a reason");
        }
        _ => {}
    }
}

fn check_parsed(p: &Parsed) {
    match p {
        Parsed::Command(c) => check_command(c),
        Parsed::Usage(why) => assert!(!why.is_empty(), "usage without a reason"),
    }
}

/// A Slack slash-command form or a `payload=` block action.
pub fn slack(data: &[u8]) {
    match command::parse_slack(data) {
        Ok(SlackRequest::Slash { parsed, .. }) => check_parsed(&parsed),
        Ok(SlackRequest::Button { value, .. }) => {
            // Any value opens only if it was sealed with the key (the corpus holds one that was).
            if let Ok(c) = confirm::open::<confirm::Confirmation>(&value, &[SecretString::new(SLACK_SECRET)], NOW) {
                let again = confirm::seal(&c, &SecretString::new(SLACK_SECRET));
                assert!(again.is_ok(), "an opened confirmation cannot be sealed again");
            }
            // An incident change's token never opens as a machine action's, nor back.
            let incident =
                confirm::open::<confirm::IncidentConfirmation>(&value, &[SecretString::new(SLACK_SECRET)], NOW);
            let machine = confirm::open::<confirm::Confirmation>(&value, &[SecretString::new(SLACK_SECRET)], NOW);
            assert!(incident.is_err() || machine.is_err(), "one token opened as both kinds");
        }
        Err(e) => assert!(e.to_string().starts_with("not a Slack request"), "{e}"),
    }
    let text = String::from_utf8_lossy(data);
    check_parsed(&command::parse_text(&text));
    // Untrusted text rendered for Slack: no `<` or `>` survives, so no link, mention or command forms.
    let slack = Reply::text(format!("*x* {}", untrusted(&text))).slack_text();
    let escaped = slack.strip_prefix("*x* ").unwrap_or_default();
    assert!(!escaped.contains(['<', '>']), "a Slack control sequence survived: {escaped:?}");
}

/// A Teams outgoing-webhook activity.
pub fn teams(data: &[u8]) {
    if let Ok(TeamsRequest { parsed, .. }) = command::parse_teams(data) {
        check_parsed(&parsed);
    }
    // The replay window on the signed activity: what it accepts has a bounded id and a timestamp
    // inside the window; nothing it is given makes it panic (no overflow on extreme timestamps).
    if let Ok(v) = webhook::teams_activity_stamp(data, NOW, webhook::DEFAULT_WINDOW) {
        let id = v.id.unwrap_or_default();
        assert!(!id.is_empty() && id.len() <= 256, "an unbounded activity id was accepted");
        let ts = v.timestamp.unwrap_or(i64::MIN);
        assert!(ts.abs_diff(NOW) <= webhook::DEFAULT_WINDOW.as_secs(), "a stale activity was accepted: {ts}");
    }
    let html = String::from_utf8_lossy(data);
    let plain = command::teams_plain_text(&html);
    assert!(plain.chars().count() <= html.chars().count(), "the plain text grew");
    // Tags (the mention among them) are gone; a '<' survives only as a decoded `&lt;`.
    assert!(html.contains('&') || !plain.contains('<'), "a tag survived: {plain:?}");
    // Untrusted text rendered for Teams: no tag and no Markdown link or code span can form.
    let teams = Reply::text(format!("*x* {}", untrusted(&html))).teams_text().replace("<br>", "");
    let escaped = teams.strip_prefix("*x* ").unwrap_or_default();
    assert!(!escaped.contains(['<', '>', '[', ']', '(', ')', '`']), "Teams markup survived: {escaped:?}");
}

// ---------------------------------------------------------------------------------------------
// indicators: extraction and validation (`defender_shared::ids`)
// ---------------------------------------------------------------------------------------------

/// Parses `s` as `T`; what parses must re-parse to itself and be free of query metacharacters.
fn id_round_trip<T>(s: &str, text: impl Fn(&T) -> String, forbidden: &[char])
where
    T: FromStr<Err = InvalidId> + PartialEq + Debug,
{
    match s.parse::<T>() {
        Ok(v) => {
            let t = text(&v);
            assert_eq!(t.parse::<T>().as_ref(), Ok(&v), "{s:?} normalises unstably");
            assert!(!t.chars().any(|c| c.is_control() || forbidden.contains(&c)), "{t:?} holds a metacharacter");
        }
        Err(e) => assert!(e.to_string().starts_with("invalid "), "{e}"),
    }
}

/// Every id and indicator type on the text (a URL may keep a `\` in its query: the literal builders
/// escape it), and the free-form extractor on it as JSON.
pub fn indicators(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    const QUERY: &[char] = &['\'', '"', '|', ';', '\\', '/', ' ', '(', ')', ',', '{', '}'];
    const ACCOUNT: &[char] = &['\'', '"', '|', ';', '/', '(', ')', ',', '{', '}'];
    const URL: &[char] = &['\'', '"', ' '];
    id_round_trip::<TenantId>(&s, ToString::to_string, QUERY);
    id_round_trip::<ClientId>(&s, ToString::to_string, QUERY);
    id_round_trip::<TenantName>(&s, ToString::to_string, QUERY);
    id_round_trip::<MachineId>(&s, ToString::to_string, QUERY);
    id_round_trip::<AlertId>(&s, ToString::to_string, QUERY);
    id_round_trip::<ActionId>(&s, ToString::to_string, QUERY);
    id_round_trip::<Sha1>(&s, ToString::to_string, QUERY);
    id_round_trip::<Sha256>(&s, ToString::to_string, QUERY);
    id_round_trip::<Md5>(&s, ToString::to_string, QUERY);
    id_round_trip::<DomainName>(&s, ToString::to_string, QUERY);
    id_round_trip::<Hostname>(&s, ToString::to_string, QUERY);
    id_round_trip::<AccountName>(&s, ToString::to_string, ACCOUNT);
    id_round_trip::<IncidentId>(&s, ToString::to_string, QUERY);
    id_round_trip::<UrlIndicator>(&s, |u| u.as_str().to_string(), URL);
    if let Ok(doc) = serde_json::from_slice::<Value>(data) {
        for item in webhook_enrich::request::extract::indicators(&doc) {
            if let Ok(ind) = &item.parsed {
                let again = Indicator::parse(item.kind, &ind.value());
                assert_eq!(again.as_ref(), Ok(ind), "extracted {:?} does not re-validate", item.input);
            } else {
                assert!(item.parsed.as_ref().is_err_and(|r| !r.is_empty()), "invalid without a reason");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// odata / kql: the built query never holds the input unescaped
// ---------------------------------------------------------------------------------------------

/// Splits the input in two strings at the first NUL (a second literal for list and compound filters).
fn two_strings(data: &[u8]) -> (String, String) {
    let s = String::from_utf8_lossy(data);
    match s.split_once('\0') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (s.to_string(), s.chars().rev().collect()),
    }
}

/// An OData query as code with `?` for each string literal, and the decoded literals in order, read
/// the way the service's parser reads them (`'...'`, `''` is one quote).
pub fn odata_lex(q: &str) -> Option<(String, Vec<String>)> {
    let mut code = String::new();
    let mut literals = Vec::new();
    let mut chars = q.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\'' {
            code.push(c);
            continue;
        }
        let mut lit = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    lit.push('\'');
                }
                '\'' => break,
                other => lit.push(other),
            }
        }
        code.push('?');
        literals.push(lit);
    }
    Some((code, literals))
}

/// A KQL query as code with `?` for each double-quoted string literal, and the decoded literals, read
/// as Kusto reads them (`\\`, `\"`, `\n`, `\r`, `\t`; any other escape is refused here).
pub fn kql_lex(q: &str) -> Option<(String, Vec<String>)> {
    let mut code = String::new();
    let mut literals = Vec::new();
    let mut chars = q.chars();
    while let Some(c) = chars.next() {
        if c == '\'' {
            return None; // the templates below hold no single-quoted literal; one here was injected
        }
        if c != '"' {
            code.push(c);
            continue;
        }
        let mut lit = String::new();
        loop {
            match chars.next()? {
                '\\' => lit.push(match chars.next()? {
                    '\\' => '\\',
                    '"' => '"',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    _ => return None,
                }),
                '"' => break,
                other => lit.push(other),
            }
        }
        code.push('?');
        literals.push(lit);
    }
    Some((code, literals))
}

fn check_odata<R>(f: &Filter<R>, skeleton: &str, inputs: &[&str]) {
    let q = f.to_string();
    let lexed = odata_lex(&q);
    let expected: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
    assert_eq!(lexed, Some((skeleton.to_string(), expected)), "filter {q:?}");
}

/// Each `$filter` builder over the input text.
pub fn odata(data: &[u8]) {
    use fields::{alerts, machines};
    let (a, b) = two_strings(data);
    check_odata(&Filter::eq(machines::COMPUTER_DNS_NAME, a.as_str()), "computerDnsName eq ?", &[&a]);
    check_odata(&Filter::ne(alerts::ASSIGNED_TO, a.as_str()), "assignedTo ne ?", &[&a]);
    check_odata(&Filter::startswith(machines::COMPUTER_DNS_NAME, a.as_str()), "startswith(computerDnsName,?)", &[&a]);
    check_odata(&Filter::endswith(machines::COMPUTER_DNS_NAME, a.as_str()), "endswith(computerDnsName,?)", &[&a]);
    check_odata(&Filter::contains(alerts::ASSIGNED_TO, b.as_str()), "contains(assignedTo,?)", &[&b]);
    check_odata(&Filter::any_eq(machines::MACHINE_TAGS, a.as_str()), "machineTags/any(t: t eq ?)", &[&a]);
    match Filter::in_(alerts::ID, [a.as_str(), b.as_str()]) {
        Some(f) => check_odata(&f, "id in (?,?)", &[&a, &b]),
        None => unreachable_ok("in_ refused two values"),
    }
    let compound = Filter::eq(alerts::STATUS, a.as_str())
        .and(Filter::eq(alerts::SEVERITY, b.as_str()).or(!Filter::eq(alerts::CATEGORY, a.as_str())));
    check_odata(&compound, "status eq ? and (severity eq ? or not (category eq ?))", &[&a, &b, &a]);
}

/// A hunting template with a string, a list and a number, bound to the input.
pub fn kql(data: &[u8]) {
    let (a, b) = two_strings(data);
    let rendered = HuntingQuery::new(
        "DeviceProcessEvents | where DeviceName == {host} | where FileName in {names} // a comment\n| take {n}",
    )
    .bind("host", a.as_str())
    .bind("names", KqlValue::List(vec![KqlValue::Str(b.clone()), KqlValue::Str(a.clone())]))
    .bind("n", 10_i64)
    .render();
    let ok_char = |c: char| !c.is_control() || matches!(c, '\n' | '\r' | '\t');
    match rendered {
        Ok(q) => {
            let lexed = kql_lex(q.as_str());
            let skeleton =
                "DeviceProcessEvents | where DeviceName == ? | where FileName in (?, ?) // a comment\n| take 10";
            assert_eq!(lexed, Some((skeleton.to_string(), vec![a.clone(), b.clone(), a.clone()])), "query {q:?}");
        }
        Err(e) => {
            let refusable = !a.chars().chain(b.chars()).all(ok_char);
            assert!(refusable, "refused a value with no control character: {e}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// models: arbitrary JSON into every Defender response model
// ---------------------------------------------------------------------------------------------

/// Parses `data` as `T`; what parses must serialise, parse again and serialise to the same JSON.
fn model<T: DeserializeOwned + Serialize>(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<T>(data) else { return };
    let first = serde_json::to_value(&v);
    assert!(first.is_ok(), "{} parsed but does not serialise", std::any::type_name::<T>());
    let first = first.unwrap_or_default();
    let again = serde_json::from_value::<T>(first.clone()).map(|v| serde_json::to_value(&v).ok());
    assert!(
        matches!(&again, Ok(Some(j)) if *j == first),
        "{} does not re-serialise idempotently: {first} -> {again:?}",
        std::any::type_name::<T>()
    );
}

/// Every response model, alone and in an OData page.
pub fn models(data: &[u8]) {
    use m::{actions, alerts, files, graph, hunting, incidents, indicators, investigations, machines, network};
    model::<alerts::Alert>(data);
    model::<ODataList<alerts::Alert>>(data);
    model::<alerts::AlertEvidence>(data);
    model::<alerts::RelatedUser>(data);
    model::<alerts::AlertDomain>(data);
    model::<alerts::AlertIp>(data);
    model::<machines::Machine>(data);
    model::<ODataList<machines::Machine>>(data);
    model::<machines::MdeUser>(data);
    model::<machines::Software>(data);
    model::<machines::Vulnerability>(data);
    model::<actions::MachineAction>(data);
    model::<ODataList<actions::MachineAction>>(data);
    model::<actions::LiveResponseCommandResult>(data);
    model::<files::FileInfo>(data);
    model::<files::FileStats>(data);
    model::<network::IpStats>(data);
    model::<network::DomainStats>(data);
    model::<indicators::Indicator>(data);
    model::<indicators::IndicatorImportResult>(data);
    model::<investigations::Investigation>(data);
    model::<incidents::Incident>(data);
    model::<ODataList<incidents::Incident>>(data);
    model::<graph::GraphAlert>(data);
    model::<ODataList<graph::GraphAlert>>(data);
    model::<graph::GraphIncident>(data);
    model::<hunting::HuntingResponse>(data);
    model::<m::DownloadLink>(data);
    model::<m::Comment>(data);
}

// ---------------------------------------------------------------------------------------------
// senders: the webhook sender → tenant binding (`defender_shared::senders`)
// ---------------------------------------------------------------------------------------------

/// The tenants the `senders` target's registry holds.
const SENDER_TENANTS: &[&str] = &["contoso", "fabrikam", "tailspin", "default"];

/// A `senders` document, a blank line, then requests one per line: `<webhook-sender header or ->
/// <requested tenant or ->`. Whatever parses binds each sender to 1-2 keys of its own and 1+ known
/// tenants; a request is answered only for a tenant of its sender (the named one, or the only one);
/// the senders tried for a request are the named one, or few enough keys to hash.
pub fn senders(data: &[u8]) {
    use defender_shared::senders::{
        BindingError, CandidateError, MAX_HEADERLESS_KEYS, MAX_KEYS_PER_SENDER, Scheme, Senders,
    };
    let text = String::from_utf8_lossy(data);
    let (doc, requests) = text.split_once("\n\n").unwrap_or((&text, ""));
    let known = |t: &TenantName| SENDER_TENANTS.contains(&t.as_str());
    let Ok(senders) = Senders::from_json(doc, known) else { return };
    let mut secrets = std::collections::HashSet::new();
    let mut names = std::collections::HashSet::new();
    for s in senders.iter() {
        assert!(names.insert(s.name.clone()), "sender name {} twice", s.name);
        assert!((1..=MAX_KEYS_PER_SENDER).contains(&s.secret_names.len()), "{}: key count", s.name);
        for k in &s.secret_names {
            assert!(secrets.insert(k.clone()), "secret {k} shared between senders");
        }
        assert!(!s.tenants.is_empty() && s.tenants.iter().all(known), "{}: tenants", s.name);
    }
    for line in requests.lines().take(64) {
        let (header, tenant) = line.split_once(' ').unwrap_or((line, "-"));
        let header = (header != "-").then_some(header);
        let requested: Option<TenantName> = match tenant {
            "-" => None,
            t => match t.parse() {
                Ok(t) => Some(t),
                Err(_) => continue,
            },
        };
        for scheme in [Scheme::Standard, Scheme::Github] {
            match senders.candidates(scheme, header) {
                Ok(list) => {
                    assert!(!list.is_empty(), "no candidates but no error");
                    assert!(list.iter().all(|s| s.scheme == scheme), "a sender of another scheme is tried");
                    match header {
                        Some(h) => assert!(list.len() == 1 && list[0].name.as_str() == h.trim(), "header ignored"),
                        None => {
                            let keys: usize = list.iter().map(|s| s.secret_names.len()).sum();
                            assert!(keys <= MAX_HEADERLESS_KEYS, "{keys} keys tried without the header");
                        }
                    }
                    for s in list {
                        match s.resolve(requested.as_ref()) {
                            Ok(t) => {
                                assert!(s.tenants.contains(t), "{} answered for unbound {t}", s.name);
                                match &requested {
                                    Some(r) => assert_eq!(r, t, "answered for another tenant than asked"),
                                    None => assert_eq!(s.tenants.len(), 1, "no tenant named, several bound"),
                                }
                            }
                            Err(BindingError::NotBound { tenant, .. }) => {
                                assert!(!s.tenants.contains(&tenant), "{} refused its own {tenant}", s.name);
                            }
                            Err(BindingError::TenantRequired { .. }) => {
                                assert!(requested.is_none() && s.tenants.len() > 1, "tenant required wrongly");
                            }
                        }
                    }
                }
                Err(CandidateError::UnknownSender) => {
                    let h = header.map(str::trim).unwrap_or_default();
                    assert!(
                        !senders.iter().any(|s| s.scheme == scheme && s.name.as_str() == h),
                        "known sender refused"
                    );
                }
                Err(CandidateError::HeaderRequired) => assert!(header.is_none()),
                Err(CandidateError::NoSender) => assert!(!senders.uses(scheme)),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// pages: recorded entities, mutated, through the per-item page decoder
// ---------------------------------------------------------------------------------------------

/// Recorded list pages of `contract/real-responses/` (real tenants), by model.
const RECORDED: &[(&str, &str)] = &[
    ("alert", include_str!("../../../contract/real-responses/swimlane__get_alerts.json")),
    ("alert", include_str!("../../../contract/real-responses/cisco_relay__alerts_raw_response.json")),
    ("incident", include_str!("../../../contract/real-responses/swimlane__get_incidents_list.json")),
    ("machine", include_str!("../../../contract/real-responses/swimlane__get_machines.json")),
    ("action", include_str!("../../../contract/real-responses/sekoia__machine_actions.json")),
    ("action", include_str!("../../../contract/real-responses/cisco_relay__machine_actions_history.json")),
];

fn recorded() -> &'static [(&'static str, Value)] {
    static ALL: std::sync::OnceLock<Vec<(&'static str, Value)>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        RECORDED
            .iter()
            .flat_map(|(kind, text)| {
                let doc: Value = serde_json::from_str(text).unwrap_or_default();
                let items = doc["entities"].as_array().cloned().unwrap_or_default();
                items.into_iter().map(move |e| (*kind, e))
            })
            .collect()
    })
}

/// Applies one mutation to the member `key` (an index into the object's members, recursing into
/// the first nested object or array member when `op` says so).
fn mutate(v: &mut Value, op: u8, key: u8) {
    match v {
        Value::Object(o) if !o.is_empty() => {
            let k = o.keys().nth(key as usize % o.len()).cloned().unwrap_or_default();
            match op % 8 {
                0 => {
                    o.remove(&k);
                }
                1 => {
                    o.insert(k, Value::Null);
                }
                2 => {
                    let text = o.get(&k).map(Value::to_string).unwrap_or_default();
                    o.insert(k, Value::String(text));
                }
                3 => {
                    o.insert(k, serde_json::json!(key as i64 - 128));
                }
                4 => {
                    o.insert(k, Value::String(String::new()));
                }
                5 => {
                    let inner = o.get(&k).cloned().unwrap_or_default();
                    o.insert(k, Value::Array(vec![inner]));
                }
                6 => {
                    o.insert(k, serde_json::json!({"x": null}));
                }
                _ => {
                    if let Some(inner) = o.get_mut(&k) {
                        mutate(inner, key, key.wrapping_mul(31));
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let n = a.len();
            if let Some(inner) = a.get_mut(key as usize % n) {
                mutate(inner, op, key.wrapping_add(1));
            }
        }
        other => *other = Value::String(format!("{op}")),
    }
}

/// Decodes `page` as a `Page<T>` and checks the property: nothing lost, each item as sent, the items
/// at `typed` positions have a typed view.
fn page_keeps_every_item<T: DeserializeOwned>(page: &Value, typed: &[usize]) {
    let items = page["value"].as_array().cloned().unwrap_or_default();
    let text = page.to_string();
    let decoded = serde_json::from_str::<m::Page<T>>(&text);
    assert!(decoded.is_ok(), "a page with a JSON array of items failed as a whole: {:?}", decoded.err());
    let Ok(decoded) = decoded else { return };
    assert_eq!(decoded.value.len(), items.len(), "an item was lost");
    for (i, (item, sent)) in decoded.value.iter().zip(&items).enumerate() {
        let raw: Result<Value, _> = serde_json::from_str(item.raw().get());
        assert!(matches!(&raw, Ok(r) if r == sent), "item {i} is not kept as sent");
        if typed.contains(&i) {
            assert!(item.typed().is_ok(), "recorded item {i} lost its typed view: {:?}", item.typed().err());
        }
        if let Err(e) = item.typed() {
            assert!(!e.field.is_empty() && !e.reason.is_empty(), "an error without a member or reason");
        }
    }
    // The shared client's single-page lists (`ODataList`, chat-ops and enrichment lookups): the page
    // decodes, every item is either typed or named as undecodable, the same ones as above.
    let list = serde_json::from_str::<ODataList<T>>(&text);
    assert!(list.is_ok(), "an ODataList with a JSON array of items failed as a whole: {:?}", list.err());
    let Ok(list) = list else { return };
    let failed = decoded.value.iter().filter(|i| i.typed().is_err()).count();
    assert_eq!(
        (list.value.len(), list.undecodable.len()),
        (items.len() - failed, failed),
        "an ODataList item was lost"
    );
}

/// Recorded entities, mutated by the input, through the per-item page decoder of their model; and the
/// input itself as a page when it is a JSON object with a `value` array.
pub fn pages(data: &[u8]) {
    use m::{actions::MachineAction, alerts::Alert, incidents::Incident, machines::Machine};
    let all = recorded();
    if let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(data)
        && o.get("value").is_some_and(Value::is_array)
    {
        let page = Value::Object(o);
        page_keeps_every_item::<Alert>(&page, &[]);
        page_keeps_every_item::<Incident>(&page, &[]);
        page_keeps_every_item::<Machine>(&page, &[]);
        page_keeps_every_item::<MachineAction>(&page, &[]);
        return;
    }
    let Some((&first, ops)) = data.split_first() else { return };
    if all.is_empty() {
        return;
    }
    let (kind, entity) = &all[first as usize % all.len()];
    let mut odd = entity.clone();
    for pair in ops.chunks(2).take(16) {
        mutate(&mut odd, pair[0], pair.get(1).copied().unwrap_or(0));
    }
    let page = serde_json::json!({ "@odata.context": "x", "value": [entity, odd, entity] });
    match *kind {
        "alert" => page_keeps_every_item::<Alert>(&page, &[0, 2]),
        "incident" => page_keeps_every_item::<Incident>(&page, &[0, 2]),
        "machine" => page_keeps_every_item::<Machine>(&page, &[0, 2]),
        _ => page_keeps_every_item::<MachineAction>(&page, &[0, 2]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lexers_catch_a_literal_that_ends_early() {
        // The property checks themselves: a naive, unescaped rendering fails them.
        assert_eq!(odata_lex("name eq 'a''b'"), Some(("name eq ?".into(), vec!["a'b".into()])));
        let naive = "name eq 'x' or 1 eq 1 or 'y'";
        assert_ne!(odata_lex(naive).map(|(c, _)| c), Some("name eq ?".into()));
        assert_eq!(kql_lex(r#"x == "a\"b\n""#), Some(("x == ?".into(), vec!["a\"b\n".into()])));
        let naive = r#"x == "a" | take 1 | where "b""#;
        assert_ne!(kql_lex(naive).map(|(c, _)| c), Some("x == ?".into()));
        assert_eq!(kql_lex(r#"x == "a\q""#), None, "an unknown escape is refused");
    }

    #[test]
    fn hostile_inputs_pass_every_target() {
        for input in [&b"x' or 1 eq 1"[..], b"\"a\\\" | take 1 //", b"a\0b'c", b"\x01\n\r\t", b"{}", b"[1,2]"] {
            for (_, target) in TARGETS {
                target(input);
            }
        }
    }

    #[test]
    fn a_signed_webhook_reaches_the_parser_and_loses_no_item() {
        let body = br#"{"indicators":{"ips":["10.0.0.1","nope"],"domains":["x' or 1 eq 1"]}}"#;
        let mut data = b"\x00content-type: application/json\n\n".to_vec();
        data.extend_from_slice(body);
        webhook(&data);
        let state = webhook_state().unwrap();
        assert_eq!(state.senders.secret_names().collect::<Vec<_>>(), ["webhook-secret"]);
    }
}
