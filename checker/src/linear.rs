//! Exact decisions without a search, for the shapes of history that need
//! none. A part whose operations never overlap in time has exactly one
//! order to try (`decide_sequential`, any model). For a key/value part whose
//! writes after a quiet prefix are appends of distinct values
//! (`decide_unique_appends`), every read names the appends before it and
//! their order, so the one candidate order is built from the reads and
//! checked against real time: linear in the part's size where the search
//! would be exponential in the number of concurrent appends (50 appends
//! racing on one key, read once at the end, defeat Porcupine).

use super::history::Operation;
use super::model::{Model, PartVerdict};
use super::models::{KvInput, KvModel, KvOutput};
use std::collections::BTreeMap;

/// The part's positions sorted by call time, when every operation returned
/// with a known output.
fn sorted_complete<I, O>(history: &[Operation<I, O>], part: &[usize]) -> Option<Vec<usize>> {
    if part.iter().any(|&i| history[i].ret.is_none() || history[i].output.is_none()) {
        return None;
    }
    let mut order: Vec<usize> = (0..part.len()).collect();
    order.sort_by_key(|&k| (history[part[k]].call, k));
    Some(order)
}

/// How many of the (call-sorted) operations form a quiet prefix: each ends
/// before every later one starts (at equal times a call comes first).
fn quiet_prefix<I, O>(history: &[Operation<I, O>], part: &[usize], order: &[usize]) -> usize {
    let mut later_min_call = vec![u64::MAX; order.len() + 1];
    for k in (0..order.len()).rev() {
        later_min_call[k] = later_min_call[k + 1].min(history[part[order[k]]].call);
    }
    (0..order.len()).take_while(|&k| history[part[order[k]]].ret.expect("complete") < later_min_call[k + 1]).count()
}

/// Steps `ops` (positions) in order from `state`; the first illegal one
/// ends it as the verdict's culprit.
fn step_through<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    part: &[usize],
    ops: &[usize],
    state: &mut M::State,
) -> Result<(), PartVerdict> {
    for (k, &pos) in ops.iter().enumerate() {
        let op = &history[part[pos]];
        if !model.step_in_place(state, &op.input, op.output.as_ref()) {
            return Err(PartVerdict::Illegal { longest_prefix: ops[..k].to_vec(), unplaceable: vec![pos] });
        }
    }
    Ok(())
}

/// A part with no two operations overlapping in time has one linearization.
pub fn decide_sequential<M: Model>(
    model: &M,
    history: &[Operation<M::Input, M::Output>],
    part: &[usize],
) -> Option<PartVerdict> {
    let order = sorted_complete(history, part)?;
    if quiet_prefix(history, part, &order) < order.len() {
        return None;
    }
    let mut state = model.init();
    Some(match step_through(model, history, part, &order, &mut state) {
        Ok(()) => PartVerdict::Linearizable,
        Err(illegal) => illegal,
    })
}

/// One key's history after its quiet prefix: appends of distinct, non-empty
/// values and gets. See the module comment.
pub fn decide_unique_appends(history: &[Operation<KvInput, KvOutput>], part: &[usize]) -> Option<PartVerdict> {
    let order = sorted_complete(history, part)?;
    let quiet = quiet_prefix(history, part, &order);
    let (prefix, rest) = order.split_at(quiet);
    let mut appends: BTreeMap<&str, usize> = BTreeMap::new();
    let mut gets: Vec<(usize, &str)> = Vec::new();
    for &pos in rest {
        let op = &history[part[pos]];
        match (&op.input, &op.output) {
            (KvInput::Append { value, .. }, _) if !value.is_empty() => {
                if appends.insert(value.as_str(), pos).is_some() {
                    return None; // two appends of one value: reads are ambiguous
                }
            }
            (KvInput::Get { .. }, Some(KvOutput::Value(v))) => gets.push((pos, v.as_str())),
            _ => return None,
        }
    }
    let mut state = KvModel.init();
    if let Err(illegal) = step_through(&KvModel, history, part, prefix, &mut state) {
        return Some(illegal);
    }
    let base = state.as_str();
    // Every value read must extend the one before it (the value only grows).
    gets.sort_by_key(|&(pos, v)| (v.len(), history[part[pos]].call));
    for pair in gets.windows(2) {
        if !pair[1].1.starts_with(pair[0].1) {
            return Some(illegal_after(prefix, &[], pair[1].0));
        }
    }
    if let Some(&(pos, v)) = gets.first() {
        if !v.starts_with(base) {
            return Some(illegal_after(prefix, &[], pos));
        }
    }
    let longest = gets.last().map_or(base, |&(_, v)| v);
    let fragments = match parse_appends(&longest[base.len()..], &appends, part.len()) {
        Ok(fragments) => fragments,
        Err(Ambiguous) => return None,
    };
    Some(check_candidate(history, part, prefix, base.len(), &gets, &fragments, &appends))
}

/// A value that parses into appends in more than one way.
struct Ambiguous;

/// The appends `text` is made of, in order, with the offset (in `text`)
/// where each ends; stops where no append starts, or one would appear a
/// second time (the gets reading past there are then illegal).
fn parse_appends(
    text: &str,
    appends: &BTreeMap<&str, usize>,
    part_len: usize,
) -> Result<Vec<(usize, usize)>, Ambiguous> {
    let mut seen = vec![false; part_len];
    let mut lengths: Vec<usize> = appends.keys().map(|v| v.len()).collect();
    lengths.sort_unstable();
    lengths.dedup();
    let mut fragments = Vec::new();
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        let mut matches = lengths.iter().filter_map(|&n| Some((*appends.get(rest.get(..n)?)?, n)));
        match (matches.next(), matches.next()) {
            (Some((append, _)), None) if seen[append] => break,
            (Some((append, n)), None) => {
                seen[append] = true;
                at += n;
                fragments.push((append, at));
            }
            (Some(_), Some(_)) => return Err(Ambiguous),
            (None, _) => break,
        }
    }
    Ok(fragments)
}

/// Builds the one candidate order (the appends in the order the longest
/// read shows them, each get where its value ends, the appends no read
/// shows at the end; interchangeable operations by call time) and checks
/// it against real time and against the values read.
fn check_candidate(
    history: &[Operation<KvInput, KvOutput>],
    part: &[usize],
    prefix: &[usize],
    base_len: usize,
    gets: &[(usize, &str)],
    fragments: &[(usize, usize)],
    appends: &BTreeMap<&str, usize>,
) -> PartVerdict {
    let call = |pos: usize| history[part[pos]].call;
    let mut candidate: Vec<usize> = Vec::with_capacity(gets.len() + appends.len());
    let mut next_get = 0;
    let mut place_gets_ending_at = |end: usize, candidate: &mut Vec<usize>| -> Result<(), usize> {
        let start = candidate.len();
        while next_get < gets.len() && gets[next_get].1.len() - base_len <= end {
            if gets[next_get].1.len() - base_len < end {
                return Err(gets[next_get].0); // ends inside an append, or reads garbage
            }
            candidate.push(gets[next_get].0);
            next_get += 1;
        }
        candidate[start..].sort_by_key(|&pos| (call(pos), pos));
        Ok(())
    };
    if let Err(culprit) = place_gets_ending_at(0, &mut candidate) {
        return illegal_after(prefix, &candidate, culprit);
    }
    for &(append, end) in fragments {
        candidate.push(append);
        if let Err(culprit) = place_gets_ending_at(end, &mut candidate) {
            return illegal_after(prefix, &candidate, culprit);
        }
    }
    if next_get < gets.len() {
        return illegal_after(prefix, &candidate, gets[next_get].0); // a value the appends do not make
    }
    let mut placed = vec![false; part.len()];
    for &pos in &candidate {
        placed[pos] = true;
    }
    let mut unread: Vec<usize> = appends.values().copied().filter(|&pos| !placed[pos]).collect();
    unread.sort_by_key(|&pos| (call(pos), pos));
    candidate.extend(unread);
    // Real time: nothing may come after an operation that started after it
    // returned.
    let mut latest_call: Option<usize> = None;
    for &pos in &candidate {
        if let Some(x) = latest_call {
            if history[part[pos]].ret.expect("complete") < call(x) {
                let before_x = candidate.iter().position(|&p| p == x).expect("placed");
                return illegal_after(prefix, &candidate[..before_x], pos);
            }
        }
        if latest_call.is_none_or(|x| call(pos) > call(x)) {
            latest_call = Some(pos);
        }
    }
    PartVerdict::Linearizable
}

/// The verdict: `prefix` then `placed` linearize; `culprit` cannot follow.
fn illegal_after(prefix: &[usize], placed: &[usize], culprit: usize) -> PartVerdict {
    PartVerdict::Illegal { longest_prefix: [prefix, placed].concat(), unplaceable: vec![culprit] }
}
