//! Fault injection points inside the servers, after FoundationDB's BUGGIFY:
//! places where a server may legally do the rare thing (a leader steps down,
//! a leader sends a client elsewhere, a request times out at once, a
//! shard's owner is not ready to hand it over), so the paths behind them
//! run often. A run enables them with a seed: each site is on for that run
//! with probability 1/2, and an enabled site fires at its own rate per
//! visit (rarely enough that the cluster still makes progress: a leader
//! steps down at about one heartbeat in a hundred). Off (the default, and in every lab test), `fire` is one read of a
//! thread-local word.
//!
//! Unlike a catalogued bug, a site never breaks a rule: a correct server
//! stays correct, only less often on its happy path.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

macro_rules! sites {
    ($($variant:ident = $name:literal, per_mille $rate:literal, $what:literal;)*) => {
        /// One injection point.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(u8)]
        pub enum Site {
            $($variant,)*
        }

        impl Site {
            pub const ALL: &'static [Site] = &[$(Site::$variant,)*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Site::$variant => $name,)*
                }
            }

            /// The legal, rare behaviour the site stands for.
            pub fn what(self) -> &'static str {
                match self {
                    $(Site::$variant => $what,)*
                }
            }

            /// The layer whose code holds the site (by its name's prefix).
            pub fn layer(self) -> crate::Layer {
                let name = self.name();
                if name.starts_with("raft_") {
                    crate::Layer::Raft
                } else if name.starts_with("kv_") {
                    crate::Layer::Kv
                } else {
                    crate::Layer::ShardKv
                }
            }

            /// How often an enabled site fires, per thousand visits.
            pub fn per_mille(self) -> u64 {
                match self {
                    $(Site::$variant => $rate,)*
                }
            }
        }
    };
}

sites! {
    RaftLeaderStepsDown = "raft_leader_steps_down", per_mille 10,
        "a leader steps down to follower at a heartbeat (it may not lead that term again)";
    RaftVoteWithheld = "raft_vote_withheld", per_mille 50,
        "a peer withholds a vote it could grant (voting is never an obligation)";
    KvSendsClientElsewhere = "kv_sends_client_elsewhere", per_mille 50,
        "a leader answers a client's request with WrongLeader (the clerk retries elsewhere)";
    KvTimesOutAtOnce = "kv_times_out_at_once", per_mille 50,
        "a request waiting for its entry is timed out at once (it may still commit)";
    ShardNotReadyToHandOver = "shard_not_ready_to_hand_over", per_mille 100,
        "a group answers a fetch of a shard it holds with NotReady (the new owner retries)";
    ShardSkipsAPoll = "shard_skips_a_poll", per_mille 100,
        "a group leader skips a tick of its configuration and migration work";
    RaftOneEntryPerAppend = "raft_one_entry_per_append", per_mille 500,
        "a leader sends at most one entry in an AppendEntries (a small batch limit)";
    RaftLongElectionTimeout = "raft_long_election_timeout", per_mille 200,
        "a peer draws an election timeout up to twice the usual range (a slow or cautious server)";
    KvSnapshotsEarly = "kv_snapshots_early", per_mille 20,
        "a server snapshots after an apply long before its state reaches the size limit";
}

const _: () = assert!(Site::ALL.len() < 64, "the enabled sites fit one u64 word");

thread_local! {
    /// The sites enabled for this thread's run (one bit each).
    static ENABLED: Cell<u64> = const { Cell::new(0) };
    /// The state of this run's firing stream (splitmix64).
    static STREAM: Cell<u64> = const { Cell::new(0) };
}

/// Enables the sites for the run on this thread from `seed`: each on with
/// probability 1/2. The firing stream is seeded from it too, so a run's
/// firings replay with its seed.
pub fn enable(seed: u64) {
    STREAM.with(|s| s.set(seed));
    let chosen = next() & ((1u64 << Site::ALL.len()) - 1);
    ENABLED.with(|e| e.set(chosen));
}

/// No site fires on this thread (the end of a swarm run's chaos, and the
/// start and end of every run).
pub fn disable() {
    ENABLED.with(|e| e.set(0));
}

/// The sites enabled on this thread.
pub fn enabled() -> Vec<Site> {
    let mask = ENABLED.with(Cell::get);
    Site::ALL.iter().copied().filter(|s| mask & (1 << *s as u8) != 0).collect()
}

/// Whether `site` fires at this visit.
#[inline(always)]
pub fn fire(site: Site) -> bool {
    if ENABLED.with(|e| e.get() & (1 << site as u8) == 0) {
        return false;
    }
    let drawn = next() % 1000 < site.per_mille();
    if !NAMED.with(Cell::get) {
        return drawn;
    }
    named_fire(site, drawn)
}

thread_local! {
    /// Whether this run names its sites' chances (records or follows a
    /// schedule), and then: the firings a schedule lists, the chances so
    /// far per site, and the firings made.
    static NAMED: Cell<bool> = const { Cell::new(false) };
    static LISTED: RefCell<Option<BTreeSet<(u8, u64)>>> = const { RefCell::new(None) };
    static CHANCES: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
    static FIRED: RefCell<Vec<(Site, u64)>> = const { RefCell::new(Vec::new()) };
}

/// From now on this thread's run names each chance of an enabled site to
/// fire (its `nth` visit, from 0): with `listed`, exactly those chances
/// fire (the stream is drawn all the same); without, they fire as drawn.
/// Either way the firings are remembered for `take_fired`.
pub fn name_chances(listed: Option<Vec<(Site, u64)>>) {
    NAMED.with(|n| n.set(true));
    LISTED.with(|l| *l.borrow_mut() = listed.map(|v| v.into_iter().map(|(s, n)| (s as u8, n)).collect()));
    CHANCES.with(|c| *c.borrow_mut() = vec![0; Site::ALL.len()]);
    FIRED.with(|f| f.borrow_mut().clear());
}

/// The firings since `name_chances`, in order; chances are no longer named.
pub fn take_fired() -> Vec<(Site, u64)> {
    NAMED.with(|n| n.set(false));
    LISTED.with(|l| *l.borrow_mut() = None);
    drain_fired()
}

/// The firings since `name_chances` or the last `drain_fired`, in order;
/// chances stay named.
pub fn drain_fired() -> Vec<(Site, u64)> {
    FIRED.with(|f| std::mem::take(&mut *f.borrow_mut()))
}

/// The site of this name.
pub fn site_named(name: &str) -> Option<Site> {
    Site::ALL.iter().copied().find(|s| s.name() == name)
}

#[cold]
fn named_fire(site: Site, drawn: bool) -> bool {
    let nth = CHANCES.with(|c| {
        let mut chances = c.borrow_mut();
        let nth = chances[site as usize];
        chances[site as usize] += 1;
        nth
    });
    let fires = LISTED.with(|l| l.borrow().as_ref().map_or(drawn, |listed| listed.contains(&(site as u8, nth))));
    if fires {
        FIRED.with(|f| f.borrow_mut().push((site, nth)));
    }
    fires
}

fn next() -> u64 {
    STREAM.with(|s| {
        let x = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sites_fire_only_when_enabled_and_replay_from_the_seed() {
        disable();
        assert!(!fire(Site::RaftLeaderStepsDown));
        let firings = |seed| {
            enable(seed);
            let on = enabled();
            let fired: Vec<bool> = (0..200).map(|i| fire(Site::ALL[i % Site::ALL.len()])).collect();
            disable();
            (on, fired)
        };
        assert_eq!(firings(7), firings(7), "a seed replays");
        let (on, fired) = firings(7);
        assert!(fired.iter().any(|f| *f), "something fires");
        for (i, f) in fired.iter().enumerate() {
            assert!(!f || on.contains(&Site::ALL[i % Site::ALL.len()]), "only enabled sites fire");
        }
        assert!((0..64).any(|seed| firings(seed).0.len() < Site::ALL.len()), "seeds enable different sites");
    }

    #[test]
    fn named_chances_record_and_follow() {
        let run = |listed: Option<Vec<(Site, u64)>>| {
            enable(7);
            name_chances(listed);
            let fired: Vec<bool> = (0..200).map(|i| fire(Site::ALL[i % Site::ALL.len()])).collect();
            disable();
            (fired, take_fired())
        };
        let (drawn, recorded) = run(None);
        assert_eq!(drawn.iter().filter(|f| **f).count(), recorded.len());
        let (followed, again) = run(Some(recorded.clone()));
        assert_eq!(followed, drawn, "following its own record is the same run");
        assert_eq!(again, recorded);
        let (fewer, _) = run(Some(recorded[1..].to_vec()));
        assert_eq!(fewer.iter().filter(|f| **f).count(), recorded.len() - 1);
    }
}
