//! Raft's durable image: the bytes a persister keeps, and how they change.
//!
//! Layout: a fixed header (magic, current term, vote, snapshot index and term)
//! followed by one record per log entry after the snapshot (term, length,
//! command bytes), all little-endian. Raft keeps its own copy and emits
//! `StateDelta`s: the header plus "keep this many log bytes, then append
//! these", so persisting after an append costs the appended bytes, not the
//! whole log.

use crate::message::Entry;
use std::fmt;

const MAGIC: &[u8; 4] = b"RFT1";
pub const HEADER_LEN: usize = 4 + 8 * 4;
const NO_VOTE: u64 = u64::MAX;

/// The durable part of Raft's state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: u64,
    pub voted_for: Option<usize>,
    pub snapshot_index: u64,
    pub snapshot_term: u64,
}

impl HardState {
    /// The header of a durable image (`None` when it has none yet).
    #[inline]
    pub fn decode_header(image: &[u8]) -> Option<HardState> {
        let header = image.get(..HEADER_LEN)?;
        let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
        let vote = word(12);
        Some(HardState {
            term: word(4),
            voted_for: (vote != NO_VOTE).then_some(vote as usize),
            snapshot_index: word(20),
            snapshot_term: word(28),
        })
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..4].copy_from_slice(MAGIC);
        h[4..12].copy_from_slice(&self.term.to_le_bytes());
        h[12..20].copy_from_slice(&self.voted_for.map_or(NO_VOTE, |v| v as u64).to_le_bytes());
        h[20..28].copy_from_slice(&self.snapshot_index.to_le_bytes());
        h[28..36].copy_from_slice(&self.snapshot_term.to_le_bytes());
        h
    }
}

/// Appends one entry's record to `out`.
pub fn encode_entry(entry: &Entry, out: &mut Vec<u8>) {
    out.extend_from_slice(&entry.term.to_le_bytes());
    out.extend_from_slice(&(entry.command.len() as u32).to_le_bytes());
    out.extend_from_slice(&entry.command);
}

/// A change to the durable image, to be applied before any message that
/// depends on it is sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateDelta {
    pub header: [u8; HEADER_LEN],
    /// How many bytes of the log section (after the header) stay.
    pub log_keep: usize,
    /// Bytes appended after them.
    pub log_tail: Vec<u8>,
}

impl StateDelta {
    /// Applies the delta to an image in place.
    pub fn apply(&self, image: &mut Vec<u8>) {
        if image.len() < HEADER_LEN {
            image.resize(HEADER_LEN, 0);
        }
        assert!(image.len() >= HEADER_LEN + self.log_keep, "a delta keeps only bytes the image has");
        image.truncate(HEADER_LEN + self.log_keep);
        image.extend_from_slice(&self.log_tail);
        image[..HEADER_LEN].copy_from_slice(&self.header);
    }
}

/// What a durable image holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Restored {
    pub hard: HardState,
    pub entries: Vec<Entry>,
}

/// A durable image that cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StorageError {
    pub offset: usize,
    pub reason: String,
}

impl fmt::Display for StorageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt raft state at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for StorageError {}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"))
}

/// Decodes an image. An empty image is a fresh node.
pub fn decode(image: &[u8]) -> Result<Restored, StorageError> {
    if image.is_empty() {
        return Ok(Restored { hard: HardState::default(), entries: Vec::new() });
    }
    let err = |offset, reason: &str| Err(StorageError { offset, reason: reason.to_string() });
    if image.len() < HEADER_LEN || &image[..4] != MAGIC {
        return err(0, "no raft header");
    }
    let vote = u64_at(image, 12);
    let hard = HardState {
        term: u64_at(image, 4),
        voted_for: (vote != NO_VOTE).then_some(vote as usize),
        snapshot_index: u64_at(image, 20),
        snapshot_term: u64_at(image, 28),
    };
    // As many entries as the records a walk finds (a corrupt image is
    // found below, record by record).
    let records = last_index(image).map_or(0, |last| last - hard.snapshot_index);
    let mut entries = Vec::with_capacity(records as usize);
    let mut at = HEADER_LEN;
    while at < image.len() {
        if image.len() - at < 12 {
            return err(at, "truncated entry header");
        }
        let term = u64_at(image, at);
        let len = u32::from_le_bytes(image[at + 8..at + 12].try_into().expect("4 bytes")) as usize;
        if image.len() - at - 12 < len {
            return err(at, "truncated entry");
        }
        if term > hard.term {
            return err(at, "an entry's term is past the current term");
        }
        entries.push(Entry { term, command: image[at + 12..at + 12 + len].into() });
        at += 12 + len;
    }
    Ok(Restored { hard, entries })
}

/// The last log index an image holds (`None` if it does not decode), by
/// walking its records without copying them.
pub fn last_index(image: &[u8]) -> Option<u64> {
    let hard = HardState::decode_header(image)?;
    let mut at = HEADER_LEN;
    let mut entries = 0;
    while at < image.len() {
        let len = u32::from_le_bytes(image.get(at + 8..at + 12)?.try_into().expect("4 bytes")) as usize;
        at = at.checked_add(12 + len).filter(|end| *end <= image.len())?;
        entries += 1;
    }
    hard.snapshot_index.checked_add(entries) // a corrupt header may name any index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_deltas() {
        let hard = HardState { term: 5, voted_for: Some(2), snapshot_index: 10, snapshot_term: 4 };
        let entries = vec![Entry { term: 4, command: vec![1, 2].into() }, Entry { term: 5, command: vec![].into() }];
        let mut log = Vec::new();
        for e in &entries {
            encode_entry(e, &mut log);
        }
        let mut image = Vec::new();
        StateDelta { header: hard.encode(), log_keep: 0, log_tail: log.clone() }.apply(&mut image);
        assert_eq!(decode(&image).unwrap(), Restored { hard: hard.clone(), entries: entries.clone() });
        // Drop the last entry (14 + 12 bytes kept = the first record).
        StateDelta { header: hard.encode(), log_keep: 14, log_tail: vec![] }.apply(&mut image);
        assert_eq!(decode(&image).unwrap().entries, entries[..1].to_vec());
        assert_eq!(last_index(&image), Some(11));
        assert_eq!(last_index(&image[..image.len() - 1]), None, "a cut record");
    }

    #[test]
    fn corrupt_images_are_errors_not_panics() {
        assert!(decode(b"garbage").is_err());
        let mut image = HardState { term: 1, ..HardState::default() }.encode().to_vec();
        image.extend_from_slice(&[1, 0, 0]);
        let e = decode(&image).unwrap_err();
        assert_eq!(e.offset, HEADER_LEN);
        assert!(e.to_string().contains("corrupt raft state"));
        assert_eq!(decode(&[]).unwrap().hard, HardState::default());
    }
}
