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

mod eval;
mod lex;
mod parse;
#[cfg(test)]
mod tests;

use eval::*;
use lex::*;

pub use parse::parse;

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
    /// A literal: a value ([`V`]) the parser reads from the query text (never [`V::Dynamic`]).
    Lit(V),
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
