//! A list page read as it streams in: the items of the envelope's `value` array cut out of the body's
//! chunks one at a time and handed on, each as the exact bytes the service sent, so a page of 10,000
//! alerts is never held whole — neither as text nor as values.
//!
//! [`PageScanner`] is the byte-level reader (strings and escapes tracked, nothing decoded but the
//! top-level member names); [`Items`] is what receives the items, decoded one by one into an
//! [`Item`] (the raw item and its typed view, exactly as [`super::models::Page`] decodes them).
//! [`DefenderClient::call_items`](super::DefenderClient::call_items) drives both over one answer.
//! A caller that needs only part of each item takes the bytes instead ([`ItemBytes`],
//! [`DefenderClient::call_item_bytes`](super::DefenderClient::call_item_bytes)) and reads what it
//! needs with [`ItemKey::read`]: an item's id and time, borrowed from its bytes, the rest skipped
//! without being decoded (the export: about 2 allocations per record instead of the ~80 of a full
//! alert model).

use super::models::Item;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::{borrow::Cow, fmt};

/// Receives the items of one page, in the service's order.
pub trait Items<R>: Send {
    /// One item: its raw JSON and its typed view (or why it has none).
    fn item(&mut self, item: Item<R>);

    /// The answer is read again from its start (the client retries a body that broke off): forget
    /// every item given since the last restart.
    fn restart(&mut self);
}

/// Receives the items of one page as the exact bytes the service sent, in its order.
pub trait ItemBytes: Send {
    /// One item's bytes (one JSON value, as far as the page's scanner can tell: strings and nesting
    /// balanced; the receiver checks the rest).
    ///
    /// # Errors
    /// The item is not JSON: the page fails.
    fn item(&mut self, bytes: &[u8]) -> Result<(), serde_json::Error>;

    /// The answer is read again from its start: forget every item given since the last restart.
    fn restart(&mut self);
}

/// Each item decoded into its typed view (see [`decode_item`]) and given to an [`Items`].
pub struct Decoded<'a, R>(pub &'a mut dyn Items<R>);

impl<R> fmt::Debug for Decoded<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Decoded")
    }
}

impl<R: DeserializeOwned> ItemBytes for Decoded<'_, R> {
    fn item(&mut self, bytes: &[u8]) -> Result<(), serde_json::Error> {
        self.0.item(decode_item::<R>(bytes)?);
        Ok(())
    }
    fn restart(&mut self) {
        self.0.restart();
    }
}

/// Where the reader is in the envelope `{"…": …, "value": [ item, item ], "…": …}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the envelope's `{`.
    Start,
    /// Inside the envelope, where a member name (or `}`) comes next.
    Name,
    /// Reading a member name.
    NameText,
    /// After a member name, before `:`.
    Colon,
    /// After `:`, before the member's value.
    Value,
    /// Skipping a member's value (not `value`'s array) until its `,` or the envelope's `}`.
    Skip,
    /// Inside `value`'s array, before an item (or `]`).
    Item,
    /// Reading an item.
    ItemText,
    /// After an item or a skipped value, before `,` or the container's end.
    After,
    /// After the envelope's `}`.
    End,
}

/// An incremental reader of one list page: [`PageScanner::feed`] takes the body's chunks as they come
/// and returns the items completed by each; [`PageScanner::finish`] checks the envelope closed.
#[derive(Debug)]
pub struct PageScanner {
    at: At,
    depth: usize,
    in_str: bool,
    escaped: bool,
    name: Vec<u8>,
    item: Vec<u8>,
    /// Items seen so far.
    count: usize,
}

impl Default for PageScanner {
    fn default() -> Self {
        Self::new()
    }
}

fn bad(msg: &str) -> serde_json::Error {
    serde_json::Error::custom(msg)
}

impl PageScanner {
    /// A reader at the start of a body.
    pub fn new() -> Self {
        Self { at: At::Start, depth: 0, in_str: false, escaped: false, name: Vec::new(), item: Vec::new(), count: 0 }
    }

    /// Items read so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Reads one chunk; each item completed in it is passed to `each` as its exact bytes.
    ///
    /// # Errors
    /// The body is not a JSON object whose `value` (if any) is an array.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        each: &mut dyn FnMut(&[u8]) -> Result<(), serde_json::Error>,
    ) -> Result<(), serde_json::Error> {
        let mut i = 0;
        while i < chunk.len() {
            if self.at == At::ItemText {
                // The bulk of a page: an item's bytes, scanned in one tight loop and copied at once.
                let start = i;
                i = self.item_end(chunk, i);
                self.item.extend_from_slice(&chunk[start..i]);
                if i == chunk.len() {
                    break;
                }
            }
            self.byte(chunk[i], each)?;
            i += 1;
        }
        Ok(())
    }

    /// The body ended.
    ///
    /// # Errors
    /// The envelope did not close.
    pub fn finish(&self) -> Result<(), serde_json::Error> {
        if self.at == At::End { Ok(()) } else { Err(bad("the page ended before its envelope closed")) }
    }

    /// The index of the first byte from `i` that is outside the item (a `,` or `]` at the array's
    /// depth, outside a string), or `chunk.len()`; strings and nesting tracked on the way.
    fn item_end(&mut self, chunk: &[u8], mut i: usize) -> usize {
        while i < chunk.len() {
            let b = chunk[i];
            if !self.in_str && self.depth <= 2 && matches!(b, b',' | b']' | b'}') {
                return i;
            }
            self.track(b);
            i += 1;
        }
        i
    }

    /// Tracks strings and nesting; true when `b` is structural (outside a string).
    fn track(&mut self, b: u8) -> bool {
        if self.in_str {
            if self.escaped {
                self.escaped = false;
            } else if b == b'\\' {
                self.escaped = true;
            } else if b == b'"' {
                self.in_str = false;
            }
            return false;
        }
        match b {
            b'"' => self.in_str = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        true
    }

    fn byte(
        &mut self,
        b: u8,
        each: &mut dyn FnMut(&[u8]) -> Result<(), serde_json::Error>,
    ) -> Result<(), serde_json::Error> {
        let ws = b.is_ascii_whitespace();
        match self.at {
            At::Start => match b {
                _ if ws => {}
                b'{' => {
                    self.depth = 1;
                    self.at = At::Name;
                }
                _ => return Err(bad("a page is a JSON object")),
            },
            At::Name => match b {
                _ if ws => {}
                b'"' => {
                    self.name.clear();
                    self.at = At::NameText;
                }
                b'}' => {
                    self.depth = 0;
                    self.at = At::End;
                }
                _ => return Err(bad("expected a member name")),
            },
            At::NameText => {
                if self.escaped {
                    self.escaped = false;
                    self.name.push(b);
                } else if b == b'\\' {
                    self.escaped = true;
                    self.name.push(b);
                } else if b == b'"' {
                    self.at = At::Colon;
                } else if self.name.len() < 64 {
                    self.name.push(b);
                }
            }
            At::Colon => match b {
                _ if ws => {}
                b':' => self.at = At::Value,
                _ => return Err(bad("expected ':'")),
            },
            At::Value => {
                if ws {
                    return Ok(());
                }
                if self.name == b"value" {
                    if b != b'[' {
                        return Err(bad("`value` is not an array"));
                    }
                    self.depth = 2;
                    self.at = At::Item;
                } else {
                    self.track(b);
                    self.at = At::Skip;
                }
            }
            At::Skip => {
                if !self.in_str && self.depth == 1 && matches!(b, b',' | b'}') {
                    // The end of the skipped member's value.
                    return self.after(b);
                }
                self.track(b);
            }
            At::Item => match b {
                _ if ws => {}
                b']' => {
                    self.depth = 1;
                    self.at = At::After;
                }
                b',' => return Err(bad("expected an item")),
                _ => {
                    self.item.clear();
                    self.item.push(b);
                    self.track(b);
                    self.at = At::ItemText;
                }
            },
            At::ItemText => {
                if self.depth == 2 && !self.in_str && b == b'}' {
                    return Err(bad("expected ',' or ']'"));
                }
                if self.depth == 2 && !self.in_str && matches!(b, b',' | b']') {
                    self.emit(each)?;
                    if b == b']' {
                        self.depth = 1;
                        self.at = At::After;
                    } else {
                        self.at = At::Item;
                    }
                    return Ok(());
                }
                self.item.push(b);
                self.track(b);
            }
            At::After => {
                if ws {
                    return Ok(());
                }
                return self.after(b);
            }
            At::End => {
                if !ws {
                    return Err(bad("trailing characters after the page"));
                }
            }
        }
        Ok(())
    }

    fn after(&mut self, b: u8) -> Result<(), serde_json::Error> {
        match b {
            b',' => self.at = At::Name,
            b'}' => {
                self.depth = 0;
                self.at = At::End;
            }
            _ => return Err(bad("expected ',' or '}'")),
        }
        Ok(())
    }

    fn emit(&mut self, each: &mut dyn FnMut(&[u8]) -> Result<(), serde_json::Error>) -> Result<(), serde_json::Error> {
        while self.item.last().is_some_and(u8::is_ascii_whitespace) {
            self.item.pop();
        }
        self.count += 1;
        let r = each(&self.item);
        self.item.clear();
        if self.item.capacity() > 1 << 20 {
            // One very large item does not keep its buffer for the rest of the page.
            self.item.shrink_to(64 * 1024);
        }
        r
    }
}

/// Decodes one item's bytes: the raw JSON kept as sent, the typed view beside it.
///
/// # Errors
/// The bytes are not one JSON value.
pub fn decode_item<R: DeserializeOwned>(bytes: &[u8]) -> Result<Item<R>, serde_json::Error> {
    let raw: Box<RawValue> = serde_json::from_slice(bytes)?;
    Ok(Item::decode(raw))
}

/// One member of an item as [`ItemKey::read`] found it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Member<'a> {
    /// Not in the item.
    #[default]
    Absent,
    /// `null`.
    Null,
    /// A string: its text, unescaped (borrowed from the item unless it held an escape).
    Text(Cow<'a, str>),
    /// A number, as JSON text (an integer as written; another number as serde_json writes it).
    Number(String),
    /// Another kind of value (`true`, an object, an array), or the member appears more than once.
    Other,
}

/// What a reader of a list item needs to place it: two named members of the item, read without
/// decoding the rest (skipped, but checked to be JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemKey<'a> {
    /// The item is a JSON object (otherwise both members are [`Member::Absent`]).
    pub object: bool,
    /// The id member (`id`, `incidentId`).
    pub id: Member<'a>,
    /// The time member (`lastUpdateTime`).
    pub time: Member<'a>,
}

impl<'a> ItemKey<'a> {
    /// Reads the members `id` and `time` of one item's text.
    ///
    /// # Errors
    /// The text is not one JSON value (a page holding it is not JSON). Anything else — an item
    /// that is not an object, members missing, of another type or given twice — is said in the
    /// answer, never an error.
    pub fn read(item: &'a str, id: &str, time: &str) -> Result<Self, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(item);
        let key = KeySeed { id, time }.deserialize(&mut de)?;
        de.end()?;
        Ok(key)
    }
}

struct KeySeed<'n> {
    id: &'n str,
    time: &'n str,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = ItemKey<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<ItemKey<'de>, D::Error> {
        d.deserialize_any(self)
    }
}

/// Any value that is not an object: the item has no members to read.
fn not_object<'de, E>() -> Result<ItemKey<'de>, E> {
    Ok(ItemKey { object: false, id: Member::Absent, time: Member::Absent })
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = ItemKey<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ItemKey<'de>, A::Error> {
        let mut key = ItemKey { object: true, id: Member::Absent, time: Member::Absent };
        while let Some(name) = map.next_key::<Name<'de>>()? {
            let slot = if name.0 == self.id {
                &mut key.id
            } else if name.0 == self.time {
                &mut key.time
            } else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            let value = map.next_value::<Member<'de>>()?;
            // A member given twice names no one value: which one the service meant is unknown.
            *slot = if *slot == Member::Absent { value } else { Member::Other };
        }
        Ok(key)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ItemKey<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        not_object()
    }
    fn visit_bool<E>(self, _: bool) -> Result<ItemKey<'de>, E> {
        not_object()
    }
    fn visit_i64<E>(self, _: i64) -> Result<ItemKey<'de>, E> {
        not_object()
    }
    fn visit_u64<E>(self, _: u64) -> Result<ItemKey<'de>, E> {
        not_object()
    }
    fn visit_f64<E>(self, _: f64) -> Result<ItemKey<'de>, E> {
        not_object()
    }
    fn visit_str<E>(self, _: &str) -> Result<ItemKey<'de>, E> {
        not_object()
    }
    fn visit_unit<E>(self) -> Result<ItemKey<'de>, E> {
        not_object()
    }
}

/// A member name, borrowed unless it holds an escape.
struct Name<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Name<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Name<'de>, E> {
                Ok(Name(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> de::Deserialize<'de> for Member<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Member<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Member<'de>, E> {
                Ok(Member::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Member<'de>, E> {
                Ok(Member::Text(Cow::Owned(s.to_string())))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Member<'de>, E> {
                Ok(Member::Number(n.to_string()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Member<'de>, E> {
                Ok(Member::Number(n.to_string()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<Member<'de>, E> {
                Ok(serde_json::Number::from_f64(n).map_or(Member::Other, |n| Member::Number(n.to_string())))
            }
            fn visit_unit<E>(self) -> Result<Member<'de>, E> {
                Ok(Member::Null)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Member<'de>, E> {
                Ok(Member::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Member<'de>, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Member::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Member<'de>, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Member::Other)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(body: &str, chunk: usize) -> Result<Vec<String>, serde_json::Error> {
        let mut s = PageScanner::new();
        let mut out = Vec::new();
        for c in body.as_bytes().chunks(chunk.max(1)) {
            s.feed(c, &mut |b| {
                out.push(String::from_utf8_lossy(b).into_owned());
                Ok(())
            })?;
        }
        s.finish()?;
        Ok(out)
    }

    #[test]
    fn items_are_cut_out_exactly_whatever_the_chunking() {
        let body = r#" {"@odata.context":"x{[\"]}","n":12,"t":true,"o":{"value":[1,2]},
            "value":[ {"id":"a","s":"],\"{"} ,{"id":"b","x":[1,{"y":null}]},
            7, "s\"]" , null ],"@odata.nextLink":"https://h/x?$skip=2"} "#;
        let want = vec![
            r#"{"id":"a","s":"],\"{"}"#.to_string(),
            r#"{"id":"b","x":[1,{"y":null}]}"#.to_string(),
            "7".to_string(),
            r#""s\"]""#.to_string(),
            "null".to_string(),
        ];
        for chunk in [1, 2, 3, 7, 64, 4096] {
            assert_eq!(items(body, chunk).unwrap(), want, "chunk {chunk}");
        }
    }

    #[test]
    fn envelopes_without_items_and_broken_ones() {
        assert!(items(r#"{"value":[]}"#, 3).unwrap().is_empty());
        assert!(items(r#"{"@odata.context":"c"}"#, 3).unwrap().is_empty());
        assert!(items(r#"{}"#, 1).unwrap().is_empty());
        assert!(items(r#"{"value":{"id":1}}"#, 4).is_err(), "value is not an array");
        assert!(items(r#"[{"id":1}]"#, 4).is_err(), "not an object");
        assert!(items(r#"{"value":[{"id":1}"#, 4).is_err(), "cut off");
        assert!(items(r#"{"value":[{"id":1}}]}"#, 5).is_err(), "an item closed twice");
        assert!(items(r#"{"value":[{"id":1}]} x"#, 4).is_err(), "trailing");
    }

    #[test]
    fn each_item_decodes_with_its_raw_bytes() {
        #[derive(serde::Deserialize)]
        struct P {
            id: String,
        }
        let it: Item<P> = decode_item(br#"{"id":"a","z":1.50}"#).unwrap();
        assert_eq!(it.raw().get(), r#"{"id":"a","z":1.50}"#);
        assert_eq!(it.typed().unwrap().id, "a");
        let bad: Item<P> = decode_item(br#"{"id":5}"#).unwrap();
        assert!(bad.typed().is_err());
        assert!(decode_item::<P>(b"{\"id\":").is_err());
    }

    #[test]
    fn a_key_is_read_from_its_members_alone_borrowed_where_it_can_be() {
        let k = ItemKey::read(
            r#"{"severity":3,"evidence":[{"id":"x"}],"id":"da1","lastUpdateTime":"2026-01-01T00:00:00Z","x":{}}"#,
            "id",
            "lastUpdateTime",
        )
        .unwrap();
        assert!(k.object);
        assert!(matches!(k.id, Member::Text(Cow::Borrowed("da1"))), "{k:?}");
        assert!(matches!(k.time, Member::Text(Cow::Borrowed("2026-01-01T00:00:00Z"))), "{k:?}");
        let k = ItemKey::read(r#"{"incidentId":7587,"lastUpdateTime":null}"#, "incidentId", "lastUpdateTime").unwrap();
        assert_eq!((k.id, k.time), (Member::Number("7587".into()), Member::Null));
        let k = ItemKey::read(r#"{"id":"d\u0061\"1","t":1.5}"#, "id", "t").unwrap();
        assert_eq!((k.id, k.time), (Member::Text("da\"1".into()), Member::Number("1.5".into())));
        let k = ItemKey::read(r#"{"id":"a","id":"b","t":[1],"i\u0064x":true}"#, "id", "t").unwrap();
        assert_eq!((k.id, k.time), (Member::Other, Member::Other), "a member twice names no value");
        let k = ItemKey::read(r#"{"x":1}"#, "id", "t").unwrap();
        assert_eq!((k.object, k.id, k.time), (true, Member::Absent, Member::Absent));
        for other in ["7", "null", "[1,{\"id\":\"a\"}]", "\"s\"", "true"] {
            let k = ItemKey::read(other, "id", "t").unwrap();
            assert!(!k.object && k.id == Member::Absent, "{other}");
        }
        for broken in [r#"{"id":"a""#, r#"{"id":"a"} x"#, r#"{"id":"a","x":[1,]}"#, r#"{"id":tru}"#] {
            assert!(ItemKey::read(broken, "id", "t").is_err(), "{broken}");
        }
    }
}
