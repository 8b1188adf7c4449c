//! The determinism trace. Every event a simulation processes is folded into a
//! running 64-bit hash (DESIGN.md non-negotiable 6). In `Record` mode the
//! running hash after each event is also kept, so that two runs of one seed
//! can be compared and the first event where they part can be named; in
//! `Describe(k)` mode the text of event `k` is kept.

use std::fmt;

/// What a run keeps of its trace besides the final hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TraceMode {
    /// Only the final hash and the event count.
    #[default]
    HashOnly,
    /// The running hash after every event.
    Record,
    /// The description of the event with this index (0-based).
    Describe(u64),
}

/// The trace of one run.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    mode: TraceMode,
    /// The run's hash: the same in every mode, so a run checked for
    /// determinism prints the hash a plain run of its seed prints.
    hash: u64,
    /// Outside `HashOnly`: the hash with every message's contents folded
    /// in too, which the recorded running hashes are.
    checked: u64,
    events: u64,
    recorded: Vec<u64>,
    described: Option<String>,
}

const MULTIPLIER: u64 = 0x517c_c1b7_2722_0a95;

#[inline]
fn mix(hash: u64, word: u64) -> u64 {
    (hash.rotate_left(5) ^ word).wrapping_mul(MULTIPLIER)
}

impl Trace {
    pub fn new(mode: TraceMode) -> Trace {
        Trace { mode, hash: 0xcbf2_9ce4_8422_2325, checked: 0xcbf2_9ce4_8422_2325, ..Trace::default() }
    }

    /// Folds one event: its time, a kind tag and two identifying words.
    /// `describe` is called only when this event's text was asked for.
    #[inline]
    pub fn fold(&mut self, time: u64, kind: u64, a: u64, b: u64, describe: impl FnOnce() -> String) {
        self.fold_with_contents(time, kind, a, b, 0, describe);
    }

    /// `fold`, with a hash of the event's contents (a message's), which
    /// only the checked hash takes: compute it only outside `HashOnly`.
    #[inline]
    pub fn fold_with_contents(
        &mut self,
        time: u64,
        kind: u64,
        a: u64,
        b: u64,
        contents: u64,
        describe: impl FnOnce() -> String,
    ) {
        let mut h = mix(self.hash, time);
        h = mix(h, kind);
        h = mix(h, a);
        self.hash = mix(h, b);
        if self.mode != TraceMode::HashOnly {
            self.checked = mix(mix(self.checked, self.hash), contents);
        }
        match self.mode {
            TraceMode::HashOnly => {}
            TraceMode::Record => self.recorded.push(self.checked),
            TraceMode::Describe(k) if k == self.events => self.described = Some(describe()),
            TraceMode::Describe(_) => {}
        }
        self.events += 1;
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }

    pub fn mode(&self) -> TraceMode {
        self.mode
    }

    pub fn events(&self) -> u64 {
        self.events
    }

    pub fn recorded(&self) -> &[u64] {
        &self.recorded
    }

    pub fn described(&self) -> Option<&str> {
        self.described.as_deref()
    }
}

/// Where two runs of one seed parted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Index of the first event whose running hash differs.
    pub event_index: u64,
    pub first_run: String,
    pub second_run: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "runs part at event #{}: first run had [{}], second run had [{}]",
            self.event_index, self.first_run, self.second_run
        )
    }
}

/// Compares two recorded traces; `None` when they are the same.
/// The index is that of the first differing running hash, or the end of the
/// shorter trace when one is a prefix of the other.
pub fn first_difference(a: &[u64], b: &[u64]) -> Option<u64> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    (common < a.len().max(b.len())).then_some(common as u64)
}

/// Runs `run` twice in `Record` mode and, when the traces differ, twice more
/// to describe the first differing event of each. `run` gets the trace mode
/// and returns the run's trace.
pub fn check_determinism(mut run: impl FnMut(TraceMode) -> Trace) -> Result<Trace, Divergence> {
    let first = run(TraceMode::Record);
    let second = run(TraceMode::Record);
    match first_difference(first.recorded(), second.recorded()) {
        None => Ok(first),
        Some(k) => {
            let describe = |t: Trace| t.described().unwrap_or("no such event: the run ended before it").to_string();
            Err(Divergence {
                event_index: k,
                first_run: describe(run(TraceMode::Describe(k))),
                second_run: describe(run(TraceMode::Describe(k))),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_inputs_equal_hashes() {
        let mut a = Trace::new(TraceMode::Record);
        let mut b = Trace::new(TraceMode::Record);
        for i in 0..10 {
            a.fold(i, 1, i, 0, String::new);
            b.fold(i, 1, i, 0, String::new);
        }
        assert_eq!(a.hash(), b.hash());
        assert_eq!(first_difference(a.recorded(), b.recorded()), None);
        b.fold(10, 2, 0, 0, String::new);
        assert_eq!(first_difference(a.recorded(), b.recorded()), Some(10));
    }

    #[test]
    fn contents_part_checked_runs_but_leave_the_runs_hash_as_a_plain_run_gives() {
        let mut plain = Trace::new(TraceMode::HashOnly);
        let mut a = Trace::new(TraceMode::Record);
        let mut b = Trace::new(TraceMode::Record);
        plain.fold_with_contents(5, 1, 2, 0, 0, String::new);
        a.fold_with_contents(5, 1, 2, 0, 111, String::new);
        b.fold_with_contents(5, 1, 2, 0, 222, String::new);
        assert_eq!((a.hash(), b.hash()), (plain.hash(), plain.hash()));
        assert_eq!(first_difference(a.recorded(), b.recorded()), Some(0));
    }

    #[test]
    fn names_the_first_differing_event() {
        let mut calls = 0;
        let err = check_determinism(|mode| {
            calls += 1;
            let mut t = Trace::new(mode);
            t.fold(0, 1, 0, 0, || "same".into());
            // The second event differs between odd and even calls.
            let odd = calls % 2;
            t.fold(1, 1, odd, 0, || format!("event with a={odd}"));
            t
        })
        .unwrap_err();
        assert_eq!(err.event_index, 1);
        assert_eq!(err.first_run, "event with a=1");
        assert_eq!(err.second_run, "event with a=0");
    }
}
