//! The optimisations of Raft a run may switch on: each is named, each is
//! off in the faithful lab runs unless an implementation runs it by
//! default, and the lab hands a peer the set its run switched on in
//! [`PeerConfig::optimisations`](crate::PeerConfig::optimisations).
//!
//! An implementation says which it honours (the lab refuses to switch on
//! one it would ignore) and which it runs by default; see
//! `scenarios::Implementation`.

use std::fmt;

/// One optimisation beyond Figure 2. More will come (reads without the
/// log, batching, pipelining, asynchronous persistence), so a match on it
/// needs a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Optimisation {
    /// PreVote (the Raft thesis, 9.6): before a campaign, a peer asks
    /// whether a majority would vote for it in the next term, without
    /// changing any term; only then does it campaign.
    PreVote,
    /// CheckQuorum (the thesis, 6.2 and 4.2.3): a leader that has not heard
    /// from a majority within an election timeout steps down, and a
    /// follower that heard from its leader within its election timeout (a
    /// leader: from a majority) ignores vote requests of higher terms.
    CheckQuorum,
    /// ReadIndex (the thesis, 6.4): a leader serves a read without a log
    /// entry once an entry of its own term has committed, by noting its
    /// commit index, confirming with a round of messages to a majority
    /// that it still leads, and waiting until it has applied that index.
    ReadIndex,
    /// Lease reads (the thesis, 6.4.1): a leader that a majority confirmed
    /// within a lease shorter than the minimum election timeout (by the
    /// clock-drift bound) serves reads at once; followers refuse votes
    /// within their election timeout of hearing from it, so no other
    /// leader can commit before the lease ends. Outside the lease, reads
    /// take a ReadIndex round, which renews it.
    LeaseRead,
    /// Follower reads (TiKV's, after the thesis's 6.4): a follower serves
    /// a read by asking its leader for a read index (which the leader
    /// confirms as for ReadIndex) and waiting until it has applied that
    /// index itself.
    FollowerRead,
}

impl Optimisation {
    /// Every optimisation, in a fixed order.
    pub const ALL: &'static [Optimisation] = &[
        Optimisation::PreVote,
        Optimisation::CheckQuorum,
        Optimisation::ReadIndex,
        Optimisation::LeaseRead,
        Optimisation::FollowerRead,
    ];

    /// Its name on the command line (`pre_vote`).
    ///
    /// ```
    /// assert_eq!(contract::Optimisation::CheckQuorum.name(), "check_quorum");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Optimisation::PreVote => "pre_vote",
            Optimisation::CheckQuorum => "check_quorum",
            Optimisation::ReadIndex => "read_index",
            Optimisation::LeaseRead => "lease_read",
            Optimisation::FollowerRead => "follower_read",
        }
    }

    /// What it does, in one line.
    pub fn what(self) -> &'static str {
        match self {
            Optimisation::PreVote => "a peer campaigns only after a majority says it would vote for it (thesis 9.6)",
            Optimisation::CheckQuorum => {
                "a leader out of touch with a majority steps down; a led follower ignores votes (thesis 6.2, 4.2.3)"
            }
            Optimisation::ReadIndex => "a leader serves reads after a round confirms it leads, without a log entry (thesis 6.4)",
            Optimisation::LeaseRead => {
                "a leader serves reads at once within a lease a majority granted, shortened by the drift bound (thesis 6.4.1)"
            }
            Optimisation::FollowerRead => {
                "a follower serves reads once it has applied a read index its leader confirmed (TiKV's follower read)"
            }
        }
    }

    fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// A set of [`Optimisation`]s, written as their names joined by commas
/// (`none` for the empty set).
///
/// ```
/// use contract::{Optimisation, Optimisations};
/// let both = Optimisations::parse("check_quorum,pre_vote").unwrap();
/// assert!(both.contains(Optimisation::PreVote) && both.contains(Optimisation::CheckQuorum));
/// assert_eq!(both.to_string(), "pre_vote,check_quorum");
/// assert_eq!(Optimisations::parse("none").unwrap(), Optimisations::NONE);
/// assert!(Optimisations::parse("fast_paxos").is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Optimisations(u32);

impl Optimisations {
    /// The empty set: Figure 2 as written.
    pub const NONE: Optimisations = Optimisations(0);

    /// The set of exactly these.
    pub const fn of(list: &[Optimisation]) -> Optimisations {
        let mut bits = 0;
        let mut i = 0;
        while i < list.len() {
            bits |= 1 << list[i] as u32;
            i += 1;
        }
        Optimisations(bits)
    }

    /// Whether `o` is in the set.
    pub fn contains(self, o: Optimisation) -> bool {
        self.0 & o.bit() != 0
    }

    /// Whether every member of `self` is in `other`.
    pub fn is_subset(self, other: Optimisations) -> bool {
        self.0 & !other.0 == 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The set with `o` added.
    pub fn with(self, o: Optimisation) -> Optimisations {
        Optimisations(self.0 | o.bit())
    }

    /// The members, in [`Optimisation::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = Optimisation> {
        Optimisation::ALL.iter().copied().filter(move |o| self.contains(*o))
    }

    /// Every subset of `self`, the empty set first (for runs that try each
    /// combination).
    pub fn subsets(self) -> Vec<Optimisations> {
        let members: Vec<Optimisation> = self.iter().collect();
        (0..1u32 << members.len())
            .map(|mask| {
                let chosen = members.iter().enumerate().filter(|(k, _)| mask & (1 << k) != 0);
                chosen.fold(Optimisations::NONE, |set, (_, o)| set.with(*o))
            })
            .collect()
    }

    /// Parses names joined by commas (or `none`); an unknown name is an
    /// error that lists the known ones.
    pub fn parse(text: &str) -> Result<Optimisations, String> {
        let text = text.trim();
        if text == "none" {
            return Ok(Optimisations::NONE);
        }
        text.split(',').map(str::trim).try_fold(Optimisations::NONE, |set, name| {
            let found = Optimisation::ALL.iter().find(|o| o.name() == name);
            found.map(|o| set.with(*o)).ok_or_else(|| {
                let known: Vec<&str> = Optimisation::ALL.iter().map(|o| o.name()).collect();
                format!("unknown optimisation '{name}' (known: {}, or none)", known.join(", "))
            })
        })
    }
}

impl fmt::Display for Optimisations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.iter().map(Optimisation::name).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_are_every_combination_once() {
        let all = Optimisations::of(Optimisation::ALL);
        let subsets = all.subsets();
        assert_eq!(subsets.len(), 1 << Optimisation::ALL.len());
        assert_eq!(subsets[0], Optimisations::NONE);
        assert!(subsets.iter().all(|s| s.is_subset(all)));
        for (i, a) in subsets.iter().enumerate() {
            assert!(subsets[i + 1..].iter().all(|b| b != a), "{a} twice");
        }
    }

    #[test]
    fn a_name_list_round_trips_and_rejects_empty_names() {
        for set in Optimisations::of(Optimisation::ALL).subsets() {
            assert_eq!(Optimisations::parse(&set.to_string()), Ok(set));
        }
        assert!(Optimisations::parse("pre_vote,").is_err());
        assert!(Optimisations::parse("").is_err());
    }
}
