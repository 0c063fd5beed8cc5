//! The `$filter` parser: tokens to an expression tree, checking fields against the endpoint's list.

use super::*;

pub(super) struct Parser<'a> {
    pub(super) toks: Vec<Token>,
    pub(super) i: usize,
    pub(super) eof: Token,
    pub(super) allowed: &'a [&'a str],
    pub(super) scopes: Vec<String>,
    pub(super) fields: Vec<String>,
}

pub(super) const FILTER: &str = "filter";

impl<'a> Parser<'a> {
    pub(super) fn peek(&self) -> &Token {
        self.toks.get(self.i).unwrap_or(&self.eof)
    }

    pub(super) fn peek_at(&self, n: usize) -> &Token {
        self.toks.get(self.i + n).unwrap_or(&self.eof)
    }

    pub(super) fn bump(&mut self) -> Token {
        let t = self.peek().clone();
        if self.i < self.toks.len() {
            self.i += 1;
        }
        t
    }

    pub(super) fn err(&self, pos: usize, msg: impl Into<String>) -> ODataError {
        syntax(FILTER, pos, msg)
    }

    pub(super) fn expect(&mut self, want: &Tok, what: &str) -> Result<Token, ODataError> {
        let t = self.peek();
        if &t.tok == want {
            Ok(self.bump())
        } else {
            Err(self.err(t.pos, format!("expected {what}, found {}", describe(&t.tok))))
        }
    }

    pub(super) fn check_depth(&self, depth: usize, pos: usize) -> Result<(), ODataError> {
        if depth > MAX_DEPTH { Err(self.err(pos, "expression nested too deeply")) } else { Ok(()) }
    }

    pub(super) fn or_expr(&mut self, depth: usize) -> Result<Expr, ODataError> {
        self.joined(depth, "or", Self::and_expr, Expr::Or)
    }

    pub(super) fn and_expr(&mut self, depth: usize) -> Result<Expr, ODataError> {
        self.joined(depth, "and", Self::unary, Expr::And)
    }

    /// `term (kw term)*`: one term as itself, more as `join(terms)`.
    fn joined(
        &mut self,
        depth: usize,
        kw: &str,
        term: fn(&mut Self, usize) -> Result<Expr, ODataError>,
        join: fn(Vec<Expr>) -> Expr,
    ) -> Result<Expr, ODataError> {
        let mut terms = vec![term(self, depth)?];
        while is_kw(&self.peek().tok, kw) {
            self.bump();
            terms.push(term(self, depth)?);
        }
        Ok(if terms.len() == 1 { terms.pop().unwrap_or_else(|| join(Vec::new())) } else { join(terms) })
    }

    pub(super) fn unary(&mut self, depth: usize) -> Result<Expr, ODataError> {
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

    pub(super) fn comparison(&mut self, depth: usize) -> Result<Expr, ODataError> {
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
    pub(super) fn bool_suffix(&mut self, e: Expr) -> Result<Expr, ODataError> {
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
    pub(super) fn operand_path(&mut self, depth: usize) -> Result<(Operand, Option<Expr>), ODataError> {
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

    pub(super) fn literal(&mut self) -> Result<Literal, ODataError> {
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

    pub(super) fn literal_list(&mut self) -> Result<Vec<Literal>, ODataError> {
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
