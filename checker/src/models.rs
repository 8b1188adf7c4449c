//! The two models: a key/value store (get, put, append; every key starts as
//! the empty string; checked one key at a time) and a register with
//! compare-and-set (read, write, cas; starts as nil).

use super::history::Operation;
use super::model::{Model, PartVerdict, Transition};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvInput {
    Get { key: String },
    Put { key: String, value: String },
    Append { key: String, value: String },
}

impl KvInput {
    pub fn key(&self) -> &str {
        match self {
            KvInput::Get { key } | KvInput::Put { key, .. } | KvInput::Append { key, .. } => key,
        }
    }
}

/// The value a get returned; puts and appends return `KvOutput::Done`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KvOutput {
    Value(String),
    Done,
}

/// One key's value, with a hash of its bytes kept up to date on append, so
/// that hashing a state is O(1) and unequal states rarely compare bytes.
#[derive(Clone, Debug)]
pub struct KvState {
    hash: u64,
    text: String,
}

const KV_HASH_BASE: u64 = 0x0100_0000_01b3;

fn extend_hash(mut hash: u64, bytes: &[u8]) -> u64 {
    for &b in bytes {
        hash = hash.wrapping_mul(KV_HASH_BASE).wrapping_add(u64::from(b) + 1);
    }
    hash
}

impl KvState {
    pub fn new(text: String) -> KvState {
        KvState { hash: extend_hash(0, text.as_bytes()), text }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Makes `self` the value `base + value`, reusing its allocation.
    fn set_appended(&mut self, base: &KvState, value: &str) {
        self.text.clear();
        self.text.push_str(&base.text);
        self.text.push_str(value);
        self.hash = extend_hash(base.hash, value.as_bytes());
    }

    /// Makes `self` the value `value`, reusing its allocation.
    fn set(&mut self, value: &str) {
        self.text.clear();
        self.text.push_str(value);
        self.hash = extend_hash(0, value.as_bytes());
    }
}

impl PartialEq for KvState {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.text == other.text
    }
}

impl Eq for KvState {}

impl std::hash::Hash for KvState {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash)
    }
}

/// A key/value store, partitioned per key (state: one key's value).
#[derive(Clone, Copy, Debug, Default)]
pub struct KvModel;

impl Model for KvModel {
    type State = KvState;
    type Input = KvInput;
    type Output = KvOutput;

    fn init(&self) -> KvState {
        KvState::new(String::new())
    }

    fn step(&self, state: &KvState, input: &KvInput, output: Option<&KvOutput>) -> Transition<KvState> {
        let mut next = KvState::new(String::new());
        match self.step_into(state, input, output, &mut next) {
            Transition::Illegal => Transition::Illegal,
            Transition::Unchanged => Transition::Unchanged,
            Transition::To(()) => Transition::To(next),
        }
    }

    fn step_into(
        &self,
        state: &KvState,
        input: &KvInput,
        output: Option<&KvOutput>,
        next: &mut KvState,
    ) -> Transition<()> {
        match input {
            KvInput::Get { .. } => match output {
                None => Transition::Unchanged,
                Some(KvOutput::Value(v)) if *v == state.text => Transition::Unchanged,
                Some(_) => Transition::Illegal,
            },
            KvInput::Put { value, .. } => {
                next.set(value);
                Transition::To(())
            }
            KvInput::Append { value, .. } => {
                next.set_appended(state, value);
                Transition::To(())
            }
        }
    }

    fn step_in_place(&self, state: &mut KvState, input: &KvInput, output: Option<&KvOutput>) -> bool {
        match input {
            KvInput::Get { .. } => match output {
                None => true,
                Some(KvOutput::Value(v)) => *v == state.text,
                Some(KvOutput::Done) => false,
            },
            KvInput::Put { value, .. } => {
                state.set(value);
                true
            }
            KvInput::Append { value, .. } => {
                state.hash = extend_hash(state.hash, value.as_bytes());
                state.text.push_str(value);
                true
            }
        }
    }

    fn decide_part(&self, history: &[Operation<KvInput, KvOutput>], part: &[usize]) -> Option<PartVerdict> {
        super::linear::decide_unique_appends(history, part)
    }

    fn partition(&self, history: &[Operation<KvInput, KvOutput>]) -> Vec<Vec<usize>> {
        let mut by_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, op) in history.iter().enumerate() {
            by_key.entry(op.input.key()).or_default().push(i);
        }
        by_key.into_values().collect()
    }

    /// A pending Put or Append of text that no completed Get of the key
    /// returned (as part of its value) was never observed: after a Put of
    /// `v` every value holds `v` until the next Put, after an Append of `v`
    /// likewise. (Empty texts are kept: every value contains them.)
    fn drop_unobserved_pending(&self, history: &[Operation<KvInput, KvOutput>], part: Vec<usize>) -> Vec<usize> {
        let written = |i: usize| match (&history[i].input, history[i].ret) {
            (KvInput::Put { value, .. } | KvInput::Append { value, .. }, None) if !value.is_empty() => Some(value),
            _ => None,
        };
        let pending = part.iter().filter(|&&i| written(i).is_some()).count();
        if pending == 0 || pending > MAX_PENDING_LOOKED_AT {
            return part;
        }
        let read: Vec<&str> = part
            .iter()
            .filter_map(|&i| match (&history[i].input, &history[i].output) {
                (KvInput::Get { .. }, Some(KvOutput::Value(v))) if history[i].ret.is_some() => Some(v.as_str()),
                _ => None,
            })
            .collect();
        part.into_iter().filter(|&i| written(i).is_none_or(|v| read.iter().any(|r| r.contains(v.as_str())))).collect()
    }

    fn part_name(&self, history: &[Operation<KvInput, KvOutput>], part: &[usize]) -> String {
        part.first().map_or_else(|| "no key".to_string(), |&i| format!("key {:?}", history[i].input.key()))
    }

    fn describe_operation(&self, input: &KvInput, output: Option<&KvOutput>) -> String {
        match (input, output) {
            (KvInput::Get { key }, Some(KvOutput::Value(v))) => format!("get({key:?}) -> {v:?}"),
            (KvInput::Get { key }, _) => format!("get({key:?}) -> ?"),
            (KvInput::Put { key, value }, _) => format!("put({key:?}, {value:?})"),
            (KvInput::Append { key, value }, _) => format!("append({key:?}, {value:?})"),
        }
    }

    fn describe_state(&self, state: &KvState) -> String {
        format!("{:?}", state.text)
    }
}

/// The most pending writes of a part looked at for dropping (each is
/// compared with every read).
const MAX_PENDING_LOOKED_AT: usize = 256;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterInput {
    Read,
    Write(i64),
    Cas { from: i64, to: i64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOutput {
    /// What a read saw; `None` is nil (never written).
    Read(Option<i64>),
    Written,
    /// Whether the cas took effect.
    Cas(bool),
}

/// A single register with compare-and-set; state `None` is nil.
#[derive(Clone, Copy, Debug, Default)]
pub struct RegisterModel;

impl Model for RegisterModel {
    type State = Option<i64>;
    type Input = RegisterInput;
    type Output = RegisterOutput;

    /// A pending write of a value no completed read returned was never
    /// observed. With any cas in the history nothing is dropped (a failed
    /// cas observes that the value was not its `from`).
    fn drop_unobserved_pending(
        &self,
        history: &[Operation<RegisterInput, RegisterOutput>],
        part: Vec<usize>,
    ) -> Vec<usize> {
        if part.iter().any(|&i| matches!(history[i].input, RegisterInput::Cas { .. })) {
            return part;
        }
        let read: std::collections::BTreeSet<i64> = part
            .iter()
            .filter_map(|&i| match history[i].output {
                Some(RegisterOutput::Read(Some(v))) if history[i].ret.is_some() => Some(v),
                _ => None,
            })
            .collect();
        let unobserved = |i: usize| match (history[i].input, history[i].ret) {
            (RegisterInput::Write(v), None) => !read.contains(&v),
            _ => false,
        };
        part.into_iter().filter(|&i| !unobserved(i)).collect()
    }

    fn init(&self) -> Option<i64> {
        None
    }

    fn step(
        &self,
        state: &Option<i64>,
        input: &RegisterInput,
        output: Option<&RegisterOutput>,
    ) -> Transition<Option<i64>> {
        use Transition::{Illegal, To, Unchanged};
        match (*input, output) {
            (RegisterInput::Read, None) => Unchanged,
            (RegisterInput::Read, Some(RegisterOutput::Read(v))) if v == state => Unchanged,
            (RegisterInput::Write(v), None | Some(RegisterOutput::Written)) => To(Some(v)),
            (RegisterInput::Cas { from, to }, None | Some(RegisterOutput::Cas(true))) if *state == Some(from) => {
                To(Some(to))
            }
            (RegisterInput::Cas { .. }, None) => Unchanged,
            (RegisterInput::Cas { from, .. }, Some(RegisterOutput::Cas(false))) if *state != Some(from) => Unchanged,
            _ => Illegal, // the output contradicts the state, or is of the wrong kind
        }
    }

    fn describe_operation(&self, input: &RegisterInput, output: Option<&RegisterOutput>) -> String {
        let shown = |v: &Option<i64>| v.map_or("nil".to_string(), |v| v.to_string());
        match (input, output) {
            (RegisterInput::Read, Some(RegisterOutput::Read(v))) => format!("read -> {}", shown(v)),
            (RegisterInput::Read, _) => "read -> ?".to_string(),
            (RegisterInput::Write(v), _) => format!("write({v})"),
            (RegisterInput::Cas { from, to }, Some(RegisterOutput::Cas(ok))) => format!("cas({from}, {to}) -> {ok}"),
            (RegisterInput::Cas { from, to }, _) => format!("cas({from}, {to}) -> ?"),
        }
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        state.map_or("nil".to_string(), |v| v.to_string())
    }
}
