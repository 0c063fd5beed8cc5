//! The KQL parser: tokens to a [`Query`] (operators, predicates, literals).

use super::*;

/// Operators of KQL that are recognised but not simulated.
pub(super) const STRING_OPS_UNSUPPORTED: [&str; 12] = [
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

pub(super) struct Parser {
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
        let here = self.is_punct(p);
        self.i += usize::from(here);
        here
    }

    fn eat_word(&mut self, w: &str) -> bool {
        let here = self.is_word(w);
        self.i += usize::from(here);
        here
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
            Tok::Str(s) => Ok(Expr::Lit(V::Str(s))),
            Tok::Int(n) => Ok(Expr::Lit(V::Int(n))),
            Tok::Float(f) => Ok(Expr::Lit(V::Float(f))),
            Tok::Timespan(t) => Ok(Expr::Lit(V::Timespan(t))),
            Tok::DateTimeRaw(raw) => {
                let unquoted = raw.trim_matches(|c| c == '"' || c == '\'');
                if unquoted == "null" {
                    return Ok(Expr::Lit(V::Null));
                }
                parse_datetime(unquoted)
                    .map(|d| Expr::Lit(V::DateTime(d)))
                    .ok_or_else(|| syntax(pos, format!("invalid datetime literal '{raw}'")))
            }
            Tok::Punct("-") => match self.bump() {
                Tok::Int(n) => Ok(Expr::Lit(V::Int(n.saturating_neg()))),
                Tok::Float(f) => Ok(Expr::Lit(V::Float(-f))),
                Tok::Timespan(t) => Ok(Expr::Lit(V::Timespan(-t))),
                _ => Err(syntax(pos, "expected a number after '-'")),
            },
            Tok::Punct("(") => {
                let e = self.expr()?;
                self.expect_punct(")")?;
                Ok(e)
            }
            Tok::Ident(w) if w == "true" => Ok(Expr::Lit(V::Bool(true))),
            Tok::Ident(w) if w == "false" => Ok(Expr::Lit(V::Bool(false))),
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
