//! The Wing & Gong / Lowe search for a linearization, with memoisation of
//! (set of linearized operations, model state), run separately on each part
//! of the history the model splits off (a history is linearizable iff every
//! part is: Herlihy & Wing's locality).
//!
//! The history becomes a doubly linked list of call and return entries in
//! time order (calls before returns at equal times). The search walks it from
//! the front: a call whose operation the model can take from the current
//! state is linearized (both its entries are unlinked) and the walk restarts;
//! reaching a return entry means the operations linearized so far cannot be
//! extended, so the last choice is undone. A pending operation has no return
//! entry: it may be linearized anywhere after its call, or never.

use super::history::Operation;
use super::linear::decide_sequential;
use super::model::{Model, PartVerdict, Transition};
use indexmap::IndexSet;
use rustc_hash::{FxBuildHasher, FxHashSet};
use std::hash::{Hash, Hasher};

/// The verdict on a history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Linearizable,
    NotLinearizable(Box<Counterexample>),
    /// The step budget ran out before a verdict. Never a pass.
    Unknown,
}

impl Verdict {
    pub fn is_linearizable(&self) -> bool {
        matches!(self, Verdict::Linearizable)
    }
}

/// Why a part of the history is not linearizable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counterexample {
    /// The model's name for the failing part (e.g. `key "3"`).
    pub part_name: String,
    /// Indexes (into the whole history) of the failing part's operations.
    pub part: Vec<usize>,
    /// The longest linearizable prefix found, in linearization order.
    pub longest_prefix: Vec<usize>,
    /// The model state after that prefix, described.
    pub state_after_prefix: String,
    /// Operations that could come next in real-time order but none of which
    /// the model accepts after the prefix.
    pub unplaceable: Vec<usize>,
}

/// Search limits. The budget counts search steps, not wall time, so that a
/// verdict (including `Unknown`) replays exactly.
#[derive(Clone, Copy, Debug, Default)]
pub struct CheckOptions {
    pub step_budget: Option<u64>,
    /// A bound on the search's memo and state tables, in bytes (an
    /// estimate: their entries' sizes, not the allocator's overhead).
    pub memory_budget_bytes: Option<usize>,
    /// Search every part as it is, skipping the exact fast paths
    /// (`linear.rs`) and the dropping of unobserved pending writes; for
    /// cross-checking them.
    pub search_only: bool,
}

const NONE: u32 = u32::MAX;

/// A 64-bit mix of an operation index (splitmix64's finaliser): the
/// per-operation word of the incremental set hash.
fn op_word(i: usize) -> u64 {
    let mut z = (i as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One call or return in the linked list.
#[derive(Clone, Copy)]
struct Entry {
    /// The local operation index.
    op: u32,
    is_call: bool,
    /// For a call entry: its return entry, or NONE when pending.
    matching_return: u32,
    next: u32,
    prev: u32,
}

/// The linked list of entries of one part, in time order, with a sentinel
/// head at the end of `list`.
struct Entries {
    list: Vec<Entry>,
    head: u32,
}

impl Entries {
    fn build<I, O>(ops: &[&Operation<I, O>]) -> Entries {
        let mut order: Vec<(u64, u8, u32)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate() {
            order.push((op.call, 0, i as u32));
            if let Some(ret) = op.ret {
                assert!(ret >= op.call, "an operation returns before it is called");
                order.push((ret, 1, i as u32));
            }
        }
        // Calls sort before returns at equal times; ties otherwise by index.
        order.sort_unstable();
        let n = order.len() as u32;
        let head = n;
        let mut list: Vec<Entry> = order
            .iter()
            .enumerate()
            .map(|(e, &(_, kind, op))| {
                let e = e as u32;
                Entry {
                    op,
                    is_call: kind == 0,
                    matching_return: NONE,
                    next: if e + 1 == n { NONE } else { e + 1 },
                    prev: if e == 0 { head } else { e - 1 },
                }
            })
            .collect();
        list.push(Entry {
            op: NONE,
            is_call: false,
            matching_return: NONE,
            next: if n == 0 { NONE } else { 0 },
            prev: NONE,
        });
        let mut call_entry = vec![NONE; ops.len()];
        for (e, &(_, kind, op)) in order.iter().enumerate() {
            if kind == 0 {
                call_entry[op as usize] = e as u32;
            } else {
                list[call_entry[op as usize] as usize].matching_return = e as u32;
            }
        }
        Entries { list, head }
    }

    fn get(&self, e: u32) -> Entry {
        self.list[e as usize]
    }

    fn first(&self) -> u32 {
        self.list[self.head as usize].next
    }

    fn unlink(&mut self, e: u32) {
        let Entry { prev, next, .. } = self.list[e as usize];
        self.list[prev as usize].next = next;
        if next != NONE {
            self.list[next as usize].prev = prev;
        }
    }

    fn relink(&mut self, e: u32) {
        let Entry { prev, next, .. } = self.list[e as usize];
        self.list[prev as usize].next = e;
        if next != NONE {
            self.list[next as usize].prev = e;
        }
    }

    /// Takes a call entry and its return out of the list.
    fn lift(&mut self, call: u32) {
        self.unlink(call);
        let ret = self.list[call as usize].matching_return;
        if ret != NONE {
            self.unlink(ret);
        }
    }

    /// Undoes `lift`, in reverse order.
    fn unlift(&mut self, call: u32) {
        let ret = self.list[call as usize].matching_return;
        if ret != NONE {
            self.relink(ret);
        }
        self.relink(call);
    }
}

/// A growable bit set over the operations of one part.
#[derive(Clone, PartialEq, Eq)]
struct Bits(Vec<u64>);

impl Bits {
    fn flip(&mut self, i: usize) {
        self.0[i / 64] ^= 1 << (i % 64);
    }
}

/// A memo key: the set of linearized operations (as bit words), the state's
/// id, and a precomputed hash of both. Parts of up to 256 operations keep
/// their bits inline, so that a key costs no allocation.
#[derive(PartialEq, Eq)]
struct MemoKey<W> {
    hash: u64,
    words: W,
    state: u32,
}

impl<W> Hash for MemoKey<W> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u64(self.hash)
    }
}

/// The (set of linearized operations, state) pairs already explored.
enum Memo {
    One(FxHashSet<MemoKey<[u64; 1]>>),
    Two(FxHashSet<MemoKey<[u64; 2]>>),
    Four(FxHashSet<MemoKey<[u64; 4]>>),
    Heap(FxHashSet<MemoKey<Box<[u64]>>>),
}

impl Memo {
    /// The bytes its keys take (an estimate: a hash table holds about one
    /// slot in eight spare).
    fn bytes(&self) -> usize {
        let (len, key) = match self {
            Memo::One(set) => (set.len(), std::mem::size_of::<MemoKey<[u64; 1]>>()),
            Memo::Two(set) => (set.len(), std::mem::size_of::<MemoKey<[u64; 2]>>()),
            Memo::Four(set) => (set.len(), std::mem::size_of::<MemoKey<[u64; 4]>>()),
            Memo::Heap(set) => {
                let words = set.iter().next().map_or(0, |k| k.words.len());
                (set.len(), std::mem::size_of::<MemoKey<Box<[u64]>>>() + 8 * words)
            }
        };
        len * (key + 1) * 9 / 8
    }

    fn for_words(words: usize) -> Memo {
        match words {
            0 | 1 => Memo::One(FxHashSet::default()),
            2 => Memo::Two(FxHashSet::default()),
            3 | 4 => Memo::Four(FxHashSet::default()),
            _ => Memo::Heap(FxHashSet::default()),
        }
    }

    /// Adds the pair; false when it was already there.
    fn insert(&mut self, bits: &[u64], hash: u64, state: u32) -> bool {
        fn inline<const W: usize>(bits: &[u64]) -> [u64; W] {
            let mut words = [0; W];
            words[..bits.len()].copy_from_slice(bits);
            words
        }
        match self {
            Memo::One(set) => set.insert(MemoKey { hash, words: inline::<1>(bits), state }),
            Memo::Two(set) => set.insert(MemoKey { hash, words: inline::<2>(bits), state }),
            Memo::Four(set) => set.insert(MemoKey { hash, words: inline::<4>(bits), state }),
            Memo::Heap(set) => set.insert(MemoKey { hash, words: bits.into(), state }),
        }
    }
}

enum PartResult {
    Linearizable,
    Illegal { longest_prefix: Vec<usize>, unplaceable: Vec<usize> },
}

/// The search over one part, resumable so that parts can take turns.
struct PartSearch<'h, M: Model> {
    ops: Vec<&'h Operation<M::Input, M::Output>>,
    entries: Entries,
    remaining_completed: usize,
    /// The current state's id.
    state: u32,
    bits: Bits,
    bits_hash: u64,
    /// Every state met, by id; the search itself only handles ids.
    states: IndexSet<M::State, FxBuildHasher>,
    /// Where the model writes a candidate next state.
    scratch: M::State,
    memo: Memo,
    /// Linearized call entries, with the state id before each.
    stack: Vec<(u32, u32)>,
    longest: Vec<usize>,
    entry: u32,
}

impl<'h, M: Model> PartSearch<'h, M> {
    fn new(model: &M, ops: Vec<&'h Operation<M::Input, M::Output>>) -> Self {
        let entries = Entries::build(&ops);
        let words = ops.len().div_ceil(64);
        let init = model.init();
        let mut states = IndexSet::default();
        states.insert(init.clone());
        PartSearch {
            remaining_completed: ops.iter().filter(|o| o.ret.is_some()).count(),
            state: 0,
            bits: Bits(vec![0; words]),
            bits_hash: 0,
            states,
            scratch: init,
            memo: Memo::for_words(words),
            stack: Vec::new(),
            longest: Vec::new(),
            entry: entries.first(),
            entries,
            ops,
        }
    }

    /// The bytes its tables hold, roughly: the memo and the states met.
    fn memory_bytes(&self) -> usize {
        self.memo.bytes() + self.states.len() * (std::mem::size_of::<M::State>() + 8)
    }

    /// The id of the state after `op` from the current state, or NONE.
    fn transition(&mut self, model: &M, op: usize) -> u32 {
        let operation = self.ops[op];
        let current = self.states.get_index(self.state as usize).expect("ids index states");
        match model.step_into(current, &operation.input, operation.output.as_ref(), &mut self.scratch) {
            Transition::Illegal => NONE,
            Transition::Unchanged => self.state,
            Transition::To(()) => match self.states.get_index_of(&self.scratch) {
                Some(id) => id as u32,
                None => {
                    let (id, _) = self.states.insert_full(self.scratch.clone());
                    assert!(id < NONE as usize, "fewer than 2^32 states");
                    id as u32
                }
            },
        }
    }

    /// Runs at most `steps` search steps; `None` when not finished. Adds the
    /// steps it used to `used`.
    fn run(&mut self, model: &M, steps: u64, used: &mut u64) -> Option<PartResult> {
        let mut taken = 0;
        while self.remaining_completed > 0 {
            if taken == steps {
                *used += taken;
                return None;
            }
            taken += 1;
            let entry = self.entry;
            assert!(entry != NONE, "a completed operation's return entry is always ahead of the walk");
            let node = self.entries.get(entry);
            let op = node.op as usize;
            if node.is_call {
                let operation = self.ops[op];
                let next_id = self.transition(model, op);
                // A pending operation that would leave the state as it is
                // never needs to be linearized: doing so only narrows what
                // can follow. Skipping it prunes the search, soundly.
                let pointless = operation.ret.is_none() && next_id == self.state;
                if next_id != NONE && !pointless {
                    self.bits.flip(op);
                    let set_hash = self.bits_hash ^ op_word(op);
                    let key_hash = set_hash ^ u64::from(next_id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                    if self.memo.insert(&self.bits.0, key_hash, next_id) {
                        self.bits_hash = set_hash;
                        self.stack.push((entry, self.state));
                        self.state = next_id;
                        self.entries.lift(entry);
                        if operation.ret.is_some() {
                            self.remaining_completed -= 1;
                        }
                        if self.stack.len() > self.longest.len() {
                            self.longest = self.stack.iter().map(|(e, _)| self.entries.get(*e).op as usize).collect();
                        }
                        self.entry = self.entries.first();
                        continue;
                    }
                    self.bits.flip(op);
                }
                self.entry = node.next;
            } else {
                // A return: nothing more can be linearized before it. Backtrack.
                let Some((call, previous)) = self.stack.pop() else {
                    *used += taken;
                    let longest = std::mem::take(&mut self.longest);
                    return Some(PartResult::Illegal {
                        unplaceable: unplaceable(&self.ops, &longest),
                        longest_prefix: longest,
                    });
                };
                let undone = self.entries.get(call).op as usize;
                self.bits.flip(undone);
                self.bits_hash ^= op_word(undone);
                self.state = previous;
                self.entries.unlift(call);
                if self.ops[undone].ret.is_some() {
                    self.remaining_completed += 1;
                }
                self.entry = self.entries.get(call).next;
            }
        }
        *used += taken;
        Some(PartResult::Linearizable)
    }
}

/// The operations not in `prefix` that could be next in real-time order:
/// called no later than the earliest return among the completed ones left.
fn unplaceable<I, O>(ops: &[&Operation<I, O>], prefix: &[usize]) -> Vec<usize> {
    let mut done = vec![false; ops.len()];
    for &i in prefix {
        done[i] = true;
    }
    let first_return = (0..ops.len()).filter(|&i| !done[i]).filter_map(|i| ops[i].ret).min().unwrap_or(u64::MAX);
    (0..ops.len()).filter(|&i| !done[i] && ops[i].call <= first_return).collect()
}

/// Search steps a part runs before the next part takes its turn.
const TURN_STEPS: u64 = 1 << 14;

/// Checks a whole history against a model. Parts take turns of
/// `TURN_STEPS` steps, in a fixed order, and the first illegal part found
/// decides: one hard part does not hide an easy counterexample elsewhere.
pub fn check<M: Model>(model: &M, history: &[Operation<M::Input, M::Output>], options: CheckOptions) -> Verdict {
    let mut parts = model.partition(history);
    if !options.search_only {
        parts = parts.into_iter().map(|part| model.drop_unobserved_pending(history, part)).collect();
    }
    let mut searches = Vec::new();
    for (k, part) in parts.iter().enumerate() {
        // Parts with one possible order, or a faster exact decision, need no search.
        let decided = if options.search_only {
            None
        } else {
            decide_sequential(model, history, part).or_else(|| model.decide_part(history, part))
        };
        match decided {
            Some(PartVerdict::Linearizable) => {}
            Some(PartVerdict::Illegal { longest_prefix, unplaceable }) => {
                return illegal(model, history, part, longest_prefix, unplaceable);
            }
            None => searches.push((k, PartSearch::new(model, part.iter().map(|&i| &history[i]).collect()))),
        }
    }
    let mut used = 0u64;
    while !searches.is_empty() {
        let mut k = 0;
        while k < searches.len() {
            let turn = match options.step_budget {
                Some(budget) if used >= budget => return Verdict::Unknown,
                Some(budget) => TURN_STEPS.min(budget - used),
                None => TURN_STEPS,
            };
            match searches[k].1.run(model, turn, &mut used) {
                None => {
                    if options.memory_budget_bytes.is_some_and(|max| {
                        searches.iter().map(|(_, search)| search.memory_bytes()).sum::<usize>() > max
                    }) {
                        return Verdict::Unknown;
                    }
                    k += 1;
                }
                Some(PartResult::Linearizable) => {
                    searches.remove(k);
                }
                Some(PartResult::Illegal { longest_prefix, unplaceable }) => {
                    return illegal(model, history, &parts[searches[k].0], longest_prefix, unplaceable);
                }
            }
        }
    }
    Verdict::Linearizable
}

/// The verdict on an illegal part, with its counterexample.
fn illegal<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    part: &[usize],
    longest_prefix: Vec<usize>,
    unplaceable: Vec<usize>,
) -> Verdict {
    let mut state = model.init();
    for &i in &longest_prefix {
        let op = &history[part[i]];
        state =
            model.step(&state, &op.input, op.output.as_ref()).apply(&state).expect("the prefix was found step by step");
    }
    Verdict::NotLinearizable(Box::new(Counterexample {
        part_name: model.part_name(history, part),
        longest_prefix: longest_prefix.iter().map(|&i| part[i]).collect(),
        unplaceable: unplaceable.iter().map(|&i| part[i]).collect(),
        state_after_prefix: model.describe_state(&state),
        part: part.to_vec(),
    }))
}
