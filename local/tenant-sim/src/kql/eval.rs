//! Evaluation: values, the schema flowing through the pipeline, and [`Query::run`].

use super::*;

pub(super) fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
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
pub(super) fn format_datetime(d: &DateTime<Utc>) -> String {
    let ticks = (d.timestamp_subsec_nanos() % 1_000_000_000) / 100;
    format!("{}.{ticks:07}Z", d.format("%Y-%m-%dT%H:%M:%S"))
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum V {
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
pub(super) fn compare(a: &V, b: &V) -> Option<Ordering> {
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
pub(super) fn sort_order(a: &V, b: &V) -> Ordering {
    match (a, b) {
        (V::Float(x), V::Float(y)) => x.total_cmp(y),
        _ => compare(a, b).unwrap_or_else(|| a.rank().cmp(&b.rank()).then_with(|| a.text().cmp(&b.text()))),
    }
}

pub(super) fn infer_kind(v: &Value) -> Option<ColumnType> {
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

pub(super) fn lit_kind(l: &V) -> ColumnType {
    match l {
        V::Null | V::Str(_) | V::Timespan(_) => ColumnType::String,
        V::Bool(_) => ColumnType::Boolean,
        V::Int(_) => ColumnType::Int64,
        V::Float(_) => ColumnType::Double,
        V::DateTime(_) => ColumnType::DateTime,
        V::Dynamic(_) => ColumnType::Dynamic,
    }
}

pub(super) fn read_value(v: Option<&Value>, kind: ColumnType) -> V {
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
pub(super) struct Schema {
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
            Expr::Lit(V::Bool(_)) => true,
            Expr::Lit(_) | Expr::Ago(_) | Expr::Now => false,
            Expr::Not(e) => self.is_boolean(e),
            Expr::And(a, b) | Expr::Or(a, b) => self.is_boolean(a) && self.is_boolean(b),
            _ => true,
        }
    }
}

pub(super) struct Ctx<'a> {
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
            Expr::Lit(l) => l.clone(),
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
pub(super) fn has_term(hay: &str, needle: &str) -> bool {
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
pub(super) fn materialize(ctx: &Ctx<'_>, expr: &Expr, row: &Row) -> Result<(Value, ColumnType), KqlError> {
    match expr {
        Expr::Column(c) => Ok((row.get(c).cloned().unwrap_or(Value::Null), ctx.schema.kind(c)?)),
        Expr::Lit(l) => Ok(match l {
            V::Null => (Value::Null, ColumnType::String),
            V::Bool(b) => (Value::Bool(*b), ColumnType::Boolean),
            V::Int(n) => (Value::from(*n), ColumnType::Int64),
            V::Float(f) => (serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number), ColumnType::Double),
            V::Str(s) => (Value::String(s.clone()), ColumnType::String),
            V::DateTime(d) => (Value::String(format_datetime(d)), ColumnType::DateTime),
            V::Timespan(_) => return Err(unsupported("timespan values in output columns")),
            V::Dynamic(v) => (v.clone(), ColumnType::Dynamic),
        }),
        Expr::Ago(t) => Ok((Value::String(format_datetime(&ctx.ago(*t)?)), ColumnType::DateTime)),
        Expr::Now => Ok((Value::String(format_datetime(&ctx.now)), ColumnType::DateTime)),
        _ => Err(unsupported("computed expressions (only a column or a literal)")),
    }
}

pub(super) fn assign_kind(schema: &Schema, expr: &Expr) -> Result<ColumnType, KqlError> {
    match expr {
        Expr::Column(c) => schema.kind(c),
        Expr::Lit(V::Timespan(_)) => Err(unsupported("timespan values in output columns")),
        Expr::Lit(l) => Ok(lit_kind(l)),
        Expr::Ago(_) | Expr::Now => Ok(ColumnType::DateTime),
        _ => Err(unsupported("computed expressions (only a column or a literal)")),
    }
}

pub(super) fn sort_rows(schema: &Schema, rows: Vec<Row>, keys: &[SortKey]) -> Result<Vec<Row>, KqlError> {
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

pub(super) fn group_key(row: &Row, cols: &[String]) -> Vec<String> {
    cols.iter().map(|c| row.get(c).map_or_else(|| "null".to_string(), Value::to_string)).collect()
}

pub(super) fn pick(row: &Row, cols: &[Column]) -> Row {
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
