//! The optimisations of Raft a run may switch on: each is named, each is
//! off in the faithful lab runs unless an implementation runs it by
//! default, and the lab hands a peer the set its run switched on in
//! [`PeerConfig::optimisations`](crate::PeerConfig::optimisations).
//!
//! An implementation says which it honours (the lab refuses to switch on
//! one it would ignore) and which it runs by default; see
//! `scenarios::Implementation`.

use std::fmt;

/// One optimisation beyond Figure 2. More may come, so a match on it
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
    /// Batching: an AppendEntries carries every entry the follower lacks,
    /// up to the implementation's batch limit, rather than one entry
    /// (Figure 2 allows either: "may send more than one for efficiency").
    Batching,
    /// Pipelining: a leader sends a follower whose log it knows to match
    /// new AppendEntries without waiting for the answers to those in
    /// flight, up to a window (flow control); without it, one
    /// AppendEntries with entries is in flight per follower at a time.
    Pipelining,
    /// Asynchronous persistence (the thesis, 10.2.1): a leader writes its
    /// own new entries to disk while it sends them
    /// ([`HostIo::save_raft_state_async`](crate::HostIo::save_raft_state_async)),
    /// and counts itself toward their commit only once they are durable
    /// ([`Raft::persisted`](crate::Raft::persisted)). Terms, votes, a
    /// follower's entries and snapshots stay synchronous: a follower
    /// answers only after persisting. It gains only where a write takes
    /// time (a run's disk latency).
    AsyncPersist,
}

impl Optimisation {
    /// Every optimisation, in a fixed order.
    pub const ALL: &'static [Optimisation] = &[
        Optimisation::PreVote,
        Optimisation::CheckQuorum,
        Optimisation::ReadIndex,
        Optimisation::LeaseRead,
        Optimisation::FollowerRead,
        Optimisation::Batching,
        Optimisation::Pipelining,
        Optimisation::AsyncPersist,
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
            Optimisation::Batching => "batching",
            Optimisation::Pipelining => "pipelining",
            Optimisation::AsyncPersist => "async_persist",
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
            Optimisation::Batching => "an AppendEntries carries every entry a follower lacks, up to a limit, not one",
            Optimisation::Pipelining => {
                "AppendEntries go to a matching follower without waiting for answers, within a window (flow control)"
            }
            Optimisation::AsyncPersist => {
                "a leader writes its new entries while it sends them and counts itself once they are durable (thesis 10.2.1)"
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

    /// The set with `o` taken out.
    pub fn without(self, o: Optimisation) -> Optimisations {
        Optimisations(self.0 & !o.bit())
    }

    /// The members of either set.
    pub const fn union(self, other: Optimisations) -> Optimisations {
        Optimisations(self.0 | other.0)
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

/// A set as a run asks for it (`labsim --with`, `LABSIM_WITH`): either
/// exactly the names given (`pre_vote,check_quorum`, or `none`), or, when
/// the list starts with `default`, the implementation's default set with
/// names added and `-name`s taken out (`default,pre_vote,-pipelining`).
/// [`resolve`](AskedOptimisations::resolve) gives the set in effect once
/// the implementation is known.
///
/// ```
/// use contract::{AskedOptimisations, Optimisation, Optimisations};
/// let default = Optimisations::of(&[Optimisation::Batching, Optimisation::Pipelining]);
/// let exact = AskedOptimisations::parse("pre_vote").unwrap();
/// assert_eq!(exact.resolve(default).to_string(), "pre_vote");
/// let changed = AskedOptimisations::parse("default,pre_vote,-pipelining").unwrap();
/// assert_eq!(changed.resolve(default).to_string(), "pre_vote,batching");
/// assert_eq!(changed.to_string(), "default,pre_vote,-pipelining");
/// assert!(AskedOptimisations::parse("-pipelining").is_err()); // from what?
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AskedOptimisations {
    from_default: bool,
    added: Optimisations,
    removed: Optimisations,
}

impl AskedOptimisations {
    /// Exactly `set`, whatever the implementation's default.
    pub fn exactly(set: Optimisations) -> AskedOptimisations {
        AskedOptimisations { from_default: false, added: set, removed: Optimisations::NONE }
    }

    /// The implementation's default with `added` switched on too.
    pub fn default_with(added: Optimisations) -> AskedOptimisations {
        AskedOptimisations { from_default: true, added, removed: Optimisations::NONE }
    }

    /// Every optimisation the list names, added or taken out: those the
    /// implementation must be able to switch.
    pub fn named(self) -> Optimisations {
        self.added.union(self.removed)
    }

    /// The set in effect for an implementation whose default is `default`.
    pub fn resolve(self, default: Optimisations) -> Optimisations {
        let start = if self.from_default { default } else { Optimisations::NONE };
        Optimisations(start.union(self.added).0 & !self.removed.0)
    }

    /// Parses a list: names joined by commas, or `none`, or `default`
    /// followed by names to add and `-name`s to take out. An unknown name,
    /// a `-name` without `default` first, or a name both added and taken
    /// out is an error that says so.
    pub fn parse(text: &str) -> Result<AskedOptimisations, String> {
        let text = text.trim();
        let Some(rest) = text.strip_prefix("default") else {
            return Optimisations::parse(text).map(AskedOptimisations::exactly).map_err(|e| {
                if text.split(',').any(|n| n.trim().starts_with('-')) {
                    format!(
                        "'-name' takes an optimisation out of the default set: start the list with default ({text})"
                    )
                } else {
                    e
                }
            });
        };
        let mut asked = AskedOptimisations::default_with(Optimisations::NONE);
        if rest.is_empty() {
            return Ok(asked);
        }
        let rest = rest.strip_prefix(',').ok_or_else(|| format!("unknown optimisation '{text}'"))?;
        for item in rest.split(',').map(str::trim) {
            let (name, remove) = item.strip_prefix('-').map_or((item, false), |n| (n, true));
            let o = Optimisations::parse(name)?;
            if o.is_empty() || name.contains(',') {
                return Err(format!("'{item}' after default: name one optimisation to add or -name to take out"));
            }
            if remove {
                asked.removed = asked.removed.union(o)
            } else {
                asked.added = asked.added.union(o)
            }
        }
        if asked.added.0 & asked.removed.0 != 0 {
            return Err(format!("{text}: an optimisation is both added and taken out"));
        }
        Ok(asked)
    }
}

impl fmt::Display for AskedOptimisations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.from_default {
            return self.added.fmt(f);
        }
        f.write_str("default")?;
        self.added.iter().try_for_each(|o| write!(f, ",{}", o.name()))?;
        self.removed.iter().try_for_each(|o| write!(f, ",-{}", o.name()))
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

    #[test]
    fn an_asked_set_resolves_against_the_default() {
        let default = Optimisations::of(&[Optimisation::Batching, Optimisation::Pipelining]);
        let cases = [
            ("none", "none"),
            ("pre_vote", "pre_vote"),
            ("default", "batching,pipelining"),
            ("default,pre_vote", "pre_vote,batching,pipelining"),
            ("default,-batching,-pipelining", "none"),
            ("default,-pre_vote", "batching,pipelining"),
        ];
        for (text, set) in cases {
            let asked = AskedOptimisations::parse(text).unwrap();
            assert_eq!(asked.resolve(default).to_string(), set, "{text}");
            assert_eq!(AskedOptimisations::parse(&asked.to_string()), Ok(asked), "{text}");
        }
        for bad in [
            "-batching",
            "pre_vote,-batching",
            "default,",
            "defaults",
            "default,none",
            "default,x",
            "default,pre_vote,-pre_vote",
            "",
        ] {
            assert!(AskedOptimisations::parse(bad).is_err(), "{bad}");
        }
        let e = AskedOptimisations::parse("-batching").unwrap_err();
        assert!(e.contains("start the list with default"), "{e}");
    }
}
