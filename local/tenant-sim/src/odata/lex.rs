//! The OData lexer: `$filter`/`$orderby` text to tokens with byte offsets.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) pos: usize,
}

pub(super) fn syntax(context: &'static str, position: usize, message: impl Into<String>) -> ODataError {
    ODataError::Syntax { context, position, message: message.into() }
}

pub(super) fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

pub(super) fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

pub(super) fn lex(src: &str, context: &'static str) -> Result<Vec<Token>, ODataError> {
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
pub(super) fn lex_number_or_datetime(
    src: &str,
    start: usize,
    context: &'static str,
) -> Result<(Tok, usize), ODataError> {
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

pub(super) fn is_kw(tok: &Tok, kw: &str) -> bool {
    matches!(tok, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

pub(super) fn describe(tok: &Tok) -> String {
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
