//! The replicated log after the last snapshot, with log indices starting at 1.
//! It keeps its durable encoding beside the entries and remembers the lowest
//! byte that changed, so that persisting emits only what changed.

use crate::message::Entry;
use crate::storage::encode_entry;

/// Entries a log has room for before its first append grows it.
const MIN_ROOM_ENTRIES: usize = 64;

#[derive(Clone, Debug, Default)]
pub struct Log {
    snapshot_index: u64,
    snapshot_term: u64,
    /// Entry `snapshot_index + 1 + k` is `entries[k]`.
    entries: Vec<Entry>,
    /// Byte offset of each entry's record in `encoded`.
    offsets: Vec<usize>,
    encoded: Vec<u8>,
    /// The lowest byte of `encoded` changed since the last `take_change_into`.
    changed_from: Option<usize>,
    /// `appended[k]` numbers the append that put `entries[k]` there: an
    /// observer that saw the same number at an index knows the entry there,
    /// and every entry before it, are unchanged since.
    appended: Vec<u64>,
    appends: u64,
}

impl Log {
    /// A log holding `entries` after a snapshot at (index, term).
    /// Its buffers get room for as many entries again (at least
    /// `MIN_ROOM_ENTRIES`), so a restarted peer does not copy its whole log
    /// on its first append.
    pub fn restore(snapshot_index: u64, snapshot_term: u64, entries: Vec<Entry>) -> Log {
        let bytes: usize = entries.iter().map(|e| 12 + e.command.len()).sum();
        let room = 2 * entries.len() + MIN_ROOM_ENTRIES;
        let mut log = Log {
            snapshot_index,
            snapshot_term,
            entries: Vec::with_capacity(room),
            offsets: Vec::with_capacity(room),
            encoded: Vec::with_capacity(2 * bytes + 16 * MIN_ROOM_ENTRIES),
            appended: Vec::with_capacity(room),
            ..Log::default()
        };
        for e in entries {
            log.append(e);
        }
        log.changed_from = None; // it came from the durable image
        log
    }

    #[inline]
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }

    #[inline]
    pub fn snapshot_term(&self) -> u64 {
        self.snapshot_term
    }

    #[inline]
    pub fn last_index(&self) -> u64 {
        self.snapshot_index + self.entries.len() as u64
    }

    #[inline]
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The term of entry `index`, if the log (or the snapshot) knows it.
    #[inline]
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|e| e.term)
    }

    #[inline]
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        if index <= self.snapshot_index {
            return None;
        }
        self.entries.get((index - self.snapshot_index - 1) as usize)
    }

    /// Which append (counted from 1 in this log's life) put entry `index`.
    #[inline]
    pub fn append_number(&self, index: u64) -> Option<u64> {
        if index <= self.snapshot_index {
            return None;
        }
        self.appended.get((index - self.snapshot_index - 1) as usize).copied()
    }

    fn mark_changed(&mut self, from: usize) {
        self.changed_from = Some(self.changed_from.map_or(from, |c| c.min(from)));
    }

    pub fn append(&mut self, entry: Entry) {
        self.offsets.push(self.encoded.len());
        self.mark_changed(self.encoded.len());
        encode_entry(&entry, &mut self.encoded);
        self.entries.push(entry);
        self.appends += 1;
        self.appended.push(self.appends);
    }

    /// Removes entries `index` and after.
    pub fn truncate_from(&mut self, index: u64) {
        assert!(
            index > self.snapshot_index,
            "truncating at {index}: entries through the snapshot ({}) are committed and never truncated",
            self.snapshot_index
        );
        let keep = (index - self.snapshot_index - 1) as usize;
        if keep >= self.entries.len() {
            return;
        }
        let byte = self.offsets[keep];
        self.entries.truncate(keep);
        self.appended.truncate(keep);
        self.offsets.truncate(keep);
        self.encoded.truncate(byte);
        self.mark_changed(byte);
    }

    /// Puts `entry` at `index` in place of the one there, keeping the
    /// entries after it (only `bugs::Bug::RaftOverwritesWithoutTruncating`
    /// does this: Raft truncates instead).
    pub fn replace(&mut self, index: u64, entry: Entry) {
        let tail = self.entries_from(index + 1, usize::MAX);
        self.truncate_from(index);
        self.append(entry);
        for e in tail {
            self.append(e);
        }
    }

    /// Clones up to `max` entries from `index` on.
    pub fn entries_from(&self, index: u64, max: usize) -> Vec<Entry> {
        assert!(index > self.snapshot_index, "entry {index} is before the snapshot ({}): gone", self.snapshot_index);
        let start = (index - self.snapshot_index - 1) as usize;
        self.entries.iter().skip(start).take(max).cloned().collect()
    }

    /// The first index of the run of entries with `term` that contains `index`.
    pub fn first_index_of_term_run(&self, index: u64, term: u64) -> u64 {
        let mut first = index;
        while first > self.snapshot_index + 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// The last index holding an entry of `term`, if any.
    pub fn last_index_of_term(&self, term: u64) -> Option<u64> {
        let k = self.entries.iter().rposition(|e| e.term == term)?;
        Some(self.snapshot_index + 1 + k as u64)
    }

    /// Drops entries up to `index` (now in a snapshot with `term`). When the
    /// log does not reach `index` or disagrees at it, everything is dropped.
    /// The encoding is rebuilt in place, reusing its buffers.
    pub fn compact_to(&mut self, index: u64, term: u64) {
        assert!(index > self.snapshot_index, "a snapshot moves forward ({} -> {index})", self.snapshot_index);
        let drop =
            if self.term_at(index) == Some(term) { (index - self.snapshot_index) as usize } else { self.entries.len() };
        self.entries.drain(..drop);
        self.appended.drain(..drop);
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.encoded.clear();
        self.offsets.clear();
        for entry in &self.entries {
            self.offsets.push(self.encoded.len());
            encode_entry(entry, &mut self.encoded);
        }
        self.changed_from = Some(0);
    }

    /// Length of the encoded log section.
    #[inline]
    pub fn encoded_len(&self) -> usize {
        self.encoded.len()
    }

    /// Whether the encoding changed since the last `take_change_into`.
    #[inline]
    pub fn has_change(&self) -> bool {
        self.changed_from.is_some()
    }

    /// What changed in the encoding since the last call: the bytes to keep,
    /// with the tail after them appended to `tail` (a buffer the caller
    /// reuses). `None` when nothing changed.
    pub fn take_change_into(&mut self, tail: &mut Vec<u8>) -> Option<usize> {
        let from = self.changed_from.take()?;
        tail.extend_from_slice(&self.encoded[from..]);
        Some(from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(term: u64) -> Entry {
        Entry { term, command: vec![term as u8].into() }
    }

    #[test]
    fn indexes_start_at_one_and_survive_compaction() {
        let mut log = Log::default();
        assert_eq!((log.last_index(), log.last_term()), (0, 0));
        for t in [1, 1, 2, 3] {
            log.append(e(t));
        }
        assert_eq!(log.term_at(3), Some(2));
        assert_eq!(log.first_index_of_term_run(2, 1), 1);
        assert_eq!(log.last_index_of_term(1), Some(2));
        log.compact_to(2, 1);
        assert_eq!((log.snapshot_index(), log.last_index(), log.term_at(2), log.term_at(1)), (2, 4, Some(1), None));
        assert_eq!(log.entries_from(3, 10), vec![e(2), e(3)]);
        log.truncate_from(4);
        assert_eq!(log.last_index(), 3);
    }

    #[test]
    fn changes_are_the_bytes_after_the_lowest_edit() {
        let mut log = Log::default();
        log.append(e(1));
        log.append(e(1));
        let mut tail = Vec::new();
        assert_eq!(log.take_change_into(&mut tail), Some(0));
        assert_eq!(tail.len(), 26);
        tail.clear();
        assert_eq!(log.take_change_into(&mut tail), None);
        assert!(tail.is_empty());
        log.truncate_from(2);
        log.append(e(2));
        assert_eq!(log.take_change_into(&mut tail), Some(13));
        assert_eq!(tail.len(), 13);
    }
}
