//! The per-(tenant, stream) cursor: the *mark* below which every version was read by a completed
//! time window, the highest version written, and the identities already written at or above
//! `mark − overlap` (the overlap window and the window being read).
//!
//! The mark says "every record version with a time below this that was visible while its window was
//! read has been written". The `recent` set names the versions written from `mark − overlap` up, so
//! a re-read of the overlap window (for late-arriving records) or of a window cut half-way skips
//! exactly those and exports the others.
//!
//! The set is bounded: at most [`MAX_IDENTITIES`] identities below the mark are kept (the versions of
//! the window being read, at or above the mark, are bounded by the window's size). When the overlap
//! window holds more, the oldest instants are forgotten whole and the cursor's *floor* rises to the
//! oldest instant kept: no later run reads below the floor, so nothing forgotten is written twice,
//! and a version that arrives late below it is not read again (counted in `dropped`).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

mod identities;

pub use identities::{Identities, Key};

/// One record version's identity: `(lastUpdateTime, id)`, ordered by time, then id.
pub type Version = (DateTime<Utc>, String);

/// The cursor format of the windowed pager (`done_until` is the mark). Version 1 cursors, written
/// by the keyset pager, had only `high_water`, whose time was the mark.
pub const WINDOWED: u32 = 2;

/// The most identities kept below the mark (the overlap window's): 3.2 MB in memory and about
/// 4 MB of cursor document ([`Key`]). At the documented 10,000-alert pages that is ten pages'
/// worth, far more than a 5-minute overlap window holds at 100 updates/s (30,000).
pub const MAX_IDENTITIES: usize = 100_000;

/// The committed state of one (tenant, stream).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// Format version of this document.
    pub version: u32,
    /// The highest `(lastUpdateTime, id)` written; `None` before the first commit. (Hunting
    /// streams: the end of the last finished slice.)
    pub high_water: Option<Version>,
    /// List streams: every version below this time was read by a completed window (`None` before
    /// the first completed window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_until: Option<DateTime<Utc>>,
    /// Versions written with `lastUpdateTime >= max(mark - overlap, floor)`, as [`Key`]s.
    pub recent: Identities,
    /// Identities below this time were forgotten to keep `recent` bounded ([`MAX_IDENTITIES`]): runs
    /// read from `max(mark - overlap, floor)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<DateTime<Utc>>,
    /// Identities forgotten so far for the bound (each one a version a late re-read no longer covers).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropped: u64,
    /// Commits so far (each commit is a new document, so no two generations have the same bytes).
    pub generation: u64,
    /// The run that holds the stream, until when (its Lambda deadline).
    #[serde(default)]
    pub lease: Option<Lease>,
    /// List streams: where the reading of an unfinished window stopped, so the next run goes on
    /// from there instead of starting the window over (`None` between windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

/// A position inside a window `[from, until)`: its bounds and the `$skip` of its next page. The
/// versions already read in it are the cursor's identities in that range (a window's identities are
/// kept until it completes), so the next page is verified against them as within one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// The window's lower bound (`None`: none).
    pub from: Option<DateTime<Utc>>,
    /// Its upper bound (`None`: open, the last window of a range).
    pub until: Option<DateTime<Utc>>,
    /// The `$skip` of its next page.
    pub skip: usize,
}

impl Position {
    /// Whether a version's time lies in the window.
    pub fn holds(&self, t: DateTime<Utc>) -> bool {
        self.from.is_none_or(|f| t >= f) && self.until.is_none_or(|u| t < u)
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A run's claim on a stream: no other run starts before `until` unless it is `holder`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The run's id (the Lambda request id).
    pub holder: String,
    /// Expiry: the holder's deadline (a Lambda cannot outlive it).
    pub until: DateTime<Utc>,
}

impl Cursor {
    /// The mark: `done_until`, or for a version 1 cursor the time of its high-water mark.
    pub fn mark(&self) -> Option<DateTime<Utc>> {
        if self.version >= WINDOWED { self.done_until } else { self.high_water.as_ref().map(|(t, _)| *t) }
    }

    /// Moves a version 1 cursor to the windowed format (its mark kept).
    pub fn upgrade(&mut self) {
        if self.version < WINDOWED {
            self.done_until = self.mark();
            self.version = WINDOWED;
        }
    }

    /// The lower bound of the next query: `mark - overlap`, or the floor when that is higher (no
    /// bound before the first mark).
    pub fn query_from(&self, overlap: Duration) -> Option<DateTime<Utc>> {
        self.mark().map(|t| (t - overlap).max(self.floor.unwrap_or(DateTime::<Utc>::MIN_UTC)))
    }

    /// Whether this version was already written (it is in the overlap window's set).
    pub fn has(&self, v: &Version) -> bool {
        self.recent.contains(&Key::of(v))
    }

    /// Records written versions, moves the high-water mark and forgets versions older than the window.
    pub fn advance<'a>(&mut self, written: impl IntoIterator<Item = &'a Version>, overlap: Duration) {
        let keys = self.written(written);
        self.recent.insert(keys);
        self.prune(overlap);
        self.generation += 1;
    }

    /// The keys of `written`, the high-water mark moved past them.
    fn written<'a>(&mut self, written: impl IntoIterator<Item = &'a Version>) -> Vec<Key> {
        let written = written.into_iter();
        let mut keys = Vec::with_capacity(written.size_hint().0);
        for v in written {
            if self.high_water.as_ref().is_none_or(|hw| v > hw) {
                self.high_water = Some(v.clone());
            }
            keys.push(Key::of(v));
        }
        keys
    }

    /// Every version below `t` has been read: the mark moves up to `t` (never down).
    pub fn complete_until(&mut self, t: DateTime<Utc>, overlap: Duration) {
        if self.mark().is_none_or(|m| t > m) {
            self.done_until = Some(t);
        }
        self.prune(overlap);
    }

    fn prune(&mut self, overlap: Duration) {
        self.prune_into(overlap, &mut Vec::new());
    }

    /// [`Cursor::prune`], the identities it forgets appended to `forgotten` (in order).
    fn prune_into(&mut self, overlap: Duration, forgotten: &mut Vec<Key>) {
        let Some(m) = self.mark() else { return };
        forgotten.append(&mut self.recent.split_below(m - overlap));
        let below = self.recent.count_below(m);
        if below <= MAX_IDENTITIES {
            return;
        }
        // Forget the oldest instants whole: keep from the instant of the identity at `excess`.
        let excess = below - MAX_IDENTITIES;
        let Some(cut) = self.recent.nth(excess).map(Key::time) else { return };
        let mut gone = self.recent.split_below(cut);
        self.dropped += gone.len() as u64;
        forgotten.append(&mut gone);
        self.floor = Some(self.floor.map_or(cut, |f| f.max(cut)));
    }

    /// A page's commit made in place: the versions written recorded and, when the page completed
    /// its window, the mark moved to `mark` (as [`Cursor::advance`] then [`Cursor::complete_until`]),
    /// `position` set. Returns what [`Cursor::undo`] needs to put the cursor back exactly as it was,
    /// should the write of the new document fail — without a copy of the identities (the cursor
    /// of a run holds up to [`MAX_IDENTITIES`] plus a window's: a copy per page was the export's
    /// largest allocation).
    pub fn apply<'a>(
        &mut self,
        written: impl IntoIterator<Item = &'a Version>,
        mark: Option<DateTime<Utc>>,
        position: Option<Position>,
        overlap: Duration,
    ) -> Undo {
        let recent = std::mem::take(&mut self.recent);
        let before = Box::new(self.clone());
        self.recent = recent;
        let keys = self.written(written);
        let inserted = self.recent.insert(keys);
        if let Some(m) = mark
            && self.mark().is_none_or(|c| m > c)
        {
            self.done_until = Some(m);
        }
        let mut forgotten = Vec::new();
        self.prune_into(overlap, &mut forgotten);
        self.generation += 1;
        self.position = position;
        Undo { before, inserted, forgotten }
    }

    /// Puts the cursor back as it was before the [`Cursor::apply`] that returned `undo`.
    pub fn undo(&mut self, undo: Undo) {
        let Undo { before, inserted, mut forgotten } = undo;
        let mut recent = std::mem::take(&mut self.recent);
        // What was added and forgotten in the same commit was not there before.
        forgotten.retain(|k| inserted.binary_search(k).is_err());
        recent.remove_sorted(&inserted);
        recent.insert(forgotten);
        *self = *before;
        self.recent = recent;
    }
}

/// What undoes one [`Cursor::apply`]: the cursor's fields before it (without the identities), the
/// identities it added (sorted) and the ones it forgot.
#[derive(Debug)]
pub struct Undo {
    before: Box<Cursor>,
    inserted: Vec<Key>,
    forgotten: Vec<Key>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    #[test]
    fn advance_keeps_the_window_and_the_max() {
        // A version 1 cursor: the high-water time is the mark.
        let mut c = Cursor { version: 1, ..Cursor::default() };
        assert_eq!(c.query_from(Duration::seconds(60)), None);
        let vs = [(t(0), "b".to_string()), (t(0), "a".to_string()), (t(100), "z".to_string())];
        c.advance(&vs, Duration::seconds(60));
        assert_eq!(c.high_water, Some((t(100), "z".into())));
        assert_eq!(c.recent.len(), 1, "t(0) is outside the 60 s window below t(100)");
        assert_eq!(c.query_from(Duration::seconds(60)), Some(t(40)));
        c.advance(&[(t(70), "m".to_string())], Duration::seconds(60));
        assert_eq!(c.high_water, Some((t(100), "z".into())), "an older version never moves it back");
        assert!(c.has(&(t(70), "m".into())) && !c.has(&(t(70), "n".into())));
        assert_eq!(c.generation, 2);
        c.upgrade();
        assert_eq!((c.version, c.mark()), (WINDOWED, Some(t(100))), "the upgrade keeps the mark");
    }

    #[test]
    fn the_windowed_mark_moves_only_with_completed_windows() {
        let mut c = Cursor { version: WINDOWED, ..Cursor::default() };
        // Versions written inside a window being read do not move the mark, nor get pruned.
        c.advance(&[(t(500), "x".to_string()), (t(0), "a".to_string())], Duration::seconds(60));
        assert_eq!((c.mark(), c.recent.len()), (None, 2));
        c.complete_until(t(50), Duration::seconds(60));
        assert_eq!(c.query_from(Duration::seconds(60)), Some(t(-10)));
        assert_eq!(c.recent.len(), 2, "t(0) is within the overlap below the mark t(50)");
        c.complete_until(t(200), Duration::seconds(60));
        assert_eq!(c.recent.len(), 1);
        assert!(c.has(&(t(500), "x".into())) && !c.has(&(t(0), "a".into())));
        c.complete_until(t(100), Duration::seconds(60));
        assert_eq!(c.mark(), Some(t(200)), "never down");
        let doc = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Cursor>(&doc).unwrap(), c);
        assert!(!doc.contains("floor") && !doc.contains("dropped"), "absent until the bound is met: {doc}");
    }

    #[test]
    fn a_commit_applied_in_place_is_the_same_change_and_undoes_exactly() {
        let overlap = Duration::seconds(60);
        let mut c = Cursor { version: WINDOWED, ..Cursor::default() };
        c.advance(&[(t(0), "a".to_string()), (t(30), "b".to_string()), (t(90), "c".to_string())], overlap);
        c.complete_until(t(50), overlap);
        let pos = Some(Position { from: Some(t(50)), until: Some(t(200)), skip: 9 });
        let before = c.clone();
        // One already known, one new, one new below what the mark's move forgets.
        let page = [(t(90), "c".to_string()), (t(120), "d".to_string()), (t(10), "e".to_string())];
        let mut expected = c.clone();
        expected.position = pos.clone();
        expected.advance(&page, overlap);
        expected.complete_until(t(100), overlap);
        let undo = c.apply(&page, Some(t(100)), pos.clone(), overlap);
        assert_eq!(c, expected, "the same change as advance then complete_until");
        assert!(!c.has(&(t(10), "e".into())) && !c.has(&(t(0), "a".into())), "below the new overlap");
        c.undo(undo);
        assert_eq!(c, before, "put back exactly: what it added removed, what it forgot back");
        // Without a mark to move, and with the bound on identities forgetting some.
        let n = MAX_IDENTITIES + 20;
        let many: Vec<Version> = (0..n).map(|i| (t(1000 + (i / 4) as i64), format!("m{i:07}"))).collect();
        let mut big = Cursor { version: WINDOWED, ..Cursor::default() };
        big.advance(&many, Duration::days(10));
        let before = big.clone();
        let undo = big.apply(&[], Some(t(1000 + (n / 4) as i64 + 1)), None, Duration::days(10));
        assert_eq!((big.dropped, big.floor.is_some()), (20, true));
        big.undo(undo);
        assert_eq!(big, before);
    }

    #[test]
    fn the_identities_below_the_mark_are_bounded_and_the_floor_rises_past_the_forgotten() {
        let mut c = Cursor { version: WINDOWED, ..Cursor::default() };
        let overlap = Duration::days(10);
        // MAX + 50 identities in the overlap window, two per second, and 10 above the mark (the window
        // being read).
        let n = MAX_IDENTITIES + 50;
        let below: Vec<Version> = (0..n).map(|i| (t((i / 2) as i64), format!("a{i:07}"))).collect();
        let above: Vec<Version> = (0..10).map(|i| (t(100_000 + i), format!("w{i}"))).collect();
        c.advance(below.iter().chain(&above), overlap);
        assert_eq!(c.recent.len(), n + 10, "no mark yet: nothing is below it");
        c.complete_until(t(90_000), overlap);
        // 50 too many: the 25 oldest instants (2 each) go whole.
        assert_eq!((c.recent.len(), c.dropped), (MAX_IDENTITIES + 10, 50));
        assert_eq!(c.floor, Some(t(25)));
        assert_eq!(c.recent.first().map(Key::time), Some(t(25)));
        assert!(above.iter().all(|v| c.has(v)), "the window being read is never forgotten");
        assert_eq!(c.query_from(overlap), Some(t(25)), "no run reads below the floor");
        assert_eq!(c.query_from(Duration::seconds(10)), Some(t(89_990)), "the overlap when it is higher");
        let doc = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Cursor>(&doc).unwrap(), c);
    }

    #[test]
    fn an_identity_is_32_bytes_and_the_set_merges_as_a_sorted_set_would() {
        assert_eq!(std::mem::size_of::<Key>(), 32);
        // Pages of versions in no order, repeats included, some already present; then prefixes cut.
        let mut set = Identities::default();
        let mut model = std::collections::BTreeSet::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for page in 0..40 {
            let keys: Vec<Key> = (0..500)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    Key::new(t((x % 3000) as i64), &format!("id{}", x % 7))
                })
                .collect();
            let fresh: Vec<Key> = keys.iter().copied().filter(|k| !model.contains(k)).collect();
            let inserted = set.insert(keys.clone());
            model.extend(keys);
            let expected: std::collections::BTreeSet<Key> = fresh.into_iter().collect();
            assert_eq!(inserted, expected.into_iter().collect::<Vec<_>>(), "returns what was new, sorted");
            if page % 10 == 9 {
                let cut = t(page as i64 * 50);
                let gone = set.split_below(cut);
                let expected: Vec<Key> = model.iter().copied().filter(|k| k.time() < cut).collect();
                model.retain(|k| k.time() >= cut);
                assert_eq!(gone, expected, "the keys below the time, in order");
            }
            assert_eq!(set.iter().copied().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
        }
    }

    #[test]
    fn a_cursor_written_before_the_key_store_is_read_with_every_identity_and_rewritten_compact() {
        // As the earlier build wrote it: `recent` as [time, id] pairs.
        let old = r#"{"version":2,"high_water":["2027-01-15T08:00:02.1234567Z","da2"],
            "done_until":"2027-01-15T08:00:00Z",
            "recent":[["2027-01-15T07:56:00Z","da0"],["2027-01-15T07:59:59.9999999Z","da1"],
                      ["2027-01-15T08:00:02.1234567Z","da2"],["2027-01-15T08:00:02.1234567Z","da3"]],
            "generation":7,"lease":null,
            "position":{"from":"2027-01-15T08:00:00Z","until":null,"skip":9999}}"#;
        let c: Cursor = serde_json::from_str(old).unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        let pairs = [
            ("2027-01-15T07:56:00Z", "da0"),
            ("2027-01-15T07:59:59.9999999Z", "da1"),
            ("2027-01-15T08:00:02.1234567Z", "da2"),
            ("2027-01-15T08:00:02.1234567Z", "da3"),
        ];
        assert_eq!(c.recent.len(), 4);
        for (time, id) in pairs {
            assert!(c.has(&(at(time), id.to_string())), "{time} {id} is still known written");
        }
        assert!(!c.has(&(at("2027-01-15T07:56:00Z"), "da1".into())), "a known id at another time is not");
        assert!(!c.has(&(at("2027-01-15T07:56:00.0000001Z"), "da0".into())), "nor one tick later");
        assert_eq!(
            (c.generation, c.mark(), c.position.as_ref().map(|p| p.skip)),
            (7, Some(at("2027-01-15T08:00:00Z")), Some(9999))
        );
        // Rewritten: base64 keys, which read back to the same cursor.
        let doc = serde_json::to_string(&c).unwrap();
        assert!(
            !doc.contains("da0") && doc.contains(r#""high_water":["2027-01-15T08:00:02.123456700Z","da2"]"#),
            "{doc}"
        );
        let recent = &serde_json::from_str::<serde_json::Value>(&doc).unwrap()["recent"];
        assert!(recent.as_array().unwrap().iter().all(|k| k.as_str().is_some_and(|k| k.len() == 38)), "{recent}");
        assert_eq!(serde_json::from_str::<Cursor>(&doc).unwrap(), c);
        // What is not a key is refused, never read as no identities.
        for bad in [r#"["AAAA"]"#, r#"[["2027-01-15T07:56:00Z"]]"#, r#"[["2027-01-15T07:56:00Z","a","b"]]"#, r#"[7]"#] {
            let doc = format!(r#"{{"version":2,"high_water":null,"recent":{bad},"generation":1}}"#);
            assert!(serde_json::from_str::<Cursor>(&doc).is_err(), "{bad}");
        }
    }
}
