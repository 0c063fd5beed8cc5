//! The cursor's identities: a sorted vector of fixed-size [`Key`]s — a version's time and a 128-bit
//! digest of its id, 32 bytes each in memory, 38 characters in the cursor document — in place of a
//! tree of `(time, id)` strings (about 100 bytes each, and an allocation per id).
//!
//! # Collisions
//! Two versions are the same identity when their times are equal and the first 128 bits of the
//! SHA-256 of their ids are. Distinct versions collide only at the same instant, with probability
//! at most `n² / 2¹²⁹` for `n` identities (under 10⁻²⁸ for the 140,000 a cursor holds at most);
//! choosing an id to collide with another takes about 2⁶⁴ SHA-256 evaluations, and ids are assigned
//! by Defender. A collision would take a version for one already written: it would not be exported.
//!
//! # Document
//! Written as a JSON array of strings, each the URL-safe base64 (no padding) of the key's 28 bytes:
//! seconds (i64), nanoseconds (u32) and digest, big-endian. Read also as the earlier format, an
//! array of `[time, id]` pairs, whose ids are digested as they are read: a cursor written before
//! the change keeps every identity it had, so nothing is exported twice after an upgrade.

use super::Version;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer, de};
use sha2::{Digest, Sha256};

/// One identity: a version's time and the first 128 bits of the SHA-256 of its id; ordered by
/// time, then digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    secs: i64,
    nanos: u32,
    digest: u128,
}

/// Bytes of a packed key (seconds, nanoseconds, digest).
const PACKED: usize = 8 + 4 + 16;
/// Characters of a packed key in URL-safe base64 without padding.
const ENCODED: usize = (PACKED * 4).div_ceil(3);
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

impl Key {
    /// The identity of a version.
    pub fn of(v: &Version) -> Self {
        Self::new(v.0, &v.1)
    }

    /// The identity of the version `(t, id)`.
    pub fn new(t: DateTime<Utc>, id: &str) -> Self {
        let sum = Sha256::digest(id.as_bytes());
        let mut first = [0u8; 16];
        first.copy_from_slice(&sum[..16]);
        Self { digest: u128::from_be_bytes(first), ..Self::start(t) }
    }

    /// The least key at time `t`: every key of a version at `t` or later is at least this.
    fn start(t: DateTime<Utc>) -> Self {
        Self { secs: t.timestamp(), nanos: t.timestamp_subsec_nanos(), digest: 0 }
    }

    /// The version's time.
    pub fn time(&self) -> DateTime<Utc> {
        // Every key is built from a time or checked when read, so this always holds one.
        DateTime::from_timestamp(self.secs, self.nanos).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    fn pack(&self) -> [u8; PACKED] {
        let mut b = [0u8; PACKED];
        b[..8].copy_from_slice(&self.secs.to_be_bytes());
        b[8..12].copy_from_slice(&self.nanos.to_be_bytes());
        b[12..].copy_from_slice(&self.digest.to_be_bytes());
        b
    }

    fn unpack(b: &[u8; PACKED]) -> Option<Self> {
        let secs = i64::from_be_bytes(b[..8].try_into().ok()?);
        let nanos = u32::from_be_bytes(b[8..12].try_into().ok()?);
        let digest = u128::from_be_bytes(b[12..].try_into().ok()?);
        DateTime::from_timestamp(secs, nanos)?;
        Some(Self { secs, nanos, digest })
    }
}

/// A sorted set of [`Key`]s without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identities {
    keys: Vec<Key>,
}

impl Identities {
    /// How many.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether `k` is one of them.
    pub fn contains(&self, k: &Key) -> bool {
        self.keys.binary_search(k).is_ok()
    }

    /// In order (time, then digest).
    pub fn iter(&self) -> impl Iterator<Item = &Key> {
        self.keys.iter()
    }

    /// The least.
    pub fn first(&self) -> Option<&Key> {
        self.keys.first()
    }

    /// How many have a time below `t`.
    pub fn count_below(&self, t: DateTime<Utc>) -> usize {
        let start = Key::start(t);
        self.keys.partition_point(|k| *k < start)
    }

    /// The `i`-th in order.
    pub fn nth(&self, i: usize) -> Option<&Key> {
        self.keys.get(i)
    }

    /// Removes those with a time below `t` and returns them, in order.
    pub fn split_below(&mut self, t: DateTime<Utc>) -> Vec<Key> {
        let n = self.count_below(t);
        self.keys.drain(..n).collect()
    }

    /// Adds `keys` (in any order, duplicates allowed) and returns those that were not there yet,
    /// sorted. One merge from the back: no second copy of the set.
    pub fn insert(&mut self, mut keys: Vec<Key>) -> Vec<Key> {
        keys.sort_unstable();
        keys.dedup();
        keys.retain(|k| !self.contains(k));
        let (mut old, mut new) = (self.keys.len(), keys.len());
        self.keys.extend_from_slice(&keys);
        let mut w = self.keys.len();
        while new > 0 {
            w -= 1;
            if old > 0 && self.keys[old - 1] > keys[new - 1] {
                self.keys[w] = self.keys[old - 1];
                old -= 1;
            } else {
                self.keys[w] = keys[new - 1];
                new -= 1;
            }
        }
        keys
    }

    /// Removes `keys` (sorted) where present.
    pub fn remove_sorted(&mut self, keys: &[Key]) {
        if !keys.is_empty() {
            self.keys.retain(|k| keys.binary_search(k).is_err());
        }
    }
}

impl Serialize for Identities {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.keys.len()))?;
        let mut text = [0u8; ENCODED];
        for k in &self.keys {
            let n = B64.encode_slice(k.pack(), &mut text).map_err(serde::ser::Error::custom)?;
            let text = std::str::from_utf8(&text[..n]).map_err(serde::ser::Error::custom)?;
            seq.serialize_element(text)?;
        }
        seq.end()
    }
}

/// One element of the document's array: a packed key, or (the earlier format) a `[time, id]` pair.
struct Element(Key);

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Element;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an identity: a base64 key or a [time, id] pair")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Element, E> {
                let mut b = [0u8; PACKED];
                match B64.decode_slice(s, &mut b) {
                    Ok(PACKED) => {
                        Key::unpack(&b).map(Element).ok_or_else(|| E::custom("an identity's time is out of range"))
                    }
                    _ => Err(E::custom("an identity is not a base64 key of 28 bytes")),
                }
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Element, A::Error> {
                let t: DateTime<Utc> = a.next_element()?.ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let id: String = a.next_element()?.ok_or_else(|| de::Error::invalid_length(1, &self))?;
                if a.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(3, &self));
                }
                Ok(Element(Key::new(t, &id)))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Identities {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = Identities;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an array of identities")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Identities, A::Error> {
                let mut keys = Vec::with_capacity(a.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(Element(k)) = a.next_element()? {
                    keys.push(k);
                }
                // Written in order; an earlier format's pairs are in (time, id) order, not the digests'.
                keys.sort_unstable();
                keys.dedup();
                Ok(Identities { keys })
            }
        }
        d.deserialize_seq(V)
    }
}
