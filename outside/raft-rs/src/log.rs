//! raft-rs's `Storage`, kept by the adapter: the log, hard state and
//! snapshot of one peer in memory, their persisted form (a fixed header and
//! the entries appended after it, so persisting an append writes only the
//! appended bytes), and the map between raft-rs's indices and the lab's.
//!
//! raft-rs puts entries of its own in the log (the empty entry a new leader
//! appends). The lab numbers only commands: an entry's lab index is the
//! number of commands up to and including it, counted from the snapshot's.

use bytes::Bytes;
use raft_rs::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};
use raft_rs::{Error, GetEntriesContext, RaftState, StorageError};

/// What begins every persisted raft state of this adapter (a format tag).
const TAG: &[u8; 8] = b"raftrs01";
/// The header: tag, term, vote, commit, snapshot index, snapshot term and
/// the snapshot's lab index, eight bytes each.
pub const HEADER_LEN: usize = 56;
/// An entry's bytes before its data: term (8), kind (1), data length (4).
const ENTRY_OVERHEAD: usize = 13;
/// A leader's snapshot as it travels: the lab index it ends at (8 bytes),
/// then the service's snapshot.
const SNAPSHOT_PREFIX: usize = 8;

/// Entry kinds as persisted.
const KIND_OWN: u8 = 0;
const KIND_COMMAND: u8 = 1;

/// The bytes a command entry carries in `context` when its command is
/// empty, so that it is never taken for an entry of raft-rs's own (those
/// have empty data and context).
const EMPTY_COMMAND_MARK: &[u8] = b"c";

/// Whether an entry holds a command started through the lab (not an entry
/// raft-rs appended of its own).
pub fn is_command(entry: &Entry) -> bool {
    !entry.data.is_empty() || !entry.context.is_empty()
}

/// The (context, data) to propose for a command.
pub fn proposal(command: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
    let context = if command.is_empty() { EMPTY_COMMAND_MARK.to_vec() } else { Vec::new() };
    (context, command)
}

/// One peer's log and state, as raft-rs reads them through `Storage`.
pub struct LabLog {
    hard_state: HardState,
    conf_state: ConfState,
    /// The snapshot's last raft index and term (0, 0: none).
    snapshot_index: u64,
    snapshot_term: u64,
    /// The lab index of the snapshot's last entry.
    snapshot_lab_index: u64,
    /// The snapshot as a leader sends it (lab index, then the service's
    /// bytes); empty with no snapshot.
    snapshot_data: Bytes,
    /// `entries[i]` has raft index `snapshot_index + 1 + i`.
    entries: Vec<Entry>,
    /// `lab_index[i]`: the lab index of `entries[i]` (of the last command
    /// at or before it).
    lab_index: Vec<u64>,
    /// `written[i]`: a number that changes whenever `entries[i]` is written
    /// (the observer's re-read stamp).
    written: Vec<u64>,
    appends: u64,
    /// `offsets[i]`: where `entries[i]` begins in the persisted state.
    offsets: Vec<usize>,
    /// The length of the persisted state as memory says it should be.
    persisted_len: usize,
}

impl LabLog {
    /// A peer that never saved anything, in a cluster of `peers` (raft-rs
    /// ids 1..=peers).
    pub fn new(peers: usize) -> LabLog {
        let conf_state = ConfState { voters: (1..=peers as u64).collect(), ..ConfState::default() };
        LabLog {
            hard_state: HardState::default(),
            conf_state,
            snapshot_index: 0,
            snapshot_term: 0,
            snapshot_lab_index: 0,
            snapshot_data: Bytes::new(),
            entries: Vec::new(),
            lab_index: Vec::new(),
            written: Vec::new(),
            appends: 0,
            offsets: Vec::new(),
            persisted_len: HEADER_LEN,
        }
    }

    /// A peer restarted from what it persisted (an empty state: a fresh
    /// peer). Corrupt state is an error naming what is wrong.
    pub fn decode(peers: usize, raft_state: &[u8], snapshot: &[u8]) -> Result<LabLog, String> {
        let mut log = LabLog::new(peers);
        if raft_state.is_empty() {
            return match snapshot.is_empty() {
                true => Ok(log),
                false => Err("a snapshot is persisted without a raft state".into()),
            };
        }
        let header = Header::decode(raft_state)?;
        if header.snapshot_index > u64::MAX / 2 || header.snapshot_lab_index > u64::MAX / 2 {
            return Err(format!("raft state names a snapshot through index {}", header.snapshot_index));
        }
        log.hard_state.term = header.term;
        log.hard_state.vote = header.vote;
        log.hard_state.commit = header.commit;
        log.snapshot_index = header.snapshot_index;
        log.snapshot_term = header.snapshot_term;
        log.snapshot_lab_index = header.snapshot_lab_index;
        if header.snapshot_index > 0 {
            let mut data = Vec::with_capacity(SNAPSHOT_PREFIX + snapshot.len());
            data.extend_from_slice(&header.snapshot_lab_index.to_le_bytes());
            data.extend_from_slice(snapshot);
            log.snapshot_data = data.into();
        }
        let mut at = HEADER_LEN;
        while at < raft_state.len() {
            let (entry, len) = decode_entry(&raft_state[at..], log.last_index() + 1)
                .map_err(|e| format!("raft state entry at byte {at}: {e}"))?;
            log.push(entry, at);
            at += len;
        }
        log.persisted_len = at;
        if header.commit < header.snapshot_index || header.commit > log.last_index() {
            return Err(format!(
                "raft state commits index {} outside its snapshot and log (through {}..={})",
                header.commit,
                header.snapshot_index,
                log.last_index()
            ));
        }
        Ok(log)
    }

    /// Appends an entry in memory at byte `offset` of the persisted state.
    fn push(&mut self, entry: Entry, offset: usize) {
        let before = self.lab_index.last().copied().unwrap_or(self.snapshot_lab_index);
        self.lab_index.push(before + u64::from(is_command(&entry)));
        self.appends += 1;
        self.written.push(self.appends);
        self.offsets.push(offset);
        self.persisted_len = offset + ENTRY_OVERHEAD + entry.data.len();
        self.entries.push(entry);
    }

    /// raft-rs's hard state, as the adapter last set it.
    pub fn hard_state(&self) -> &HardState {
        &self.hard_state
    }

    pub fn set_hard_state(&mut self, hard_state: HardState) {
        self.hard_state = hard_state;
    }

    pub fn set_commit(&mut self, commit: u64) {
        self.hard_state.commit = commit;
    }

    /// Appends entries raft-rs handed over, replacing any from the first
    /// one's index on. Returns the position from which the persisted
    /// entries must be rewritten ([`LabLog::write_tail`]).
    pub fn append(&mut self, entries: &[Entry]) -> usize {
        let Some(first) = entries.first() else { return self.entries.len() };
        assert!(first.index > self.snapshot_index, "raft-rs appends after the snapshot");
        assert!(first.index <= self.last_index() + 1, "raft-rs appends without a gap");
        let keep = (first.index - self.snapshot_index - 1) as usize;
        let offset = self.offsets.get(keep).copied().unwrap_or(self.persisted_len);
        self.entries.truncate(keep);
        self.lab_index.truncate(keep);
        self.written.truncate(keep);
        self.offsets.truncate(keep);
        self.persisted_len = offset;
        for entry in entries {
            assert_eq!(entry.index, self.last_index() + 1, "raft-rs appends consecutive entries");
            let at = self.persisted_len;
            self.push(entry.clone(), at);
        }
        keep
    }

    /// Writes the header, and the entries from position `from` on, into
    /// the persisted state (which holds what memory held before the change).
    pub fn write_tail(&self, state: &mut Vec<u8>, from: usize) {
        let start = self.offsets.get(from).copied().unwrap_or(self.persisted_len);
        if state.len() < HEADER_LEN {
            state.resize(HEADER_LEN, 0);
        }
        state.truncate(start.max(HEADER_LEN));
        for entry in &self.entries[from..] {
            encode_entry(entry, state);
        }
        debug_assert_eq!(state.len(), self.persisted_len);
        self.header().encode(&mut state[..HEADER_LEN]);
    }

    /// Writes the whole persisted state afresh.
    pub fn write_all(&self, state: &mut Vec<u8>) {
        state.clear();
        self.write_tail(state, 0);
    }

    /// A leader's snapshot (raft-rs's, from a leader) replaces the log.
    /// Returns the lab index it ends at and the service's bytes.
    pub fn install_snapshot(&mut self, snapshot: &Snapshot) -> Result<(u64, Bytes), String> {
        let meta = snapshot.get_metadata();
        let lab_index = snapshot_lab_index(&snapshot.data)?;
        self.entries.clear();
        self.lab_index.clear();
        self.written.clear();
        self.offsets.clear();
        self.persisted_len = HEADER_LEN;
        self.snapshot_index = meta.index;
        self.snapshot_term = meta.term;
        self.snapshot_lab_index = lab_index;
        self.snapshot_data = snapshot.data.clone();
        if meta.term > self.hard_state.term {
            // A vote belongs to its term: none is held in the newer one.
            self.hard_state.term = meta.term;
            self.hard_state.vote = 0;
        }
        self.hard_state.commit = meta.index;
        self.conf_state = meta.get_conf_state().clone();
        Ok((lab_index, snapshot.data.slice(SNAPSHOT_PREFIX..)))
    }

    /// The service's snapshot through the command at lab index `lab_index`
    /// (raft index `index`): the log through `index` goes.
    pub fn compact(&mut self, index: u64, lab_index: u64, service_snapshot: &[u8]) {
        assert!(index > self.snapshot_index && index <= self.last_index(), "compacting within the log");
        let drop = (index - self.snapshot_index) as usize;
        self.snapshot_term = self.entries[drop - 1].term;
        self.snapshot_index = index;
        self.snapshot_lab_index = lab_index;
        let mut data = Vec::with_capacity(SNAPSHOT_PREFIX + service_snapshot.len());
        data.extend_from_slice(&lab_index.to_le_bytes());
        data.extend_from_slice(service_snapshot);
        self.snapshot_data = data.into();
        // Lab indices are absolute and stamps stay; the kept entries move
        // up to just after the header.
        let moved = self.offsets.get(drop).copied().unwrap_or(self.persisted_len) - HEADER_LEN;
        self.entries.drain(..drop);
        self.lab_index.drain(..drop);
        self.written.drain(..drop);
        self.offsets.drain(..drop);
        self.offsets.iter_mut().for_each(|o| *o -= moved);
        self.persisted_len -= moved;
    }

    fn header(&self) -> Header {
        Header {
            term: self.hard_state.term,
            vote: self.hard_state.vote,
            commit: self.hard_state.commit,
            snapshot_index: self.snapshot_index,
            snapshot_term: self.snapshot_term,
            snapshot_lab_index: self.snapshot_lab_index,
        }
    }

    /// The raft index of the last entry (the snapshot's with an empty log).
    pub fn last_index(&self) -> u64 {
        self.snapshot_index + self.entries.len() as u64
    }

    pub fn snapshot_index(&self) -> u64 {
        self.snapshot_index
    }

    pub fn snapshot_lab_index(&self) -> u64 {
        self.snapshot_lab_index
    }

    /// The entry at raft index `index`, after the snapshot.
    pub fn entry(&self, index: u64) -> Option<&Entry> {
        let i = index.checked_sub(self.snapshot_index + 1)?;
        self.entries.get(i as usize)
    }

    /// The observer's stamp of the entry at raft index `index`.
    pub fn written(&self, index: u64) -> Option<u64> {
        let i = index.checked_sub(self.snapshot_index + 1)?;
        self.written.get(i as usize).copied()
    }

    /// The term at raft index `index`: an entry's, or the snapshot's at its
    /// last index (0 at index 0).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.entry(index).map(|e| e.term)
    }

    /// The lab index of raft index `index` (the snapshot's or later).
    pub fn lab_index(&self, index: u64) -> u64 {
        if index == self.snapshot_index {
            return self.snapshot_lab_index;
        }
        let i = index.checked_sub(self.snapshot_index + 1).expect("an index at or after the snapshot");
        self.lab_index[i as usize]
    }

    /// The raft index of the command at lab index `lab_index`, if the log
    /// holds it.
    pub fn command_index(&self, lab_index: u64) -> Option<u64> {
        let i = self.lab_index.partition_point(|l| *l < lab_index);
        let entry = self.entries.get(i)?;
        (self.lab_index[i] == lab_index && is_command(entry)).then_some(entry.index)
    }

    /// Whether the persisted state is what memory holds: its length, and
    /// its header.
    pub fn commit(&self) -> u64 {
        self.hard_state.commit
    }

    pub fn check_persisted(&self, raft_state: &[u8], snapshot: &[u8]) -> Result<(), String> {
        let fresh = self.entries.is_empty() && self.snapshot_index == 0 && self.hard_state == HardState::default();
        if raft_state.is_empty() && snapshot.is_empty() && fresh {
            return Ok(()); // nothing to persist yet
        }
        if raft_state.len() != self.persisted_len {
            return Err(format!(
                "the persisted raft state has {} bytes where the log in memory needs {}",
                raft_state.len(),
                self.persisted_len
            ));
        }
        let persisted = Header::decode(raft_state)?;
        if persisted != self.header() {
            return Err(format!("persisted {persisted:?}, in memory {:?}", self.header()));
        }
        let service_len = self.snapshot_data.len().saturating_sub(SNAPSHOT_PREFIX);
        if snapshot.len() != service_len {
            return Err(format!(
                "the persisted snapshot has {} bytes, the snapshot in memory {service_len}",
                snapshot.len()
            ));
        }
        Ok(())
    }
}

/// The (term, vote) a persisted raft state records; an empty or unreadable
/// one is (0, 0).
pub fn persisted_term_and_vote(raft_state: &[u8]) -> (u64, u64) {
    Header::decode(raft_state).map(|h| (h.term, h.vote)).unwrap_or((0, 0))
}

/// The last raft index a persisted raft state holds (`None` if it does not
/// decode), walking its entries without copying them.
pub fn persisted_last_index(raft_state: &[u8]) -> Option<u64> {
    let header = Header::decode(raft_state).ok()?;
    let (mut at, mut entries) = (HEADER_LEN, 0u64);
    while at < raft_state.len() {
        let len = raft_state.get(at + 9..at + ENTRY_OVERHEAD)?;
        let len = u32::from_le_bytes(len.try_into().expect("four bytes")) as usize;
        at = at.checked_add(ENTRY_OVERHEAD + len).filter(|end| *end <= raft_state.len())?;
        entries += 1;
    }
    header.snapshot_index.checked_add(entries)
}

/// The lab index a travelling snapshot ends at.
fn snapshot_lab_index(data: &[u8]) -> Result<u64, String> {
    let prefix = data.get(..SNAPSHOT_PREFIX).ok_or("a snapshot without its lab index")?;
    Ok(u64::from_le_bytes(prefix.try_into().expect("eight bytes")))
}

#[derive(Debug, PartialEq, Eq)]
struct Header {
    term: u64,
    vote: u64,
    commit: u64,
    snapshot_index: u64,
    snapshot_term: u64,
    snapshot_lab_index: u64,
}

impl Header {
    fn decode(state: &[u8]) -> Result<Header, String> {
        let header = state.get(..HEADER_LEN).ok_or_else(|| {
            format!("a raft state of {} bytes, shorter than the {HEADER_LEN}-byte header", state.len())
        })?;
        if &header[..8] != TAG {
            return Err("a raft state without this adapter's tag".into());
        }
        let word = |i: usize| u64::from_le_bytes(header[8 * i..8 * i + 8].try_into().expect("eight bytes"));
        Ok(Header {
            term: word(1),
            vote: word(2),
            commit: word(3),
            snapshot_index: word(4),
            snapshot_term: word(5),
            snapshot_lab_index: word(6),
        })
    }

    fn encode(&self, out: &mut [u8]) {
        out[..8].copy_from_slice(TAG);
        let words =
            [self.term, self.vote, self.commit, self.snapshot_index, self.snapshot_term, self.snapshot_lab_index];
        for (i, word) in words.into_iter().enumerate() {
            out[8 * (i + 1)..8 * (i + 2)].copy_from_slice(&word.to_le_bytes());
        }
    }
}

fn encode_entry(entry: &Entry, out: &mut Vec<u8>) {
    out.extend_from_slice(&entry.term.to_le_bytes());
    out.push(if is_command(entry) { KIND_COMMAND } else { KIND_OWN });
    out.extend_from_slice(&(entry.data.len() as u32).to_le_bytes());
    out.extend_from_slice(&entry.data);
}

/// Decodes the entry at raft index `index` from the start of `bytes`;
/// returns it and its encoded length.
fn decode_entry(bytes: &[u8], index: u64) -> Result<(Entry, usize), String> {
    let head = bytes.get(..ENTRY_OVERHEAD).ok_or("cut short")?;
    let term = u64::from_le_bytes(head[..8].try_into().expect("eight bytes"));
    let kind = head[8];
    let len = u32::from_le_bytes(head[9..13].try_into().expect("four bytes")) as usize;
    let data = bytes.get(ENTRY_OVERHEAD..ENTRY_OVERHEAD + len).ok_or("its data is cut short")?;
    let mut entry = Entry { term, index, data: Bytes::copy_from_slice(data), ..Entry::default() };
    match kind {
        KIND_OWN if data.is_empty() => {}
        KIND_COMMAND if data.is_empty() => entry.context = Bytes::from_static(EMPTY_COMMAND_MARK),
        KIND_COMMAND => {}
        _ => return Err(format!("unknown entry kind {kind} (or raft-rs's own entry with data)")),
    }
    Ok((entry, ENTRY_OVERHEAD + len))
}

impl raft_rs::Storage for LabLog {
    fn initial_state(&self) -> raft_rs::Result<RaftState> {
        Ok(RaftState::new(self.hard_state.clone(), self.conf_state.clone()))
    }

    fn entries(
        &self,
        low: u64,
        high: u64,
        max_size: impl Into<Option<u64>>,
        _context: GetEntriesContext,
    ) -> raft_rs::Result<Vec<Entry>> {
        if low <= self.snapshot_index {
            return Err(Error::Store(StorageError::Compacted));
        }
        if high > self.last_index() + 1 {
            return Err(Error::Store(StorageError::Unavailable));
        }
        let from = (low - self.snapshot_index - 1) as usize;
        let to = (high - self.snapshot_index - 1) as usize;
        let mut entries = self.entries[from..to].to_vec();
        raft_rs::util::limit_size(&mut entries, max_size.into());
        Ok(entries)
    }

    fn term(&self, index: u64) -> raft_rs::Result<u64> {
        if index < self.snapshot_index {
            return Err(Error::Store(StorageError::Compacted));
        }
        self.term_at(index).ok_or(Error::Store(StorageError::Unavailable))
    }

    fn first_index(&self) -> raft_rs::Result<u64> {
        Ok(self.snapshot_index + 1)
    }

    fn last_index(&self) -> raft_rs::Result<u64> {
        Ok(LabLog::last_index(self))
    }

    fn snapshot(&self, request_index: u64, _to: u64) -> raft_rs::Result<Snapshot> {
        if self.snapshot_index == 0 || self.snapshot_index < request_index {
            return Err(Error::Store(StorageError::SnapshotTemporarilyUnavailable));
        }
        let mut metadata =
            SnapshotMetadata { index: self.snapshot_index, term: self.snapshot_term, ..SnapshotMetadata::default() };
        metadata.set_conf_state(self.conf_state.clone());
        let mut snapshot = Snapshot { data: self.snapshot_data.clone(), ..Snapshot::default() };
        snapshot.set_metadata(metadata);
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: u64, term: u64, data: &[u8]) -> Entry {
        Entry { index, term, data: Bytes::copy_from_slice(data), ..Entry::default() }
    }

    #[test]
    fn lab_indices_skip_raft_rs_own_entries_and_survive_a_restart() {
        let mut log = LabLog::new(3);
        let mut state = Vec::new();
        let from = log.append(&[entry(1, 1, b""), entry(2, 1, b"a"), entry(3, 2, b""), entry(4, 2, b"b")]);
        log.set_commit(4);
        log.write_tail(&mut state, from);
        assert_eq!((log.lab_index(2), log.lab_index(3), log.lab_index(4)), (1, 1, 2));
        assert_eq!((log.command_index(1), log.command_index(2), log.command_index(3)), (Some(2), Some(4), None));
        let back = LabLog::decode(3, &state, b"").expect("decodes");
        assert_eq!(back.lab_index(4), 2);
        back.check_persisted(&state, b"").expect("what was written is what memory holds");
    }

    #[test]
    fn an_overwritten_suffix_is_rewritten_in_place() {
        let mut log = LabLog::new(3);
        let mut state = Vec::new();
        let from = log.append(&[entry(1, 1, b"a"), entry(2, 1, b"bb"), entry(3, 1, b"c")]);
        log.write_tail(&mut state, from);
        let from = log.append(&[entry(2, 2, b"x")]);
        assert_eq!(from, 1);
        log.write_tail(&mut state, from);
        let back = LabLog::decode(3, &state, b"").expect("decodes");
        assert_eq!((back.last_index(), back.term_at(2)), (2, Some(2)));
        back.check_persisted(&state, b"").expect("in line");
    }

    #[test]
    fn compaction_keeps_the_lab_numbering() {
        let mut log = LabLog::new(3);
        let mut state = Vec::new();
        log.append(&[entry(1, 1, b""), entry(2, 1, b"a"), entry(3, 2, b""), entry(4, 2, b"b")]);
        log.set_commit(4);
        log.compact(2, 1, b"snap");
        log.write_all(&mut state);
        assert_eq!((log.lab_index(2), log.lab_index(3), log.lab_index(4)), (1, 1, 2));
        let back = LabLog::decode(3, &state, b"snap").expect("decodes");
        assert_eq!((back.snapshot_index(), back.snapshot_lab_index(), back.command_index(2)), (2, 1, Some(4)));
        back.check_persisted(&state, b"snap").expect("in line");
    }

    #[test]
    fn a_leaders_snapshot_of_a_newer_term_leaves_no_vote_of_an_older_one() {
        let mut log = LabLog::new(3);
        log.set_hard_state(HardState { term: 2, vote: 3, commit: 0, ..HardState::default() });
        let mut data = 5u64.to_le_bytes().to_vec();
        data.extend_from_slice(b"service");
        let mut meta = SnapshotMetadata { index: 9, term: 4, ..SnapshotMetadata::default() };
        meta.set_conf_state(ConfState { voters: vec![1, 2, 3], ..ConfState::default() });
        let mut snapshot = Snapshot { data: data.into(), ..Snapshot::default() };
        snapshot.set_metadata(meta);
        let (lab_index, service) = log.install_snapshot(&snapshot).expect("readable");
        assert_eq!((lab_index, &service[..]), (5, &b"service"[..]));
        assert_eq!((log.hard_state().term, log.hard_state().vote, log.commit()), (4, 0, 9));
        let mut state = Vec::new();
        log.write_all(&mut state);
        let back = LabLog::decode(3, &state, b"service").expect("restarts");
        assert_eq!((back.snapshot_index(), back.snapshot_lab_index(), back.last_index()), (9, 5, 9));
    }

    #[test]
    fn corrupt_state_is_an_error() {
        assert!(LabLog::decode(3, b"garbage", b"").is_err());
        let mut log = LabLog::new(3);
        let mut state = Vec::new();
        log.append(&[entry(1, 1, b"abc")]);
        log.write_all(&mut state);
        state.truncate(state.len() - 1);
        let err = LabLog::decode(3, &state, b"").err().expect("a cut entry is refused");
        assert!(err.contains("cut short"), "{err}");
        let mut huge = Vec::new();
        LabLog::new(3).write_all(&mut huge);
        huge[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(LabLog::decode(3, &huge, b"").is_err(), "an absurd snapshot index is refused, not an overflow");
    }
}
