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
// Values
// ---------------------------------------------------------------------------------------------

/// A number, kept exact when it is an integer.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn as_f64(self) -> f64 {
        match self {
            // Precision loss is accepted for mixed int/float comparisons.
            #[allow(clippy::cast_precision_loss)]
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    fn from_json(n: &serde_json::Number) -> Option<Num> {
        if let Some(i) = n.as_i64() { Some(Num::Int(i)) } else { n.as_f64().filter(|f| f.is_finite()).map(Num::Float) }
    }
}

/// Parses a string holding a plain decimal number (`"42"`, `"-1.5"`, `"1e3"`).
fn parse_num_str(s: &str) -> Option<Num> {
    let s = s.trim();
    if s.is_empty()
        || !s.bytes().any(|b| b.is_ascii_digit())
        || !s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
    {
        return None;
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Num::Int(i));
    }
    s.parse::<f64>().ok().filter(|f| f.is_finite()).map(Num::Float)
}

fn parse_bool_str(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parses an RFC 3339 / ISO 8601 datetime (or date-only value) into a UTC instant.
fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    let shaped = b.len() >= 10
        && b.iter().take(4).all(u8::is_ascii_digit)
        && b.get(4) == Some(&b'-')
        && b.get(5..7).is_some_and(|d| d.iter().all(u8::is_ascii_digit))
        && b.get(7) == Some(&b'-')
        && b.get(8..10).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !shaped {
        return None;
    }
    let date_part = s.get(..10)?;
    let rest = s.get(10..)?;
    if rest.is_empty() || rest == "Z" || rest == "z" {
        let date = NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok()?;
        return Some(date.and_hms_opt(0, 0, 0)?.and_utc());
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.with_timezone(&Utc));
    }
    // No zone (taken as UTC) or no seconds.
    let naive = s.strip_suffix('Z').or_else(|| s.strip_suffix('z')).unwrap_or(s);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(dt.and_utc());
        }
    }
    None
}

fn ci_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() { a.eq_ignore_ascii_case(b) } else { a.to_lowercase() == b.to_lowercase() }
}

/// A literal in a filter, with its datetime / numeric readings precomputed.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Null,
    Bool(bool),
    Num(Num),
    Str { text: String, dt: Option<DateTime<Utc>>, num: Option<Num> },
    DateTime(DateTime<Utc>),
}

impl Literal {
    fn string(text: String) -> Literal {
        let dt = parse_datetime(&text);
        let num = parse_num_str(&text);
        Literal::Str { text, dt, num }
    }
}

fn value_eq(v: &Value, lit: &Literal) -> bool {
    match (v, lit) {
        (Value::String(s), Literal::Str { text, dt, .. }) => {
            if let (Some(ldt), Some(vdt)) = (dt, parse_datetime(s)) {
                return vdt == *ldt;
            }
            ci_eq(s, text)
        }
        (Value::String(s), Literal::DateTime(dt)) => parse_datetime(s).is_some_and(|x| x == *dt),
        (Value::String(s), Literal::Num(n)) => {
            parse_num_str(s).and_then(|x| x.compare(*n)).is_some_and(Ordering::is_eq)
        }
        (Value::String(s), Literal::Bool(b)) => parse_bool_str(s) == Some(*b),
        (Value::Number(x), Literal::Num(n)) | (Value::Number(x), Literal::Str { num: Some(n), .. }) => {
            Num::from_json(x).and_then(|x| x.compare(*n)).is_some_and(Ordering::is_eq)
        }
        (Value::Bool(x), Literal::Bool(b)) => x == b,
        (Value::Bool(x), Literal::Str { text, .. }) => parse_bool_str(text) == Some(*x),
        _ => false,
    }
}

fn value_ord(v: &Value, lit: &Literal) -> Option<Ordering> {
    match (v, lit) {
        (Value::String(s), Literal::Str { text, dt, .. }) => {
            if let (Some(ldt), Some(vdt)) = (dt, parse_datetime(s)) {
                return Some(vdt.cmp(ldt));
            }
            Some(s.as_str().cmp(text.as_str()))
        }
        (Value::String(s), Literal::DateTime(dt)) => parse_datetime(s).map(|x| x.cmp(dt)),
        (Value::String(s), Literal::Num(n)) => parse_num_str(s).and_then(|x| x.compare(*n)),
        (Value::Number(x), Literal::Num(n)) | (Value::Number(x), Literal::Str { num: Some(n), .. }) => {
            Num::from_json(x).and_then(|x| x.compare(*n))
        }
        (Value::Bool(x), Literal::Bool(b)) => Some(x.cmp(b)),
        _ => None,
    }
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

// ---------------------------------------------------------------------------------------------
// Lexer
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(Num),
    DateTime(DateTime<Utc>),
    LParen,
    RParen,
    Comma,
    Colon,
    Slash,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    tok: Tok,
    pos: usize,
}

fn syntax(context: &'static str, position: usize, message: impl Into<String>) -> ODataError {
    ODataError::Syntax { context, position, message: message.into() }
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn lex(src: &str, context: &'static str) -> Result<Vec<Token>, ODataError> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(pos, c)) = chars.peek() {
        if c.is_whitespace() || c == '+' {
            chars.next();
            continue;
        }
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            ',' => Some(Tok::Comma),
            ':' => Some(Tok::Colon),
            '/' => Some(Tok::Slash),
            _ => None,
        };
        if let Some(tok) = simple {
            chars.next();
            out.push(Token { tok, pos });
            continue;
        }
        if c == '\'' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next() {
                    None => {
                        return Err(ODataError::UnterminatedString { context, position: pos });
                    }
                    Some((_, '\'')) => {
                        if matches!(chars.peek(), Some(&(_, '\''))) {
                            chars.next();
                            s.push('\'');
                        } else {
                            break;
                        }
                    }
                    Some((_, ch)) => s.push(ch),
                }
            }
            out.push(Token { tok: Tok::Str(s), pos });
        } else if c.is_ascii_digit() || c == '-' {
            let (tok, end) = lex_number_or_datetime(src, pos, context)?;
            while matches!(chars.peek(), Some(&(i, _)) if i < end) {
                chars.next();
            }
            out.push(Token { tok, pos });
        } else if is_ident_start(c) {
            let mut s = String::new();
            s.push(c);
            chars.next();
            while let Some(&(_, ch)) = chars.peek() {
                if !is_ident_char(ch) {
                    break;
                }
                s.push(ch);
                chars.next();
            }
            out.push(Token { tok: Tok::Ident(s), pos });
        } else {
            return Err(syntax(context, pos, format!("unexpected character '{c}'")));
        }
    }
    Ok(out)
}

/// Lexes a number or an unquoted datetime starting at `start`; returns the token and the byte
/// offset just past it.
fn lex_number_or_datetime(src: &str, start: usize, context: &'static str) -> Result<(Tok, usize), ODataError> {
    let b = src.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    let digit = |i: usize| at(i).is_ascii_digit();

    // Datetime: starts with `dddd-`.
    if (start..start + 4).all(digit) && at(start + 4) == b'-' {
        let mut end = start;
        while at(end).is_ascii_alphanumeric() || matches!(at(end), b':' | b'.' | b'-') {
            end += 1;
        }
        let so_far = src.get(start..end).unwrap_or("");
        let has_time = so_far.contains(['T', 't']);
        let zulu = so_far.ends_with(['Z', 'z']);
        if has_time
            && !zulu
            && at(end) == b'+'
            && digit(end + 1)
            && digit(end + 2)
            && at(end + 3) == b':'
            && digit(end + 4)
            && digit(end + 5)
        {
            end += 6;
        }
        let text = src.get(start..end).unwrap_or("");
        return match parse_datetime(text) {
            Some(dt) => Ok((Tok::DateTime(dt), end)),
            None => Err(syntax(context, start, format!("invalid datetime literal '{text}'"))),
        };
    }

    let mut i = start;
    if at(i) == b'-' {
        i += 1;
    }
    if !digit(i) {
        return Err(syntax(context, start, "unexpected character '-'"));
    }
    let mut is_int = true;
    while digit(i) {
        i += 1;
    }
    if at(i) == b'.' && digit(i + 1) {
        is_int = false;
        i += 1;
        while digit(i) {
            i += 1;
        }
    }
    if matches!(at(i), b'e' | b'E') {
        let sign = usize::from(matches!(at(i + 1), b'+' | b'-'));
        if digit(i + 1 + sign) {
            is_int = false;
            i += 1 + sign;
            while digit(i) {
                i += 1;
            }
        }
    }
    let text = src.get(start..i).unwrap_or("");
    let mut end = i;
    // OData type suffixes: 5L, 1.5M, 2.0D, 3F.
    if matches!(at(end), b'l' | b'L' | b'm' | b'M' | b'd' | b'D' | b'f' | b'F')
        && !(at(end + 1).is_ascii_alphanumeric() || at(end + 1) == b'_')
    {
        end += 1;
    }
    if at(end).is_ascii_alphanumeric() || at(end) == b'_' || at(end) == b'.' {
        return Err(syntax(context, start, "invalid number literal"));
    }
    let num = if is_int {
        match text.parse::<i64>() {
            Ok(n) => Some(Num::Int(n)),
            Err(_) => text.parse::<f64>().ok().map(Num::Float),
        }
    } else {
        text.parse::<f64>().ok().map(Num::Float)
    };
    match num {
        Some(Num::Float(f)) if !f.is_finite() => Err(syntax(context, start, "number literal out of range")),
        Some(n) => Ok((Tok::Num(n), end)),
        None => Err(syntax(context, start, "invalid number literal")),
    }
}

fn is_kw(tok: &Tok, kw: &str) -> bool {
    matches!(tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Ident(s) => format!("'{s}'"),
        Tok::Str(s) => format!("string '{s}'"),
        Tok::Num(_) => "number".to_string(),
        Tok::DateTime(_) => "datetime".to_string(),
        Tok::LParen => "'('".to_string(),
        Tok::RParen => "')'".to_string(),
        Tok::Comma => "','".to_string(),
        Tok::Colon => "':'".to_string(),
        Tok::Slash => "'/'".to_string(),
        Tok::Eof => "end of input".to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------------------------

struct Parser<'a> {
    toks: Vec<Token>,
    i: usize,
    eof: Token,
    allowed: &'a [&'a str],
    scopes: Vec<String>,
    fields: Vec<String>,
}

const FILTER: &str = "filter";

impl<'a> Parser<'a> {
    fn peek(&self) -> &Token {
        self.toks.get(self.i).unwrap_or(&self.eof)
    }

    fn peek_at(&self, n: usize) -> &Token {
        self.toks.get(self.i + n).unwrap_or(&self.eof)
    }

    fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    fn err(&self, pos: usize, msg: impl Into<String>) -> ODataError {
        syntax(FILTER, pos, msg)
    }

    fn expect(&mut self, want: &Tok, what: &str) -> Result<Token, ODataError> {
        let t = self.peek();
        if &t.tok == want {
            Ok(self.bump())
        } else {
            Err(self.err(t.pos, format!("expected {what}, found {}", describe(&t.tok))))
        }
    }

    fn check_depth(&self, depth: usize, pos: usize) -> Result<(), ODataError> {
        if depth > MAX_DEPTH { Err(self.err(pos, "expression nested too deeply")) } else { Ok(()) }
    }

    fn or_expr(&mut self, depth: usize) -> Result<Expr, ODataError> {
        let mut terms = vec![self.and_expr(depth)?];
        while is_kw(&self.peek().tok, "or") {
            self.bump();
            terms.push(self.and_expr(depth)?);
        }
        Ok(if terms.len() == 1 { terms.pop().unwrap_or(Expr::Or(Vec::new())) } else { Expr::Or(terms) })
    }

    fn and_expr(&mut self, depth: usize) -> Result<Expr, ODataError> {
        let mut terms = vec![self.unary(depth)?];
        while is_kw(&self.peek().tok, "and") {
            self.bump();
            terms.push(self.unary(depth)?);
        }
        Ok(if terms.len() == 1 { terms.pop().unwrap_or(Expr::And(Vec::new())) } else { Expr::And(terms) })
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ODataError> {
        let t = self.peek();
        if is_kw(&t.tok, "not") {
            let pos = t.pos;
            self.check_depth(depth + 1, pos)?;
            self.bump();
            let inner = self.unary(depth + 1)?;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.comparison(depth)
    }

    fn comparison(&mut self, depth: usize) -> Result<Expr, ODataError> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::LParen => {
                self.check_depth(depth + 1, t.pos)?;
                self.bump();
                let e = self.or_expr(depth + 1)?;
                self.expect(&Tok::RParen, "')'")?;
                Ok(e)
            }
            Tok::Ident(name) if self.peek_at(1).tok == Tok::LParen => {
                let Some(func) = StrFunc::from_name(name) else {
                    return Err(self.err(t.pos, format!("unknown function '{name}'")));
                };
                self.bump();
                self.bump();
                let fpos = self.peek().pos;
                let operand = self.operand_path(depth)?;
                if operand.1.is_some() {
                    return Err(self.err(fpos, "expected a field, not a lambda"));
                }
                self.expect(&Tok::Comma, "','")?;
                let arg = self.peek().clone();
                let Tok::Str(s) = arg.tok else {
                    return Err(self.err(arg.pos, "expected a string literal"));
                };
                self.bump();
                self.expect(&Tok::RParen, "')'")?;
                let e = Expr::Func { func, operand: operand.0, arg_lower: s.to_lowercase() };
                self.bool_suffix(e)
            }
            Tok::Ident(name) if !["true", "false", "null"].iter().any(|k| name.eq_ignore_ascii_case(k)) => {
                let (operand, lambda) = self.operand_path(depth)?;
                if let Some(lambda) = lambda {
                    return self.bool_suffix(lambda);
                }
                let next = self.peek().clone();
                if let Tok::Ident(kw) = &next.tok {
                    if let Some(op) = CmpOp::from_keyword(kw) {
                        self.bump();
                        let lit = self.literal()?;
                        return Ok(Expr::Cmp { operand, op, lit });
                    }
                    if kw.eq_ignore_ascii_case("in") {
                        self.bump();
                        let list = self.literal_list()?;
                        return Ok(Expr::In { operand, list });
                    }
                }
                let ends =
                    matches!(next.tok, Tok::Eof | Tok::RParen) || is_kw(&next.tok, "and") || is_kw(&next.tok, "or");
                if ends {
                    Ok(Expr::BoolField(operand))
                } else {
                    Err(self.err(next.pos, format!("expected a comparison operator, found {}", describe(&next.tok))))
                }
            }
            Tok::Ident(_) | Tok::Str(_) | Tok::Num(_) | Tok::DateTime(_) => {
                // Literal on the left: `5 lt field`.
                let lit = self.literal()?;
                let next = self.peek().clone();
                let op = match &next.tok {
                    Tok::Ident(kw) => CmpOp::from_keyword(kw),
                    _ => None,
                };
                let Some(op) = op else {
                    return Err(
                        self.err(next.pos, format!("expected a comparison operator, found {}", describe(&next.tok)))
                    );
                };
                self.bump();
                let fpos = self.peek().pos;
                if !matches!(self.peek().tok, Tok::Ident(_)) {
                    return Err(self.err(fpos, "expected a field name"));
                }
                let (operand, lambda) = self.operand_path(depth)?;
                if lambda.is_some() {
                    return Err(self.err(fpos, "expected a field, not a lambda"));
                }
                Ok(Expr::Cmp { operand, op: op.flipped(), lit })
            }
            Tok::Eof => Err(self.err(t.pos, "expected an expression")),
            other => Err(self.err(t.pos, format!("unexpected {}", describe(other)))),
        }
    }

    /// After a boolean-valued call: optional `eq true|false` / `ne true|false`.
    fn bool_suffix(&mut self, e: Expr) -> Result<Expr, ODataError> {
        let op = match &self.peek().tok {
            Tok::Ident(kw) => CmpOp::from_keyword(kw),
            _ => None,
        };
        let Some(op) = op else { return Ok(e) };
        if !matches!(op, CmpOp::Eq | CmpOp::Ne) {
            let pos = self.peek().pos;
            return Err(self.err(pos, "only eq and ne can follow a boolean function"));
        }
        self.bump();
        let t = self.bump();
        let b = match &t.tok {
            Tok::Ident(s) => parse_bool_str(s),
            _ => None,
        };
        let Some(b) = b else {
            return Err(self.err(t.pos, "expected true or false"));
        };
        Ok(if b == (op == CmpOp::Eq) { e } else { Expr::Not(Box::new(e)) })
    }

    /// Parses `seg(/seg)*`, possibly ending in `/any(...)` or `/all(...)`. Returns the operand
    /// and, for a lambda, the lambda expression.
    fn operand_path(&mut self, depth: usize) -> Result<(Operand, Option<Expr>), ODataError> {
        let first = self.bump();
        let Tok::Ident(name) = first.tok else {
            return Err(self.err(first.pos, "expected a field name"));
        };
        let mut segs = vec![name];
        let mut lambda_kind = None;
        while self.peek().tok == Tok::Slash {
            let seg = self.peek_at(1).clone();
            let Tok::Ident(s) = seg.tok else {
                return Err(self.err(seg.pos, "expected a field name after '/'"));
            };
            let is_lambda =
                (s.eq_ignore_ascii_case("any") || s.eq_ignore_ascii_case("all")) && self.peek_at(2).tok == Tok::LParen;
            self.bump();
            self.bump();
            if is_lambda {
                lambda_kind = Some((s.eq_ignore_ascii_case("all"), seg.pos));
                break;
            }
            segs.push(s);
        }
        let text = segs.join("/");
        let operand = match segs.first() {
            Some(head) if self.scopes.iter().any(|v| v == head) => {
                Operand { var: Some(head.clone()), path: segs.get(1..).unwrap_or_default().to_vec(), text }
            }
            _ => {
                let first_seg = segs.first().map(String::as_str).unwrap_or_default();
                let ok =
                    self.allowed.iter().any(|a| a.eq_ignore_ascii_case(&text) || a.eq_ignore_ascii_case(first_seg));
                if !ok {
                    return Err(ODataError::UnsupportedField(text));
                }
                if !self.fields.contains(&text) {
                    self.fields.push(text.clone());
                }
                Operand { var: None, path: segs, text }
            }
        };
        let Some((all, pos)) = lambda_kind else {
            return Ok((operand, None));
        };
        // Lambda: `(` already next.
        self.check_depth(depth + 1, pos)?;
        self.bump();
        if self.peek().tok == Tok::RParen {
            self.bump();
            if all {
                return Err(self.err(pos, "all() needs a lambda expression"));
            }
            let e = Expr::Lambda { operand: operand.clone(), all, var: None, body: None };
            return Ok((operand, Some(e)));
        }
        let vt = self.bump();
        let Tok::Ident(var) = vt.tok else {
            return Err(self.err(vt.pos, "expected a lambda variable name"));
        };
        self.expect(&Tok::Colon, "':' after the lambda variable")?;
        self.scopes.push(var.clone());
        let body = self.or_expr(depth + 1);
        self.scopes.pop();
        let body = body?;
        self.expect(&Tok::RParen, "')'")?;
        let e = Expr::Lambda { operand: operand.clone(), all, var: Some(var), body: Some(Box::new(body)) };
        Ok((operand, Some(e)))
    }

    fn literal(&mut self) -> Result<Literal, ODataError> {
        let t = self.peek().clone();
        let lit = match t.tok {
            Tok::Str(s) => Literal::string(s),
            Tok::Num(n) => Literal::Num(n),
            Tok::DateTime(dt) => Literal::DateTime(dt),
            Tok::Ident(ref s) if s.eq_ignore_ascii_case("null") => Literal::Null,
            Tok::Ident(ref s) if parse_bool_str(s).is_some() => Literal::Bool(s.eq_ignore_ascii_case("true")),
            ref other => {
                return Err(self.err(
                    t.pos,
                    if matches!(other, Tok::Eof) {
                        "expected a value".to_string()
                    } else {
                        format!("expected a value, found {}", describe(other))
                    },
                ));
            }
        };
        self.bump();
        Ok(lit)
    }

    fn literal_list(&mut self) -> Result<Vec<Literal>, ODataError> {
        self.expect(&Tok::LParen, "'(' after in")?;
        let mut list = Vec::new();
        if self.peek().tok == Tok::RParen {
            self.bump();
            return Ok(list);
        }
        loop {
            list.push(self.literal()?);
            let t = self.bump();
            match t.tok {
                Tok::Comma => continue,
                Tok::RParen => return Ok(list),
                other => {
                    return Err(self.err(t.pos, format!("expected ',' or ')', found {}", describe(&other))));
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Filter
// ---------------------------------------------------------------------------------------------

/// A parsed `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    expr: Expr,
    fields: Vec<String>,
}

impl Filter {
    /// Parse a `$filter` string. `allowed` = the field names this endpoint documents as
    /// filterable (compared case-insensitively). A field not in `allowed` is
    /// [`ODataError::UnsupportedField`] naming the field.
    pub fn parse(input: &str, allowed: &[&str]) -> Result<Filter, ODataError> {
        let toks = lex(input, FILTER)?;
        if toks.is_empty() {
            return Err(ODataError::Empty(FILTER));
        }
        let mut p = Parser {
            toks,
            i: 0,
            eof: Token { tok: Tok::Eof, pos: input.len() },
            allowed,
            scopes: Vec::new(),
            fields: Vec::new(),
        };
        let expr = p.or_expr(0)?;
        let t = p.peek();
        if t.tok != Tok::Eof {
            return Err(p.err(t.pos, format!("unexpected {}", describe(&t.tok))));
        }
        Ok(Filter { expr, fields: p.fields })
    }

    /// Whether `entity` satisfies the filter.
    pub fn matches(&self, entity: &Value) -> bool {
        let mut env = Env { root: entity, vars: Vec::new() };
        eval(&self.expr, &mut env)
    }

    /// The entity field paths referenced (as written, `/`-joined, in order of first
    /// appearance, without duplicates); lambda variables are not included.
    pub fn fields(&self) -> Vec<String> {
        self.fields.clone()
    }
}

struct Env<'a> {
    root: &'a Value,
    vars: Vec<(&'a str, &'a Value)>,
}

fn get_field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(name).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

fn resolve<'a>(op: &Operand, env: &Env<'a>) -> Option<&'a Value> {
    let mut cur = match &op.var {
        Some(var) => env.vars.iter().rev().find(|(n, _)| n == var)?.1,
        None => env.root,
    };
    for seg in &op.path {
        cur = get_field(cur, seg)?;
    }
    Some(cur)
}

fn compare(val: Option<&Value>, op: CmpOp, lit: &Literal) -> bool {
    let is_null = matches!(val, None | Some(Value::Null));
    if *lit == Literal::Null {
        return match op {
            CmpOp::Eq => is_null,
            CmpOp::Ne => !is_null,
            _ => false,
        };
    }
    let Some(v) = val.filter(|_| !is_null) else {
        return false;
    };
    let scalar = |x: &Value| match op {
        CmpOp::Eq => value_eq(x, lit),
        CmpOp::Ne => !value_eq(x, lit),
        _ => value_ord(x, lit).is_some_and(|o| op.accepts(o)),
    };
    match v {
        Value::Array(items) => match op {
            CmpOp::Eq => items.iter().any(|x| value_eq(x, lit)),
            CmpOp::Ne => !items.iter().any(|x| value_eq(x, lit)),
            _ => items.iter().any(scalar),
        },
        _ => scalar(v),
    }
}

fn eval<'a>(e: &'a Expr, env: &mut Env<'a>) -> bool {
    match e {
        Expr::Or(terms) => {
            for t in terms {
                if eval(t, env) {
                    return true;
                }
            }
            false
        }
        Expr::And(terms) => {
            for t in terms {
                if !eval(t, env) {
                    return false;
                }
            }
            true
        }
        Expr::Not(inner) => !eval(inner, env),
        Expr::Cmp { operand, op, lit } => compare(resolve(operand, env), *op, lit),
        Expr::In { operand, list } => {
            let v = resolve(operand, env);
            list.iter().any(|lit| compare(v, CmpOp::Eq, lit))
        }
        Expr::Func { func, operand, arg_lower } => match resolve(operand, env) {
            Some(Value::String(s)) => func.apply(s, arg_lower),
            Some(Value::Array(items)) => items.iter().any(|x| x.as_str().is_some_and(|s| func.apply(s, arg_lower))),
            _ => false,
        },
        Expr::Lambda { operand, all, var, body } => {
            let Some(Value::Array(items)) = resolve(operand, env) else {
                return false;
            };
            let (Some(var), Some(body)) = (var, body) else {
                return !items.is_empty();
            };
            let mut result = *all;
            for item in items {
                env.vars.push((var.as_str(), item));
                let ok = eval(body, env);
                env.vars.pop();
                if ok != *all {
                    result = ok;
                    break;
                }
            }
            result
        }
        Expr::BoolField(operand) => matches!(resolve(operand, env), Some(Value::Bool(true))),
    }
}

// ---------------------------------------------------------------------------------------------
// OrderBy
// ---------------------------------------------------------------------------------------------

const ORDERBY: &str = "orderby";

/// A parsed `$orderby`: a list of (field path, descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    keys: Vec<(Vec<String>, bool)>,
}

/// Sort key of one value; see [`SortKey::total_cmp`].
#[derive(Debug, Clone, PartialEq)]
enum SortKey {
    Null,
    Bool(bool),
    Num(f64),
    Date(DateTime<Utc>),
    Str(String),
    Other,
}

impl SortKey {
    fn of(v: Option<&Value>) -> SortKey {
        match v {
            None | Some(Value::Null) => SortKey::Null,
            Some(Value::Bool(b)) => SortKey::Bool(*b),
            Some(Value::Number(n)) => SortKey::Num(Num::from_json(n).map_or(0.0, Num::as_f64)),
            Some(Value::String(s)) => match parse_datetime(s) {
                Some(dt) => SortKey::Date(dt),
                None => SortKey::Str(s.to_lowercase()),
            },
            Some(_) => SortKey::Other,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            SortKey::Null => 0,
            SortKey::Bool(_) => 1,
            SortKey::Num(_) => 2,
            SortKey::Date(_) => 3,
            SortKey::Str(_) => 4,
            SortKey::Other => 5,
        }
    }

    /// A total order (required by `sort_by`).
    fn total_cmp(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Num(a), SortKey::Num(b)) => a.total_cmp(b),
            (SortKey::Date(a), SortKey::Date(b)) => a.cmp(b),
            (SortKey::Str(a), SortKey::Str(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl OrderBy {
    /// Parse `field [asc|desc], field2 [asc|desc], ...` (nested fields with `/`).
    pub fn parse(input: &str) -> Result<OrderBy, ODataError> {
        let toks = lex(input, ORDERBY)?;
        if toks.is_empty() {
            return Err(ODataError::Empty(ORDERBY));
        }
        let end = input.len();
        let mut it = toks.into_iter().peekable();
        let mut keys = Vec::new();
        loop {
            let Some(Token { tok: Tok::Ident(first), .. }) = it.next_if(|t| matches!(t.tok, Tok::Ident(_))) else {
                let t = it.peek();
                let (pos, what) = t.map_or((end, "end of input".to_string()), |t| (t.pos, describe(&t.tok)));
                return Err(syntax(ORDERBY, pos, format!("expected a field name, found {what}")));
            };
            let mut path = vec![first];
            while it.next_if(|t| t.tok == Tok::Slash).is_some() {
                match it.next() {
                    Some(Token { tok: Tok::Ident(s), .. }) => path.push(s),
                    Some(t) => {
                        return Err(syntax(ORDERBY, t.pos, "expected a field name after '/'"));
                    }
                    None => return Err(syntax(ORDERBY, end, "expected a field name after '/'")),
                }
            }
            let mut desc = false;
            if let Some(t) = it.next_if(|t| is_kw(&t.tok, "asc") || is_kw(&t.tok, "desc")) {
                desc = is_kw(&t.tok, "desc");
            }
            keys.push((path, desc));
            match it.next() {
                None => break,
                Some(Token { tok: Tok::Comma, .. }) => continue,
                Some(t) => {
                    return Err(syntax(
                        ORDERBY,
                        t.pos,
                        format!("expected ',' or end of input, found {}", describe(&t.tok)),
                    ));
                }
            }
        }
        Ok(OrderBy { keys })
    }

    /// The sort keys as (`/`-joined field path, descending).
    pub fn keys(&self) -> Vec<(String, bool)> {
        self.keys.iter().map(|(p, d)| (p.join("/"), *d)).collect()
    }

    /// Stable sort of `items` by the keys.
    pub fn sort(&self, items: &mut [Value]) {
        let mut decorated: Vec<(Vec<SortKey>, Value)> = items
            .iter_mut()
            .map(|v| {
                let keys = self
                    .keys
                    .iter()
                    .map(|(path, _)| {
                        let mut cur = Some(&*v);
                        for seg in path {
                            cur = cur.and_then(|c| get_field(c, seg));
                        }
                        SortKey::of(cur)
                    })
                    .collect();
                (keys, std::mem::take(v))
            })
            .collect();
        decorated.sort_by(|(a, _), (b, _)| {
            for ((ka, kb), (_, desc)) in a.iter().zip(b).zip(&self.keys) {
                let o = ka.total_cmp(kb);
                let o = if *desc { o.reverse() } else { o };
                if o.is_ne() {
                    return o;
                }
            }
            Ordering::Equal
        });
        for (slot, (_, v)) in items.iter_mut().zip(decorated) {
            *slot = v;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ALERT_FIELDS: &[&str] = &[
        "alertCreationTime",
        "lastUpdateTime",
        "incidentId",
        "InvestigationId",
        "id",
        "assignedTo",
        "detectionSource",
        "lastEventTime",
        "status",
        "severity",
        "category",
        "machineTags",
        "relatedUser",
        "healthStatus",
        "lastSeen",
        "score",
        "isActive",
        "title",
        "evidence",
        "tags",
    ];

    fn alert() -> Value {
        json!({
            "id": "da637472900382838869_1364969609",
            "incidentId": 1126093,
            "investigationId": 1234,
            "assignedTo": null,
            "severity": "Low",
            "status": "New",
            "category": "Execution",
            "detectionSource": "WindowsDefenderAtp",
            "title": "Low-reputation arbitrary code executed",
            "alertCreationTime": "2021-01-26T20:33:57.7220239Z",
            "lastUpdateTime": "2021-01-26T20:33:59.2Z",
            "lastEventTime": "2021-01-26T20:31:32.9562661Z",
            "lastSeen": "2018-08-01T16:08:35Z",
            "machineTags": ["Prod", "Finance"],
            "relatedUser": {"userName": "Alice", "domainName": "CONTOSO"},
            "score": 7.5,
            "isActive": true,
            "evidence": [
                {"entityType": "File", "sha1": "abc"},
                {"entityType": "User", "accountName": "alice"}
            ],
            "tags": []
        })
    }

    fn m(filter: &str) -> bool {
        Filter::parse(filter, ALERT_FIELDS).unwrap_or_else(|e| panic!("{filter}: {e}")).matches(&alert())
    }

    fn perr(filter: &str) -> ODataError {
        Filter::parse(filter, ALERT_FIELDS).expect_err(filter)
    }

    #[test]
    fn eq_and_ne_on_strings_are_case_insensitive() {
        assert!(m("status eq 'new'"));
        assert!(m("status eq 'NEW'"));
        assert!(m("STATUS EQ 'New'"));
        assert!(!m("status eq 'Resolved'"));
        assert!(m("status ne 'resolved'"));
        assert!(!m("status ne 'new'"));
    }

    #[test]
    fn ordering_operators_on_numbers() {
        assert!(m("incidentId gt 1126092"));
        assert!(!m("incidentId gt 1126093"));
        assert!(m("incidentId ge 1126093"));
        assert!(m("incidentId lt 1126094"));
        assert!(!m("incidentId lt 1126093"));
        assert!(m("incidentId le 1126093"));
        assert!(m("incidentId eq 1126093"));
        assert!(m("incidentId ne 5"));
        assert!(m("score gt 7"));
        assert!(m("score eq 7.5"));
        assert!(m("score lt 7.6"));
        assert!(m("score ge 75e-1"));
        assert!(m("incidentId gt -1"));
        assert!(m("incidentId eq 1126093L"));
    }

    #[test]
    fn ordering_operators_on_strings_are_ordinal() {
        assert!(m("category gt 'Exe'"));
        assert!(m("category lt 'F'"));
        // Ordinal: lowercase letters sort after uppercase ones.
        assert!(m("category lt 'execution'"));
        assert!(!m("category ge 'execution'"));
        assert!(m("category ge 'Execution'"));
        assert!(m("category le 'Execution'"));
    }

    #[test]
    fn literal_on_left_is_flipped() {
        assert!(m("1126092 lt incidentId"));
        assert!(!m("1126094 lt incidentId"));
        assert!(m("'new' eq status"));
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        // true or (false and false) = true
        assert!(m("status eq 'New' or severity eq 'High' and category eq 'X'"));
        // (false and false) or true = true
        assert!(m("severity eq 'High' and category eq 'X' or status eq 'New'"));
        // (true or false) and false = false with parentheses
        assert!(!m("(status eq 'New' or severity eq 'High') and category eq 'X'"));
        assert!(m("status eq 'New' and (severity eq 'High' or severity eq 'Low')"));
    }

    #[test]
    fn not_applies_to_next_comparison_or_group() {
        assert!(m("not status eq 'Resolved'"));
        assert!(!m("not status eq 'New'"));
        // (not false) and true
        assert!(m("not severity eq 'High' and status eq 'New'"));
        // not (true and false) = true; without parens it would be false
        assert!(m("not (status eq 'New' and severity eq 'High')"));
        assert!(!m("not status eq 'New' and severity eq 'High'"));
        assert!(m("not not status eq 'New'"));
        assert!(m("NOT(status eq 'x')"));
    }

    #[test]
    fn nested_parentheses() {
        assert!(m("((status eq 'New'))"));
        assert!(m("(((status eq 'x') or (severity eq 'low')) and (incidentId gt 1))"));
        assert!(matches!(perr("(status eq 'New'"), ODataError::Syntax { .. }));
        assert!(matches!(perr("status eq 'New')"), ODataError::Syntax { .. }));
    }

    #[test]
    fn in_operator_strings_and_numbers() {
        assert!(m("status in ('Resolved','new')"));
        assert!(!m("status in ('Resolved','InProgress')"));
        assert!(m("incidentId in (1, 2, 1126093)"));
        assert!(!m("incidentId in (1, 2)"));
        assert!(!m("status in ()"));
        assert!(m("assignedTo in ('x', null)"));
        assert!(m("not status in ('Resolved')"));
    }

    #[test]
    fn string_functions_are_case_insensitive() {
        assert!(m("startswith(title,'low-REP')"));
        assert!(!m("startswith(title,'code')"));
        assert!(m("endswith(title,'EXECUTED')"));
        assert!(!m("endswith(title,'low')"));
        assert!(m("contains(title,'Arbitrary')"));
        assert!(!m("contains(title,'nothing')"));
        assert!(m("contains(title,'arbitrary') eq true"));
        assert!(!m("contains(title,'arbitrary') eq false"));
        assert!(m("contains(title,'zzz') ne true"));
        assert!(m("Contains(machineTags,'fin')"));
        assert!(!m("contains(assignedTo,'a')"));
        assert!(!m("contains(incidentId,'1')"));
    }

    #[test]
    fn any_lambda_over_arrays() {
        assert!(m("machineTags/any(tag: tag eq 'Prod')"));
        assert!(m("machineTags/any(tag: tag eq 'prod')"));
        assert!(!m("machineTags/any(tag: tag eq 'Dev')"));
        assert!(m("machineTags/any(t: startswith(t, 'fin'))"));
        assert!(m("machineTags/any(t: t eq 'Dev' or t eq 'Finance')"));
        assert!(m("machineTags/any()"));
        assert!(!m("tags/any()"));
        assert!(!m("tags/any(t: t eq 'x')"));
        assert!(!m("title/any(t: t eq 'x')"));
        assert!(m("evidence/any(e: e/entityType eq 'user' and e/accountName eq 'ALICE')"));
        assert!(!m("evidence/any(e: e/entityType eq 'Ip')"));
        assert!(m("evidence/any(e: e/sha1 eq 'abc') and status eq 'New'"));
        assert!(m("not machineTags/any(t: t eq 'Dev')"));
        assert!(m("machineTags/any(t: t eq 'Prod') eq true"));
    }

    #[test]
    fn all_lambda() {
        assert!(m("machineTags/all(t: t ne 'Dev')"));
        assert!(!m("machineTags/all(t: t eq 'Prod')"));
        assert!(m("tags/all(t: t eq 'x')"));
        assert!(matches!(perr("tags/all()"), ODataError::Syntax { .. }));
    }

    #[test]
    fn eq_on_array_field_matches_any_element() {
        assert!(m("machineTags eq 'prod'"));
        assert!(m("machineTags eq 'FINANCE'"));
        assert!(!m("machineTags eq 'Dev'"));
        assert!(m("machineTags ne 'Dev'"));
        assert!(!m("machineTags ne 'Prod'"));
        assert!(m("machineTags in ('Dev','Prod')"));
    }

    #[test]
    fn unquoted_datetimes_compare_as_instants() {
        assert!(m("lastUpdateTime ge 2019-11-22T00:00:00Z"));
        assert!(m("lastUpdateTime+ge+2019-11-22T00:00:00Z"));
        assert!(!m("lastUpdateTime lt 2019-11-22T00:00:00Z"));
        assert!(m("lastSeen gt 2018-08-01Z"));
        assert!(!m("lastSeen gt 2018-08-02Z"));
        assert!(m("lastSeen lt 2018-08-01T16:08:35.001Z"));
        assert!(m("lastSeen eq 2018-08-01T16:08:35.000Z"));
        assert!(m("lastSeen eq 2018-08-01T18:08:35+02:00"));
        assert!(m("lastSeen eq 2018-08-01T18:08:35+02:00 and status eq 'new'"));
        assert!(m("alertCreationTime gt 2021-01-01T10:00:00.123Z"));
    }

    #[test]
    fn seven_digit_fractions_compare_exactly() {
        assert!(m("alertCreationTime eq 2021-01-26T20:33:57.7220239Z"));
        assert!(m("alertCreationTime gt 2021-01-26T20:33:57.7220238Z"));
        assert!(m("alertCreationTime lt 2021-01-26T20:33:57.722024Z"));
        assert!(m("alertCreationTime eq '2021-01-26T20:33:57.7220239Z'"));
        assert!(m("alertCreationTime ge '2021-01-26'"));
        assert!(!m("alertCreationTime ge '2021-01-27'"));
    }

    #[test]
    fn quoted_datetime_literal_compares_as_instant_not_text() {
        // As text "2021-01-26T20:33:59.2Z" < "2021-01-26T20:33:59.20001Z"... check the instant
        // reading wins where text order would differ.
        assert!(m("lastUpdateTime eq '2021-01-26T20:33:59.200Z'"));
        assert!(m("lastUpdateTime gt '2021-01-26T21:33:59+02:00'"));
        assert!(!m("lastUpdateTime gt 2021-01-26T20:33:59.2Z"));
    }

    #[test]
    fn date_only_is_midnight_utc() {
        let f = Filter::parse("lastSeen ge 2018-08-01Z and lastSeen lt 2018-08-02", &["lastSeen"]).unwrap();
        assert!(f.matches(&json!({"lastSeen": "2018-08-01T00:00:00Z"})));
        assert!(f.matches(&json!({"lastSeen": "2018-08-01T23:59:59.9999999Z"})));
        assert!(!f.matches(&json!({"lastSeen": "2018-07-31T23:59:59.9999999Z"})));
        assert!(!f.matches(&json!({"lastSeen": "2018-08-02T00:00:00Z"})));
        let eq = Filter::parse("lastSeen eq 2018-08-01Z", &["lastSeen"]).unwrap();
        assert!(eq.matches(&json!({"lastSeen": "2018-08-01T00:00:00.0000000Z"})));
        assert!(eq.matches(&json!({"lastSeen": "2018-08-01"})));
    }

    #[test]
    fn datetime_literal_against_non_datetime_value_is_false() {
        assert!(!m("status eq 2018-08-01Z"));
        assert!(!m("status gt 2018-08-01Z"));
        assert!(!m("incidentId gt 2018-08-01Z"));
        assert!(m("status ne 2018-08-01Z"));
    }

    #[test]
    fn numeric_literal_against_numeric_string_field() {
        let f = Filter::parse("id eq 42", &["id"]).unwrap();
        assert!(f.matches(&json!({"id": "42"})));
        assert!(f.matches(&json!({"id": 42})));
        assert!(f.matches(&json!({"id": 42.0})));
        assert!(!f.matches(&json!({"id": "43"})));
        assert!(!f.matches(&json!({"id": "abc"})));
        let gt = Filter::parse("id gt 9", &["id"]).unwrap();
        // Numeric, not textual ("10" < "9" as text).
        assert!(gt.matches(&json!({"id": "10"})));
        let quoted = Filter::parse("incidentId eq '1126093'", ALERT_FIELDS).unwrap();
        assert!(quoted.matches(&alert()));
        let quoted_gt = Filter::parse("incidentId gt '99'", ALERT_FIELDS).unwrap();
        assert!(quoted_gt.matches(&alert()));
        assert!(!m("status eq 5"));
    }

    #[test]
    fn large_integers_compare_exactly() {
        let f = Filter::parse("id eq 9007199254740993", &["id"]).unwrap();
        assert!(f.matches(&json!({"id": 9007199254740993_i64})));
        assert!(!f.matches(&json!({"id": 9007199254740992_i64})));
    }

    #[test]
    fn null_semantics() {
        assert!(m("assignedTo eq null"));
        assert!(!m("assignedTo ne null"));
        let f = |s: &str| Filter::parse(s, &["x"]).unwrap();
        let missing = json!({});
        let null = json!({"x": null});
        let present = json!({"x": "v"});
        for e in [&missing, &null] {
            assert!(f("x eq null").matches(e));
            assert!(!f("x ne null").matches(e));
            assert!(!f("x eq 'v'").matches(e));
            assert!(!f("x ne 'v'").matches(e));
            assert!(!f("x gt 1").matches(e));
            assert!(!f("x lt 2018-08-01Z").matches(e));
            assert!(!f("contains(x,'v')").matches(e));
            assert!(!f("x in ('v')").matches(e));
            assert!(!f("x gt null").matches(e));
        }
        assert!(!f("x eq null").matches(&present));
        assert!(f("x ne null").matches(&present));
        assert!(f("not x eq null").matches(&present));
        assert!(f("NULL eq x").matches(&missing));
    }

    #[test]
    fn nested_fields_resolve_into_objects() {
        assert!(m("relatedUser/userName eq 'alice'"));
        assert!(m("relatedUser/domainName eq 'contoso'"));
        assert!(!m("relatedUser/userName eq 'bob'"));
        assert!(m("relatedUser/missing eq null"));
        assert!(m("startswith(relatedUser/userName, 'Al')"));
        let f = Filter::parse("a/b/c gt 1", &["a"]).unwrap();
        assert!(f.matches(&json!({"a": {"b": {"c": 2}}})));
        assert!(!f.matches(&json!({"a": {"b": 5}})));
        assert!(!f.matches(&json!({"a": "str"})));
    }

    #[test]
    fn allowed_full_nested_path() {
        let f = Filter::parse("relatedUser/userName eq 'Alice'", &["relatedUser/username"]).unwrap();
        assert!(f.matches(&alert()));
        assert_eq!(
            Filter::parse("relatedUser/domainName eq 'x'", &["relatedUser/userName"]).unwrap_err(),
            ODataError::UnsupportedField("relatedUser/domainName".into())
        );
    }

    #[test]
    fn field_names_are_case_insensitive() {
        // Documented as "InvestigationId", JSON has "investigationId".
        assert!(m("InvestigationId eq 1234"));
        assert!(m("investigationid eq 1234"));
        assert!(m("RELATEDUSER/USERNAME eq 'alice'"));
    }

    #[test]
    fn string_escaping_with_doubled_quotes() {
        let f = Filter::parse("title eq 'O''Brien''s'", &["title"]).unwrap();
        assert!(f.matches(&json!({"title": "O'Brien's"})));
        assert!(!f.matches(&json!({"title": "O''Brien''s"})));
        let empty = Filter::parse("title eq ''", &["title"]).unwrap();
        assert!(empty.matches(&json!({"title": ""})));
        let only_quote = Filter::parse("title eq ''''", &["title"]).unwrap();
        assert!(only_quote.matches(&json!({"title": "'"})));
    }

    #[test]
    fn plus_is_whitespace_outside_strings_only() {
        assert!(m("status+eq+'New'+and+severity+eq+'Low'"));
        let f = Filter::parse("title+eq+'a+b'", &["title"]).unwrap();
        assert!(f.matches(&json!({"title": "a+b"})));
        assert!(!f.matches(&json!({"title": "a b"})));
        assert!(m("incidentId+gt+1"));
        assert!(m("lastSeen+gt+2018-08-01Z+and+status+eq+'new'"));
    }

    #[test]
    fn keywords_are_case_insensitive() {
        assert!(m("status EQ 'New' AND severity Ne 'High' OR incidentId Gt 5"));
        assert!(m("assignedTo Eq NULL"));
        assert!(m("isActive eq TRUE"));
        assert!(m("status IN ('new')"));
        assert!(m("STARTSWITH(title,'low')"));
        assert!(m("machineTags/ANY(t: t eq 'Prod')"));
    }

    #[test]
    fn booleans() {
        assert!(m("isActive eq true"));
        assert!(!m("isActive eq false"));
        assert!(m("isActive ne false"));
        assert!(m("isActive"));
        assert!(!m("not isActive"));
        assert!(m("isActive and status eq 'new'"));
        assert!(m("isActive gt false"));
        let f = Filter::parse("x eq true", &["x"]).unwrap();
        assert!(f.matches(&json!({"x": "True"})));
        let q = Filter::parse("x eq 'true'", &["x"]).unwrap();
        assert!(q.matches(&json!({"x": true})));
    }

    #[test]
    fn unsupported_field_is_an_error_naming_it() {
        assert_eq!(perr("computerDnsName eq 'x'"), ODataError::UnsupportedField("computerDnsName".into()));
        assert_eq!(perr("status eq 'New' and foo/bar gt 1"), ODataError::UnsupportedField("foo/bar".into()));
        assert_eq!(perr("startswith(nope,'x')"), ODataError::UnsupportedField("nope".into()));
        assert_eq!(perr("nope/any(t: t eq 'x')"), ODataError::UnsupportedField("nope".into()));
        assert_eq!(perr("machineTags/any(t: other eq 'x')"), ODataError::UnsupportedField("other".into()));
        assert_eq!(perr("computerDnsName eq 'x'").to_string(), "unsupported filter field 'computerDnsName'");
        assert!(Filter::parse("a eq 1", &[]).is_err());
    }

    #[test]
    fn syntax_errors_carry_positions() {
        let e = perr("status eq 'New' and ");
        assert_eq!(e, ODataError::Syntax { context: "filter", position: 20, message: "expected an expression".into() });
        let e = perr("incidentId eq ");
        assert_eq!(e.to_string(), "invalid filter at position 14: expected a value");
        let e = perr("status eq 'New' severity");
        assert_eq!(e.to_string(), "invalid filter at position 16: unexpected 'severity'");
        let e = perr("status 'New'");
        assert!(matches!(e, ODataError::Syntax { position: 7, .. }), "{e}");
        let e = perr("status eq #");
        assert_eq!(e.to_string(), "invalid filter at position 10: unexpected character '#'");
        let e = perr("status eq severity");
        assert!(matches!(e, ODataError::Syntax { position: 10, .. }), "{e}");
        let e = perr("frobnicate(status,'x')");
        assert!(e.to_string().contains("unknown function 'frobnicate'"), "{e}");
        let e = perr("status in ('a' 'b')");
        assert!(matches!(e, ODataError::Syntax { position: 15, .. }), "{e}");
        let e = perr("lastSeen gt 2018-13-45Z");
        assert!(e.to_string().contains("invalid datetime literal"), "{e}");
        let e = perr("incidentId eq 12abc");
        assert!(e.to_string().contains("invalid number literal"), "{e}");
        let e = perr("startswith(title, 5)");
        assert!(e.to_string().contains("expected a string literal"), "{e}");
        let e = perr("incidentId eq 1e999");
        assert!(e.to_string().contains("out of range"), "{e}");
    }

    #[test]
    fn unterminated_string_error() {
        let e = perr("status eq 'New");
        assert_eq!(e, ODataError::UnterminatedString { context: "filter", position: 10 });
        assert_eq!(e.to_string(), "invalid filter at position 10: unterminated string literal");
        assert!(matches!(perr("status eq 'a''"), ODataError::UnterminatedString { position: 10, .. }));
    }

    #[test]
    fn empty_input_errors() {
        assert_eq!(perr(""), ODataError::Empty("filter"));
        assert_eq!(perr("   "), ODataError::Empty("filter"));
        assert_eq!(perr("+++"), ODataError::Empty("filter"));
        assert_eq!(perr("").to_string(), "empty filter expression");
        assert_eq!(OrderBy::parse(" ").unwrap_err(), ODataError::Empty("orderby"));
    }

    #[test]
    fn fields_lists_referenced_fields_once() {
        let f = Filter::parse(
            "status eq 'New' and (severity eq 'High' or status ne 'x') and \
             machineTags/any(t: t eq 'Prod') and startswith(relatedUser/userName,'a') \
             and incidentId in (1,2)",
            ALERT_FIELDS,
        )
        .unwrap();
        assert_eq!(f.fields(), vec!["status", "severity", "machineTags", "relatedUser/userName", "incidentId"]);
    }

    #[test]
    fn deep_nesting_is_rejected_not_overflowed() {
        let deep = format!("{}status eq 'New'{}", "(".repeat(10_000), ")".repeat(10_000));
        let e = perr(&deep);
        assert!(e.to_string().contains("nested too deeply"), "{e}");
        let nots = format!("{}status eq 'New'", "not ".repeat(10_000));
        assert!(perr(&nots).to_string().contains("nested too deeply"));
        let ok = format!("{}status eq 'New'{}", "(".repeat(50), ")".repeat(50));
        assert!(m(&ok));
        let lambdas = "machineTags/any(a: ".repeat(200);
        assert!(Filter::parse(&lambdas, ALERT_FIELDS).unwrap_err().to_string().contains("nested too deeply"));
        // Parentheses and lambdas share one depth budget.
        let mixed = format!(
            "{}machineTags/any(a: {}a eq 'Prod'{}){}",
            "(".repeat(40),
            "(".repeat(40),
            ")".repeat(40),
            ")".repeat(40)
        );
        assert!(perr(&mixed).to_string().contains("nested too deeply"));
        let fits = format!(
            "{}machineTags/any(a: {}a eq 'Prod'{}){}",
            "(".repeat(20),
            "(".repeat(20),
            ")".repeat(20),
            ")".repeat(20)
        );
        assert!(m(&fits));
    }

    #[test]
    fn deepest_allowed_nesting_fits_a_small_stack() {
        let handle = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(|| {
                let lambda = format!(
                    "{}machineTags/any(a: {}not a eq 'Dev'{}){}",
                    "(".repeat(30),
                    "(".repeat(31),
                    ")".repeat(31),
                    ")".repeat(30)
                );
                let parens = format!("{}status eq 'New'{}", "(".repeat(64), ")".repeat(64));
                [lambda, parens].iter().all(|s| m(s))
            })
            .unwrap();
        assert!(handle.join().unwrap());
    }

    #[test]
    fn long_flat_chains_work() {
        let chain = vec!["incidentId ne 1"; 20_000].join(" and ");
        assert!(m(&chain));
        let chain = vec!["incidentId eq 1"; 20_000].join(" or ");
        assert!(!m(&chain));
    }

    #[test]
    fn never_panics_on_malformed_input() {
        let valid = [
            "status eq 'New' and (severity eq 'High' or not incidentId in (1,2,3))",
            "machineTags/any(tag: tag eq 'Prod') and lastSeen gt 2018-08-01Z",
            "startswith(relatedUser/userName,'O''Brien') eq false or score ge -1.5e3",
            "alertCreationTime lt 2020-07-20T10:53:48.7657932Z and assignedTo eq null",
            "lastUpdateTime+ge+2019-11-22T00:00:00+02:00",
            "evidence/all(e: e/entityType ne 'x' and e/sha1/any(z: z eq 1))",
            "title eq 'héllo wörld ✓' or contains(title, 'ü')",
        ];
        let entity = alert();
        let check = |s: &str| {
            if let Ok(f) = Filter::parse(s, ALERT_FIELDS) {
                let _ = f.matches(&entity);
                let _ = f.fields();
            }
            if let Ok(o) = OrderBy::parse(s) {
                let mut items = vec![entity.clone(), json!({}), json!(null), json!([1])];
                o.sort(&mut items);
            }
        };
        let mut count = 0;
        for v in valid {
            assert!(Filter::parse(v, ALERT_FIELDS).is_ok(), "{v}");
            for i in 0..=v.len() {
                if let (Some(head), Some(tail)) = (v.get(..i), v.get(i..)) {
                    check(head);
                    check(tail);
                    count += 2;
                }
            }
        }
        // Pseudo-random strings over a hostile alphabet.
        let alphabet: Vec<char> = "()',:/+- .$_eqandornotin0129TZzé✓\"\\%#@!\t\n".chars().collect();
        let words = [
            "eq",
            "and",
            "or",
            "not",
            "in",
            "any(",
            "all(",
            "status",
            "machineTags/",
            "null",
            "true",
            "2018-08-01Z",
            "2019-11-22T00:00:00",
            "'",
            "''",
            "startswith(",
            ",",
            ")",
            "t:",
            "9999999999999999999999",
            "-",
            "1.5e",
            "5L",
        ];
        let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let mut s = String::new();
            for _ in 0..len {
                let r = next();
                if r % 3 == 0 {
                    s.push_str(words[(r / 3 % words.len() as u64) as usize]);
                    s.push(' ');
                } else {
                    s.push(alphabet[(r / 3 % alphabet.len() as u64) as usize]);
                }
            }
            check(&s);
            count += 1;
        }
        assert!(count > 20_000);
    }

    #[test]
    fn matches_on_non_object_entities_is_false() {
        let f = Filter::parse("status eq 'New'", ALERT_FIELDS).unwrap();
        assert!(!f.matches(&json!(null)));
        assert!(!f.matches(&json!([1, 2])));
        assert!(!f.matches(&json!("New")));
        let n = Filter::parse("status eq null", ALERT_FIELDS).unwrap();
        assert!(n.matches(&json!(42)));
    }

    #[test]
    fn non_ascii_case_insensitive_equality() {
        let f = Filter::parse("title eq 'ÉTÉ'", &["title"]).unwrap();
        assert!(f.matches(&json!({"title": "été"})));
        let c = Filter::parse("contains(title,'ÖL')", &["title"]).unwrap();
        assert!(c.matches(&json!({"title": "Heizöl"})));
    }

    #[test]
    fn filter_clone_and_debug() {
        let f = Filter::parse("status eq 'New'", ALERT_FIELDS).unwrap();
        let g = f.clone();
        assert_eq!(f, g);
        assert!(format!("{g:?}").contains("Cmp"));
    }

    // ----- OrderBy -----

    fn ids(items: &[Value]) -> Vec<i64> {
        items.iter().map(|v| v["n"].as_i64().unwrap()).collect()
    }

    #[test]
    fn orderby_single_key_asc_and_desc() {
        let mut items = vec![json!({"n": 1, "score": 5}), json!({"n": 2, "score": 10}), json!({"n": 3, "score": 1.5})];
        OrderBy::parse("score").unwrap().sort(&mut items);
        assert_eq!(ids(&items), vec![3, 1, 2]);
        OrderBy::parse("score desc").unwrap().sort(&mut items);
        assert_eq!(ids(&items), vec![2, 1, 3]);
        OrderBy::parse("score ASC").unwrap().sort(&mut items);
        assert_eq!(ids(&items), vec![3, 1, 2]);
    }

    #[test]
    fn orderby_multi_key_is_stable() {
        let mut items = vec![
            json!({"n": 1, "severity": "High", "time": "2021-01-02T00:00:00Z"}),
            json!({"n": 2, "severity": "low", "time": "2021-01-03T00:00:00Z"}),
            json!({"n": 3, "severity": "high", "time": "2021-01-03T00:00:00Z"}),
            json!({"n": 4, "severity": "Low", "time": "2021-01-01T00:00:00Z"}),
            json!({"n": 5, "severity": "HIGH", "time": "2021-01-02T00:00:00Z"}),
        ];
        OrderBy::parse("severity asc, time desc").unwrap().sort(&mut items);
        // high group: time desc (3), then 1 and 5 tie -> input order; low group: 2, 4.
        assert_eq!(ids(&items), vec![3, 1, 5, 2, 4]);
        OrderBy::parse("severity+desc,time").unwrap().sort(&mut items);
        assert_eq!(ids(&items), vec![4, 2, 1, 5, 3]);
    }

    #[test]
    fn orderby_datetimes_as_instants() {
        let mut items = vec![
            json!({"n": 1, "t": "2020-07-20T10:53:48.7657932Z"}),
            json!({"n": 2, "t": "2020-07-20T10:53:48.8Z"}),
            json!({"n": 3, "t": "2020-07-20T12:53:48+03:00"}),
            json!({"n": 4, "t": "2020-07-20Z"}),
        ];
        OrderBy::parse("t").unwrap().sort(&mut items);
        assert_eq!(ids(&items), vec![4, 3, 1, 2]);
    }

    #[test]
    fn orderby_strings_case_insensitive_and_nulls_first() {
        let mut items = vec![
            json!({"n": 1, "s": "banana"}),
            json!({"n": 2, "s": null}),
            json!({"n": 3, "s": "Apple"}),
            json!({"n": 4}),
            json!({"n": 5, "s": "cherry"}),
        ];
        OrderBy::parse("s").unwrap().sort(&mut items);
        assert_eq!(ids(&items), vec![2, 4, 3, 1, 5]);
        OrderBy::parse("s desc").unwrap().sort(&mut items);
        assert_eq!(ids(&items), vec![5, 1, 3, 2, 4]);
    }

    #[test]
    fn orderby_mixed_types_rank_consistently() {
        let mut items = vec![
            json!({"n": 1, "v": "text"}),
            json!({"n": 2, "v": 3}),
            json!({"n": 3, "v": [1]}),
            json!({"n": 4, "v": "2020-01-01Z"}),
            json!({"n": 5, "v": false}),
            json!({"n": 6}),
            json!({"n": 7, "v": -1.5}),
        ];
        OrderBy::parse("v").unwrap().sort(&mut items);
        assert_eq!(ids(&items), vec![6, 5, 7, 2, 4, 1, 3]);
    }

    #[test]
    fn orderby_nested_and_case_insensitive_field() {
        let mut items = vec![
            json!({"n": 1, "relatedUser": {"userName": "zed"}}),
            json!({"n": 2, "relatedUser": {"userName": "amy"}}),
            json!({"n": 3}),
        ];
        let o = OrderBy::parse("RelatedUser/UserName desc").unwrap();
        assert_eq!(o.keys(), vec![("RelatedUser/UserName".to_string(), true)]);
        o.sort(&mut items);
        assert_eq!(ids(&items), vec![1, 2, 3]);
    }

    #[test]
    fn orderby_errors() {
        assert!(matches!(
            OrderBy::parse("a,").unwrap_err(),
            ODataError::Syntax { context: "orderby", position: 2, .. }
        ));
        assert!(matches!(OrderBy::parse("a sideways").unwrap_err(), ODataError::Syntax { position: 2, .. }));
        assert!(matches!(OrderBy::parse("a/ ,b").unwrap_err(), ODataError::Syntax { .. }));
        assert!(OrderBy::parse("(a)").is_err());
        assert!(matches!(OrderBy::parse("'a").unwrap_err(), ODataError::UnterminatedString { .. }));
        assert_eq!(
            OrderBy::parse("a desc desc").unwrap_err().to_string(),
            "invalid orderby at position 7: expected ',' or end of input, found 'desc'"
        );
    }

    #[test]
    fn orderby_keys_multi() {
        let o = OrderBy::parse("lastUpdateTime desc, id").unwrap();
        assert_eq!(o.keys(), vec![("lastUpdateTime".to_string(), true), ("id".to_string(), false)]);
    }
}
