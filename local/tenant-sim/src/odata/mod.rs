//! OData v4 `$filter` / `$orderby` subset used by the Microsoft Defender for Endpoint API
//! (`/api/alerts`, `/api/machines`, `/api/machineactions`, `/api/indicators`,
//! `/api/investigations`), Defender XDR (`/api/incidents`) and Microsoft Graph security
//! (`/security/alerts_v2`, `/security/incidents`), evaluated over entities held as
//! `serde_json::Value` objects with camelCase field names.
//!
//! # Grammar
//!
//! * comparison: `field eq|ne|gt|ge|lt|le literal` (a literal on the left, `5 lt field`, is
//!   accepted and flipped);
//! * `field in (lit, lit, ...)`;
//! * `startswith(field,'x')`, `endswith(field,'x')`, `contains(field,'x')`, optionally
//!   followed by `eq true|false` / `ne true|false`;
//! * lambdas `field/any(t: <expr over t>)`, `field/any()` (non-empty) and `field/all(t: ...)`;
//!   inside the body `t` is the element and `t/sub` a field of an object element;
//! * a bare boolean field (`isActive`) means `isActive eq true`;
//! * `not`, `and`, `or`, parentheses. Precedence: `not` > comparison > `and` > `or`; `not`
//!   applies to the immediately following comparison, call or parenthesised group, so
//!   `not a eq 1 and b eq 2` is `(not (a eq 1)) and (b eq 2)`.
//! * literals: `'single quoted'` with `''` as an escaped quote; integers and decimals
//!   (optional sign, fraction, exponent, OData `L`/`M`/`D`/`F` suffix); `true`, `false`,
//!   `null`; unquoted ISO 8601 datetimes (`2019-11-22T00:00:00Z`, `2018-08-01Z`,
//!   `2021-01-01T10:00:00.123Z`, `...+02:00`).
//! * keywords, function names and `asc`/`desc` are case-insensitive. Outside a quoted string
//!   `+` is whitespace (form-style encoding); inside one it is kept.
//! * nested fields are written with `/` (`relatedUser/userName`).
//!
//! Positions in errors are 0-based byte offsets into the input. Nesting (parentheses, `not`,
//! lambdas) deeper than 64 levels is rejected, so no input can exhaust the stack; `and` / `or`
//! chains are stored flat and may be arbitrarily long.
//!
//! # Field names
//!
//! [`Filter::parse`] takes the endpoint's documented filterable fields. A field path is
//! accepted when its full `/`-joined text or its first segment equals an allowed name,
//! compared ASCII-case-insensitively; otherwise [`ODataError::UnsupportedField`] names it.
//! Lambda variables are not checked. When a field is looked up in an entity the exact key is
//! tried first, then an ASCII-case-insensitive match (the docs write `InvestigationId` where
//! the JSON has `investigationId`).
//!
//! # Evaluation semantics
//!
//! * `eq`/`ne` on strings are case-insensitive (`status eq 'new'` matches `"New"`); `gt`,
//!   `ge`, `lt`, `le` on strings are ordinal (byte-wise, case-sensitive).
//! * When the literal is a datetime (unquoted, or a quoted string that parses as one) and the
//!   entity value is a string that parses as an RFC 3339 / ISO 8601 datetime, both are
//!   compared as UTC instants. Any number of fractional digits is accepted (7-digit .NET
//!   ticks such as `2020-07-20T10:53:48.7657932Z` included, nanosecond precision); a
//!   date-only value (`2018-08-01Z`, `2018-08-01`) is midnight UTC; a time without zone is UTC.
//!   An unquoted datetime literal against a non-datetime value never matches.
//! * Numbers compare numerically (i64 exactly, otherwise as f64). A numeric literal against a
//!   string field holding a number compares numerically, and a quoted numeric literal
//!   against a numeric field does too (`incidentId eq '42'` matches `42`).
//! * Booleans compare with `false < true`; a string `"true"`/`"false"` matches a boolean.
//! * A missing field or JSON `null`: `eq null` is true, `ne null` is false; every other
//!   comparison (including `ne 'x'`) with a missing/null value is false. Against a present,
//!   non-null value `eq null` is false and `ne null` true.
//! * `ne` on a present, non-null value is the negation of `eq` (so values of incomparable
//!   type are `ne` anything).
//! * Array values: `eq` is true if any element is equal, `ne` if no element is, and
//!   `gt`/`ge`/`lt`/`le` if any element satisfies the comparison. Object values are equal to
//!   nothing.
//! * `x in (a, b)` is exactly `x eq a or x eq b`; `in ()` is false.
//! * `startswith`/`endswith`/`contains` are case-insensitive, apply to string values or, on
//!   an array, to any string element; anything else (missing, numbers) is false.
//! * `any(t: ...)` is true when some element satisfies the body, `any()` when the array is
//!   non-empty, `all(t: ...)` when every element does (true for `[]`); on a missing or
//!   non-array value both are false.
//!
//! # `$orderby`
//!
//! `field [asc|desc], field2 [asc|desc], ...`, stable. Per key values rank as
//! missing/null < booleans (`false < true`) < numbers (numerically) < datetime strings (as
//! instants) < other strings (case-insensitively) < arrays/objects (all equal). `desc`
//! reverses a key completely, so nulls are first ascending and last descending.

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde_json::Value;

mod eval;
mod lex;
mod parse;
#[cfg(test)]
mod tests;

use eval::*;
use lex::*;
use parse::*;

pub use eval::{Filter, OrderBy};

/// Maximum nesting depth of parentheses, `not` and lambdas.
const MAX_DEPTH: usize = 64;

/// Errors from parsing `$filter` and `$orderby`.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ODataError {
    /// The expression is empty or only whitespace; the payload is `"filter"` or `"orderby"`.
    #[error("empty {0} expression")]
    Empty(&'static str),
    /// A syntax error at a 0-based byte position.
    #[error("invalid {context} at position {position}: {message}")]
    Syntax {
        /// `"filter"` or `"orderby"`.
        context: &'static str,
        /// 0-based byte offset.
        position: usize,
        /// What was wrong, lowercase.
        message: String,
    },
    /// A quoted string without its closing quote; `position` is the opening quote.
    #[error("invalid {context} at position {position}: unterminated string literal")]
    UnterminatedString {
        /// `"filter"` or `"orderby"`.
        context: &'static str,
        /// 0-based byte offset of the opening quote.
        position: usize,
    },
    /// A field that the endpoint does not document as filterable.
    #[error("unsupported filter field '{0}'")]
    UnsupportedField(String),
}

// ---------------------------------------------------------------------------------------------
// AST
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    fn from_keyword(s: &str) -> Option<CmpOp> {
        let op = match s.to_ascii_lowercase().as_str() {
            "eq" => CmpOp::Eq,
            "ne" => CmpOp::Ne,
            "gt" => CmpOp::Gt,
            "ge" => CmpOp::Ge,
            "lt" => CmpOp::Lt,
            "le" => CmpOp::Le,
            _ => return None,
        };
        Some(op)
    }

    /// The operator with its operands swapped (`5 lt x` is `x gt 5`).
    fn flipped(self) -> CmpOp {
        match self {
            CmpOp::Eq => CmpOp::Eq,
            CmpOp::Ne => CmpOp::Ne,
            CmpOp::Gt => CmpOp::Lt,
            CmpOp::Ge => CmpOp::Le,
            CmpOp::Lt => CmpOp::Gt,
            CmpOp::Le => CmpOp::Ge,
        }
    }

    fn accepts(self, o: Ordering) -> bool {
        match self {
            CmpOp::Eq => o.is_eq(),
            CmpOp::Ne => o.is_ne(),
            CmpOp::Gt => o.is_gt(),
            CmpOp::Ge => o.is_ge(),
            CmpOp::Lt => o.is_lt(),
            CmpOp::Le => o.is_le(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StrFunc {
    StartsWith,
    EndsWith,
    Contains,
}

impl StrFunc {
    fn from_name(s: &str) -> Option<StrFunc> {
        match s.to_ascii_lowercase().as_str() {
            "startswith" => Some(StrFunc::StartsWith),
            "endswith" => Some(StrFunc::EndsWith),
            "contains" => Some(StrFunc::Contains),
            _ => None,
        }
    }

    fn apply(self, value: &str, arg_lower: &str) -> bool {
        let v = value.to_lowercase();
        match self {
            StrFunc::StartsWith => v.starts_with(arg_lower),
            StrFunc::EndsWith => v.ends_with(arg_lower),
            StrFunc::Contains => v.contains(arg_lower),
        }
    }
}

/// A field path, or a lambda variable followed by an optional path.
#[derive(Debug, Clone, PartialEq)]
struct Operand {
    var: Option<String>,
    path: Vec<String>,
    text: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Or(Vec<Expr>),
    And(Vec<Expr>),
    Not(Box<Expr>),
    Cmp { operand: Operand, op: CmpOp, lit: Literal },
    In { operand: Operand, list: Vec<Literal> },
    Func { func: StrFunc, operand: Operand, arg_lower: String },
    Lambda { operand: Operand, all: bool, var: Option<String>, body: Option<Box<Expr>> },
    BoolField(Operand),
}
