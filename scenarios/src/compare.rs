//! Comparing optimisations: one scenario over many seeds under every
//! combination of the Raft optimisations its implementation honours, with
//! the measures its runs note (`measured NAME: VALUE`) summed up per
//! combination, and the first failure of each with its replay command.

use crate::registry::Scenario;
use crate::runner::{replay_command, run_scenario, Run};
use contract::Optimisations;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A measure over the runs of one combination.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measure {
    /// Runs that noted a number for it.
    pub runs: u64,
    /// The sum of those numbers.
    pub sum: f64,
    /// The largest of them.
    pub max: f64,
    /// Runs that noted something else ("never (2 s)").
    pub other: u64,
}

impl Measure {
    fn add(&mut self, value: &str) {
        match value.parse::<f64>() {
            Ok(x) => {
                self.max = if self.runs == 0 { x } else { self.max.max(x) };
                self.runs += 1;
                self.sum += x;
            }
            Err(_) => self.other += 1,
        }
    }

    /// "mean (max M)", with the runs that noted no number.
    pub fn describe(&self) -> String {
        let numbers = match self.runs {
            0 => "-".to_string(),
            n => format!("{:.2} (max {})", self.sum / n as f64, self.max),
        };
        match self.other {
            0 => numbers,
            k => format!("{numbers}; {k} runs: none"),
        }
    }
}

/// One combination's runs.
#[derive(Clone, Debug)]
pub struct Row {
    /// The combination of the optimisations compared (the others stay at
    /// the implementation's default).
    pub optimisations: Optimisations,
    /// Runs made, one per seed.
    pub runs: u64,
    /// Runs that failed.
    pub failures: u64,
    /// The first failing seed's reason and replay command.
    pub first_failure: Option<(String, String)>,
    /// By measure name, in name order.
    pub measures: BTreeMap<String, Measure>,
    /// CPU time of the runs (this machine's, not the run's: not a measure
    /// of the run, and not in any replay).
    pub cpu_ms: f64,
    /// Client operations that returned, over the runs.
    pub operations: u64,
}

/// Runs `scenario` for `seeds` seeds from `first_seed` under each subset
/// of `varied` (optimisations it honours), the others at its
/// implementation's default, on `jobs` threads.
pub fn compare(scenario: &Scenario, varied: Optimisations, first_seed: u64, seeds: u64, jobs: usize) -> Vec<Row> {
    assert!(varied.is_subset(scenario.honoured), "compare varies only honoured optimisations");
    let fixed = varied.iter().fold(scenario.default_optimisations, Optimisations::without);
    let sets = varied.subsets().into_iter().map(|subset| (subset, fixed.union(subset)));
    sets.map(|(subset, set)| compare_one(scenario, (subset, set), first_seed, seeds, jobs)).collect()
}

/// The runs of one combination: `label` is the subset compared, `set` the
/// whole set in effect.
fn compare_one(
    scenario: &Scenario,
    (label, set): (Optimisations, Optimisations),
    first_seed: u64,
    seeds: u64,
    jobs: usize,
) -> Row {
    let row = Mutex::new(Row {
        optimisations: label,
        runs: 0,
        failures: 0,
        first_failure: None,
        measures: BTreeMap::new(),
        cpu_ms: 0.0,
        operations: 0,
    });
    let failed_seed = Mutex::new(u64::MAX);
    let next = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= seeds {
                    return;
                }
                let run = Run::new(first_seed + k).with_optimisations(Some(set));
                let cpu_before = crate::soak::thread_cpu_ms();
                let outcome = run_scenario(scenario, &run);
                let cpu_ms = crate::soak::thread_cpu_ms() - cpu_before;
                let mut row = row.lock().expect("no thread panics holding the row");
                row.runs += 1;
                row.cpu_ms += cpu_ms;
                row.operations += outcome.operations();
                for note in &outcome.notes {
                    if let Some((name, value)) = note.strip_prefix("measured ").and_then(|m| m.split_once(": ")) {
                        row.measures.entry(name.to_string()).or_default().add(value);
                    }
                }
                if let Err(reason) = &outcome.result {
                    row.failures += 1;
                    let mut first = failed_seed.lock().expect("no thread panics holding the seed");
                    if run.seed < *first {
                        *first = run.seed;
                        let replay = replay_command(scenario, run.seed, &run, Some(outcome.stats.trace.hash()));
                        let reason = reason.lines().next().unwrap_or_default().to_string();
                        row.first_failure = Some((reason, replay));
                    }
                }
            });
        }
    });
    row.into_inner().expect("threads finished")
}

/// The rows as a Markdown table: a column per measure any row noted, then
/// the CPU per run (and per client operation, for runs that have clients).
pub fn table(rows: &[Row]) -> String {
    let names: std::collections::BTreeSet<&String> = rows.iter().flat_map(|r| r.measures.keys()).collect();
    let with_ops = rows.iter().any(|r| r.operations > 0);
    let mut out = String::from("| optimisations | runs | failed |");
    for name in &names {
        out.push_str(&format!(" {name} |"));
    }
    out.push_str(" CPU ms per run |");
    if with_ops {
        out.push_str(" CPU us per operation |");
    }
    let columns = names.len() + 1 + usize::from(with_ops);
    out.push_str(&format!("\n|---|---|---|{}\n", "---|".repeat(columns)));
    for r in rows {
        out.push_str(&format!("| {} | {} | {} |", r.optimisations, r.runs, r.failures));
        for name in &names {
            let cell = r.measures.get(*name).map_or("-".to_string(), Measure::describe);
            out.push_str(&format!(" {cell} |"));
        }
        out.push_str(&format!(" {:.1} |", r.cpu_ms / r.runs.max(1) as f64));
        if with_ops {
            out.push_str(&format!(" {:.2} |", r.cpu_ms * 1000.0 / r.operations.max(1) as f64));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_measure_keeps_numbers_and_counts_the_rest() {
        let mut m = Measure::default();
        for v in ["3", "5", "never (2 s)"] {
            m.add(v);
        }
        assert_eq!((m.runs, m.sum, m.max, m.other), (2, 8.0, 5.0, 1));
        assert_eq!(m.describe(), "4.00 (max 5); 1 runs: none");
    }

    #[test]
    fn every_combination_is_run_and_measured() {
        fn noting(run: &Run) -> crate::Outcome {
            crate::runner::simulate::<sim::testing::EchoNode, _>(run, |h| async move {
                let pre_vote = crate::optimisations::in_effect().contains(contract::Optimisation::PreVote);
                h.note(format!("measured pre-vote: {}", u8::from(pre_vote)));
                if pre_vote {
                    Err("fails with PreVote".to_string())
                } else {
                    Ok(())
                }
            })
        }
        let both = Optimisations::of(&[contract::Optimisation::PreVote, contract::Optimisation::CheckQuorum]);
        let scenario = Scenario { name: "test/noting", run: noting, honoured: both, ..Scenario::BLANK };
        let rows = compare(&scenario, scenario.honoured, 0, 3, 2);
        assert_eq!(rows.len(), 4);
        for r in &rows {
            let pre_vote = r.optimisations.contains(contract::Optimisation::PreVote);
            assert_eq!((r.runs, r.failures), (3, if pre_vote { 3 } else { 0 }));
            assert_eq!(r.measures["pre-vote"].sum, if pre_vote { 3.0 } else { 0.0 });
            assert_eq!(r.first_failure.is_some(), pre_vote);
        }
        assert!(table(&rows).contains("| pre_vote,check_quorum | 3 | 3 | 1.00 (max 1) |"), "{}", table(&rows));
    }
}
