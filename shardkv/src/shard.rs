//! What a group holds of one shard: its data and duplicate table (a
//! `kv::Store`, which moves whole between groups, so operations stay
//! exactly-once across moves), and where the shard stands.

use kv::Store;
use serde::{Deserialize, Serialize};

/// Where a shard stands in a group, in the group's current configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    /// Not this group's, and nothing of it held.
    #[default]
    Absent,
    /// This group's, and here: served.
    Serving,
    /// This group's, but its data is still with the previous owner.
    Pulling,
    /// No longer this group's: frozen until the new owner has it, then
    /// deleted.
    Leaving,
    /// Pulled in and served, but the previous owner has not yet been told
    /// to delete its copy.
    Confirming,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub status: Status,
    pub store: Store,
}

impl Shard {
    /// Whether the group answers operations on this shard.
    pub fn serves(&self) -> bool {
        match self.status {
            Status::Serving | Status::Confirming => true,
            Status::Pulling => bugs::on(bugs::Bug::ShardServesBeforeArrival),
            Status::Leaving => bugs::on(bugs::Bug::ShardServesAfterLeaving),
            Status::Absent => false,
        }
    }

    /// Whether nothing about this shard is in motion.
    pub fn is_settled(&self) -> bool {
        matches!(self.status, Status::Serving | Status::Absent)
    }
}
