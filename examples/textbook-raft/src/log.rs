//! The replicated log after the snapshot, and its on-disk encoding.
//!
//! Indices are the lab's: the first command is index 1. The log holds the
//! entries after `snapshot_index`; the snapshot stands for everything up to
//! and including it.
//!
//! The persisted raft state is a fixed header followed by the entries:
//!
//! ```text
//! term u64 | vote u64 (u64::MAX: none) | snapshot_index u64 | snapshot_term u64
//! then per entry: term u64 | length u32 | command bytes
//! ```
//!
//! (all little-endian), so appending entries to the disk copy costs only the
//! appended bytes, and the header can be rewritten in place.

use serde::Serialize;
use std::sync::Arc;

/// The size of the persisted header in bytes.
pub const HEADER_LEN: usize = 32;

/// The vote field's value when the peer voted for no one.
const NO_VOTE: u64 = u64::MAX;

/// One log entry: the term it was created in and the service's command.
#[derive(Clone, Debug, Serialize)]
pub struct Entry {
    pub term: u64,
    pub command: Arc<[u8]>,
    /// A hash of (term, command), for the lab's observer; not sent.
    #[serde(skip)]
    pub stamp: u64,
}

impl Entry {
    /// A new entry, its observer stamp computed once.
    pub fn new(term: u64, command: Arc<[u8]>) -> Entry {
        let stamp = contract::view::written_stamp(term, &command);
        Entry { term, command, stamp }
    }
}

/// The entries after the snapshot.
#[derive(Clone, Debug, Default)]
pub struct Log {
    snapshot_index: u64,
    snapshot_term: u64,
    entries: Vec<Entry>,
    /// Counts the changes other than appends (truncation, compaction), so
    /// that a check of the disk copy can tell when a prefix it verified
    /// may have changed.
    generation: u64,
}

impl Log {
    /// The number of changes other than appends made so far.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The last index the snapshot covers (0: none).
    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }

    /// The term of the snapshot's last entry (0: none).
    pub fn snapshot_term(&self) -> u64 {
        self.snapshot_term
    }

    /// The last index in the log, or the snapshot's when the log is empty.
    pub fn last_index(&self) -> u64 {
        self.snapshot_index + self.entries.len() as u64
    }

    /// The term of the last entry (or of the snapshot's last).
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The entry at `index`, if it is in the log (after the snapshot).
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        let offset = index.checked_sub(self.snapshot_index + 1)?;
        self.entries.get(usize::try_from(offset).ok()?)
    }

    /// The term at `index`: an entry's, or the snapshot's at its index.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// The first index of the run of entries with `term` that ends at
    /// `index` (never before the first entry after the snapshot).
    pub fn first_index_of_term_run(&self, term: u64, index: u64) -> u64 {
        let mut first = index;
        while first > self.snapshot_index + 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// The last index holding an entry of `term`, if any.
    pub fn last_index_of_term(&self, term: u64) -> Option<u64> {
        (self.snapshot_index + 1..=self.last_index()).rev().find(|&i| self.term_at(i) == Some(term))
    }

    /// Up to `max` entries from `from` on (`from` after the snapshot).
    pub fn entries_from(&self, from: u64, max: usize) -> Vec<Entry> {
        let start = (from - self.snapshot_index - 1) as usize;
        self.entries[start.min(self.entries.len())..].iter().take(max).cloned().collect()
    }

    /// Appends one entry at `last_index() + 1`.
    pub fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// Drops every entry from `index` on.
    pub fn truncate_from(&mut self, index: u64) {
        self.entries.truncate((index - self.snapshot_index - 1) as usize);
        self.generation += 1;
    }

    /// Drops the entries through `index` (which must be in the log): the
    /// snapshot now covers them.
    pub fn compact_through(&mut self, index: u64) {
        let term = self.term_at(index).expect("compacting through an index in the log");
        self.entries.drain(..(index - self.snapshot_index) as usize);
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.generation += 1;
    }

    /// Replaces the log with a snapshot through `index` at `term`, keeping
    /// the entries after it if the log holds a matching entry at `index`.
    pub fn install_snapshot(&mut self, index: u64, term: u64) {
        if self.term_at(index) == Some(term) && index <= self.last_index() {
            self.compact_through(index);
        } else {
            self.entries.clear();
            self.snapshot_index = index;
            self.snapshot_term = term;
            self.generation += 1;
        }
    }
}

/// What a persisted raft state holds.
#[derive(Debug, Default)]
pub struct Durable {
    pub term: u64,
    pub voted_for: Option<usize>,
    pub log: Log,
}

/// Writes the header (term, vote, snapshot position) over the first
/// [`HEADER_LEN`] bytes of `state`, which must already hold a header.
pub fn write_header(state: &mut [u8], term: u64, voted_for: Option<usize>, log: &Log) {
    let vote = voted_for.map_or(NO_VOTE, |v| v as u64);
    let fields = [term, vote, log.snapshot_index, log.snapshot_term];
    for (k, value) in fields.iter().enumerate() {
        state[k * 8..k * 8 + 8].copy_from_slice(&value.to_le_bytes());
    }
}

/// Appends the encoding of `entries` to `state`.
pub fn append_entries<'a>(state: &mut Vec<u8>, entries: impl IntoIterator<Item = &'a Entry>) {
    for entry in entries {
        state.extend_from_slice(&entry.term.to_le_bytes());
        state.extend_from_slice(&(entry.command.len() as u32).to_le_bytes());
        state.extend_from_slice(&entry.command);
    }
}

/// The whole persisted state for (term, vote, log).
pub fn encode(state: &mut Vec<u8>, term: u64, voted_for: Option<usize>, log: &Log) {
    state.clear();
    state.resize(HEADER_LEN, 0);
    write_header(state, term, voted_for, log);
    append_entries(state, &log.entries);
}

/// Reads a little-endian u64 at `at`.
fn read_u64(bytes: &[u8], at: usize) -> Result<u64, String> {
    let field = bytes.get(at..at + 8).ok_or_else(|| format!("raft state cut short at byte {at}"))?;
    Ok(u64::from_le_bytes(field.try_into().expect("eight bytes")))
}

/// (term, vote) from a persisted state; an empty state is (0, None).
pub fn decode_term_and_vote(state: &[u8]) -> Result<(u64, Option<usize>), String> {
    if state.is_empty() {
        return Ok((0, None));
    }
    let term = read_u64(state, 0)?;
    let vote = read_u64(state, 8)?;
    Ok((term, (vote != NO_VOTE).then_some(vote as usize)))
}

/// Decodes a whole persisted state; an empty one is a fresh peer's.
pub fn decode(state: &[u8]) -> Result<Durable, String> {
    if state.is_empty() {
        return Ok(Durable::default());
    }
    let (term, voted_for) = decode_term_and_vote(state)?;
    let mut log = Log {
        snapshot_index: read_u64(state, 16)?,
        snapshot_term: read_u64(state, 24)?,
        entries: Vec::new(),
        generation: 0,
    };
    let mut at = HEADER_LEN;
    while at < state.len() {
        let entry_term = read_u64(state, at)?;
        let len_bytes = state.get(at + 8..at + 12).ok_or("raft state: entry length cut short")?;
        let len = u32::from_le_bytes(len_bytes.try_into().expect("four bytes")) as usize;
        let command = state.get(at + 12..at + 12 + len).ok_or("raft state: entry command cut short")?;
        log.entries.push(Entry::new(entry_term, command.into()));
        at += 12 + len;
    }
    Ok(Durable { term, voted_for, log })
}

/// How far a previous [`compare_encoded`] verified the disk copy: the
/// log's generation then, the entries verified and the bytes they end at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Verified {
    pub generation: u64,
    pub entries: usize,
    pub bytes: usize,
}

/// Whether `log` is what the persisted `state` holds, read in place; the
/// first difference if not. The lab's durability check calls this after
/// every step, so it resumes after the prefix `since` verified when the log
/// has only grown since (the disk copy of a prefix changes only with a
/// truncation or a compaction, which start the check over). Returns how far
/// it verified.
pub fn compare_encoded(log: &Log, state: &[u8], since: Verified) -> Result<Verified, String> {
    let on_disk = (read_u64(state, 16)?, read_u64(state, 24)?);
    if (log.snapshot_index, log.snapshot_term) != on_disk {
        return Err(format!(
            "snapshot at ({}, {}) in memory, {on_disk:?} on disk",
            log.snapshot_index, log.snapshot_term
        ));
    }
    let resume = since.bytes >= HEADER_LEN
        && since.generation == log.generation
        && since.entries <= log.entries.len()
        && since.bytes <= state.len();
    let (first, mut at) = if resume { (since.entries, since.bytes) } else { (0, HEADER_LEN) };
    for (k, entry) in log.entries.iter().enumerate().skip(first) {
        let end = at + 12 + entry.command.len();
        let mut expected = [0u8; 12];
        expected[..8].copy_from_slice(&entry.term.to_le_bytes());
        expected[8..].copy_from_slice(&(entry.command.len() as u32).to_le_bytes());
        if state.get(at..at + 12) != Some(&expected[..]) || state.get(at + 12..end) != Some(&entry.command[..]) {
            let index = log.snapshot_index + 1 + k as u64;
            return Err(format!("entry {index} differs between memory and disk (or is missing on disk)"));
        }
        at = end;
    }
    if at != state.len() {
        return Err(format!("disk holds entries after the last index {} in memory", log.last_index()));
    }
    Ok(Verified { generation: log.generation, entries: log.entries.len(), bytes: at })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_of(terms: &[u64]) -> Log {
        let mut log = Log::default();
        for &t in terms {
            log.push(Entry::new(t, Arc::from(&[t as u8][..])));
        }
        log
    }

    #[test]
    fn encoding_round_trips_and_appends() {
        let mut log = log_of(&[1, 1, 2]);
        let mut state = Vec::new();
        encode(&mut state, 3, Some(2), &log);
        log.push(Entry::new(3, Arc::from(&b"xyz"[..])));
        append_entries(&mut state, log.entries_from(4, 1).iter());
        let back = decode(&state).unwrap();
        assert_eq!((back.term, back.voted_for), (3, Some(2)));
        compare_encoded(&log, &state, Verified::default()).unwrap();
        assert_eq!(back.log.last_index(), 4);
    }

    #[test]
    fn snapshots_keep_a_matching_suffix() {
        let mut log = log_of(&[1, 1, 2, 2]);
        log.install_snapshot(2, 1);
        assert_eq!((log.snapshot_index(), log.last_index(), log.term_at(3)), (2, 4, Some(2)));
        log.install_snapshot(3, 9);
        assert_eq!((log.snapshot_index(), log.last_index(), log.term_at(3)), (3, 3, Some(9)));
        assert_eq!(log_of(&[1, 2, 2, 2]).first_index_of_term_run(2, 4), 2);
    }
}
