//! A small, documented subset of KQL (Kusto Query Language), enough to serve
//! the simulated Defender advanced-hunting API over seeded in-memory tables.
//!
//! A table is a `Vec` of `serde_json::Map` rows whose values are JSON strings,
//! numbers, booleans or null. Timestamps are ISO 8601 / RFC 3339 strings such
//! as `"2020-02-05T01:10:26.2648757Z"`. [`parse`] turns query text into a
//! [`Query`]; [`Query::run`] evaluates it and returns an [`Output`] (schema,
//! rows, truncation flag). Nothing in this module panics on any input.
//!
//! # Query shape
//!
//! `TableName | operator | operator ...` — a table name, then zero or more
//! operators separated by `|` (whitespace around `|` is optional). `//`
//! comments run to the end of the line. Keywords are lowercase, as in KQL.
//!
//! # Operators
//!
//! * `where <predicate>` (alias `filter`).
//! * `project Col, Col2, NewName = Col3, Lit = 'text'` — each item is a
//!   column, or `Name =` followed by a column or a literal (`now()` and
//!   `ago(...)` count as literals; timespans cannot be output).
//! * `project-away Col, ...`.
//! * `extend NewCol = <column or literal>, ...` (adds a column at the end, or
//!   replaces an existing one in place).
//! * `take n` / `limit n`.
//! * `top n by Col [asc|desc] [nulls first|nulls last]` (default `desc`).
//! * `order by` / `sort by Col [asc|desc] [nulls first|nulls last], ...`
//!   (default `desc`; nulls last for `desc`, first for `asc`, as in KQL; the
//!   sort is stable).
//! * `summarize [Name =] count() [by Col, ...]` (count column `count_`,
//!   `Int64`; groups in first-seen order; without `by`, always one row, even
//!   over no rows) and `summarize by Col, ...` (distinct groups).
//! * `count` — one row with the `Int64` column `Count`.
//! * `distinct Col, ...` or `distinct *` (first-seen order).
//!
//! # Predicates (`where`)
//!
//! * `and`, `or` (`and` binds tighter), `not(<predicate>)`, parentheses.
//! * `==`, `!=`, `<`, `<=`, `>`, `>=`: numbers compare numerically (`Int64`
//!   with `Double` too), strings ordinally (case-sensitive), booleans, and
//!   instants when either side is a datetime (a string on the other side is
//!   parsed as a datetime). Null, unparsable or mismatched operands make every
//!   comparison false (also `!=`).
//! * `=~`, `!~`: case-insensitive string equality.
//! * `contains`, `!contains`, `startswith`, `!startswith`, `endswith`,
//!   `!endswith` (case-insensitive), their `_cs` forms (case-sensitive),
//!   `has`, `!has` (case-insensitive whole-term match: the match must start and
//!   end at a boundary between alphanumeric and non-alphanumeric characters),
//!   `has_cs`, `!has_cs`. String operators see non-string values as text.
//! * `in (a, b, ...)`, `!in (...)` (case-sensitive equality with `==`
//!   semantics), `in~ (...)`, `!in~ (...)` (case-insensitive).
//! * `between (lo .. hi)`, `!between (lo .. hi)` — inclusive, for numbers and
//!   datetimes; `hi` may be a timespan, meaning `lo + hi`.
//! * `isempty(Col)`, `isnotempty(Col)` (null or `""`), `isnull(Col)`,
//!   `isnotnull(Col)` (JSON null in a non-string column; a string column's
//!   null reads as `""`, as KQL strings are never null).
//! * A bare `Boolean` column or `true`/`false` is a predicate too.
//!
//! # Literals
//!
//! `"double"` or `'single'` quoted strings (backslash escapes `\\ \" \' \n \t
//! \r`), verbatim `@"..."`/`@'...'`, integers and decimals (optionally negated
//! with `-`), `true`/`false`, `datetime(2020-02-05T01:10:26Z)` (RFC 3339, or
//! `YYYY-MM-DD[(T| )hh:mm:ss[.f]]` read as UTC; may be quoted),
//! `datetime(null)`, `now()`, `ago(<timespan>)`, and timespans such as `7d`,
//! `1.5h`, `30m`, `10s`, `250ms` (units `d`, `h`, `m`, `min`, `s`, `sec`,
//! `ms`). `now()`/`ago()` use the clock passed to [`Query::run`].
//!
//! # Schema and rows
//!
//! A table's columns are the keys of its rows in first-seen order. A column's
//! type comes from its first non-null value in the table: a string that parses
//! as RFC 3339 → `DateTime`, other string → `String`, integer → `Int64`,
//! float → `Double`, bool → `Boolean`, object/array → `Dynamic`; a column with
//! no non-null value is `String`. Literal columns take the literal's type.
//! Output rows hold exactly the schema's columns, keys in schema order (missing
//! values become null), in table order unless sorted; datetime literals are
//! written like `2020-02-05T01:10:26.2648757Z`. When the table has no rows
//! its schema is unknown, so column names are not checked (unknown ones are
//! `String`). Results past `max_rows` are cut and flagged `truncated`.
//!
//! # Errors
//!
//! Unknown table → `'Foo' could not be resolved to a table`; unknown column →
//! `failed to resolve column 'X'`; syntax errors report a 0-based byte offset.
//! Everything else — `join`, `let`, `union`, `parse`, `make-series`, other
//! operators, functions or aggregations, arithmetic, computed `extend`
//! expressions — is [`KqlError::Unsupported`], naming the construct, never a
//! wrong answer.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde_json::{Map, Value};

/// A row of a table or of a result.
pub type Row = Map<String, Value>;

/// Maximum nesting depth of predicates (guards the recursive parser).
const MAX_DEPTH: usize = 64;

/// Errors from parsing or running a query. Messages are lowercase.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum KqlError {
    /// Malformed query text; `pos` is a 0-based byte offset.
    #[error("syntax error at position {pos}: {message}")]
    Syntax { pos: usize, message: String },
    /// The table named by the query does not exist.
    #[error("'{0}' could not be resolved to a table")]
    UnknownTable(String),
    /// A referenced column does not exist at that point of the pipeline.
    #[error("failed to resolve column '{0}'")]
    UnknownColumn(String),
    /// Valid KQL outside the supported subset; names the construct.
    #[error("{0} is not supported by this simulator")]
    Unsupported(String),
    /// A well-formed query that cannot be evaluated (e.g. a non-boolean
    /// predicate or an out-of-range datetime).
    #[error("{0}")]
    Semantic(String),
}

/// The type of an output column, as reported by the advanced-hunting API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    DateTime,
    String,
    /// KQL `long`.
    Int64,
    Double,
    Boolean,
    Dynamic,
}

impl ColumnType {
    /// The API's name for the type.
    pub fn as_str(&self) -> &'static str {
        match self {
            ColumnType::DateTime => "DateTime",
            ColumnType::String => "String",
            ColumnType::Int64 => "Int64",
            ColumnType::Double => "Double",
            ColumnType::Boolean => "Boolean",
            ColumnType::Dynamic => "Dynamic",
        }
    }
}

/// One column of a result schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub kind: ColumnType,
}

/// The result of running a query.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    pub schema: Vec<Column>,
    pub rows: Vec<Row>,
    /// True when more than `max_rows` rows were produced and the rest cut.
    pub truncated: bool,
}

/// A parsed query.
#[derive(Debug, Clone)]
pub struct Query {
    table: String,
    ops: Vec<Op>,
}

// ---------------------------------------------------------------------------
// AST
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    DateTime(DateTime<Utc>),
    Timespan(TimeDelta),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum StrOpKind {
    EqCi,
    Contains,
    StartsWith,
    EndsWith,
    Has,
}

#[derive(Debug, Clone)]
enum Expr {
    Column(String),
    Lit(Lit),
    Ago(TimeDelta),
    Now,
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(CmpOp, Box<Expr>, Box<Expr>),
    Str {
        kind: StrOpKind,
        case_sensitive: bool,
        negated: bool,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    In {
        expr: Box<Expr>,
        list: Vec<Expr>,
        case_insensitive: bool,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        lo: Box<Expr>,
        hi: Box<Expr>,
        negated: bool,
    },
    /// `isempty` (negated: `isnotempty`).
    IsEmpty(Box<Expr>, bool),
    /// `isnull` (negated: `isnotnull`).
    IsNull(Box<Expr>, bool),
}

#[derive(Debug, Clone)]
struct Assign {
    name: String,
    expr: Expr,
}

#[derive(Debug, Clone)]
struct SortKey {
    column: String,
    desc: bool,
    nulls_first: bool,
}

#[derive(Debug, Clone)]
enum Op {
    Where(Expr),
    Project(Vec<Assign>),
    ProjectAway(Vec<String>),
    Extend(Vec<Assign>),
    Take(usize),
    Sort(Vec<SortKey>),
    Top(usize, SortKey),
    Summarize {
        count_name: Option<String>,
        by: Vec<String>,
    },
    Count,
    /// Empty list means `distinct *`.
    Distinct(Vec<String>),
}

// ---------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Timespan(TimeDelta),
    /// Raw contents of `datetime(...)`.
    DateTimeRaw(String),
    Punct(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn syntax(pos: usize, message: impl Into<String>) -> KqlError {
    KqlError::Syntax { pos, message: message.into() }
}

fn unsupported(what: impl Into<String>) -> KqlError {
    KqlError::Unsupported(what.into())
}

const PUNCTS: [&str; 23] = [
    "==", "!=", "=~", "!~", "<=", ">=", "..", "|", ",", "(", ")", "=", "<", ">", "-", "+", "*", "/", "%", ".", "[",
    "]", ";",
];

fn timespan_from(value: f64, unit: &str) -> Option<TimeDelta> {
    let nanos_per: f64 = match unit {
        "d" => 86_400e9,
        "h" => 3_600e9,
        "m" | "min" => 60e9,
        "s" | "sec" => 1e9,
        "ms" => 1e6,
        _ => return None,
    };
    let nanos = value * nanos_per;
    // TimeDelta::nanoseconds never panics; keep well within i64 range.
    if !nanos.is_finite() || nanos.abs() >= 9.0e18 {
        return None;
    }
    Some(TimeDelta::nanoseconds(nanos as i64))
}

fn lex(text: &str) -> Result<Vec<Token>, KqlError> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let pos_of = |i: usize| chars.get(i).map_or(text.len(), |&(p, _)| p);
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        let start = pos_of(i);
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && at(i + 1) == Some('/') {
            while let Some(c) = at(i) {
                if c == '\n' {
                    break;
                }
                i += 1;
            }
            continue;
        }
        // Identifiers, also `!contains`-style negated word operators and `in~`.
        let negated_word = c == '!' && at(i + 1).is_some_and(|n| n.is_ascii_alphabetic());
        if c.is_ascii_alphabetic() || c == '_' || negated_word {
            let mut j = i + 1;
            while at(j).is_some_and(|n| n.is_ascii_alphanumeric() || n == '_') {
                j += 1;
            }
            if at(j) == Some('~') {
                j += 1;
            }
            let word: String = chars[i..j].iter().map(|&(_, c)| c).collect();
            i = j;
            if word == "datetime" {
                let mut k = i;
                while at(k).is_some_and(char::is_whitespace) {
                    k += 1;
                }
                if at(k) == Some('(') {
                    let mut m = k + 1;
                    while at(m).is_some_and(|c| c != ')') {
                        m += 1;
                    }
                    if at(m) != Some(')') {
                        return Err(syntax(pos_of(k), "unterminated datetime(...)"));
                    }
                    let raw: String = chars[k + 1..m].iter().map(|&(_, c)| c).collect();
                    i = m + 1;
                    out.push(Token { tok: Tok::DateTimeRaw(raw.trim().to_string()), start, end: pos_of(i) });
                    continue;
                }
            }
            out.push(Token { tok: Tok::Ident(word), start, end: pos_of(i) });
            continue;
        }
        // Strings (optionally verbatim with a leading @).
        let verbatim = c == '@' && matches!(at(i + 1), Some('"') | Some('\''));
        if c == '"' || c == '\'' || verbatim {
            let q_idx = if verbatim { i + 1 } else { i };
            let quote = at(q_idx).unwrap_or('"');
            let mut j = q_idx + 1;
            let mut s = String::new();
            loop {
                match at(j) {
                    None => return Err(syntax(start, "unterminated string literal")),
                    Some(ch) if ch == quote => {
                        j += 1;
                        break;
                    }
                    Some('\\') if !verbatim => {
                        let esc = at(j + 1).ok_or_else(|| syntax(start, "unterminated string literal"))?;
                        s.push(match esc {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                        j += 2;
                    }
                    Some(ch) => {
                        s.push(ch);
                        j += 1;
                    }
                }
            }
            i = j;
            out.push(Token { tok: Tok::Str(s), start, end: pos_of(i) });
            continue;
        }
        // Numbers and timespans.
        if c.is_ascii_digit() {
            let mut j = i;
            while at(j).is_some_and(|c| c.is_ascii_digit()) {
                j += 1;
            }
            let mut is_float = false;
            if at(j) == Some('.') && at(j + 1).is_some_and(|c| c.is_ascii_digit()) {
                is_float = true;
                j += 1;
                while at(j).is_some_and(|c| c.is_ascii_digit()) {
                    j += 1;
                }
            }
            let num: String = chars[i..j].iter().map(|&(_, c)| c).collect();
            let mut k = j;
            while at(k).is_some_and(|c| c.is_ascii_alphabetic()) {
                k += 1;
            }
            if at(k).is_some_and(|c| c.is_ascii_digit() || c == '_') {
                return Err(syntax(start, format!("malformed number near '{num}'")));
            }
            let tok = if k > j {
                let unit: String = chars[j..k].iter().map(|&(_, c)| c).collect();
                let value: f64 = num.parse().map_err(|_| syntax(start, format!("malformed number '{num}'")))?;
                Tok::Timespan(
                    timespan_from(value, &unit)
                        .ok_or_else(|| syntax(start, format!("invalid timespan '{num}{unit}'")))?,
                )
            } else if is_float {
                Tok::Float(num.parse().map_err(|_| syntax(start, format!("malformed number '{num}'")))?)
            } else {
                Tok::Int(num.parse().map_err(|_| syntax(start, format!("integer '{num}' is out of range")))?)
            };
            i = k;
            out.push(Token { tok, start, end: pos_of(i) });
            continue;
        }
        let rest = text.get(start..).unwrap_or("");
        match PUNCTS.iter().find(|p| rest.starts_with(**p)) {
            Some(p) => {
                i += p.chars().count();
                out.push(Token { tok: Tok::Punct(p), start, end: pos_of(i) });
            }
            None => return Err(syntax(start, format!("unexpected character '{c}'"))),
        }
    }
    out.push(Token { tok: Tok::Eof, start: text.len(), end: text.len() });
    Ok(out)
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

/// Operators of KQL that are recognised but not simulated.
const STRING_OPS_UNSUPPORTED: [&str; 12] = [
    "matches",
    "has_any",
    "has_all",
    "hasprefix",
    "hassuffix",
    "!hasprefix",
    "!hassuffix",
    "hasprefix_cs",
    "hassuffix_cs",
    "contains_any",
    "in_cs",
    "like",
];

struct Parser {
    toks: Vec<Token>,
    i: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.i).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek_at(&self, n: usize) -> &Tok {
        self.toks.get(self.i + n).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn pos(&self) -> usize {
        self.toks.get(self.i).or_else(|| self.toks.last()).map_or(0, |t| t.start)
    }

    fn bump(&mut self) -> Tok {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn is_punct(&self, p: &str) -> bool {
        matches!(self.peek(), Tok::Punct(q) if *q == p)
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Ident(s) if s == w)
    }

    fn eat_punct(&mut self, p: &str) -> bool {
        if self.is_punct(p) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, w: &str) -> bool {
        if self.is_word(w) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Str(_) => "a string literal".into(),
            Tok::Int(n) => format!("'{n}'"),
            Tok::Float(f) => format!("'{f}'"),
            Tok::Timespan(_) => "a timespan literal".into(),
            Tok::DateTimeRaw(_) => "a datetime literal".into(),
            Tok::Punct(p) => format!("'{p}'"),
            Tok::Eof => "end of query".into(),
        }
    }

    fn expect_punct(&mut self, p: &str) -> Result<(), KqlError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(syntax(self.pos(), format!("expected '{p}', found {}", self.describe())))
        }
    }

    fn expect_word(&mut self, w: &str) -> Result<(), KqlError> {
        if self.eat_word(w) {
            Ok(())
        } else {
            Err(syntax(self.pos(), format!("expected '{w}', found {}", self.describe())))
        }
    }

    fn ident(&mut self, what: &str) -> Result<String, KqlError> {
        match self.peek().clone() {
            Tok::Ident(s) if !s.starts_with('!') && !s.ends_with('~') => {
                self.i += 1;
                Ok(s)
            }
            _ => Err(syntax(self.pos(), format!("expected {what}, found {}", self.describe()))),
        }
    }

    fn at_op_end(&self) -> bool {
        matches!(self.peek(), Tok::Eof) || self.is_punct("|")
    }

    fn expect_op_end(&self) -> Result<(), KqlError> {
        if self.at_op_end() { Ok(()) } else { Err(syntax(self.pos(), format!("unexpected {}", self.describe()))) }
    }

    /// The operator name, joining hyphenated names such as `project-away`.
    fn op_name(&mut self) -> Result<String, KqlError> {
        let mut name = self.ident("an operator")?;
        while self.is_punct("-") {
            let minus_end = self.toks.get(self.i).map_or(0, |t| t.end);
            let prev_end = self.toks.get(self.i.wrapping_sub(1)).map_or(0, |t| t.end);
            let minus_start = self.toks.get(self.i).map_or(0, |t| t.start);
            let next = self.toks.get(self.i + 1);
            match next {
                Some(Token { tok: Tok::Ident(w), start, .. }) if *start == minus_end && prev_end == minus_start => {
                    name.push('-');
                    name.push_str(w);
                    self.i += 2;
                }
                _ => break,
            }
        }
        Ok(name)
    }

    fn count_arg(&mut self) -> Result<usize, KqlError> {
        let pos = self.pos();
        match self.bump() {
            Tok::Int(n) => usize::try_from(n).map_err(|_| syntax(pos, "row count out of range")),
            _ => Err(syntax(pos, "expected a non-negative integer row count")),
        }
    }

    /// A column name; a name followed by `(` is an (unsupported) function.
    fn column(&mut self) -> Result<String, KqlError> {
        let name = self.ident("a column name")?;
        if self.is_punct("(") {
            return Err(unsupported(format!("function '{name}'")));
        }
        Ok(name)
    }

    fn column_list(&mut self) -> Result<Vec<String>, KqlError> {
        let mut cols = vec![self.column()?];
        while self.eat_punct(",") {
            cols.push(self.column()?);
        }
        Ok(cols)
    }

    fn sort_key(&mut self) -> Result<SortKey, KqlError> {
        let column = self.column()?;
        let desc = if self.eat_word("asc") {
            false
        } else {
            self.eat_word("desc");
            true
        };
        let mut nulls_first = !desc;
        if self.eat_word("nulls") {
            if self.eat_word("first") {
                nulls_first = true;
            } else if self.eat_word("last") {
                nulls_first = false;
            } else {
                return Err(syntax(self.pos(), "expected 'first' or 'last'"));
            }
        }
        Ok(SortKey { column, desc, nulls_first })
    }

    fn assignments(&mut self, op: &str, require_name: bool) -> Result<Vec<Assign>, KqlError> {
        let mut items = Vec::new();
        loop {
            let pos = self.pos();
            let is_named = matches!(self.peek(), Tok::Ident(_)) && matches!(self.peek_at(1), Tok::Punct("="));
            let item = if is_named {
                let name = self.ident("a column name")?;
                self.expect_punct("=")?;
                let expr = self.operand()?;
                if !matches!(expr, Expr::Column(_) | Expr::Lit(_) | Expr::Ago(_) | Expr::Now) {
                    return Err(unsupported(format!("computed expressions in '{op}' (only a column or a literal)")));
                }
                Assign { name, expr }
            } else if require_name {
                return Err(syntax(pos, format!("'{op}' expects 'Name = value'")));
            } else {
                let name = self.column()?;
                Assign { expr: Expr::Column(name.clone()), name }
            };
            items.push(item);
            if self.eat_punct(",") {
                continue;
            }
            if self.at_op_end() {
                return Ok(items);
            }
            if matches!(self.peek(), Tok::Punct(_)) {
                return Err(unsupported(format!("computed expressions in '{op}' (only a column or a literal)")));
            }
            return Err(syntax(self.pos(), format!("unexpected {}", self.describe())));
        }
    }

    fn operator(&mut self) -> Result<Op, KqlError> {
        let name = self.op_name()?;
        let op = match name.as_str() {
            "where" | "filter" => Op::Where(self.expr()?),
            "project" => Op::Project(self.assignments("project", false)?),
            "project-away" => Op::ProjectAway(self.column_list()?),
            "extend" => Op::Extend(self.assignments("extend", true)?),
            "take" | "limit" => Op::Take(self.count_arg()?),
            "top" => {
                let n = self.count_arg()?;
                self.expect_word("by")?;
                Op::Top(n, self.sort_key()?)
            }
            "order" | "sort" => {
                self.expect_word("by")?;
                let mut keys = vec![self.sort_key()?];
                while self.eat_punct(",") {
                    keys.push(self.sort_key()?);
                }
                Op::Sort(keys)
            }
            "summarize" => self.summarize()?,
            "count" => Op::Count,
            "distinct" => {
                if self.eat_punct("*") {
                    Op::Distinct(Vec::new())
                } else {
                    Op::Distinct(self.column_list()?)
                }
            }
            other => return Err(unsupported(format!("operator '{other}'"))),
        };
        self.expect_op_end()?;
        Ok(op)
    }

    fn summarize(&mut self) -> Result<Op, KqlError> {
        if self.eat_word("by") {
            return Ok(Op::Summarize { count_name: None, by: self.column_list()? });
        }
        let mut count_name = String::from("count_");
        if matches!(self.peek(), Tok::Ident(_)) && matches!(self.peek_at(1), Tok::Punct("=")) {
            count_name = self.ident("a column name")?;
            self.i += 1;
        }
        let pos = self.pos();
        let func = self.ident("an aggregation")?;
        if !self.is_punct("(") {
            return Err(syntax(self.pos(), "expected '(' after aggregation name"));
        }
        if func != "count" {
            return Err(unsupported(format!("aggregation function '{func}'")));
        }
        self.expect_punct("(")?;
        if !self.eat_punct(")") {
            return Err(syntax(pos, "count() takes no arguments"));
        }
        if self.is_punct(",") {
            return Err(unsupported("multiple aggregations in 'summarize'"));
        }
        let by = if self.eat_word("by") { self.column_list()? } else { Vec::new() };
        Ok(Op::Summarize { count_name: Some(count_name), by })
    }

    // Predicates ------------------------------------------------------------

    fn expr(&mut self) -> Result<Expr, KqlError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax(self.pos(), "expression is nested too deeply"));
        }
        let mut left = self.and_expr()?;
        while self.eat_word("or") {
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, KqlError> {
        let mut left = self.comparison()?;
        while self.eat_word("and") {
            let right = self.comparison()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn comparison(&mut self) -> Result<Expr, KqlError> {
        let left = self.operand()?;
        let pos = self.pos();
        let cmp = match self.peek() {
            Tok::Punct("==") => Some(CmpOp::Eq),
            Tok::Punct("!=") => Some(CmpOp::Ne),
            Tok::Punct("<") => Some(CmpOp::Lt),
            Tok::Punct("<=") => Some(CmpOp::Le),
            Tok::Punct(">") => Some(CmpOp::Gt),
            Tok::Punct(">=") => Some(CmpOp::Ge),
            Tok::Punct("=~") | Tok::Punct("!~") => None,
            Tok::Punct(p @ ("+" | "-" | "*" | "/" | "%")) => {
                return Err(unsupported(format!("arithmetic operator '{p}'")));
            }
            Tok::Punct(p @ ("." | "[" | "]")) => {
                return Err(unsupported(format!("'{p}' (dynamic member access)")));
            }
            Tok::Punct("=") => {
                return Err(syntax(pos, "unexpected '=' (use '==' to compare)"));
            }
            _ => None,
        };
        if let Some(op) = cmp {
            self.i += 1;
            let right = self.operand()?;
            return Ok(Expr::Cmp(op, Box::new(left), Box::new(right)));
        }
        let word = match self.peek().clone() {
            Tok::Punct("=~") => "=~".to_string(),
            Tok::Punct("!~") => "!~".to_string(),
            Tok::Ident(w) => w,
            _ => return Ok(left),
        };
        if word == "and" || word == "or" {
            return Ok(left);
        }
        let (negated, base) = match word.strip_prefix('!') {
            Some(b) => (true, b.to_string()),
            None => (false, word.clone()),
        };
        let str_op = |kind, case_sensitive| Some((kind, case_sensitive));
        let sop = match base.as_str() {
            "=~" => str_op(StrOpKind::EqCi, false),
            "~" => str_op(StrOpKind::EqCi, false), // `!~`
            "contains" => str_op(StrOpKind::Contains, false),
            "contains_cs" => str_op(StrOpKind::Contains, true),
            "startswith" => str_op(StrOpKind::StartsWith, false),
            "startswith_cs" => str_op(StrOpKind::StartsWith, true),
            "endswith" => str_op(StrOpKind::EndsWith, false),
            "endswith_cs" => str_op(StrOpKind::EndsWith, true),
            "has" => str_op(StrOpKind::Has, false),
            "has_cs" => str_op(StrOpKind::Has, true),
            _ => None,
        };
        let negated = negated || word == "!~";
        if let Some((kind, case_sensitive)) = sop {
            self.i += 1;
            let right = self.operand()?;
            return Ok(Expr::Str { kind, case_sensitive, negated, left: Box::new(left), right: Box::new(right) });
        }
        match base.as_str() {
            "in" | "in~" => {
                self.i += 1;
                self.expect_punct("(")?;
                let mut list = vec![self.operand()?];
                while self.eat_punct(",") {
                    list.push(self.operand()?);
                }
                self.expect_punct(")")?;
                Ok(Expr::In { expr: Box::new(left), list, case_insensitive: base == "in~", negated })
            }
            "between" => {
                self.i += 1;
                self.expect_punct("(")?;
                let lo = self.operand()?;
                self.expect_punct("..")?;
                let hi = self.operand()?;
                self.expect_punct(")")?;
                Ok(Expr::Between { expr: Box::new(left), lo: Box::new(lo), hi: Box::new(hi), negated })
            }
            _ if STRING_OPS_UNSUPPORTED.contains(&word.as_str()) || word.ends_with("_cs") => {
                Err(unsupported(format!("operator '{word}'")))
            }
            _ => Ok(left),
        }
    }

    fn operand(&mut self) -> Result<Expr, KqlError> {
        let pos = self.pos();
        match self.bump() {
            Tok::Str(s) => Ok(Expr::Lit(Lit::Str(s))),
            Tok::Int(n) => Ok(Expr::Lit(Lit::Int(n))),
            Tok::Float(f) => Ok(Expr::Lit(Lit::Float(f))),
            Tok::Timespan(t) => Ok(Expr::Lit(Lit::Timespan(t))),
            Tok::DateTimeRaw(raw) => {
                let unquoted = raw.trim_matches(|c| c == '"' || c == '\'');
                if unquoted == "null" {
                    return Ok(Expr::Lit(Lit::Null));
                }
                parse_datetime(unquoted)
                    .map(|d| Expr::Lit(Lit::DateTime(d)))
                    .ok_or_else(|| syntax(pos, format!("invalid datetime literal '{raw}'")))
            }
            Tok::Punct("-") => match self.bump() {
                Tok::Int(n) => Ok(Expr::Lit(Lit::Int(n.saturating_neg()))),
                Tok::Float(f) => Ok(Expr::Lit(Lit::Float(-f))),
                Tok::Timespan(t) => Ok(Expr::Lit(Lit::Timespan(-t))),
                _ => Err(syntax(pos, "expected a number after '-'")),
            },
            Tok::Punct("(") => {
                let e = self.expr()?;
                self.expect_punct(")")?;
                Ok(e)
            }
            Tok::Ident(w) if w == "true" => Ok(Expr::Lit(Lit::Bool(true))),
            Tok::Ident(w) if w == "false" => Ok(Expr::Lit(Lit::Bool(false))),
            Tok::Ident(w) if !w.starts_with('!') && !w.ends_with('~') => {
                if self.is_punct("(") {
                    self.call(&w, pos)
                } else if matches!(w.as_str(), "and" | "or" | "not") {
                    Err(syntax(pos, format!("unexpected '{w}'")))
                } else {
                    Ok(Expr::Column(w))
                }
            }
            _ => {
                self.i = self.i.saturating_sub(1);
                Err(syntax(pos, format!("expected a value or column, found {}", self.describe())))
            }
        }
    }

    fn call(&mut self, name: &str, pos: usize) -> Result<Expr, KqlError> {
        self.expect_punct("(")?;
        let expr = match name {
            "now" => Expr::Now,
            "ago" => {
                let neg = self.eat_punct("-");
                match self.bump() {
                    Tok::Timespan(t) => Expr::Ago(if neg { -t } else { t }),
                    _ => return Err(syntax(pos, "ago() expects a timespan such as 7d")),
                }
            }
            "not" => Expr::Not(Box::new(self.expr()?)),
            "isempty" | "isnotempty" | "isnull" | "isnotnull" => {
                let inner = Box::new(self.expr()?);
                match name {
                    "isempty" => Expr::IsEmpty(inner, false),
                    "isnotempty" => Expr::IsEmpty(inner, true),
                    "isnull" => Expr::IsNull(inner, false),
                    _ => Expr::IsNull(inner, true),
                }
            }
            other => return Err(unsupported(format!("function '{other}'"))),
        };
        self.expect_punct(")")?;
        Ok(expr)
    }
}

/// Parses query text into a [`Query`].
pub fn parse(text: &str) -> Result<Query, KqlError> {
    let toks = lex(text)?;
    let mut p = Parser { toks, i: 0, depth: 0 };
    if matches!(p.peek(), Tok::Eof) {
        return Err(syntax(0, "empty query"));
    }
    let table = match p.peek().clone() {
        Tok::Ident(w)
            if matches!(
                w.as_str(),
                "let" | "union" | "print" | "range" | "datatable" | "search" | "find" | "evaluate"
            ) =>
        {
            return Err(unsupported(format!("operator '{w}'")));
        }
        _ => p.ident("a table name")?,
    };
    if p.is_punct("(") {
        return Err(unsupported(format!("function '{table}'")));
    }
    if !p.at_op_end() {
        return Err(syntax(p.pos(), format!("expected '|' after table name, found {}", p.describe())));
    }
    let mut ops = Vec::new();
    while p.eat_punct("|") {
        ops.push(p.operator()?);
    }
    if !matches!(p.peek(), Tok::Eof) {
        return Err(syntax(p.pos(), format!("unexpected {}", p.describe())));
    }
    Ok(Query { table, ops })
}

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(n.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|n| n.and_utc())
}

/// Formats like the API: seven fractional digits, `Z` suffix.
fn format_datetime(d: &DateTime<Utc>) -> String {
    let ticks = (d.timestamp_subsec_nanos() % 1_000_000_000) / 100;
    format!("{}.{ticks:07}Z", d.format("%Y-%m-%dT%H:%M:%S"))
}

#[derive(Debug, Clone, PartialEq)]
enum V {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    DateTime(DateTime<Utc>),
    Timespan(TimeDelta),
    Dynamic(Value),
}

impl V {
    fn text(&self) -> String {
        match self {
            V::Null => String::new(),
            V::Bool(b) => b.to_string(),
            V::Int(n) => n.to_string(),
            V::Float(f) => f.to_string(),
            V::Str(s) => s.clone(),
            V::DateTime(d) => format_datetime(d),
            V::Timespan(t) => format!("{t}"),
            V::Dynamic(v) => v.to_string(),
        }
    }

    fn as_datetime(&self) -> Option<DateTime<Utc>> {
        match self {
            V::DateTime(d) => Some(*d),
            V::Str(s) => parse_datetime(s),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            V::Null => 0,
            V::Bool(_) => 1,
            V::Int(_) | V::Float(_) => 2,
            V::DateTime(_) => 3,
            V::Timespan(_) => 4,
            V::Str(_) => 5,
            V::Dynamic(_) => 6,
        }
    }
}

/// Orders two non-null values of compatible types; `None` if incomparable.
fn compare(a: &V, b: &V) -> Option<Ordering> {
    match (a, b) {
        (V::Null, _) | (_, V::Null) => None,
        (V::Int(x), V::Int(y)) => Some(x.cmp(y)),
        (V::Int(x), V::Float(y)) => (*x as f64).partial_cmp(y),
        (V::Float(x), V::Int(y)) => x.partial_cmp(&(*y as f64)),
        (V::Float(x), V::Float(y)) => x.partial_cmp(y),
        (V::Bool(x), V::Bool(y)) => Some(x.cmp(y)),
        (V::Timespan(x), V::Timespan(y)) => Some(x.cmp(y)),
        (V::DateTime(_), _) | (_, V::DateTime(_)) => Some(a.as_datetime()?.cmp(&b.as_datetime()?)),
        (V::Str(x), V::Str(y)) => Some(x.cmp(y)),
        (V::Dynamic(x), V::Dynamic(y)) => (x == y).then_some(Ordering::Equal),
        _ => None,
    }
}

/// A total order for sorting (nulls handled by the caller).
fn sort_order(a: &V, b: &V) -> Ordering {
    match (a, b) {
        (V::Float(x), V::Float(y)) => x.total_cmp(y),
        _ => compare(a, b).unwrap_or_else(|| a.rank().cmp(&b.rank()).then_with(|| a.text().cmp(&b.text()))),
    }
}

fn infer_kind(v: &Value) -> Option<ColumnType> {
    match v {
        Value::Null => None,
        Value::Bool(_) => Some(ColumnType::Boolean),
        Value::Number(n) => Some(if n.is_i64() || n.is_u64() { ColumnType::Int64 } else { ColumnType::Double }),
        Value::String(s) => {
            Some(if DateTime::parse_from_rfc3339(s).is_ok() { ColumnType::DateTime } else { ColumnType::String })
        }
        Value::Array(_) | Value::Object(_) => Some(ColumnType::Dynamic),
    }
}

fn lit_kind(l: &Lit) -> ColumnType {
    match l {
        Lit::Null | Lit::Str(_) | Lit::Timespan(_) => ColumnType::String,
        Lit::Bool(_) => ColumnType::Boolean,
        Lit::Int(_) => ColumnType::Int64,
        Lit::Float(_) => ColumnType::Double,
        Lit::DateTime(_) => ColumnType::DateTime,
    }
}

fn read_value(v: Option<&Value>, kind: ColumnType) -> V {
    match v {
        None | Some(Value::Null) => {
            if kind == ColumnType::String {
                V::Str(String::new())
            } else {
                V::Null
            }
        }
        Some(Value::Bool(b)) => V::Bool(*b),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(i) => V::Int(i),
            None => n.as_f64().map_or(V::Null, V::Float),
        },
        Some(Value::String(s)) => {
            if kind == ColumnType::DateTime {
                parse_datetime(s).map_or_else(|| V::Str(s.clone()), V::DateTime)
            } else {
                V::Str(s.clone())
            }
        }
        Some(other) => V::Dynamic(other.clone()),
    }
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

/// The schema flowing through the pipeline.
struct Schema {
    cols: Vec<Column>,
    /// True when the source table had no rows, so its columns are unknown.
    open: bool,
}

impl Schema {
    fn kind(&self, name: &str) -> Result<ColumnType, KqlError> {
        match self.cols.iter().find(|c| c.name == name) {
            Some(c) => Ok(c.kind),
            None if self.open => Ok(ColumnType::String),
            None => Err(KqlError::UnknownColumn(name.to_string())),
        }
    }

    fn check(&self, expr: &Expr) -> Result<(), KqlError> {
        match expr {
            Expr::Column(c) => self.kind(c).map(|_| ()),
            Expr::Lit(_) | Expr::Ago(_) | Expr::Now => Ok(()),
            Expr::Not(e) | Expr::IsEmpty(e, _) | Expr::IsNull(e, _) => self.check(e),
            Expr::And(a, b) | Expr::Or(a, b) | Expr::Cmp(_, a, b) => {
                self.check(a)?;
                self.check(b)
            }
            Expr::Str { left, right, .. } => {
                self.check(left)?;
                self.check(right)
            }
            Expr::In { expr, list, .. } => {
                self.check(expr)?;
                list.iter().try_for_each(|e| self.check(e))
            }
            Expr::Between { expr, lo, hi, .. } => {
                self.check(expr)?;
                self.check(lo)?;
                self.check(hi)
            }
        }
    }

    /// Whether `expr` yields a boolean, so it can be a predicate.
    fn is_boolean(&self, expr: &Expr) -> bool {
        match expr {
            Expr::Column(c) => {
                self.kind(c).ok() == Some(ColumnType::Boolean)
                    || (self.open && !self.cols.iter().any(|col| &col.name == c))
            }
            Expr::Lit(Lit::Bool(_)) => true,
            Expr::Lit(_) | Expr::Ago(_) | Expr::Now => false,
            Expr::Not(e) => self.is_boolean(e),
            Expr::And(a, b) | Expr::Or(a, b) => self.is_boolean(a) && self.is_boolean(b),
            _ => true,
        }
    }
}

struct Ctx<'a> {
    schema: &'a Schema,
    now: DateTime<Utc>,
}

impl Ctx<'_> {
    fn ago(&self, t: TimeDelta) -> Result<DateTime<Utc>, KqlError> {
        self.now.checked_sub_signed(t).ok_or_else(|| KqlError::Semantic("ago() is out of the datetime range".into()))
    }

    fn eval(&self, expr: &Expr, row: &Row) -> Result<V, KqlError> {
        Ok(match expr {
            Expr::Column(c) => read_value(row.get(c), self.schema.kind(c)?),
            Expr::Lit(l) => match l {
                Lit::Null => V::Null,
                Lit::Bool(b) => V::Bool(*b),
                Lit::Int(n) => V::Int(*n),
                Lit::Float(f) => V::Float(*f),
                Lit::Str(s) => V::Str(s.clone()),
                Lit::DateTime(d) => V::DateTime(*d),
                Lit::Timespan(t) => V::Timespan(*t),
            },
            Expr::Ago(t) => V::DateTime(self.ago(*t)?),
            Expr::Now => V::DateTime(self.now),
            Expr::Not(e) => V::Bool(!self.truth(e, row)?),
            Expr::And(a, b) => V::Bool(self.truth(a, row)? && self.truth(b, row)?),
            Expr::Or(a, b) => V::Bool(self.truth(a, row)? || self.truth(b, row)?),
            Expr::Cmp(op, a, b) => {
                let (a, b) = (self.eval(a, row)?, self.eval(b, row)?);
                V::Bool(match compare(&a, &b) {
                    None => false,
                    Some(o) => match op {
                        CmpOp::Eq => o == Ordering::Equal,
                        CmpOp::Ne => o != Ordering::Equal,
                        CmpOp::Lt => o == Ordering::Less,
                        CmpOp::Le => o != Ordering::Greater,
                        CmpOp::Gt => o == Ordering::Greater,
                        CmpOp::Ge => o != Ordering::Less,
                    },
                })
            }
            Expr::Str { kind, case_sensitive, negated, left, right } => {
                let (mut h, mut n) = (self.eval(left, row)?.text(), self.eval(right, row)?.text());
                if !case_sensitive {
                    h = h.to_lowercase();
                    n = n.to_lowercase();
                }
                let hit = match kind {
                    StrOpKind::EqCi => h == n,
                    StrOpKind::Contains => h.contains(&n),
                    StrOpKind::StartsWith => h.starts_with(&n),
                    StrOpKind::EndsWith => h.ends_with(&n),
                    StrOpKind::Has => has_term(&h, &n),
                };
                V::Bool(hit != *negated)
            }
            Expr::In { expr, list, case_insensitive, negated } => {
                let v = self.eval(expr, row)?;
                let mut hit = false;
                for item in list {
                    let w = self.eval(item, row)?;
                    let eq = if *case_insensitive {
                        !matches!(v, V::Null) && v.text().to_lowercase() == w.text().to_lowercase()
                    } else {
                        compare(&v, &w) == Some(Ordering::Equal)
                    };
                    if eq {
                        hit = true;
                        break;
                    }
                }
                V::Bool(hit != *negated)
            }
            Expr::Between { expr, lo, hi, negated } => {
                let v = self.eval(expr, row)?;
                let lo = self.eval(lo, row)?;
                let mut hi = self.eval(hi, row)?;
                if let (Some(l), V::Timespan(t)) = (lo.as_datetime(), &hi) {
                    hi = l.checked_add_signed(*t).map_or(V::Null, V::DateTime);
                }
                let inside = matches!(compare(&v, &lo), Some(Ordering::Greater | Ordering::Equal))
                    && matches!(compare(&v, &hi), Some(Ordering::Less | Ordering::Equal));
                let comparable = compare(&v, &lo).is_some() && compare(&v, &hi).is_some();
                V::Bool(comparable && (inside != *negated))
            }
            Expr::IsEmpty(e, negated) => {
                let v = self.eval(e, row)?;
                let empty = match &v {
                    V::Null => true,
                    V::Str(s) => s.is_empty(),
                    _ => false,
                };
                V::Bool(empty != *negated)
            }
            Expr::IsNull(e, negated) => V::Bool(matches!(self.eval(e, row)?, V::Null) != *negated),
        })
    }

    fn truth(&self, expr: &Expr, row: &Row) -> Result<bool, KqlError> {
        Ok(matches!(self.eval(expr, row)?, V::Bool(true)))
    }
}

/// Whole-term match: `needle` occurs in `hay` starting and ending at term
/// boundaries (alphanumeric runs are terms).
fn has_term(hay: &str, needle: &str) -> bool {
    if needle.is_empty() {
        return true;
    }
    let first_alnum = needle.chars().next().is_some_and(char::is_alphanumeric);
    let last_alnum = needle.chars().next_back().is_some_and(char::is_alphanumeric);
    hay.match_indices(needle).any(|(start, m)| {
        let before = hay.get(..start).and_then(|s| s.chars().next_back());
        let after = hay.get(start + m.len()..).and_then(|s| s.chars().next());
        let left_ok = !first_alnum || !before.is_some_and(char::is_alphanumeric);
        let right_ok = !last_alnum || !after.is_some_and(char::is_alphanumeric);
        left_ok && right_ok
    })
}

/// A value for an output row from a project/extend item.
fn materialize(ctx: &Ctx<'_>, expr: &Expr, row: &Row) -> Result<(Value, ColumnType), KqlError> {
    match expr {
        Expr::Column(c) => Ok((row.get(c).cloned().unwrap_or(Value::Null), ctx.schema.kind(c)?)),
        Expr::Lit(l) => Ok(match l {
            Lit::Null => (Value::Null, ColumnType::String),
            Lit::Bool(b) => (Value::Bool(*b), ColumnType::Boolean),
            Lit::Int(n) => (Value::from(*n), ColumnType::Int64),
            Lit::Float(f) => (serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number), ColumnType::Double),
            Lit::Str(s) => (Value::String(s.clone()), ColumnType::String),
            Lit::DateTime(d) => (Value::String(format_datetime(d)), ColumnType::DateTime),
            Lit::Timespan(_) => return Err(unsupported("timespan values in output columns")),
        }),
        Expr::Ago(t) => Ok((Value::String(format_datetime(&ctx.ago(*t)?)), ColumnType::DateTime)),
        Expr::Now => Ok((Value::String(format_datetime(&ctx.now)), ColumnType::DateTime)),
        _ => Err(unsupported("computed expressions (only a column or a literal)")),
    }
}

fn assign_kind(schema: &Schema, expr: &Expr) -> Result<ColumnType, KqlError> {
    match expr {
        Expr::Column(c) => schema.kind(c),
        Expr::Lit(Lit::Timespan(_)) => Err(unsupported("timespan values in output columns")),
        Expr::Lit(l) => Ok(lit_kind(l)),
        Expr::Ago(_) | Expr::Now => Ok(ColumnType::DateTime),
        _ => Err(unsupported("computed expressions (only a column or a literal)")),
    }
}

fn sort_rows(schema: &Schema, rows: Vec<Row>, keys: &[SortKey]) -> Result<Vec<Row>, KqlError> {
    let kinds = keys.iter().map(|k| schema.kind(&k.column)).collect::<Result<Vec<_>, _>>()?;
    let mut keyed: Vec<(Vec<V>, Row)> = rows
        .into_iter()
        .map(|r| {
            let vals = keys.iter().zip(&kinds).map(|(k, kind)| read_value(r.get(&k.column), *kind)).collect();
            (vals, r)
        })
        .collect();
    keyed.sort_by(|(a, _), (b, _)| {
        for ((x, y), key) in a.iter().zip(b).zip(keys) {
            let o = match (x, y) {
                (V::Null, V::Null) => Ordering::Equal,
                (V::Null, _) => {
                    if key.nulls_first {
                        Ordering::Less
                    } else {
                        Ordering::Greater
                    }
                }
                (_, V::Null) => {
                    if key.nulls_first {
                        Ordering::Greater
                    } else {
                        Ordering::Less
                    }
                }
                _ => {
                    let o = sort_order(x, y);
                    if key.desc { o.reverse() } else { o }
                }
            };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    Ok(keyed.into_iter().map(|(_, r)| r).collect())
}

fn group_key(row: &Row, cols: &[String]) -> Vec<String> {
    cols.iter().map(|c| row.get(c).map_or_else(|| "null".to_string(), Value::to_string)).collect()
}

fn pick(row: &Row, cols: &[Column]) -> Row {
    cols.iter().map(|c| (c.name.clone(), row.get(&c.name).cloned().unwrap_or(Value::Null))).collect()
}

impl Query {
    /// The table the query reads.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Runs the query. `now` is the simulated clock (for `ago()`/`now()`);
    /// `max_rows` caps the result (the API's 100,000-row limit), setting
    /// `truncated` when rows were cut.
    pub fn run(
        &self,
        tables: &BTreeMap<String, Vec<Row>>,
        now: DateTime<Utc>,
        max_rows: usize,
    ) -> Result<Output, KqlError> {
        let source = tables.get(&self.table).ok_or_else(|| KqlError::UnknownTable(self.table.clone()))?;

        // Initial schema: keys in first-seen order, kind of first non-null.
        let mut cols: Vec<Column> = Vec::new();
        let mut index: BTreeMap<&str, usize> = BTreeMap::new();
        for row in source {
            for k in row.keys() {
                if !index.contains_key(k.as_str()) {
                    index.insert(k.as_str(), cols.len());
                    cols.push(Column { name: k.clone(), kind: ColumnType::String });
                }
            }
        }
        for col in &mut cols {
            if let Some(kind) = source.iter().find_map(|r| r.get(&col.name).and_then(infer_kind)) {
                col.kind = kind;
            }
        }
        let mut schema = Schema { cols, open: source.is_empty() };
        let mut rows: Vec<Row> = source.iter().map(|r| pick(r, &schema.cols)).collect();

        for op in &self.ops {
            match op {
                Op::Where(pred) => {
                    schema.check(pred)?;
                    if !schema.is_boolean(pred) {
                        return Err(KqlError::Semantic("the where predicate must be a boolean expression".into()));
                    }
                    let ctx = Ctx { schema: &schema, now };
                    let mut kept = Vec::new();
                    for r in rows {
                        if ctx.truth(pred, &r)? {
                            kept.push(r);
                        }
                    }
                    rows = kept;
                }
                Op::Project(items) => {
                    let mut new_cols: Vec<Column> = Vec::new();
                    for a in items {
                        if new_cols.iter().any(|c| c.name == a.name) {
                            return Err(KqlError::Semantic(format!("column '{}' is projected more than once", a.name)));
                        }
                        new_cols.push(Column { name: a.name.clone(), kind: assign_kind(&schema, &a.expr)? });
                    }
                    let ctx = Ctx { schema: &schema, now };
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let mut m = Row::new();
                        for a in items {
                            m.insert(a.name.clone(), materialize(&ctx, &a.expr, r)?.0);
                        }
                        out.push(m);
                    }
                    rows = out;
                    schema = Schema { cols: new_cols, open: false };
                }
                Op::ProjectAway(names) => {
                    for n in names {
                        if !schema.cols.iter().any(|c| &c.name == n) && !schema.open {
                            return Err(KqlError::UnknownColumn(n.clone()));
                        }
                    }
                    schema.cols.retain(|c| !names.contains(&c.name));
                    for r in &mut rows {
                        for n in names {
                            r.shift_remove(n);
                        }
                    }
                }
                Op::Extend(items) => {
                    let mut new_cols = schema.cols.clone();
                    for a in items {
                        let kind = assign_kind(&schema, &a.expr)?;
                        match new_cols.iter_mut().find(|c| c.name == a.name) {
                            Some(c) => c.kind = kind,
                            None => new_cols.push(Column { name: a.name.clone(), kind }),
                        }
                    }
                    let ctx = Ctx { schema: &schema, now };
                    let mut out = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let mut m = r.clone();
                        for a in items {
                            m.insert(a.name.clone(), materialize(&ctx, &a.expr, r)?.0);
                        }
                        out.push(pick(&m, &new_cols));
                    }
                    rows = out;
                    schema.cols = new_cols;
                }
                Op::Take(n) => rows.truncate(*n),
                Op::Sort(keys) => rows = sort_rows(&schema, rows, keys)?,
                Op::Top(n, key) => {
                    rows = sort_rows(&schema, rows, std::slice::from_ref(key))?;
                    rows.truncate(*n);
                }
                Op::Summarize { count_name, by } => {
                    let mut new_cols = Vec::new();
                    for b in by {
                        if new_cols.iter().any(|c: &Column| &c.name == b) {
                            return Err(KqlError::Semantic(format!("column '{b}' appears more than once in 'by'")));
                        }
                        new_cols.push(Column { name: b.clone(), kind: schema.kind(b)? });
                    }
                    if let Some(name) = count_name {
                        if by.contains(name) {
                            return Err(KqlError::Semantic(format!("column '{name}' appears more than once")));
                        }
                        new_cols.push(Column { name: name.clone(), kind: ColumnType::Int64 });
                    }
                    let mut groups: Vec<(Row, u64)> = Vec::new();
                    let mut seen: BTreeMap<Vec<String>, usize> = BTreeMap::new();
                    for r in &rows {
                        let key = group_key(r, by);
                        match seen.get(&key) {
                            Some(&g) => {
                                if let Some(entry) = groups.get_mut(g) {
                                    entry.1 += 1;
                                }
                            }
                            None => {
                                seen.insert(key, groups.len());
                                let m: Row =
                                    by.iter().map(|b| (b.clone(), r.get(b).cloned().unwrap_or(Value::Null))).collect();
                                groups.push((m, 1));
                            }
                        }
                    }
                    if by.is_empty() && groups.is_empty() {
                        groups.push((Row::new(), 0));
                    }
                    rows = groups
                        .into_iter()
                        .map(|(mut m, n)| {
                            if let Some(name) = count_name {
                                m.insert(name.clone(), Value::from(n));
                            }
                            m
                        })
                        .collect();
                    schema = Schema { cols: new_cols, open: false };
                }
                Op::Count => {
                    let mut m = Row::new();
                    m.insert("Count".into(), Value::from(rows.len() as u64));
                    rows = vec![m];
                    schema =
                        Schema { cols: vec![Column { name: "Count".into(), kind: ColumnType::Int64 }], open: false };
                }
                Op::Distinct(names) => {
                    let new_cols = if names.is_empty() {
                        schema.cols.clone()
                    } else {
                        names.iter().map(|n| Ok(Column { name: n.clone(), kind: schema.kind(n)? })).collect::<Result<
                            Vec<_>,
                            KqlError,
                        >>(
                        )?
                    };
                    let key_names: Vec<String> = new_cols.iter().map(|c| c.name.clone()).collect();
                    let mut seen = BTreeSet::new();
                    let mut out = Vec::new();
                    for r in &rows {
                        if seen.insert(group_key(r, &key_names)) {
                            out.push(pick(r, &new_cols));
                        }
                    }
                    rows = out;
                    schema = Schema { cols: new_cols, open: false };
                }
            }
        }

        let truncated = rows.len() > max_rows;
        rows.truncate(max_rows);
        let rows = rows.iter().map(|r| pick(r, &schema.cols)).collect();
        Ok(Output { schema: schema.cols, rows, truncated })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(v: Value) -> Row {
        match v {
            Value::Object(m) => m,
            _ => panic!("row must be an object"),
        }
    }

    fn tables() -> BTreeMap<String, Vec<Row>> {
        let procs = vec![
            row(json!({
                "Timestamp": "2020-02-05T01:10:26.2648757Z", "FileName": "csc.exe",
                "InitiatingProcessFileName": "powershell.exe",
                "ProcessCommandLine": "csc.exe /noconfig @C:\\Users\\a\\AppData\\Local\\Temp\\x.cmdline",
                "DeviceId": "d1", "ProcessId": 100, "IsAdmin": true, "Score": 1.5,
                "AdditionalFields": {"a": 1}
            })),
            row(json!({
                "Timestamp": "2020-02-05T03:00:00Z", "FileName": "cmd.exe",
                "InitiatingProcessFileName": "PowerShell.EXE",
                "ProcessCommandLine": "cmd.exe /c whoami",
                "DeviceId": "d2", "ProcessId": 200, "IsAdmin": false, "Score": 2.5,
                "AdditionalFields": null
            })),
            row(json!({
                "Timestamp": "2020-02-04T12:00:00.5Z", "FileName": "conhost.exe",
                "InitiatingProcessFileName": "powershell.exe",
                "ProcessCommandLine": "conhost.exe 0xffffffff -ForceV1 appdata\\roaming",
                "DeviceId": "d1", "ProcessId": 300, "IsAdmin": false, "Score": null,
                "AdditionalFields": [1, 2]
            })),
            row(json!({
                "Timestamp": "2020-01-20T00:00:00Z", "FileName": "notepad.exe",
                "InitiatingProcessFileName": "explorer.exe",
                "ProcessCommandLine": "notepad.exe C:\\AppData\\notes.txt",
                "DeviceId": "d3", "ProcessId": 400, "IsAdmin": true, "Score": 0.5
            })),
            row(json!({
                "Timestamp": "2020-02-05T23:00:00Z", "FileName": "whoami.exe",
                "InitiatingProcessFileName": "powershell.exe",
                "ProcessCommandLine": "",
                "DeviceId": "d2", "ProcessId": 500, "IsAdmin": false, "Score": 3.0,
                "AdditionalFields": null
            })),
        ];
        let registry = (0..12)
            .map(|i| row(json!({"Timestamp": "2020-02-01T00:00:00Z", "RegistryKey": format!("HKLM\\k{i}")})))
            .collect();
        let mut t = BTreeMap::new();
        t.insert("DeviceProcessEvents".to_string(), procs);
        t.insert("DeviceRegistryEvents".to_string(), registry);
        t.insert("EmptyEvents".to_string(), Vec::new());
        t
    }

    fn now() -> DateTime<Utc> {
        parse_datetime("2020-02-06T00:00:00Z").unwrap()
    }

    fn run(q: &str) -> Result<Output, KqlError> {
        parse(q)?.run(&tables(), now(), 100_000)
    }

    fn ok(q: &str) -> Output {
        match run(q) {
            Ok(o) => o,
            Err(e) => panic!("query {q:?} failed: {e}"),
        }
    }

    fn col(q: &str, c: &str) -> Vec<Value> {
        ok(q).rows.iter().map(|r| r.get(c).cloned().unwrap_or(Value::Null)).collect()
    }

    fn files(q: &str) -> Vec<String> {
        col(q, "FileName").into_iter().map(|v| v.as_str().unwrap_or("<none>").to_string()).collect()
    }

    fn names(o: &Output) -> Vec<(&str, &str)> {
        o.schema.iter().map(|c| (c.name.as_str(), c.kind.as_str())).collect()
    }

    const P: &str = "DeviceProcessEvents";

    // Documented examples --------------------------------------------------

    #[test]
    fn documented_example_powershell_appdata() {
        let q = "DeviceProcessEvents |where InitiatingProcessFileName =~ 'powershell.exe' |where ProcessCommandLine contains 'appdata'|project Timestamp, FileName, InitiatingProcessFileName, DeviceId|limit 2";
        let o = ok(q);
        assert_eq!(
            names(&o),
            vec![
                ("Timestamp", "DateTime"),
                ("FileName", "String"),
                ("InitiatingProcessFileName", "String"),
                ("DeviceId", "String")
            ]
        );
        assert_eq!(o.rows.len(), 2);
        assert!(!o.truncated);
        assert_eq!(
            Value::Object(o.rows[0].clone()),
            json!({"Timestamp": "2020-02-05T01:10:26.2648757Z", "FileName": "csc.exe",
                   "InitiatingProcessFileName": "powershell.exe", "DeviceId": "d1"})
        );
        let keys: Vec<&String> = o.rows[1].keys().collect();
        assert_eq!(keys, ["Timestamp", "FileName", "InitiatingProcessFileName", "DeviceId"]);
        assert_eq!(o.rows[1]["FileName"], json!("conhost.exe"));
        assert_eq!(parse(q).unwrap().table(), "DeviceProcessEvents");
    }

    #[test]
    fn documented_example_with_spaces_matches_compact_form() {
        let spaced = "DeviceProcessEvents | where InitiatingProcessFileName =~ 'powershell.exe' | where ProcessCommandLine contains 'appdata' | project Timestamp, FileName, InitiatingProcessFileName, DeviceId | limit 2";
        let compact = "DeviceProcessEvents|where InitiatingProcessFileName=~'powershell.exe'|where ProcessCommandLine contains 'appdata'|project Timestamp,FileName,InitiatingProcessFileName,DeviceId|limit 2";
        assert_eq!(ok(spaced), ok(compact));
    }

    #[test]
    fn documented_example_order_by_timestamp_desc() {
        let q = "DeviceProcessEvents | where InitiatingProcessFileName =~ \"powershell.exe\" | project Timestamp, FileName, InitiatingProcessFileName | order by Timestamp desc | limit 2";
        let o = ok(q);
        assert_eq!(o.schema.len(), 3);
        assert_eq!(files(q), ["whoami.exe", "cmd.exe"]);
        assert_eq!(o.rows[0]["Timestamp"], json!("2020-02-05T23:00:00Z"));
    }

    #[test]
    fn documented_example_registry_limit_10() {
        let o = ok("DeviceRegistryEvents | limit 10");
        assert_eq!(o.rows.len(), 10);
        assert_eq!(names(&o), vec![("Timestamp", "DateTime"), ("RegistryKey", "String")]);
        assert_eq!(o.rows[9]["RegistryKey"], json!("HKLM\\k9"));
    }

    // where: comparisons ---------------------------------------------------

    #[test]
    fn equality_is_case_sensitive_and_tilde_is_not() {
        let q = |op: &str| files(&format!("{P} | where InitiatingProcessFileName {op} 'powershell.exe'"));
        assert_eq!(q("=="), ["csc.exe", "conhost.exe", "whoami.exe"]);
        assert_eq!(q("!="), ["cmd.exe", "notepad.exe"]);
        assert_eq!(q("=~"), ["csc.exe", "cmd.exe", "conhost.exe", "whoami.exe"]);
        assert_eq!(q("!~"), ["notepad.exe"]);
    }

    #[test]
    fn numeric_comparisons() {
        let q = |p: &str| files(&format!("{P} | where {p}"));
        assert_eq!(q("ProcessId < 300"), ["csc.exe", "cmd.exe"]);
        assert_eq!(q("ProcessId <= 300"), ["csc.exe", "cmd.exe", "conhost.exe"]);
        assert_eq!(q("ProcessId > 300"), ["notepad.exe", "whoami.exe"]);
        assert_eq!(q("ProcessId >= 400"), ["notepad.exe", "whoami.exe"]);
        assert_eq!(q("ProcessId == 200"), ["cmd.exe"]);
        assert_eq!(q("ProcessId != 200").len(), 4);
        assert_eq!(q("Score > 2"), ["cmd.exe", "whoami.exe"]);
        assert_eq!(q("Score == 3"), ["whoami.exe"]);
        assert_eq!(q("ProcessId > 150.5"), ["cmd.exe", "conhost.exe", "notepad.exe", "whoami.exe"]);
        assert_eq!(q("ProcessId > -1").len(), 5);
        // null never compares, not even with !=
        assert_eq!(q("Score != 1.5"), ["cmd.exe", "notepad.exe", "whoami.exe"]);
        // mismatched types compare false
        assert!(q("ProcessId == '100'").is_empty());
    }

    #[test]
    fn string_ordering_comparison() {
        assert_eq!(files(&format!("{P} | where DeviceId > 'd2'")), ["notepad.exe"]);
    }

    #[test]
    fn boolean_column_predicates() {
        assert_eq!(files(&format!("{P} | where IsAdmin")), ["csc.exe", "notepad.exe"]);
        assert_eq!(files(&format!("{P} | where IsAdmin == false")).len(), 3);
        assert_eq!(files(&format!("{P} | where not(IsAdmin)")).len(), 3);
        assert_eq!(files(&format!("{P} | where true")).len(), 5);
        assert!(files(&format!("{P} | where false")).is_empty());
    }

    #[test]
    fn non_boolean_predicate_is_rejected() {
        let e = run(&format!("{P} | where FileName")).unwrap_err();
        assert!(matches!(e, KqlError::Semantic(_)), "{e:?}");
        assert!(run(&format!("{P} | where 5")).is_err());
    }

    // where: string operators ------------------------------------------------

    #[test]
    fn contains_operators() {
        let q = |p: &str| files(&format!("{P} | where {p}"));
        assert_eq!(q("ProcessCommandLine contains 'APPDATA'"), ["csc.exe", "conhost.exe", "notepad.exe"]);
        assert_eq!(q("ProcessCommandLine !contains 'appdata'"), ["cmd.exe", "whoami.exe"]);
        assert_eq!(q("ProcessCommandLine contains_cs 'AppData'"), ["csc.exe", "notepad.exe"]);
        assert_eq!(q("ProcessCommandLine !contains_cs 'AppData'"), ["cmd.exe", "conhost.exe", "whoami.exe"]);
    }

    #[test]
    fn has_matches_whole_terms_only() {
        let q = |p: &str| files(&format!("{P} | where {p}"));
        assert_eq!(q("ProcessCommandLine has 'WHOAMI'"), ["cmd.exe"]);
        assert!(q("ProcessCommandLine has 'whoam'").is_empty());
        assert_eq!(q("ProcessCommandLine has 'appdata'"), ["csc.exe", "conhost.exe", "notepad.exe"]);
        assert!(q("ProcessCommandLine has 'roam'").is_empty());
        assert_eq!(q("ProcessCommandLine has 'notes.txt'"), ["notepad.exe"]);
        assert_eq!(q("ProcessCommandLine !has 'whoami'").len(), 4);
        assert_eq!(q("ProcessCommandLine has_cs 'AppData'"), ["csc.exe", "notepad.exe"]);
        assert!(q("ProcessCommandLine has_cs 'APPDATA'").is_empty());
        assert_eq!(q("ProcessCommandLine !has_cs 'AppData'").len(), 3);
    }

    #[test]
    fn has_term_boundaries() {
        assert!(has_term("cmd.exe /c whoami", "whoami"));
        assert!(has_term("cmd.exe /c whoami", "exe"));
        assert!(has_term("cmd.exe /c whoami", "/c who"[..2].trim()));
        assert!(!has_term("notwhoami", "whoami"));
        assert!(!has_term("whoamis", "whoami"));
        assert!(has_term("a.b", ".b"));
        assert!(has_term("anything", ""));
    }

    #[test]
    fn prefix_and_suffix_operators() {
        let q = |p: &str| files(&format!("{P} | where {p}"));
        assert_eq!(q("FileName startswith 'C'"), ["csc.exe", "cmd.exe", "conhost.exe"]);
        assert_eq!(q("FileName !startswith 'c'"), ["notepad.exe", "whoami.exe"]);
        assert_eq!(q("InitiatingProcessFileName endswith '.EXE'").len(), 5);
        assert_eq!(q("InitiatingProcessFileName endswith_cs '.EXE'"), ["cmd.exe"]);
        assert_eq!(q("InitiatingProcessFileName !endswith 'shell.exe'"), ["notepad.exe"]);
        assert!(q("FileName startswith_cs 'C'").is_empty());
        assert_eq!(q("FileName !startswith_cs 'C'").len(), 5);
        assert_eq!(q("FileName !endswith_cs 'exe'").len(), 0);
    }

    #[test]
    fn in_operators() {
        let q = |p: &str| files(&format!("{P} | where {p}"));
        assert_eq!(q("FileName in ('cmd.exe', 'CSC.EXE', 'nope')"), ["cmd.exe"]);
        assert_eq!(q("FileName in~ ('cmd.exe', 'CSC.EXE')"), ["csc.exe", "cmd.exe"]);
        assert_eq!(q("FileName !in ('cmd.exe', 'csc.exe')"), ["conhost.exe", "notepad.exe", "whoami.exe"]);
        assert_eq!(q("FileName !in~ ('CMD.exe')").len(), 4);
        assert_eq!(q("ProcessId in (100, 500)"), ["csc.exe", "whoami.exe"]);
    }

    #[test]
    fn between_numbers_and_datetimes() {
        let q = |p: &str| files(&format!("{P} | where {p}"));
        assert_eq!(q("ProcessId between (200 .. 400)"), ["cmd.exe", "conhost.exe", "notepad.exe"]);
        assert_eq!(q("ProcessId !between (200 .. 400)"), ["csc.exe", "whoami.exe"]);
        assert_eq!(q("Score between (1..2.5)"), ["csc.exe", "cmd.exe"]);
        assert_eq!(
            q("Timestamp between (datetime(2020-02-05) .. datetime(2020-02-05T03:00:00Z))"),
            ["csc.exe", "cmd.exe"]
        );
        assert_eq!(q("Timestamp between (datetime(2020-02-05) .. 1d)"), ["csc.exe", "cmd.exe", "whoami.exe"]);
        assert_eq!(q("Timestamp between (ago(1d) .. now())").len(), 3);
    }

    #[test]
    fn isempty_and_isnull() {
        let q = |p: &str| files(&format!("{P} | where {p}"));
        assert_eq!(q("isempty(ProcessCommandLine)"), ["whoami.exe"]);
        assert_eq!(q("isnotempty(ProcessCommandLine)").len(), 4);
        assert_eq!(q("isempty(Score)"), ["conhost.exe"]);
        assert_eq!(q("isnull(Score)"), ["conhost.exe"]);
        assert_eq!(q("isnotnull(Score)").len(), 4);
        assert_eq!(q("isnull(AdditionalFields)"), ["cmd.exe", "notepad.exe", "whoami.exe"]);
        assert!(q("isnull(FileName)").is_empty());
    }

    #[test]
    fn logical_operators_and_precedence() {
        let q = |p: &str| files(&format!("{P} | where {p}"));
        assert_eq!(q("DeviceId == 'd1' and IsAdmin"), ["csc.exe"]);
        assert_eq!(q("DeviceId == 'd3' or FileName == 'cmd.exe'"), ["cmd.exe", "notepad.exe"]);
        // and binds tighter than or
        assert_eq!(q("DeviceId == 'd3' or DeviceId == 'd1' and IsAdmin"), ["csc.exe", "notepad.exe"]);
        assert_eq!(q("(DeviceId == 'd3' or DeviceId == 'd1') and not(IsAdmin)"), ["conhost.exe"]);
        assert_eq!(q("not(DeviceId == 'd1' or DeviceId == 'd2')"), ["notepad.exe"]);
    }

    #[test]
    fn string_literal_forms() {
        let q = |p: &str| files(&format!("{P} | where {p}"));
        assert_eq!(q(r#"ProcessCommandLine contains "C:\\AppData""#), ["notepad.exe"]);
        assert_eq!(q(r#"ProcessCommandLine contains @"C:\AppData""#), ["notepad.exe"]);
        assert_eq!(q(r"ProcessCommandLine contains @'C:\AppData'"), ["notepad.exe"]);
        assert_eq!(q("FileName == 'cmd.exe' // trailing comment"), ["cmd.exe"]);
    }

    // datetimes ---------------------------------------------------------------

    #[test]
    fn datetime_literal_comparisons() {
        let q = |p: &str| files(&format!("{P} | where {p}"));
        assert_eq!(q("Timestamp > datetime(2020-02-05T01:10:26Z)"), ["csc.exe", "cmd.exe", "whoami.exe"]);
        assert_eq!(q("Timestamp == datetime(2020-02-05T01:10:26.2648757Z)"), ["csc.exe"]);
        assert_eq!(q("Timestamp < datetime(2020-02-01)"), ["notepad.exe"]);
        assert_eq!(q("Timestamp >= datetime('2020-02-05 03:00:00')"), ["cmd.exe", "whoami.exe"]);
        assert_eq!(q("Timestamp <= datetime(2020-02-04T12:00:00.5Z)"), ["conhost.exe", "notepad.exe"]);
        // a string literal compared with a datetime column is read as a datetime
        assert_eq!(q("Timestamp > '2020-02-05T03:00:00.0000001Z'"), ["whoami.exe"]);
        assert!(q("Timestamp == datetime(null)").is_empty());
    }

    #[test]
    fn ago_uses_injected_clock() {
        let t = tables();
        let q = parse(&format!("{P} | where Timestamp > ago(1d) | project FileName")).unwrap();
        let o = q.run(&t, now(), 100).unwrap();
        let got: Vec<&Value> = o.rows.iter().map(|r| &r["FileName"]).collect();
        assert_eq!(got, [&json!("csc.exe"), &json!("cmd.exe"), &json!("whoami.exe")]);
        // Moving the clock forward a week leaves nothing.
        let later = parse_datetime("2020-02-13T00:00:00Z").unwrap();
        assert!(q.run(&t, later, 100).unwrap().rows.is_empty());
        // Moving it back a month keeps everything.
        let earlier = parse_datetime("2020-01-20T12:00:00Z").unwrap();
        assert_eq!(q.run(&t, earlier, 100).unwrap().rows.len(), 5);
    }

    #[test]
    fn ago_units() {
        let q = |p: &str| files(&format!("{P} | where Timestamp >= ago({p})"));
        assert_eq!(q("12h"), ["whoami.exe"]);
        assert_eq!(q("60m"), ["whoami.exe"]);
        assert_eq!(q("3600s"), ["whoami.exe"]);
        assert_eq!(q("3600000ms"), ["whoami.exe"]);
        assert_eq!(q("59m").len(), 0);
        assert_eq!(q("1.5d").len(), 4);
        assert_eq!(q("30d").len(), 5);
        assert_eq!(q("61min"), ["whoami.exe"]);
        assert_eq!(q("3601sec"), ["whoami.exe"]);
    }

    #[test]
    fn now_function() {
        assert_eq!(files(&format!("{P} | where Timestamp < now()")).len(), 5);
        assert!(files(&format!("{P} | where Timestamp > now()")).is_empty());
    }

    #[test]
    fn invalid_datetime_and_timespan_are_syntax_errors() {
        assert!(matches!(parse(&format!("{P} | where Timestamp > datetime(yesterday)")), Err(KqlError::Syntax { .. })));
        assert!(matches!(parse(&format!("{P} | where Timestamp > ago(7y)")), Err(KqlError::Syntax { .. })));
        assert!(matches!(parse(&format!("{P} | where Timestamp > ago(7)")), Err(KqlError::Syntax { .. })));
        assert!(parse(&format!("{P} | where Timestamp > ago(99999999999999999d)")).is_err());
    }

    // project / project-away / extend ----------------------------------------

    #[test]
    fn project_rename_and_literals_with_inferred_types() {
        let o = ok(&format!(
            "{P} | project Id = ProcessId, FileName, Admin = IsAdmin, Score, Fields = AdditionalFields, Tag = 'x', N = 7, F = 1.25, B = true, When = datetime(2020-01-01), Now = now()"
        ));
        assert_eq!(
            names(&o),
            vec![
                ("Id", "Int64"),
                ("FileName", "String"),
                ("Admin", "Boolean"),
                ("Score", "Double"),
                ("Fields", "Dynamic"),
                ("Tag", "String"),
                ("N", "Int64"),
                ("F", "Double"),
                ("B", "Boolean"),
                ("When", "DateTime"),
                ("Now", "DateTime"),
            ]
        );
        assert_eq!(
            Value::Object(o.rows[0].clone()),
            json!({"Id": 100, "FileName": "csc.exe", "Admin": true, "Score": 1.5,
                   "Fields": {"a": 1}, "Tag": "x", "N": 7, "F": 1.25, "B": true,
                   "When": "2020-01-01T00:00:00.0000000Z", "Now": "2020-02-06T00:00:00.0000000Z"})
        );
        assert_eq!(o.rows[3]["Fields"], Value::Null);
    }

    #[test]
    fn project_unknown_and_duplicate_columns() {
        assert_eq!(run(&format!("{P} | project Nope")), Err(KqlError::UnknownColumn("Nope".into())));
        assert!(matches!(run(&format!("{P} | project FileName, FileName")), Err(KqlError::Semantic(_))));
        // a projected-away column can no longer be used
        assert_eq!(
            run(&format!("{P} | project FileName | where DeviceId == 'd1'")),
            Err(KqlError::UnknownColumn("DeviceId".into()))
        );
    }

    #[test]
    fn project_away_removes_columns() {
        let o = ok(&format!("{P} | project-away ProcessCommandLine, AdditionalFields, Score"));
        let n: Vec<&str> = o.schema.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(n, ["Timestamp", "FileName", "InitiatingProcessFileName", "DeviceId", "ProcessId", "IsAdmin"]);
        assert!(o.rows.iter().all(|r| r.len() == 6 && !r.contains_key("Score")));
        assert_eq!(run(&format!("{P} | project-away Nope")), Err(KqlError::UnknownColumn("Nope".into())));
    }

    #[test]
    fn extend_adds_copies_and_replaces() {
        let o = ok(&format!("{P} | project FileName, DeviceId | extend Copy = DeviceId, Src = 'seed', DeviceId = 5"));
        assert_eq!(
            names(&o),
            vec![("FileName", "String"), ("DeviceId", "Int64"), ("Copy", "String"), ("Src", "String")]
        );
        assert_eq!(
            Value::Object(o.rows[1].clone()),
            json!({"FileName": "cmd.exe", "DeviceId": 5, "Copy": "d2", "Src": "seed"})
        );
        let keys: Vec<&String> = o.rows[1].keys().collect();
        assert_eq!(keys, ["FileName", "DeviceId", "Copy", "Src"]);
        let o = ok(&format!("{P} | extend Seen = ago(1h) | project Seen | take 1"));
        assert_eq!(o.rows[0]["Seen"], json!("2020-02-05T23:00:00.0000000Z"));
        assert_eq!(o.schema[0].kind, ColumnType::DateTime);
    }

    #[test]
    fn extend_rejects_computed_expressions() {
        for q in [
            format!("{P} | extend X = ProcessId + 1"),
            format!("{P} | extend X = tolower(FileName)"),
            format!("{P} | extend X = strcat('a', 'b')"),
            format!("{P} | extend X = 1d"),
            format!("{P} | project X = ProcessId * 2"),
        ] {
            assert!(matches!(run(&q), Err(KqlError::Unsupported(_))), "{q}");
        }
        assert!(matches!(parse(&format!("{P} | extend FileName")), Err(KqlError::Syntax { .. })));
    }

    // take / top / order -------------------------------------------------------

    #[test]
    fn take_and_limit() {
        assert_eq!(files(&format!("{P} | take 2")), ["csc.exe", "cmd.exe"]);
        assert_eq!(files(&format!("{P} | limit 1")), ["csc.exe"]);
        assert!(files(&format!("{P} | take 0")).is_empty());
        assert_eq!(files(&format!("{P} | take 99")).len(), 5);
        assert!(matches!(parse(&format!("{P} | take -1")), Err(KqlError::Syntax { .. })));
        assert!(matches!(parse(&format!("{P} | take")), Err(KqlError::Syntax { .. })));
    }

    #[test]
    fn top_defaults_to_descending() {
        assert_eq!(files(&format!("{P} | top 2 by ProcessId")), ["whoami.exe", "notepad.exe"]);
        assert_eq!(files(&format!("{P} | top 2 by ProcessId asc")), ["csc.exe", "cmd.exe"]);
        assert_eq!(files(&format!("{P} | top 1 by Timestamp desc")), ["whoami.exe"]);
        // nulls last when descending
        assert_eq!(files(&format!("{P} | top 5 by Score"))[4], "conhost.exe");
        assert_eq!(run(&format!("{P} | top 2 by Nope")), Err(KqlError::UnknownColumn("Nope".into())));
    }

    #[test]
    fn order_and_sort() {
        assert_eq!(
            files(&format!("{P} | order by Timestamp")),
            ["whoami.exe", "cmd.exe", "csc.exe", "conhost.exe", "notepad.exe"]
        );
        assert_eq!(
            files(&format!("{P} | sort by Timestamp asc")),
            ["notepad.exe", "conhost.exe", "csc.exe", "cmd.exe", "whoami.exe"]
        );
        // multiple keys; ties keep table order (stable)
        assert_eq!(
            files(&format!("{P} | order by DeviceId asc, ProcessId desc")),
            ["conhost.exe", "csc.exe", "whoami.exe", "cmd.exe", "notepad.exe"]
        );
        assert_eq!(
            files(&format!("{P} | order by IsAdmin")),
            ["csc.exe", "notepad.exe", "cmd.exe", "conhost.exe", "whoami.exe"]
        );
        // nulls first for asc by default, and overridable
        assert_eq!(files(&format!("{P} | order by Score asc"))[0], "conhost.exe");
        assert_eq!(files(&format!("{P} | order by Score asc nulls last"))[4], "conhost.exe");
        assert_eq!(files(&format!("{P} | order by Score desc nulls first"))[0], "conhost.exe");
        assert_eq!(run(&format!("{P} | order by Nope")), Err(KqlError::UnknownColumn("Nope".into())));
    }

    #[test]
    fn datetime_sort_uses_instants_not_text() {
        let mut t = BTreeMap::new();
        t.insert(
            "T".to_string(),
            vec![
                row(json!({"Timestamp": "2020-02-05T01:00:00Z", "N": 1})),
                row(json!({"Timestamp": "2020-02-05T01:00:00.5Z", "N": 2})),
                row(json!({"Timestamp": "2020-02-05T02:00:00+02:00", "N": 3})),
            ],
        );
        let o = parse("T | order by Timestamp asc").unwrap().run(&t, now(), 10).unwrap();
        let got: Vec<&Value> = o.rows.iter().map(|r| &r["N"]).collect();
        assert_eq!(got, [&json!(3), &json!(1), &json!(2)]);
    }

    // summarize / count / distinct ---------------------------------------------

    #[test]
    fn summarize_count_by_column() {
        let o = ok(&format!("{P} | summarize count() by DeviceId"));
        assert_eq!(names(&o), vec![("DeviceId", "String"), ("count_", "Int64")]);
        assert_eq!(
            Value::Array(o.rows.into_iter().map(Value::Object).collect()),
            json!([{"DeviceId": "d1", "count_": 2}, {"DeviceId": "d2", "count_": 2}, {"DeviceId": "d3", "count_": 1}])
        );
    }

    #[test]
    fn summarize_by_two_columns_and_named_count() {
        let o = ok(&format!("{P} | summarize Total = count() by DeviceId, IsAdmin | order by Total desc"));
        assert_eq!(names(&o), vec![("DeviceId", "String"), ("IsAdmin", "Boolean"), ("Total", "Int64")]);
        assert_eq!(o.rows.len(), 4);
        assert_eq!(Value::Object(o.rows[0].clone()), json!({"DeviceId": "d2", "IsAdmin": false, "Total": 2}));
    }

    #[test]
    fn summarize_without_by_and_over_nothing() {
        let o = ok(&format!("{P} | where ProcessId > 250 | summarize count()"));
        assert_eq!(names(&o), vec![("count_", "Int64")]);
        assert_eq!(o.rows, vec![row(json!({"count_": 3}))]);
        let o = ok(&format!("{P} | where ProcessId > 9999 | summarize count()"));
        assert_eq!(o.rows, vec![row(json!({"count_": 0}))]);
        let o = ok(&format!("{P} | where ProcessId > 9999 | summarize count() by DeviceId"));
        assert!(o.rows.is_empty());
        let o = ok(&format!("{P} | summarize by DeviceId"));
        assert_eq!(col(&format!("{P} | summarize by DeviceId"), "DeviceId"), [json!("d1"), json!("d2"), json!("d3")]);
        assert_eq!(names(&o), vec![("DeviceId", "String")]);
    }

    #[test]
    fn summarize_groups_nulls_together() {
        let o = ok(&format!("{P} | summarize count() by AdditionalFields"));
        assert_eq!(o.rows.len(), 3);
        assert_eq!(o.rows[1], row(json!({"AdditionalFields": null, "count_": 3})));
        assert_eq!(o.schema[0].kind, ColumnType::Dynamic);
    }

    #[test]
    fn summarize_rejects_other_aggregations() {
        for (q, what) in [
            ("summarize dcount(DeviceId)", "aggregation function 'dcount'"),
            ("summarize count() by bin(Timestamp, 1d)", "function 'bin'"),
            ("summarize count(), dcount(DeviceId)", "multiple aggregations in 'summarize'"),
            ("summarize make_set(FileName) by DeviceId", "aggregation function 'make_set'"),
        ] {
            assert_eq!(run(&format!("{P} | {q}")), Err(KqlError::Unsupported(what.into())), "{q}");
        }
        assert_eq!(run(&format!("{P} | summarize count() by Nope")), Err(KqlError::UnknownColumn("Nope".into())));
    }

    #[test]
    fn count_operator() {
        let o = ok(&format!("{P} | where DeviceId == 'd1' | count"));
        assert_eq!(names(&o), vec![("Count", "Int64")]);
        assert_eq!(o.rows, vec![row(json!({"Count": 2}))]);
        assert_eq!(ok("EmptyEvents | count").rows, vec![row(json!({"Count": 0}))]);
    }

    #[test]
    fn distinct_operator() {
        let o = ok(&format!("{P} | distinct DeviceId, IsAdmin"));
        assert_eq!(names(&o), vec![("DeviceId", "String"), ("IsAdmin", "Boolean")]);
        assert_eq!(o.rows.len(), 4);
        assert_eq!(o.rows[3], row(json!({"DeviceId": "d3", "IsAdmin": true})));
        assert_eq!(col(&format!("{P} | distinct InitiatingProcessFileName"), "InitiatingProcessFileName").len(), 3);
        assert_eq!(ok(&format!("{P} | project DeviceId | distinct *")).rows.len(), 3);
        assert_eq!(run(&format!("{P} | distinct Nope")), Err(KqlError::UnknownColumn("Nope".into())));
    }

    // truncation, schema, empty tables -------------------------------------------

    #[test]
    fn truncation_flag_with_max_rows() {
        let t = tables();
        let q = parse("DeviceRegistryEvents").unwrap();
        let o = q.run(&t, now(), 5).unwrap();
        assert_eq!(o.rows.len(), 5);
        assert!(o.truncated);
        let o = q.run(&t, now(), 12).unwrap();
        assert_eq!(o.rows.len(), 12);
        assert!(!o.truncated);
        let o = q.run(&t, now(), 0).unwrap();
        assert!(o.rows.is_empty() && o.truncated);
        let o = parse("DeviceRegistryEvents | take 5").unwrap().run(&t, now(), 5).unwrap();
        assert!(!o.truncated);
    }

    #[test]
    fn full_table_schema_and_row_normalisation() {
        let o = ok(P);
        assert_eq!(
            names(&o),
            vec![
                ("Timestamp", "DateTime"),
                ("FileName", "String"),
                ("InitiatingProcessFileName", "String"),
                ("ProcessCommandLine", "String"),
                ("DeviceId", "String"),
                ("ProcessId", "Int64"),
                ("IsAdmin", "Boolean"),
                ("Score", "Double"),
                ("AdditionalFields", "Dynamic"),
            ]
        );
        // row 3 had no AdditionalFields key: it is filled with null, in schema order
        let keys: Vec<&String> = o.rows[3].keys().collect();
        assert_eq!(keys.len(), 9);
        assert_eq!(keys[8], "AdditionalFields");
        assert_eq!(o.rows[3]["AdditionalFields"], Value::Null);
    }

    #[test]
    fn all_null_column_is_string_and_keys_unioned() {
        let mut t = BTreeMap::new();
        t.insert("T".to_string(), vec![row(json!({"A": null})), row(json!({"A": null, "B": "2020-02-05T01:10:26Z"}))]);
        let o = parse("T").unwrap().run(&t, now(), 10).unwrap();
        assert_eq!(names(&o), vec![("A", "String"), ("B", "DateTime")]);
        assert_eq!(o.rows[0], row(json!({"A": null, "B": null})));
        // a null string reads as "" (KQL strings are never null)
        let o = parse("T | where isempty(A) and A == ''").unwrap().run(&t, now(), 10).unwrap();
        assert_eq!(o.rows.len(), 2);
    }

    #[test]
    fn empty_table_has_open_schema() {
        let o = ok("EmptyEvents | where Anything == 'x' | project Anything, Other");
        assert!(o.rows.is_empty());
        assert_eq!(names(&o), vec![("Anything", "String"), ("Other", "String")]);
        assert_eq!(ok("EmptyEvents").schema, Vec::<Column>::new());
    }

    #[test]
    fn column_type_names() {
        let all = [
            (ColumnType::DateTime, "DateTime"),
            (ColumnType::String, "String"),
            (ColumnType::Int64, "Int64"),
            (ColumnType::Double, "Double"),
            (ColumnType::Boolean, "Boolean"),
            (ColumnType::Dynamic, "Dynamic"),
        ];
        for (k, s) in all {
            assert_eq!(k.as_str(), s);
        }
    }

    // errors -----------------------------------------------------------------------

    #[test]
    fn unknown_table_error() {
        let e = run("Foo | take 1").unwrap_err();
        assert_eq!(e, KqlError::UnknownTable("Foo".into()));
        assert_eq!(e.to_string(), "'Foo' could not be resolved to a table");
        // table names are case-sensitive
        assert!(matches!(run("deviceprocessevents"), Err(KqlError::UnknownTable(_))));
    }

    #[test]
    fn unknown_column_error() {
        let e = run(&format!("{P} | where Bogus == 1")).unwrap_err();
        assert_eq!(e, KqlError::UnknownColumn("Bogus".into()));
        assert_eq!(e.to_string(), "failed to resolve column 'Bogus'");
        // detected even when no row reaches the operator
        assert_eq!(
            run(&format!("{P} | where false | where Bogus contains 'x'")),
            Err(KqlError::UnknownColumn("Bogus".into()))
        );
        assert_eq!(run(&format!("{P} | where FileName in ('a', Bogus)")), Err(KqlError::UnknownColumn("Bogus".into())));
    }

    #[test]
    fn unsupported_operators_are_named() {
        for (q, what) in [
            (format!("{P} | join (DeviceRegistryEvents) on DeviceId"), "operator 'join'"),
            ("let x = 1; DeviceProcessEvents".to_string(), "operator 'let'"),
            ("union DeviceProcessEvents, DeviceRegistryEvents".to_string(), "operator 'union'"),
            (format!("{P} | union DeviceRegistryEvents"), "operator 'union'"),
            (format!("{P} | parse ProcessCommandLine with * 'x' y"), "operator 'parse'"),
            (format!("{P} | make-series count() on Timestamp step 1d"), "operator 'make-series'"),
            (format!("{P} | mv-expand AdditionalFields"), "operator 'mv-expand'"),
            (format!("{P} | project-rename X = FileName"), "operator 'project-rename'"),
            (format!("{P} | invoke Foo()"), "operator 'invoke'"),
            (format!("{P} | where tolower(FileName) == 'x'"), "function 'tolower'"),
            (format!("{P} | where FileName matches regex 'x'"), "operator 'matches'"),
            (format!("{P} | where FileName has_any ('x')"), "operator 'has_any'"),
            (format!("{P} | where ProcessId + 1 > 2"), "arithmetic operator '+'"),
            (format!("{P} | project tolower(FileName)"), "function 'tolower'"),
            (format!("{P} | order by strlen(FileName)"), "function 'strlen'"),
            ("DeviceEvents()".to_string(), "function 'DeviceEvents'"),
        ] {
            let e = run(&q).unwrap_err();
            assert_eq!(e, KqlError::Unsupported(what.into()), "{q}");
            assert!(e.to_string().ends_with("is not supported by this simulator"));
        }
    }

    #[test]
    fn syntax_errors_report_positions() {
        let e = parse("DeviceProcessEvents | where").unwrap_err();
        assert_eq!(e, KqlError::Syntax { pos: 27, message: "expected a value or column, found end of query".into() });
        assert_eq!(e.to_string(), "syntax error at position 27: expected a value or column, found end of query");
        let e = parse("DeviceProcessEvents | where FileName == 'x").unwrap_err();
        assert!(matches!(e, KqlError::Syntax { pos: 40, .. }), "{e:?}");
        let e = parse("DeviceProcessEvents | where FileName = 'x'").unwrap_err();
        assert!(matches!(e, KqlError::Syntax { pos: 37, .. }), "{e:?}");
        let e = parse("DeviceProcessEvents | take 1 2").unwrap_err();
        assert!(matches!(e, KqlError::Syntax { pos: 29, .. }), "{e:?}");
        let e = parse("DeviceProcessEvents # x").unwrap_err();
        assert!(matches!(e, KqlError::Syntax { pos: 20, .. }), "{e:?}");
        assert!(matches!(parse(""), Err(KqlError::Syntax { pos: 0, .. })));
        assert!(matches!(parse("   "), Err(KqlError::Syntax { .. })));
        assert!(matches!(parse("T |"), Err(KqlError::Syntax { .. })));
        assert!(matches!(parse("T | where (a == 1"), Err(KqlError::Syntax { .. })));
        assert!(matches!(parse("T | order Timestamp"), Err(KqlError::Syntax { .. })));
        assert!(matches!(parse("T | top 5 Timestamp"), Err(KqlError::Syntax { .. })));
        assert!(matches!(parse("T | where a in 'x'"), Err(KqlError::Syntax { .. })));
        assert!(matches!(parse("T | where a between (1, 2)"), Err(KqlError::Syntax { .. })));
        assert!(matches!(parse("T | where a == 99999999999999999999"), Err(KqlError::Syntax { .. })));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let q = format!("T | where {}a == 1{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(parse(&q), Err(KqlError::Syntax { .. })));
        let q = format!("T | where {}a{}", "not(".repeat(10_000), ")".repeat(10_000));
        assert!(matches!(parse(&q), Err(KqlError::Syntax { .. })));
        let q = format!("T | where {}a == 1{}", "(".repeat(20), ")".repeat(20));
        assert!(parse(&q).is_ok());
    }

    #[test]
    fn query_is_clone_and_debug() {
        let q = parse(&format!("{P} | where FileName has 'x' | take 1")).unwrap();
        let c = q.clone();
        assert_eq!(c.table(), P);
        assert!(format!("{c:?}").contains("Take(1)"));
    }

    #[test]
    fn never_panics_on_truncations_and_noise() {
        let t = tables();
        let seeds = [
            "DeviceProcessEvents |where InitiatingProcessFileName =~ 'powershell.exe' |where ProcessCommandLine contains 'appdata'|project Timestamp, FileName, InitiatingProcessFileName, DeviceId|limit 2",
            "DeviceProcessEvents | where InitiatingProcessFileName =~ \"powershell.exe\" | project Timestamp, FileName, InitiatingProcessFileName | order by Timestamp desc | limit 2",
            "DeviceProcessEvents | where Timestamp between (datetime(2020-02-05T01:10:26Z) .. 1d) and not(FileName in~ ('a', \"b\")) or ProcessId !in (1, -2, 3.5) | extend X = ago(1.5h), Y = @'c:\\x' | top 3 by Timestamp asc nulls last",
            "DeviceProcessEvents | where isnotempty(ProcessCommandLine) and FileName !has_cs 'x' // c\n| summarize N = count() by DeviceId, IsAdmin | sort by N desc | project-away IsAdmin | distinct *",
            "EmptyEvents | where A startswith 'é∑' | summarize by A | count",
            "DeviceProcessEvents | project-away Score | take 3 | order by ProcessId asc, Timestamp | distinct DeviceId | count",
        ];
        let (mut checked, mut parsed_ok, mut ran_ok) = (0usize, 0usize, 0usize);
        let mut try_query = |q: &str| {
            checked += 1;
            if let Ok(parsed) = parse(q) {
                parsed_ok += 1;
                if parsed.run(&t, now(), 3).is_ok() {
                    ran_ok += 1;
                }
            }
        };
        for seed in seeds {
            for i in 0..=seed.len() {
                if let Some(prefix) = seed.get(..i) {
                    try_query(prefix);
                }
                if let Some(suffix) = seed.get(i..) {
                    try_query(suffix);
                }
            }
        }
        // Deterministic pseudo-random punctuation soup, plus splices into seeds.
        let alphabet: Vec<char> =
            "|()'\",.=!~<>-+*/%@[]{}#;:\\ \n\t0123456789dhmsab_éwhereprojectin~".chars().collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..4000 {
            let len = (next() % 40) as usize;
            let noise: String = (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            try_query(&noise);
            let seed = seeds[round % seeds.len()];
            let cut = (next() as usize) % (seed.len() + 1);
            if let (Some(a), Some(b)) = (seed.get(..cut), seed.get(cut..)) {
                try_query(&format!("{a}{noise}{b}"));
            }
        }
        let seed_bytes: usize = seeds.iter().map(|s| s.len() + 1).sum();
        assert!(checked >= 4000 + 2 * seed_bytes - 64, "{checked}");
        assert!(parsed_ok > 100 && ran_ok > 50, "{parsed_ok} {ran_ok}");
    }
}
