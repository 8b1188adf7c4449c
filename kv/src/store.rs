//! The replicated state: the key/value map and, per client, the sequence
//! number of its last applied operation (the duplicate table). Both go into
//! snapshots, so a restarted or lagging server still applies each write once.
//!
//! Only writes need the table: a Get changes nothing, so applying a retried
//! Get again, later but still within the clerk's wait, is linearizable.

use crate::rpc::{Op, Request};
use bugs::{on, Bug};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The most bytes a snapshot decodes into (a bound, not a size).
pub const SNAPSHOT_LIMIT: usize = 1 << 30;

/// The bincode encoding of a value, written into a buffer of the exact size
/// (growing one copies a large snapshot several times).
pub fn encode_exact<T: Serialize>(value: &T) -> Vec<u8> {
    let config = bincode::config::standard();
    let mut size = bincode::enc::write::SizeWriter::default();
    bincode::serde::encode_into_writer(value, &mut size, config).expect("values encode");
    let mut bytes = Vec::with_capacity(size.bytes_written);
    bincode::serde::encode_into_std_write(value, &mut bytes, config).expect("values encode");
    debug_assert_eq!(bytes.len(), size.bytes_written);
    bytes
}

/// A value from its whole bincode encoding (nothing left over); an error
/// naming `what`, never a panic, when the bytes are corrupt. No length in
/// them may claim more than `SNAPSHOT_LIMIT` bytes.
pub fn decode_exact<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, String> {
    match bincode::serde::decode_from_slice(bytes, bincode::config::standard().with_limit::<SNAPSHOT_LIMIT>()) {
        Ok((value, used)) if used == bytes.len() => Ok(value),
        Ok((_, used)) => Err(format!("corrupt {what}: {} bytes left over after {used}", bytes.len() - used)),
        Err(e) => Err(format!("corrupt {what}: {e}")),
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Store {
    data: BTreeMap<String, String>,
    /// Client id -> the highest sequence number applied for it.
    last_seq: BTreeMap<u64, u64>,
}

/// What applying a request did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// A Put or Append that changed the map.
    Written,
    /// A Put or Append that was applied before (a retry): no effect.
    Duplicate,
    /// A Get: nothing changed; its value is read with `get`.
    Read,
}

impl Store {
    /// Applies a committed request, once for writes.
    pub fn apply(&mut self, request: &Request) -> Applied {
        let last = self.last_seq.entry(request.client).or_insert(0);
        let fresh = if on(Bug::KvNoDuplicateDetection) || on(Bug::KvDupCheckOnlyAtSubmit) {
            true
        } else if on(Bug::KvDupCheckEqualOnly) {
            request.seq != *last
        } else {
            request.seq > *last
        };
        if fresh {
            *last = request.seq;
        }
        match &request.op {
            Op::Get { .. } => Applied::Read,
            _ if !fresh => Applied::Duplicate,
            Op::Put { key, value } => {
                self.data.insert(key.clone(), value.clone());
                Applied::Written
            }
            Op::Append { key, value } => {
                self.data.entry(key.clone()).or_default().push_str(value);
                Applied::Written
            }
        }
    }

    /// Whether this client's write `seq` has been applied already.
    pub fn is_applied(&self, client: u64, seq: u64) -> bool {
        if on(Bug::KvNoDuplicateDetection) {
            return false;
        }
        self.last_seq.get(&client).is_some_and(|last| seq <= *last)
    }

    /// Forgets which writes were applied (only
    /// `Bug::ShardMigratesWithoutDupTable` sends a shard without them).
    pub fn forget_duplicates(&mut self) {
        self.last_seq.clear();
    }

    /// A key's value; the empty string for a key never written.
    pub fn get(&self, key: &str) -> &str {
        self.data.get(key).map_or("", String::as_str)
    }

    pub fn keys(&self) -> usize {
        self.data.len()
    }

    /// The snapshot bytes, written into a buffer of the exact size (growing
    /// one would copy a large store several times).
    pub fn encode(&self) -> Vec<u8> {
        if on(Bug::KvDupTableNotInSnapshot) {
            return encode_exact(&Store { data: self.data.clone(), last_seq: BTreeMap::new() });
        }
        encode_exact(self)
    }

    /// A store from a snapshot; an error (never a panic) when it is corrupt.
    /// No length in it may claim more than the snapshot holds (a corrupt
    /// length would otherwise allocate first and fail after, or abort).
    pub fn decode(bytes: &[u8]) -> Result<Store, String> {
        decode_exact(bytes, "kv snapshot")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_lengths_are_errors_not_panics() {
        // A map claiming 2^64 - 1 entries; a key claiming 2^64 - 1 bytes.
        let huge = [253, 255, 255, 255, 255, 255, 255, 255, 255];
        assert!(Store::decode(&huge).is_err());
        let key_too_long: Vec<u8> = [&[1][..], &huge].concat();
        assert!(Store::decode(&key_too_long).unwrap_err().starts_with("corrupt kv snapshot"));
        let mut store = Store::default();
        store.apply(&Request { client: 1, seq: 1, op: Op::Put { key: "k".into(), value: "v".into() } });
        let mut bytes = store.encode();
        bytes.push(0);
        assert!(Store::decode(&bytes).unwrap_err().contains("left over"));
    }
}
