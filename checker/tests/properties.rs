//! Property tests of the checker. A history built from a real sequential run,
//! with each operation's interval widened at random around its point in that
//! run (so intervals overlap), is always linearizable; the same history with
//! one read changed to a value never written is never linearizable.

use checker::{
    check, CheckOptions, KvInput, KvModel, KvOutput, Model, Operation, RegisterInput, RegisterModel, RegisterOutput,
    Verdict,
};
use proptest::prelude::*;

/// Spacing of the sequential points; widening reaches up to 4 neighbours.
const SPACING: u64 = 10;

/// Widens op `i` (at point `SPACING * i + SPACING`) by `before` and `after`.
fn widen<I, O>(i: usize, input: I, output: O, client: u64, before: u64, after: u64, pending: bool) -> Operation<I, O> {
    let point = SPACING * i as u64 + SPACING;
    Operation {
        client,
        input,
        output: (!pending).then_some(output),
        call: point - before.min(point),
        ret: (!pending).then_some(point + after),
    }
}

#[derive(Clone, Debug)]
enum KvStep {
    Get(u8),
    Put(u8),
    Append(u8),
}

fn kv_step() -> impl Strategy<Value = KvStep> {
    prop_oneof![(0..3u8).prop_map(KvStep::Get), (0..3u8).prop_map(KvStep::Put), (0..3u8).prop_map(KvStep::Append)]
}

/// A sequential run of the steps, widened; every value written is unique and
/// starts with 'v'. Writes may be left pending (`pending` flags).
fn kv_history(steps: &[(KvStep, u64, u64, bool)]) -> Vec<Operation<KvInput, KvOutput>> {
    let mut values = std::collections::BTreeMap::<String, String>::new();
    steps
        .iter()
        .enumerate()
        .map(|(i, (step, before, after, pending))| {
            let client = i as u64 % 7;
            match step {
                KvStep::Get(k) => {
                    let key = k.to_string();
                    let seen = values.get(&key).cloned().unwrap_or_default();
                    widen(i, KvInput::Get { key }, KvOutput::Value(seen), client, *before, *after, false)
                }
                KvStep::Put(k) | KvStep::Append(k) => {
                    let (key, value) = (k.to_string(), format!("v{i};"));
                    let slot = values.entry(key.clone()).or_default();
                    let input = if matches!(step, KvStep::Put(_)) {
                        *slot = value.clone();
                        KvInput::Put { key, value }
                    } else {
                        slot.push_str(&value);
                        KvInput::Append { key, value }
                    };
                    widen(i, input, KvOutput::Done, client, *before, *after, *pending)
                }
            }
        })
        .collect()
}

fn widened_steps<S: std::fmt::Debug + Clone>(
    step: impl Strategy<Value = S>,
) -> impl Strategy<Value = Vec<(S, u64, u64, bool)>> {
    prop::collection::vec((step, 0..4 * SPACING, 0..4 * SPACING, prop::bool::weighted(0.1)), 1..60)
}

fn corrupt_a_read<M: Model>(
    history: &mut [Operation<M::Input, M::Output>],
    pick: usize,
    is_read: impl Fn(&Operation<M::Input, M::Output>) -> bool,
    never_written: M::Output,
) -> bool {
    let reads: Vec<usize> = (0..history.len()).filter(|&i| is_read(&history[i]) && history[i].ret.is_some()).collect();
    if reads.is_empty() {
        return false;
    }
    history[reads[pick % reads.len()]].output = Some(never_written);
    true
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn widened_sequential_kv_runs_are_linearizable(steps in widened_steps(kv_step())) {
        let history = kv_history(&steps);
        prop_assert_eq!(check(&KvModel, &history, CheckOptions::default()), Verdict::Linearizable);
    }

    #[test]
    fn a_kv_read_of_a_value_never_written_is_caught(steps in widened_steps(kv_step()), pick in 0usize..100) {
        let mut history = kv_history(&steps);
        let is_get = |o: &Operation<KvInput, KvOutput>| matches!(o.input, KvInput::Get { .. });
        if corrupt_a_read::<KvModel>(&mut history, pick, is_get, KvOutput::Value("NEVER".into())) {
            let verdict = check(&KvModel, &history, CheckOptions::default());
            prop_assert!(matches!(verdict, Verdict::NotLinearizable(_)), "{:?}", verdict);
        }
    }

    #[test]
    fn widened_sequential_register_runs_are_linearizable(steps in widened_steps(0..4u8)) {
        let history = register_history(&steps);
        prop_assert_eq!(check(&RegisterModel, &history, CheckOptions::default()), Verdict::Linearizable);
    }

    #[test]
    fn a_register_read_of_a_value_never_written_is_caught(steps in widened_steps(0..4u8), pick in 0usize..100) {
        let mut history = register_history(&steps);
        let is_read = |o: &Operation<RegisterInput, RegisterOutput>| o.input == RegisterInput::Read;
        if corrupt_a_read::<RegisterModel>(&mut history, pick, is_read, RegisterOutput::Read(Some(-1))) {
            let verdict = check(&RegisterModel, &history, CheckOptions::default());
            prop_assert!(matches!(verdict, Verdict::NotLinearizable(_)), "{:?}", verdict);
        }
    }
}

/// Kind 0: read, 1: write, 2: cas that succeeds, 3: cas that fails. Values
/// written are the op's index, so never -1.
fn register_history(steps: &[(u8, u64, u64, bool)]) -> Vec<Operation<RegisterInput, RegisterOutput>> {
    let mut value: Option<i64> = None;
    steps
        .iter()
        .enumerate()
        .map(|(i, (kind, before, after, pending))| {
            let client = i as u64 % 5;
            let (input, output, may_pend) = match kind {
                0 => (RegisterInput::Read, RegisterOutput::Read(value), false),
                1 => {
                    value = Some(i as i64);
                    (RegisterInput::Write(i as i64), RegisterOutput::Written, true)
                }
                2 if value.is_some() => {
                    let from = value.expect("checked");
                    value = Some(i as i64);
                    (RegisterInput::Cas { from, to: i as i64 }, RegisterOutput::Cas(true), true)
                }
                _ => {
                    let from = value.map_or(0, |v| v + 1000);
                    (RegisterInput::Cas { from, to: i as i64 }, RegisterOutput::Cas(false), false)
                }
            };
            widen(i, input, output, client, *before, *after, *pending && may_pend)
        })
        .collect()
}

/// Appends of unique values and gets on one or two keys, from a real run,
/// widened; then one operation's interval may be moved at random (which
/// may or may not break linearizability).
fn append_history(
    steps: &[(bool, u8, u64, u64)],
    moved: Option<(usize, u64, u64)>,
) -> Vec<Operation<KvInput, KvOutput>> {
    let mut values = std::collections::BTreeMap::<String, String>::new();
    let mut history: Vec<_> = steps
        .iter()
        .enumerate()
        .map(|(i, &(is_get, k, before, after))| {
            let key = (k % 2).to_string();
            if is_get {
                let seen = values.get(&key).cloned().unwrap_or_default();
                widen(i, KvInput::Get { key }, KvOutput::Value(seen), i as u64 % 5, before, after, false)
            } else {
                let value = format!("x {i} y");
                values.entry(key.clone()).or_default().push_str(&value);
                widen(i, KvInput::Append { key, value }, KvOutput::Done, i as u64 % 5, before, after, false)
            }
        })
        .collect();
    if let Some((pick, call, length)) = moved {
        let op = &mut history[pick % steps.len()];
        op.call = call;
        op.ret = Some(call + length);
    }
    history
}

proptest! {
    /// The exact fast paths (sequential parts, unique appends) give the
    /// search's verdict.
    #[test]
    fn fast_paths_agree_with_the_search(
        steps in prop::collection::vec((prop::bool::weighted(0.3), 0..2u8, 0..4 * SPACING, 0..4 * SPACING), 1..24),
        moved in prop::option::of((0..24usize, 0..250u64, 0..40u64)),
    ) {
        let history = append_history(&steps, moved);
        let fast = check(&KvModel, &history, CheckOptions::default());
        let search = check(&KvModel, &history, CheckOptions { search_only: true, ..CheckOptions::default() });
        prop_assert_eq!(fast.is_linearizable(), search.is_linearizable(), "{:?}", history);
    }
}

/// The 14 strings of length 1 to 3 over {a, b}: distinct values, many of
/// them prefixes of others, so that reads can parse in more than one way.
fn ab_words() -> Vec<String> {
    (1..=3)
        .flat_map(|n| {
            (0..1u32 << n).map(move |bits| (0..n).map(|k| if bits >> k & 1 == 1 { 'b' } else { 'a' }).collect())
        })
        .collect()
}

proptest! {
    /// The same agreement on harder shapes: values that are prefixes of one
    /// another, a Put first, and a read corrupted by one byte.
    #[test]
    fn fast_paths_agree_with_the_search_on_ambiguous_values(
        steps in prop::collection::vec((prop::bool::weighted(0.3), Just(0u8), 0..4 * SPACING, 0..4 * SPACING), 1..14),
        words in Just(ab_words()).prop_shuffle(),
        put_first in any::<bool>(),
        corrupt in prop::option::of((0..14usize, any::<bool>())),
    ) {
        let mut history = append_history(&steps, None);
        for (i, op) in history.iter_mut().enumerate() {
            if let KvInput::Append { value, .. } = &mut op.input {
                *value = words[i].clone();
            }
        }
        // Recompute the reads for the new values (same order as before).
        let mut state = String::new();
        let mut order: Vec<usize> = (0..history.len()).collect();
        order.sort_by_key(|&i| i); // the sequential run's order is the index order
        for &i in &order {
            match &history[i].input {
                KvInput::Append { value, .. } => state.push_str(value),
                KvInput::Get { .. } => history[i].output = Some(KvOutput::Value(state.clone())),
                KvInput::Put { .. } => {}
            }
        }
        if let Some((pick, grow)) = corrupt {
            let k = pick % history.len();
            if let Some(KvOutput::Value(v)) = &mut history[k].output {
                if grow { v.push('a') } else { v.pop(); }
            }
        }
        if put_first {
            for op in history.iter_mut() {
                op.call += 2;
                op.ret = op.ret.map(|r| r + 2);
            }
            let put = KvInput::Put { key: "0".into(), value: "b".into() };
            history.insert(0, Operation { client: 9, input: put, output: Some(KvOutput::Done), call: 0, ret: Some(1) });
            for op in history.iter_mut().skip(1) {
                if let Some(KvOutput::Value(v)) = &mut op.output {
                    v.insert(0, 'b');
                }
            }
        }
        let fast = check(&KvModel, &history, CheckOptions::default());
        let search = check(&KvModel, &history, CheckOptions { search_only: true, ..CheckOptions::default() });
        prop_assert_eq!(fast.is_linearizable(), search.is_linearizable(), "{:?}", history);
    }
}
