//! The shard controller's configuration changes: Join, Leave and Move, each
//! making the next configuration from the previous one.
//!
//! Rebalancing is a pure function of the previous shards and the set of
//! groups (no map-order dependence: groups are visited in gid order), so
//! every replica computes the same configuration. It spreads shards as
//! evenly as possible (counts differ by at most one) and moves as few as
//! possible: the groups that hold the most shards keep the larger quotas,
//! shards are taken only from groups above their quota (or from groups that
//! left), and given only to groups below it.

use crate::config::{Config, Gid, NSHARDS};
use std::collections::{BTreeMap, BTreeSet};

/// Adds groups (gid -> servers) and rebalances.
pub fn join(prev: &Config, servers: &BTreeMap<Gid, Vec<String>>) -> Config {
    let mut next = successor(prev);
    for (&gid, names) in servers {
        assert_ne!(gid, 0, "gid 0 means no group");
        next.groups.insert(gid, names.clone());
    }
    rebalance(&mut next);
    next
}

/// Removes groups and gives their shards to the others; with no group
/// left, every shard goes to gid 0.
pub fn leave(prev: &Config, gids: &[Gid]) -> Config {
    let mut next = successor(prev);
    for gid in gids {
        next.groups.remove(gid);
    }
    rebalance(&mut next);
    next
}

/// Gives one shard to one group, without rebalancing.
pub fn move_shard(prev: &Config, shard: usize, gid: Gid) -> Config {
    assert!(shard < NSHARDS, "shard {shard} out of range");
    let mut next = successor(prev);
    next.shards[shard] = gid;
    next
}

fn successor(prev: &Config) -> Config {
    Config { num: prev.num + 1, ..prev.clone() }
}

/// Each group's quota: `NSHARDS / groups`, one more for the first
/// `NSHARDS % groups` groups in order of shards held (most first, then gid).
fn quotas(config: &Config) -> BTreeMap<Gid, usize> {
    let counts = config.shard_counts();
    let mut by_holding: Vec<(Gid, usize)> = counts.into_iter().collect();
    by_holding.sort_by_key(|&(gid, held)| (std::cmp::Reverse(held), gid));
    let n = by_holding.len();
    let (base, extra) = (NSHARDS / n, NSHARDS % n);
    by_holding.iter().enumerate().map(|(rank, &(gid, _))| (gid, base + usize::from(rank < extra))).collect()
}

fn rebalance(config: &mut Config) {
    if config.groups.is_empty() {
        config.shards = [0; NSHARDS];
        return;
    }
    let quota = quotas(config);
    let present: BTreeSet<Gid> = config.groups.keys().copied().collect();
    // Free the shards of absent groups, and the excess of groups over quota
    // (their highest shards).
    let mut kept: BTreeMap<Gid, usize> = BTreeMap::new();
    let mut free = Vec::new();
    for shard in 0..NSHARDS {
        let gid = config.shards[shard];
        let held = kept.entry(gid).or_insert(0);
        if present.contains(&gid) && *held < quota[&gid] {
            *held += 1;
        } else {
            free.push(shard);
        }
    }
    // Give them to the groups under quota, in gid order.
    let mut free = free.into_iter();
    for (&gid, &want) in &quota {
        for _ in kept.get(&gid).copied().unwrap_or(0)..want {
            let shard = free.next().expect("quotas add up to the shard count");
            config.shards[shard] = gid;
        }
    }
    debug_assert!(free.next().is_none(), "every freed shard found a group");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn group(gid: Gid) -> BTreeMap<Gid, Vec<String>> {
        BTreeMap::from([(gid, vec![format!("server-{gid}-0")])])
    }

    fn counts(config: &Config) -> Vec<usize> {
        config.shard_counts().into_values().collect()
    }

    #[test]
    fn a_fourth_group_takes_shards_only_from_groups_with_too_many() {
        // 3, 4, 3 on gids 1, 2, 3.
        let prev = Config { num: 5, shards: [1, 1, 1, 2, 2, 2, 2, 3, 3, 3], groups: (1..=3).flat_map(group).collect() };
        let next = join(&prev, &group(4));
        assert_eq!(next.num, 6);
        // gid 2 gives up its fourth; of the 3s, gid 1 (lowest gid) keeps a third.
        assert_eq!(counts(&next), vec![3, 3, 2, 2]);
        let moved: Vec<usize> = (0..NSHARDS).filter(|&s| prev.shards[s] != next.shards[s]).collect();
        assert_eq!(moved.len(), 2, "{next:?}");
        assert!(moved.iter().all(|&s| next.shards[s] == 4));
    }

    #[test]
    fn the_first_join_takes_every_shard_and_the_last_leave_gives_them_to_no_one() {
        let first = join(&Config::default(), &group(7));
        assert_eq!(first.shards, [7; NSHARDS]);
        let none = leave(&first, &[7]);
        assert_eq!((none.num, none.shards, none.groups.len()), (2, [0; NSHARDS], 0));
    }

    #[test]
    fn move_changes_one_shard_and_keeps_the_rest() {
        let two = join(&join(&Config::default(), &group(1)), &group(2));
        let moved = move_shard(&two, 0, 2);
        assert_eq!(moved.num, 3);
        assert_eq!(moved.shards[0], 2);
        assert_eq!(moved.shards[1..], two.shards[1..]);
    }

    #[test]
    fn more_groups_than_shards_leaves_some_with_none() {
        let mut config = Config::default();
        for gid in 1..=12 {
            config = join(&config, &group(gid));
        }
        assert!(counts(&config).iter().all(|&c| c <= 1));
        assert_eq!(counts(&config).iter().sum::<usize>(), NSHARDS);
    }

    #[derive(Clone, Debug)]
    enum Change {
        Join(Vec<Gid>),
        Leave(Vec<Gid>),
    }

    fn change() -> impl Strategy<Value = Change> {
        let gids = proptest::collection::vec(1u64..=14, 1..4);
        prop_oneof![gids.clone().prop_map(Change::Join), gids.prop_map(Change::Leave)]
    }

    proptest! {
        /// After any sequence of joins and leaves: every shard on a present
        /// group, counts within one of each other; a join moves shards only
        /// to the groups that joined, a leave only the leaving groups' shards.
        #[test]
        fn rebalancing_is_even_and_moves_only_what_must_move(changes in proptest::collection::vec(change(), 1..25)) {
            let mut config = Config::default();
            for change in changes {
                let next = match &change {
                    Change::Join(gids) => join(&config, &gids.iter().flat_map(|&g| group(g)).collect()),
                    Change::Leave(gids) => leave(&config, gids),
                };
                prop_assert_eq!(next.num, config.num + 1);
                let c = counts(&next);
                if next.groups.is_empty() {
                    prop_assert_eq!(next.shards, [0; NSHARDS]);
                } else {
                    prop_assert!(next.shards.iter().all(|g| next.groups.contains_key(g)));
                    prop_assert!(c.iter().max().unwrap() - c.iter().min().unwrap() <= 1, "{:?}", next);
                }
                for s in 0..NSHARDS {
                    let (from, to) = (config.shards[s], next.shards[s]);
                    if from == to {
                        continue;
                    }
                    match &change {
                        // Only new groups gain shards.
                        Change::Join(_) => prop_assert!(!config.groups.contains_key(&to), "{:?} -> {:?}", config, next),
                        // Only a leaving (or no) group's shards move.
                        Change::Leave(gids) => prop_assert!(from == 0 || gids.contains(&from), "{:?} -> {:?}", config, next),
                    }
                }
                config = next;
            }
        }
    }
}
