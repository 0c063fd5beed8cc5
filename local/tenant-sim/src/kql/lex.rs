//! The KQL lexer: query text to tokens with byte offsets.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) start: usize,
    pub(super) end: usize,
}

pub(super) fn syntax(pos: usize, message: impl Into<String>) -> KqlError {
    KqlError::Syntax { pos, message: message.into() }
}

pub(super) fn unsupported(what: impl Into<String>) -> KqlError {
    KqlError::Unsupported(what.into())
}

pub(super) const PUNCTS: [&str; 23] = [
    "==", "!=", "=~", "!~", "<=", ">=", "..", "|", ",", "(", ")", "=", "<", ">", "-", "+", "*", "/", "%", ".", "[",
    "]", ";",
];

pub(super) fn timespan_from(value: f64, unit: &str) -> Option<TimeDelta> {
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

pub(super) fn lex(text: &str) -> Result<Vec<Token>, KqlError> {
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
