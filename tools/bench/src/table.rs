//! The one table `make bench` prints and writes to `bench/results.md`: one row per measure, a Rust
//! column, a Python-baseline column (— where the baseline has no counterpart) and their ratio.

/// One measure.
#[derive(Debug, Clone)]
pub struct Row {
    /// The group it belongs to (`function`, `economy`, `artifact`, `shared client`, `export`, …).
    pub section: &'static str,
    /// What is measured, with its conditions.
    pub measure: String,
    /// The Rust figure.
    pub rust: String,
    /// The Python baseline's figure, or `—`.
    pub python: String,
    /// Rust against Python (or a target check), or `—`.
    pub ratio: String,
}

impl Row {
    /// A measure with no Python counterpart.
    pub fn rust_only(section: &'static str, measure: impl Into<String>, rust: impl Into<String>) -> Self {
        Self { section, measure: measure.into(), rust: rust.into(), python: "—".into(), ratio: "—".into() }
    }

    /// A measure taken on both sides.
    pub fn both(
        section: &'static str,
        measure: impl Into<String>,
        rust: impl Into<String>,
        python: impl Into<String>,
        ratio: impl Into<String>,
    ) -> Self {
        Self { section, measure: measure.into(), rust: rust.into(), python: python.into(), ratio: ratio.into() }
    }
}

/// The rows, in the order they were measured, plus notes printed under the table.
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Row>,
    notes: Vec<String>,
}

/// `s` as a Markdown table cell (`|` escaped, a newline a space).
pub fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

impl Table {
    /// Adds a row.
    pub fn push(&mut self, row: Row) {
        self.rows.push(row);
    }

    /// Adds rows.
    pub fn extend(&mut self, rows: impl IntoIterator<Item = Row>) {
        self.rows.extend(rows);
    }

    /// Adds a note (how something was measured, a caveat).
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The table as Markdown, notes as a list under it.
    pub fn markdown(&self) -> String {
        let mut out = String::from("| | measure | Rust | Python baseline | Rust vs Python |\n|---|---|---|---|---|\n");
        for r in &self.rows {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                cell(r.section),
                cell(&r.measure),
                cell(&r.rust),
                cell(&r.python),
                cell(&r.ratio)
            ));
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                out.push_str(&format!("- {n}\n"));
            }
        }
        out
    }
}

/// The finite values of `v`, sorted.
fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    s
}

/// The median of `v` (NaN for none).
pub fn median(v: &[f64]) -> f64 {
    let s = sorted(v);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// The `p` quantile of `v` (nearest rank; NaN for none).
pub fn quantile(v: &[f64], p: f64) -> f64 {
    let s = sorted(v);
    let i = ((s.len() as f64 - 1.0) * p).round() as usize;
    s.get(i.min(s.len().saturating_sub(1))).copied().unwrap_or(f64::NAN)
}

/// `figure`, and whether it meets `target` (`(met, "≥ 15x")`) when there is one.
fn against(figure: String, target: Option<(bool, String)>) -> String {
    match target {
        Some((true, t)) => format!("{figure} (target {t}: met)"),
        Some((false, t)) => format!("{figure} (target {t}: NOT met)"),
        None => figure,
    }
}

/// `python / rust` as "N.Nx faster", with a target check when given.
pub fn faster(rust: f64, python: f64, target: Option<f64>) -> String {
    let x = python / rust;
    against(format!("{x:.1}x faster"), target.map(|t| (x >= t, format!("≥ {t}x"))))
}

/// `rust / python` as "1/N.N", with a target check when given (`target` is the largest accepted share).
pub fn share(rust: f64, python: f64, target_denominator: Option<f64>) -> String {
    let d = python / rust;
    against(format!("1/{d:.1}"), target_denominator.map(|t| (d >= t, format!("≤ 1/{t}"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_quantiles_and_ratios() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
        assert_eq!(quantile(&[5.0, 1.0, 3.0, 2.0, 4.0], 0.99), 5.0);
        assert_eq!(faster(10.0, 200.0, Some(15.0)), "20.0x faster (target ≥ 15x: met)");
        assert_eq!(faster(10.0, 100.0, Some(15.0)), "10.0x faster (target ≥ 15x: NOT met)");
        assert_eq!(share(10.0, 50.0, Some(4.0)), "1/5.0 (target ≤ 1/4: met)");
        assert_eq!(share(10.0, 30.0, Some(4.0)), "1/3.0 (target ≤ 1/4: NOT met)");
        assert_eq!(share(10.0, 30.0, None), "1/3.0");
        assert!(quantile(&[], 0.5).is_nan());
    }

    #[test]
    fn markdown_escapes_cells_and_lists_notes() {
        let mut t = Table::default();
        t.push(Row::both("function", "a | b", "1", "2", "2.0x"));
        t.note("measured here");
        let md = t.markdown();
        assert!(md.contains("| function | a \\| b | 1 | 2 | 2.0x |"), "{md}");
        assert!(md.ends_with("- measured here\n"), "{md}");
    }
}
