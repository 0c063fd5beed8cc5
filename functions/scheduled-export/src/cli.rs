//! The binary's command line: no argument is the Lambda (the Runtime API loop);
//! `scheduled-export backfill --from <RFC 3339> --to <RFC 3339>` exports that window from a terminal,
//! invocation after invocation of at most [`BACKFILL_SLICE`] each (so an interrupted backfill leaves a
//! lease that expires within it, and the next command resumes from the backfill's own cursor), with a
//! progress bar on stderr when stderr is a terminal.

use crate::{
    export::{Backfill, Outcome, Stream},
    handler::{self, State},
};
use chrono::{DateTime, Utc};
use defender_shared::clock::Deadline;
use std::{
    collections::BTreeMap,
    io::{IsTerminal, Write},
    sync::Mutex,
    time::{Duration, Instant},
};

/// Longest single pass of a CLI backfill (as long as a Lambda may run).
pub const BACKFILL_SLICE: Duration = Duration::from_secs(15 * 60);

/// What the binary was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Serve the Lambda Runtime API.
    Lambda,
    /// Export a window from the command line.
    Backfill(Backfill),
}

/// The command line is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// Unknown command or flag.
    #[error("usage: scheduled-export [backfill --from <RFC 3339 time> --to <RFC 3339 time>] ({0})")]
    Usage(String),
    /// A time that is not RFC 3339.
    #[error("{flag}: '{value}' is not an RFC 3339 time (2026-11-01T00:00:00Z)")]
    Time {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
    },
    /// `from` not before `to`.
    #[error("--from must be before --to")]
    Window,
}

/// The process's command line, or (wrong) the usage on stderr and exit status 2.
pub fn from_args() -> Command {
    parse(std::env::args().skip(1)).unwrap_or_else(|e| {
        eprintln!("scheduled-export: {e}");
        std::process::exit(2)
    })
}

/// A backfill from the terminal: passes of at most [`BACKFILL_SLICE`] until every stream is
/// complete (or one fails or is held by another run), each pass's summary as JSON on stdout, the
/// progress bar on stderr when it is a terminal.
///
/// # Errors
/// A stream failed (the same command resumes it), or another run holds one.
pub async fn backfill(state: &State, window: Backfill) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let run_id = format!("cli-backfill-{}", std::process::id());
    let bar = std::io::stderr().is_terminal().then(|| ProgressBar::new(window));
    let observe = |s: &Stream, n: u64, at: DateTime<Utc>| {
        if let Some(b) = &bar {
            b.update(s, n, at);
        }
    };
    loop {
        let summary = handler::run(state, Some(window), &run_id, Deadline::after(BACKFILL_SLICE), &observe).await;
        println!("{}", serde_json::to_string(&summary)?);
        let again = summary.failures.is_empty()
            && summary.streams.iter().any(|s| s.outcome == Outcome::Stopped)
            && summary.streams.iter().all(|s| s.outcome != Outcome::Conflict);
        if !again {
            if let Some(b) = &bar {
                b.finish();
            }
            if !summary.failures.is_empty() {
                return Err(format!(
                    "{} stream(s) failed; run the same command again to resume",
                    summary.failures.len()
                )
                .into());
            }
            if summary.streams.iter().any(|s| s.outcome == Outcome::Conflict) {
                return Err("another run holds a stream of this backfill; try again when it ends".into());
            }
            return Ok(());
        }
    }
}

/// Reads the arguments after the program name.
///
/// # Errors
/// An unknown command or flag, a missing or unreadable time, `--from` not before `--to`.
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command, CliError> {
    let mut args = args.into_iter();
    match args.next().as_deref() {
        None => return Ok(Command::Lambda),
        Some("backfill") => {}
        Some(other) => return Err(CliError::Usage(format!("unknown command '{other}'"))),
    }
    let (mut from, mut to) = (None, None);
    while let Some(flag) = args.next() {
        let (name, inline) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.clone(), None),
        };
        let slot = match name.as_str() {
            "--from" => &mut from,
            "--to" => &mut to,
            _ => return Err(CliError::Usage(format!("unknown flag '{flag}'"))),
        };
        let value = inline.or_else(|| args.next()).ok_or_else(|| CliError::Usage(format!("{name} needs a value")))?;
        *slot = Some(value);
    }
    let time = |flag: &'static str, v: Option<String>| -> Result<DateTime<Utc>, CliError> {
        let v = v.ok_or_else(|| CliError::Usage(format!("{flag} is required")))?;
        DateTime::parse_from_rfc3339(v.trim())
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| CliError::Time { flag, value: v })
    };
    let (from, to) = (time("--from", from)?, time("--to", to)?);
    if from >= to {
        return Err(CliError::Window);
    }
    Ok(Command::Backfill(Backfill { from, to }))
}

/// One stream's progress line: `name [#####-----]  50%  1,234 records  at <time>`.
pub fn progress_line(stream: &str, window: Backfill, records: u64, at: DateTime<Utc>) -> String {
    const WIDTH: usize = 24;
    let total = (window.to - window.from).num_milliseconds().max(1) as f64;
    let done = ((at - window.from).num_milliseconds() as f64 / total).clamp(0.0, 1.0);
    let filled = (done * WIDTH as f64).round() as usize;
    format!(
        "{stream:<22} [{}{}] {:>3}%  {records} records  at {}",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
        (done * 100.0).floor() as u64,
        at.format("%Y-%m-%dT%H:%M:%SZ")
    )
}

/// Per stream: records so far and where its cursor is; when the line was last drawn.
type Drawn = (BTreeMap<String, (u64, DateTime<Utc>)>, Option<Instant>);

/// A progress bar on stderr: one line per stream, redrawn at most every 100 ms.
#[derive(Debug)]
pub struct ProgressBar {
    window: Backfill,
    state: Mutex<Drawn>,
}

impl ProgressBar {
    /// A bar over `window`.
    pub fn new(window: Backfill) -> Self {
        Self { window, state: Mutex::new((BTreeMap::new(), None)) }
    }

    /// Records a stream's progress and redraws the line of that stream.
    pub fn update(&self, stream: &Stream, records: u64, at: DateTime<Utc>) {
        let Ok(mut st) = self.state.lock() else { return };
        let name = stream.to_string();
        st.0.insert(name.clone(), (records, at));
        let due = st.1.is_none_or(|t| t.elapsed() >= Duration::from_millis(100)) || at >= self.window.to;
        if due {
            st.1 = Some(Instant::now());
            let line = progress_line(&name, self.window, records, at);
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
        }
    }

    /// Ends the bar: the last state of every stream, one line each.
    pub fn finish(&self) {
        let Ok(st) = self.state.lock() else { return };
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K");
        for (name, (records, at)) in &st.0 {
            let _ = writeln!(err, "{}", progress_line(name, self.window, *records, *at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse(args("")), Ok(Command::Lambda));
        let from: DateTime<Utc> = "2026-11-01T00:00:00Z".parse().unwrap();
        let to: DateTime<Utc> = "2026-11-02T00:00:00Z".parse().unwrap();
        let want = Ok(Command::Backfill(Backfill { from, to }));
        assert_eq!(parse(args("backfill --from 2026-11-01T00:00:00Z --to 2026-11-02T00:00:00Z")), want);
        assert_eq!(parse(args("backfill --to=2026-11-02T01:00:00+01:00 --from=2026-11-01T00:00:00Z")), want);
        assert!(matches!(parse(args("backfill --from 2026-11-01")), Err(CliError::Time { flag: "--from", .. })));
        assert!(matches!(parse(args("backfill --from 2026-11-01T00:00:00Z")), Err(CliError::Usage(_))));
        assert_eq!(
            parse(args("backfill --from 2026-11-02T00:00:00Z --to 2026-11-01T00:00:00Z")),
            Err(CliError::Window)
        );
        assert!(matches!(parse(args("replay")), Err(CliError::Usage(_))));
        assert!(matches!(parse(args("backfill --since x")), Err(CliError::Usage(_))));
    }

    #[test]
    fn the_bar_fills_with_the_cursor() {
        let w = Backfill { from: "2026-11-01T00:00:00Z".parse().unwrap(), to: "2026-11-02T00:00:00Z".parse().unwrap() };
        let half = progress_line("mde-alerts", w, 1234, "2026-11-01T12:00:00Z".parse().unwrap());
        assert!(half.contains("[############------------]  50%  1234 records"), "{half}");
        let before = progress_line("mde-alerts", w, 0, "2026-10-01T00:00:00Z".parse().unwrap());
        assert!(before.contains("   0%"), "{before}");
        let done = progress_line("hunting:proc", w, 9, "2026-11-02T00:00:00Z".parse().unwrap());
        assert!(done.contains("100%") && done.contains(&"#".repeat(24)), "{done}");
    }
}
