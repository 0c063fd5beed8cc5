//! Evaluation: values and their comparisons, [`Filter`] and [`OrderBy`].

use super::*;

/// A number, kept exact when it is an integer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    pub(super) fn as_f64(self) -> f64 {
        match self {
            // Precision loss is accepted for mixed int/float comparisons.
            #[allow(clippy::cast_precision_loss)]
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }

    pub(super) fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (a, b) => a.as_f64().partial_cmp(&b.as_f64()),
        }
    }

    pub(super) fn from_json(n: &serde_json::Number) -> Option<Num> {
        if let Some(i) = n.as_i64() { Some(Num::Int(i)) } else { n.as_f64().filter(|f| f.is_finite()).map(Num::Float) }
    }
}

/// Parses a string holding a plain decimal number (`"42"`, `"-1.5"`, `"1e3"`).
pub(super) fn parse_num_str(s: &str) -> Option<Num> {
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

pub(super) fn parse_bool_str(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Parses an RFC 3339 / ISO 8601 datetime (or date-only value) into a UTC instant.
pub(super) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
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

pub(super) fn ci_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() { a.eq_ignore_ascii_case(b) } else { a.to_lowercase() == b.to_lowercase() }
}

/// A literal in a filter, with its datetime / numeric readings precomputed.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Null,
    Bool(bool),
    Num(Num),
    Str { text: String, dt: Option<DateTime<Utc>>, num: Option<Num> },
    DateTime(DateTime<Utc>),
}

impl Literal {
    pub(super) fn string(text: String) -> Literal {
        let dt = parse_datetime(&text);
        let num = parse_num_str(&text);
        Literal::Str { text, dt, num }
    }
}

pub(super) fn value_eq(v: &Value, lit: &Literal) -> bool {
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

pub(super) fn value_ord(v: &Value, lit: &Literal) -> Option<Ordering> {
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

pub(super) struct Env<'a> {
    pub(super) root: &'a Value,
    pub(super) vars: Vec<(&'a str, &'a Value)>,
}

pub(super) fn get_field<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    let obj = v.as_object()?;
    obj.get(name).or_else(|| obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v))
}

pub(super) fn resolve<'a>(op: &Operand, env: &Env<'a>) -> Option<&'a Value> {
    let mut cur = match &op.var {
        Some(var) => env.vars.iter().rev().find(|(n, _)| n == var)?.1,
        None => env.root,
    };
    for seg in &op.path {
        cur = get_field(cur, seg)?;
    }
    Some(cur)
}

pub(super) fn compare(val: Option<&Value>, op: CmpOp, lit: &Literal) -> bool {
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

pub(super) fn eval<'a>(e: &'a Expr, env: &mut Env<'a>) -> bool {
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

pub(super) const ORDERBY: &str = "orderby";

/// A parsed `$orderby`: a list of (field path, descending).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    keys: Vec<(Vec<String>, bool)>,
}

/// Sort key of one value; see [`SortKey::total_cmp`].
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SortKey {
    Null,
    Bool(bool),
    Num(f64),
    Date(DateTime<Utc>),
    Str(String),
    Other,
}

impl SortKey {
    pub(super) fn of(v: Option<&Value>) -> SortKey {
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

    pub(super) fn rank(&self) -> u8 {
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
    pub(super) fn total_cmp(&self, other: &SortKey) -> Ordering {
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
