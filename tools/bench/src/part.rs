//! A part of `make bench` in its own process. A part that holds much memory (the 1M-alert export, the
//! 500-tenant fan-out) runs as its own binary, so neither its peak RSS nor its allocator's retained
//! pages land in the process that measures the shared client after it: its binary prints its rows
//! ([`report`]) as a two-column Markdown table, and `defender-bench` runs that binary ([`run`]) and
//! reads the rows back ([`parse`]). Run alone, the same binary prints the same table.

use crate::{BoxError, table::cell};
use std::process::{ExitCode, Stdio};

/// One line of a part's table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// What was measured.
    pub measure: String,
    /// The figure, with its unit.
    pub value: String,
}

/// A [`Row`].
pub fn row(measure: impl Into<String>, value: impl Into<String>) -> Row {
    Row { measure: measure.into(), value: value.into() }
}

const HEADER: &str = "| measure | value |";
const RULE: &str = "|---|---|";

/// The table a part prints: `title` (with the build), then one line per row.
pub fn markdown(title: &str, rows: &[Row]) -> String {
    let build = if cfg!(debug_assertions) { "debug build" } else { "release build" };
    let mut out = format!("{title} ({build})\n{HEADER}\n{RULE}\n");
    for r in rows {
        out.push_str(&format!("| {} | {} |\n", cell(&r.measure), cell(&r.value)));
    }
    out
}

/// The rows of a table [`markdown`] printed (the lines after its header; `\|` is a `|` in a cell).
///
/// # Errors
/// There is no table, or a line of it does not have two cells.
pub fn parse(text: &str) -> Result<Vec<Row>, BoxError> {
    let mut lines = text.lines().skip_while(|l| l.trim() != HEADER);
    if lines.next().is_none() || lines.next().map(str::trim) != Some(RULE) {
        return Err(format!("no table in the part's output: {text:?}").into());
    }
    lines
        .take_while(|l| l.starts_with('|'))
        .map(|l| match cells(l).as_slice() {
            [measure, value] => Ok(row(measure.clone(), value.clone())),
            other => Err(format!("a row of {} cells, not 2: {l:?}", other.len()).into()),
        })
        .collect()
}

/// The cells of one table line, unescaped.
fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cur.push('|');
                chars.next();
            }
            '|' => out.push(std::mem::take(&mut cur).trim().to_string()),
            c => cur.push(c),
        }
    }
    out
}

/// A part binary's end: its table on stdout (exit 0), or its error on stderr (exit 1).
pub fn report(name: &str, title: &str, rows: Result<Vec<Row>, BoxError>) -> ExitCode {
    match rows {
        Ok(rows) => {
            print!("{}", markdown(title, &rows));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the part binary `name` (beside this one) with `args`, its stderr passed through, and reads
/// its rows back.
///
/// # Errors
/// The binary is missing (run `make bench`, which builds it), fails, or prints no table.
pub async fn run(name: &str, args: &[String]) -> Result<Vec<Row>, BoxError> {
    let exe = std::env::current_exe()?.with_file_name(name);
    let out = tokio::process::Command::new(&exe)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .await
        .map_err(|e| format!("cannot start {}: {e} (run `make bench`, which builds it)", exe.display()))?;
    if !out.status.success() {
        return Err(format!("{name} {}: {}", args.join(" "), out.status).into());
    }
    parse(&String::from_utf8_lossy(&out.stdout))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_rows_a_part_prints_are_the_rows_read_back() {
        let rows = vec![
            row("500 tenants × 2 streams | one period", "7.8 s (1000 jobs)"),
            row("429 answers", "0"),
            row("a \\ backslash and a\nnewline", "1 / 2"),
        ];
        let text = format!("noise before\n{}", markdown("fan-out", &rows));
        let back = parse(&text).unwrap();
        assert_eq!(back[..2], rows[..2]);
        assert_eq!(back[2], row("a \\ backslash and a newline", "1 / 2"), "a newline is a space in a cell");
    }

    #[test]
    fn output_without_a_table_or_with_a_broken_row_is_refused() {
        assert!(parse("export-bench: no table\n").is_err());
        assert!(parse(&format!("{HEADER}\n{RULE}\n| one | two | three |\n")).is_err());
        assert_eq!(parse(&format!("{HEADER}\n{RULE}\n")).unwrap(), vec![]);
    }
}
