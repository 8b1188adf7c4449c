//! Configurations: which replica group owns which shard, and the servers of
//! each group. Configuration 0 has no groups and every shard on gid 0 (no
//! one). Keys map to shards by their first byte, as in the lab.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The number of shards.
pub const NSHARDS: usize = 10;

/// A replica group's id; 0 is "no group".
pub type Gid = u64;

/// The lab's `key2shard`: the first byte modulo the shard count ("" -> 0).
pub fn key2shard(key: &str) -> usize {
    key.as_bytes().first().map_or(0, |&b| b as usize % NSHARDS)
}

/// One numbered configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub num: u64,
    /// Shard -> the gid that owns it (0: none).
    pub shards: [Gid; NSHARDS],
    /// Gid -> the names of its servers, in order.
    pub groups: BTreeMap<Gid, Vec<String>>,
}

impl Config {
    /// How many shards each present group owns (0 for a group with none).
    pub fn shard_counts(&self) -> BTreeMap<Gid, usize> {
        let mut counts: BTreeMap<Gid, usize> = self.groups.keys().map(|&g| (g, 0)).collect();
        for gid in self.shards {
            if let Some(c) = counts.get_mut(&gid) {
                *c += 1;
            }
        }
        counts
    }

    /// The shards that `gid` owns.
    pub fn shards_of(&self, gid: Gid) -> impl Iterator<Item = usize> + '_ {
        (0..NSHARDS).filter(move |&s| self.shards[s] == gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_shards_by_their_first_byte() {
        assert_eq!(key2shard(""), 0);
        let digits: Vec<usize> = (0..10).map(|i| key2shard(&i.to_string())).collect();
        assert_eq!(digits, vec![8, 9, 0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(key2shard("15"), 9);
        assert_eq!(key2shard("20"), 0);
    }
}
