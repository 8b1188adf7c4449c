//! What the checker checks against: a sequential specification.

use super::history::Operation;
use std::fmt::Debug;
use std::hash::Hash;

/// What one operation does to a state, according to the model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Transition<S> {
    /// The operation cannot return that output from this state.
    Illegal,
    /// Accepted; the state stays as it is (reads).
    Unchanged,
    /// Accepted; the state becomes this.
    To(S),
}

impl<S: Clone> Transition<S> {
    /// The state after the operation, or `None` when it is illegal.
    pub fn apply(self, state: &S) -> Option<S> {
        match self {
            Transition::Illegal => None,
            Transition::Unchanged => Some(state.clone()),
            Transition::To(next) => Some(next),
        }
    }
}

/// A verdict on one part; positions index into the part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartVerdict {
    Linearizable,
    /// `longest_prefix` is a linearization of some of the part's
    /// operations (in order); none of `unplaceable` can come next.
    Illegal {
        longest_prefix: Vec<usize>,
        unplaceable: Vec<usize>,
    },
}

/// A sequential object. `step` is the specification: from `state`, may the
/// operation `input` return `output` (`None`: any output), and to what state?
pub trait Model {
    type State: Clone + Eq + Hash + Debug;
    type Input: Debug;
    type Output: Debug;

    fn init(&self) -> Self::State;

    fn step(&self, state: &Self::State, input: &Self::Input, output: Option<&Self::Output>) -> Transition<Self::State>;

    /// `step`, writing a changed state into `next` (whose allocation a model
    /// may reuse) instead of returning it. The checker calls this on its hot
    /// path; override it when building a state allocates.
    fn step_into(
        &self,
        state: &Self::State,
        input: &Self::Input,
        output: Option<&Self::Output>,
        next: &mut Self::State,
    ) -> Transition<()> {
        match self.step(state, input, output) {
            Transition::Illegal => Transition::Illegal,
            Transition::Unchanged => Transition::Unchanged,
            Transition::To(s) => {
                *next = s;
                Transition::To(())
            }
        }
    }

    /// `step`, changing `state` in place; false (leaving `state`
    /// unspecified) when the operation is illegal. The checker's linear
    /// paths use it; override it when a state can change in place cheaply.
    fn step_in_place(&self, state: &mut Self::State, input: &Self::Input, output: Option<&Self::Output>) -> bool {
        match self.step(state, input, output) {
            Transition::Illegal => false,
            Transition::Unchanged => true,
            Transition::To(next) => {
                *state = next;
                true
            }
        }
    }

    /// An exact verdict on one part without a search, when the model knows
    /// a faster decision for its shape (positions index into `part`).
    /// `None`: search it.
    fn decide_part(&self, _history: &[Operation<Self::Input, Self::Output>], _part: &[usize]) -> Option<PartVerdict> {
        None
    }

    /// The part without the pending writes that no completed operation of
    /// it can have observed. Dropping one changes no verdict: a pending
    /// operation may take effect after everything else (or never), and one
    /// whose value nothing read changed nothing anyone saw. Such writes (a
    /// client's time-outs) otherwise multiply the search by two each.
    /// Default: the part as it is.
    fn drop_unobserved_pending(
        &self,
        _history: &[Operation<Self::Input, Self::Output>],
        part: Vec<usize>,
    ) -> Vec<usize> {
        part
    }

    /// Splits the history into independent parts (indexes), e.g. one per key.
    /// A history is linearizable iff every part is. Default: one part.
    fn partition(&self, history: &[Operation<Self::Input, Self::Output>]) -> Vec<Vec<usize>> {
        vec![(0..history.len()).collect()]
    }

    /// A name for a part in reports, e.g. `key "3"`.
    fn part_name(&self, _history: &[Operation<Self::Input, Self::Output>], _part: &[usize]) -> String {
        "the whole history".to_string()
    }

    fn describe_operation(&self, input: &Self::Input, output: Option<&Self::Output>) -> String {
        match output {
            Some(o) => format!("{input:?} -> {o:?}"),
            None => format!("{input:?} -> ?"),
        }
    }

    fn describe_state(&self, state: &Self::State) -> String {
        format!("{state:?}")
    }
}
