//! A shardkv group's replicated state: its current and previous
//! configuration and what it holds of every shard. Configurations are
//! applied one at a time, in order, and only once every shard has settled
//! from the previous one; shards move by entries in the log, so every
//! replica of the group sees the same moves at the same points.

use crate::config::{key2shard, Config, Gid, NSHARDS};
use crate::rpc::{Entry, FetchReply, ShardReply};
use crate::shard::{Shard, Status};
use bugs::{on, Bug};
use kv::store::{decode_exact, encode_exact};
use kv::{Op, Outcome, Service};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    gid: Gid,
    config: Config,
    previous: Config,
    shards: Vec<Shard>,
    /// Counts the shard and configuration changes applied, so a server sees
    /// at a glance that there is new migration work.
    changes: u64,
    /// How many shards this group has pulled in from others.
    shards_pulled: u64,
}

impl Group {
    pub fn new(gid: Gid) -> Group {
        assert_ne!(gid, 0, "gid 0 means no group");
        Group {
            gid,
            config: Config::default(),
            previous: Config::default(),
            shards: vec![Shard::default(); NSHARDS],
            changes: 0,
            shards_pulled: 0,
        }
    }

    pub fn gid(&self) -> Gid {
        self.gid
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn previous(&self) -> &Config {
        &self.previous
    }

    pub fn shard(&self, shard: usize) -> &Shard {
        &self.shards[shard]
    }

    pub fn changes(&self) -> u64 {
        self.changes
    }

    pub fn shards_pulled(&self) -> u64 {
        self.shards_pulled
    }

    /// No shard in motion: the next configuration may be applied.
    pub fn is_settled(&self) -> bool {
        self.shards.iter().all(Shard::is_settled)
    }

    /// Whether the group serves `key` now.
    pub fn serves(&self, key: &str) -> bool {
        self.shards[key2shard(key)].serves()
    }

    /// A shard as it stood when it left this group in configuration
    /// `config`, for its new owner: frozen since, so any replica that
    /// applied that configuration gives the same copy.
    pub fn fetch(&self, config: u64, shard: usize) -> FetchReply {
        let held = &self.shards[shard];
        if config == self.config.num && held.status == Status::Leaving {
            let mut store = held.store.clone();
            if on(Bug::ShardMigratesWithoutDupTable) {
                store.forget_duplicates();
            }
            FetchReply::Shard(store)
        } else {
            FetchReply::NotReady
        }
    }

    fn apply_client(&mut self, request: &kv::Request, answer: bool) -> Option<ShardReply> {
        let shard = &mut self.shards[key2shard(request.op.key())];
        if !shard.serves() && !on(Bug::ShardOwnershipCheckedAtSubmit) {
            return answer.then_some(ShardReply::WrongGroup);
        }
        shard.store.apply(request);
        answer.then(|| {
            let outcome = match &request.op {
                Op::Get { key } => Outcome::Value(shard.store.get(key).to_string()),
                _ => Outcome::Done,
            };
            ShardReply::Ok { outcome, config: self.config.num }
        })
    }

    /// Moves to the next configuration: shards this group keeps are served,
    /// shards it gains are pulled (or start empty when no one had them),
    /// shards it loses are frozen for their new owner.
    fn apply_config(&mut self, next: &Config) {
        let in_order =
            next.num == self.config.num + 1 || (on(Bug::ShardSkipsConfigurations) && next.num > self.config.num);
        if !in_order || !self.is_settled() {
            return; // a duplicate, or one whose time has not come
        }
        for (s, shard) in self.shards.iter_mut().enumerate() {
            let (was, now) = (self.config.shards[s] == self.gid, next.shards[s] == self.gid);
            shard.status = match (was, now) {
                (true, true) => Status::Serving,
                (false, true) if self.config.shards[s] == 0 => Status::Serving,
                (false, true) => Status::Pulling,
                // With no group left to take it, the shard is dropped.
                (true, false) if next.shards[s] == 0 => Status::Absent,
                (true, false) => Status::Leaving,
                (false, false) => Status::Absent,
            };
            if shard.status == Status::Absent && !on(Bug::ShardNeverDeletes) {
                shard.store = kv::Store::default();
            }
        }
        self.previous = std::mem::replace(&mut self.config, next.clone());
        self.changes += 1;
    }

    /// Moves shard `s` from status `from` to `to` if the entry is for the
    /// current configuration and the shard is where it expects.
    fn step_shard(&mut self, config: u64, s: usize, from: Status, to: Status) -> bool {
        let shard = &mut self.shards[s];
        if config != self.config.num || shard.status != from {
            return false;
        }
        shard.status = to;
        self.changes += 1;
        true
    }

    fn apply_entry(&mut self, entry: Entry, answer: bool) -> Option<ShardReply> {
        match entry {
            Entry::Client(request) => return self.apply_client(&request, answer),
            Entry::Config(next) => self.apply_config(&next),
            Entry::Install { config, shard, store } => {
                if self.step_shard(config, shard, Status::Pulling, Status::Confirming) {
                    self.shards[shard].store =
                        if on(Bug::ShardMigratesWithoutData) { kv::Store::default() } else { store };
                    self.shards_pulled += 1;
                }
            }
            Entry::Delete { config, shard } => {
                if self.step_shard(config, shard, Status::Leaving, Status::Absent) && !on(Bug::ShardNeverDeletes) {
                    self.shards[shard].store = kv::Store::default();
                }
                let done = config <= self.config.num;
                return answer.then_some(if done { ShardReply::Deleted } else { ShardReply::NotReady });
            }
            Entry::Confirmed { config, shard } => {
                self.step_shard(config, shard, Status::Confirming, Status::Serving);
            }
            Entry::Noop => {}
        }
        answer.then_some(ShardReply::Deleted)
    }
}

impl Service for Group {
    type Request = Entry;
    type Reply = ShardReply;
    const WRONG_LEADER: ShardReply = ShardReply::WrongLeader;
    const TIMED_OUT: ShardReply = ShardReply::TimedOut;

    fn apply(&mut self, _index: u64, command: &[u8], answer: bool) -> Result<Option<ShardReply>, String> {
        let entry: Entry = decode_exact(command, "shardkv entry")?;
        Ok(self.apply_entry(entry, answer))
    }

    fn encode_request(entry: &Entry) -> Vec<u8> {
        encode_exact(entry)
    }

    /// A retried write already applied to a shard served here is answered
    /// from the shard's table; a deletion already done, at once.
    fn answer_at_once(&self, entry: &Entry) -> Option<ShardReply> {
        match entry {
            Entry::Client(request) => {
                let shard = &self.shards[key2shard(request.op.key())];
                let is_write = !matches!(request.op, Op::Get { .. });
                (is_write && shard.serves() && shard.store.is_applied(request.client, request.seq))
                    .then_some(ShardReply::Ok { outcome: Outcome::Done, config: self.config.num })
            }
            Entry::Delete { config, shard } => {
                let done = *config < self.config.num
                    || (*config == self.config.num && self.shards[*shard].status != Status::Leaving);
                done.then_some(ShardReply::Deleted)
            }
            _ => None,
        }
    }

    /// A Get reads: with a read path on, the Raft confirms it, and it is
    /// answered from the state the applies before the confirmation left,
    /// ownership included. A shard this group does not serve at that
    /// moment (not yet arrived, or gone to its new owner) answers
    /// WrongGroup, as the entry would have when applied.
    fn read_locally(&self, entry: &Entry) -> Option<ShardReply> {
        let Entry::Client(request) = entry else { return None };
        let Op::Get { key } = &request.op else { return None };
        let shard = &self.shards[key2shard(key)];
        if !shard.serves() && !on(Bug::ShardReadWithoutOwnership) {
            return Some(ShardReply::WrongGroup);
        }
        let outcome = Outcome::Value(shard.store.get(key).to_string());
        Some(ShardReply::Ok { outcome, config: self.config.num })
    }

    fn is_read(entry: &Entry) -> bool {
        matches!(entry, Entry::Client(request) if matches!(request.op, Op::Get { .. }))
    }

    fn decode(snapshot: &[u8]) -> Result<Group, String> {
        let group: Group = decode_exact(snapshot, "shardkv snapshot")?;
        if group.shards.len() != NSHARDS {
            return Err(format!("corrupt shardkv snapshot: {} shards", group.shards.len()));
        }
        Ok(group)
    }

    fn encode(&self) -> Vec<u8> {
        encode_exact(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rebalance;
    use std::collections::BTreeMap;

    fn apply(group: &mut Group, entry: Entry) -> Option<ShardReply> {
        Service::apply(group, 1, &encode_exact(&entry), true).expect("entries decode")
    }

    fn join(prev: &Config, gid: Gid) -> Config {
        rebalance::join(prev, &BTreeMap::from([(gid, vec![format!("server-{gid}-0")])]))
    }

    fn put(client: u64, seq: u64, key: &str, value: &str) -> Entry {
        Entry::Client(kv::Request { client, seq, op: Op::Put { key: key.into(), value: value.into() } })
    }

    fn statuses(group: &Group) -> Vec<Status> {
        group.shards.iter().map(|s| s.status).collect()
    }

    #[test]
    fn a_shard_moves_by_pull_install_delete_and_confirm() {
        let c1 = join(&Config::default(), 100);
        let c2 = join(&c1, 101);
        let (mut old, mut new) = (Group::new(100), Group::new(101));
        apply(&mut old, Entry::Config(c1.clone()));
        apply(&mut new, Entry::Config(c1.clone()));
        assert!(
            old.is_settled() && statuses(&old).iter().all(|s| *s == Status::Serving),
            "from no one: served at once"
        );
        let key = "9"; // shard 7
        let s = key2shard(key);
        assert!(matches!(apply(&mut old, put(7, 1, key, "v")), Some(ShardReply::Ok { config: 1, .. })));
        assert_eq!(apply(&mut new, put(7, 1, key, "v")), Some(ShardReply::WrongGroup));

        apply(&mut old, Entry::Config(c2.clone()));
        apply(&mut new, Entry::Config(c2.clone()));
        let moving: Vec<usize> = c2.shards_of(101).collect();
        assert!(moving.contains(&s), "{c2:?}");
        assert_eq!(old.shard(s).status, Status::Leaving);
        assert_eq!(new.shard(s).status, Status::Pulling);
        assert!(!old.is_settled() && !new.is_settled());
        assert_eq!(apply(&mut old, put(7, 2, key, "w")), Some(ShardReply::WrongGroup), "frozen once leaving");
        assert_eq!(new.fetch(2, s), FetchReply::NotReady, "the new owner holds nothing to give");
        assert_eq!(old.fetch(1, s), FetchReply::NotReady, "only for the configuration it left in");
        let FetchReply::Shard(store) = old.fetch(2, s) else { panic!("the old owner gives the frozen shard") };

        apply(&mut new, Entry::Install { config: 1, shard: s, store: store.clone() });
        assert_eq!(new.shard(s).status, Status::Pulling, "an install for another configuration is ignored");
        apply(&mut new, Entry::Install { config: 2, shard: s, store: store.clone() });
        assert_eq!(new.shard(s).status, Status::Confirming);
        assert_eq!(new.shards_pulled(), 1);
        // The duplicate table came along: the retried Put is not applied
        // again, and is answered from the table.
        assert!(new.answer_at_once(&put(7, 1, key, "v")).is_some());
        assert!(matches!(apply(&mut new, put(8, 1, key, "x")), Some(ShardReply::Ok { config: 2, .. })));

        assert_eq!(apply(&mut old, Entry::Delete { config: 2, shard: s }), Some(ShardReply::Deleted));
        assert_eq!(old.shard(s), &Shard::default(), "deleted");
        assert_eq!(old.answer_at_once(&Entry::Delete { config: 2, shard: s }), Some(ShardReply::Deleted));
        apply(&mut new, Entry::Confirmed { config: 2, shard: s });
        assert_eq!(new.shard(s).status, Status::Serving);
    }

    #[test]
    fn a_configuration_waits_until_every_shard_settled() {
        let c1 = join(&Config::default(), 100);
        let c2 = join(&c1, 101);
        let c3 = join(&c2, 102);
        let mut new = Group::new(101);
        apply(&mut new, Entry::Config(c1.clone()));
        apply(&mut new, Entry::Config(c3.clone()));
        assert_eq!(new.config().num, 1, "configurations are applied in order");
        apply(&mut new, Entry::Config(c2.clone()));
        assert_eq!(new.config().num, 2);
        apply(&mut new, Entry::Config(c3.clone()));
        assert_eq!(new.config().num, 2, "shards still being pulled");
        assert_eq!(apply(&mut new, Entry::Delete { config: 3, shard: 0 }), Some(ShardReply::NotReady));
    }

    #[test]
    fn snapshots_round_trip_and_corrupt_ones_are_errors() {
        let mut group = Group::new(100);
        apply(&mut group, Entry::Config(join(&Config::default(), 100)));
        apply(&mut group, put(1, 1, "k", "v"));
        assert_eq!(Group::decode(&group.encode()), Ok(group.clone()));
        let bytes = group.encode();
        assert!(Group::decode(&bytes[..bytes.len() - 1]).unwrap_err().starts_with("corrupt shardkv snapshot"));
        assert!(Service::apply(&mut group, 9, b"\xff", true).is_err());
    }
}
