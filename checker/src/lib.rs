//! Linearizability checking of concurrent histories.
//!
//! `check` decides whether a history of operations (with call and return
//! times, pending operations allowed) has a linearization under a `Model`:
//! the Wing & Gong / Lowe search with memoisation, split per independent part
//! (per key for the key/value model). It has no wall-clock time-out: an
//! optional step budget yields `Verdict::Unknown`, which callers must never
//! count as a pass. `report` explains an illegal history in words and as
//! HTML; `parse` reads the recorded histories in testdata/porcupine.

pub mod checker;
pub mod history;
pub mod linear;
pub mod model;
pub mod models;
pub mod parse;
pub mod report;

pub use checker::{check, CheckOptions, Counterexample, Verdict};
pub use history::{EventRecorder, Operation};
pub use model::{Model, PartVerdict, Transition};
pub use models::{KvInput, KvModel, KvOutput, RegisterInput, RegisterModel, RegisterOutput};

#[cfg(test)]
mod tests {
    use super::*;

    fn op<I, O>(client: u64, input: I, output: O, call: u64, ret: u64) -> Operation<I, O> {
        Operation { client, input, output: Some(output), call, ret: Some(ret) }
    }

    fn get(key: &str, value: &str) -> (KvInput, KvOutput) {
        (KvInput::Get { key: key.into() }, KvOutput::Value(value.into()))
    }

    fn put(key: &str, value: &str) -> (KvInput, KvOutput) {
        (KvInput::Put { key: key.into(), value: value.into() }, KvOutput::Done)
    }

    fn ops(list: Vec<(u64, (KvInput, KvOutput), u64, u64)>) -> Vec<Operation<KvInput, KvOutput>> {
        list.into_iter().map(|(c, (i, o), call, ret)| op(c, i, o, call, ret)).collect()
    }

    /// 6.824 2017 quiz 2 section VII, as in Porcupine's register test.
    #[test]
    fn quiz_register_histories() {
        let ok = ops(vec![(0, put("x", "100"), 0, 100), (1, get("x", "100"), 25, 75), (2, get("x", ""), 30, 60)]);
        assert_eq!(check(&KvModel, &ok, CheckOptions::default()), Verdict::Linearizable);
        let bad = ops(vec![(0, put("x", "200"), 0, 100), (1, get("x", "200"), 10, 30), (2, get("x", ""), 40, 90)]);
        assert!(matches!(check(&KvModel, &bad, CheckOptions::default()), Verdict::NotLinearizable(_)));
    }

    /// Zero-length operations at equal times: calls order before returns.
    #[test]
    fn zero_duration_operations() {
        let ok = ops(vec![(0, put("x", "1"), 0, 100), (1, get("x", "1"), 30, 30), (2, get("x", ""), 30, 30)]);
        assert_eq!(check(&KvModel, &ok, CheckOptions::default()), Verdict::Linearizable);
        let bad = ops(vec![(0, put("x", "1"), 0, 10), (1, get("x", ""), 10, 10), (2, get("x", "1"), 5, 9)]);
        assert!(matches!(check(&KvModel, &bad, CheckOptions::default()), Verdict::NotLinearizable(_)));
    }

    #[test]
    fn pending_operations_may_or_may_not_take_effect() {
        let pending_put = Operation { client: 9, input: put("k", "v").0, output: None, call: 0, ret: None };
        let mut seen = ops(vec![(1, get("k", "v"), 50, 60)]);
        seen.push(pending_put.clone());
        assert_eq!(check(&KvModel, &seen, CheckOptions::default()), Verdict::Linearizable);
        let mut unseen = ops(vec![(1, get("k", ""), 50, 60)]);
        unseen.push(pending_put.clone());
        assert_eq!(check(&KvModel, &unseen, CheckOptions::default()), Verdict::Linearizable);
        // ... but not before its call.
        let mut early = ops(vec![(1, get("k", "v"), 0, 5)]);
        early.push(Operation { call: 10, ..pending_put });
        assert!(matches!(check(&KvModel, &early, CheckOptions::default()), Verdict::NotLinearizable(_)));
    }

    #[test]
    fn the_counterexample_names_key_prefix_and_culprits() {
        let history = ops(vec![
            (0, put("a", "1"), 0, 10),
            (1, put("b", "1"), 0, 10),
            (2, get("b", "1"), 20, 30),
            (3, get("b", "2"), 40, 50),
        ]);
        let Verdict::NotLinearizable(cx) = check(&KvModel, &history, CheckOptions::default()) else {
            panic!("illegal")
        };
        assert_eq!(cx.part_name, "key \"b\"");
        assert_eq!(cx.longest_prefix, vec![1, 2]);
        assert_eq!(cx.unplaceable, vec![3]);
        assert_eq!(cx.state_after_prefix, "\"1\"");
        let words = report::explain(&KvModel, &history, &cx);
        assert!(words.contains("get(\"b\") -> \"2\""), "{words}");
        let page = report::html(&KvModel, &history, &cx, "t");
        assert!(page.starts_with("<!DOCTYPE html>") && page.contains("<svg") && page.contains("✗"), "{page}");
    }

    #[test]
    fn a_budget_gives_unknown_never_a_pass() {
        let history = ops((0..40).map(|i| (i, put("k", &i.to_string()), 0, 100)).collect());
        let verdict = check(&KvModel, &history, CheckOptions { step_budget: Some(10), ..CheckOptions::default() });
        assert_eq!(verdict, Verdict::Unknown);
        assert!(!verdict.is_linearizable());
        // 40 concurrent puts to one key, then a get of the first: a search
        // of up to 2^40 subsets, stopped by its memory long before.
        let mut many = (0..40).map(|i| (i, put("k", &i.to_string()), 0, 100)).collect::<Vec<_>>();
        many.push((40, get("k", "0"), 101, 102));
        let budget = CheckOptions { memory_budget_bytes: Some(1 << 20), ..CheckOptions::default() };
        assert_eq!(check(&KvModel, &ops(many), budget), Verdict::Unknown);
    }

    #[test]
    fn unobserved_timed_out_writes_cost_no_search() {
        use RegisterInput::*;
        use RegisterOutput as O;
        let op = |input, output: Option<RegisterOutput>, call, ret: Option<u64>| Operation {
            client: 0,
            input,
            output,
            call,
            ret,
        };
        // A write of 1, then 24 writes that timed out (values nobody read)
        // beside reads that all see 1: 2^24 orders of the pending writes
        // without the dropping, a few steps with it.
        let mut history = vec![op(Write(1), Some(O::Written), 0, Some(10))];
        history.extend((0..24).map(|v| op(Write(100 + v), None, 5, None)));
        history.extend((0..20).map(|k| op(Read, Some(O::Read(Some(1))), 20 + 10 * k, Some(25 + 10 * k))));
        let budget = CheckOptions { step_budget: Some(10_000), ..CheckOptions::default() };
        assert_eq!(check(&RegisterModel, &history, budget), Verdict::Linearizable);
        let searched = CheckOptions { search_only: true, ..budget };
        assert_eq!(check(&RegisterModel, &history, searched), Verdict::Unknown, "the plain search is exponential here");
        // A pending write whose value a read saw is kept, and decides.
        history.push(op(Read, Some(O::Read(Some(107))), 300, Some(310)));
        assert_eq!(check(&RegisterModel, &history, budget), Verdict::Linearizable);
        history.push(op(Read, Some(O::Read(Some(1))), 320, Some(330)));
        assert!(!check(&RegisterModel, &history, CheckOptions::default()).is_linearizable(), "1 after 107 is stale");
    }

    #[test]
    fn register_cas_semantics() {
        use RegisterInput::*;
        use RegisterOutput as O;
        let m = RegisterModel;
        let step = |s: Option<i64>, i, o| m.step(&s, &i, o).apply(&s);
        assert_eq!(step(None, Read, Some(&O::Read(None))), Some(None));
        assert_eq!(step(Some(1), Cas { from: 1, to: 2 }, Some(&O::Cas(true))), Some(Some(2)));
        assert_eq!(step(Some(1), Cas { from: 1, to: 2 }, Some(&O::Cas(false))), None);
        assert_eq!(step(Some(3), Cas { from: 1, to: 2 }, Some(&O::Cas(false))), Some(Some(3)));
        assert_eq!(step(Some(1), Cas { from: 1, to: 2 }, None), Some(Some(2)));
        assert_eq!(step(Some(3), Cas { from: 1, to: 2 }, None), Some(Some(3)));
        assert_eq!(step(Some(1), Read, Some(&O::Written)), None);
    }
}
