//! The lab as `cargo test` cases, for any implementation: one line in a
//! test file,
//!
//! ```ignore
//! scenarios::lab_tests!(my_crate::Mine);
//! ```
//!
//! gives a test per lab (`lab_raft`, `lab_kv`, `lab_shardctrler`,
//! `lab_shardkv`: names no other test's contain, so `cargo test lab_kv`
//! runs that lab alone), each running every scenario of that lab for a
//! default number of seeds. The environment chooses the seeds: `SIM_SEED` (the
//! first, default 0), `SIM_SEEDS` (how many per scenario),
//! `SIM_CHECK_DETERMINISM=1` (run each seed twice and compare the traces),
//! `LABSIM_BUGS` (catalogued bugs to switch on in the reference),
//! `LABSIM_WITH` (the Raft optimisations to switch on, as `labsim --with`). A
//! failure names the scenario, the seed and the one command that replays
//! it; a test that reaches a `todo!()` says so in one line.

use crate::registry::matching;
use crate::soak::{format_report, soak, FailedRun, SoakPlan};
use crate::Implementation;

/// Every lab's tests as `#[test]` functions for an implementation (see
/// the module's documentation).
#[macro_export]
macro_rules! lab_tests {
    ($implementation:ty) => {
        #[test]
        fn lab_raft() {
            $crate::testing::run_lab::<$implementation>("raft/", 50);
        }
        #[test]
        fn lab_kv() {
            $crate::testing::run_lab::<$implementation>("kv/", 3);
        }
        #[test]
        fn lab_shardctrler() {
            $crate::testing::run_lab::<$implementation>("shardctrler/", 50);
        }
        #[test]
        fn lab_shardkv() {
            $crate::testing::run_lab::<$implementation>("shardkv/", 20);
        }
    };
}

/// What the environment asks of a test run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestEnv {
    pub first_seed: u64,
    /// Seeds per scenario; `None`: the lab's default.
    pub seeds: Option<u64>,
    pub check_determinism: bool,
    pub bugs: bugs::Bugs,
    /// The Raft optimisations switched on (`None`: the implementation's).
    pub optimisations: Option<contract::AskedOptimisations>,
}

impl TestEnv {
    /// Reads `SIM_SEED`, `SIM_SEEDS`, `SIM_CHECK_DETERMINISM`,
    /// `LABSIM_BUGS` and `LABSIM_WITH`; a value that is not understood is an error naming the
    /// variable (never a silent default).
    pub fn from_env() -> Result<TestEnv, String> {
        TestEnv::read(|name| std::env::var(name).ok())
    }

    /// As `from_env`, with the variables from `var`.
    pub fn read(var: impl Fn(&str) -> Option<String>) -> Result<TestEnv, String> {
        let number = |name: &str| -> Result<Option<u64>, String> {
            var(name)
                .map(|v| v.trim().parse::<u64>().map_err(|_| format!("{name}={v:?} is not a non-negative integer")))
                .transpose()
        };
        let first_seed = number("SIM_SEED")?.unwrap_or(0);
        let seeds = number("SIM_SEEDS")?;
        if seeds == Some(0) {
            return Err("SIM_SEEDS=0 would test nothing; give at least 1".into());
        }
        if first_seed.checked_add(seeds.unwrap_or(1) - 1).is_none() {
            return Err(format!("SIM_SEED={first_seed} plus SIM_SEEDS overflows a 64-bit seed"));
        }
        let check_determinism = match var("SIM_CHECK_DETERMINISM").as_deref().map(str::trim) {
            None | Some("0") | Some("") => false,
            Some("1") => true,
            Some(other) => return Err(format!("SIM_CHECK_DETERMINISM={other:?}: use 1 (on) or 0 (off)")),
        };
        let bugs = match var("LABSIM_BUGS") {
            None => bugs::Bugs::NONE,
            Some(list) => bugs::Bugs::parse(&list).map_err(|e| format!("LABSIM_BUGS: {e}"))?,
        };
        let optimisations = var("LABSIM_WITH")
            .map(|list| contract::AskedOptimisations::parse(&list).map_err(|e| format!("LABSIM_WITH: {e}")))
            .transpose()?;
        Ok(TestEnv { first_seed, seeds, check_determinism, bugs, optimisations })
    }
}

/// Runs every scenario whose name starts with `prefix` on implementation
/// `I`, for `default_seeds` seeds unless the environment says otherwise,
/// on every core; panics (fails the test) on any failure.
pub fn run_lab<I: Implementation>(prefix: &str, default_seeds: u64) {
    run_lab_with::<I>(prefix, default_seeds, TestEnv::from_env().unwrap_or_else(|e| panic!("{e}")));
}

/// `run_lab`, with the environment's settings given.
pub fn run_lab_with<I: Implementation>(prefix: &str, default_seeds: u64, env: TestEnv) {
    let scenarios = matching::<I>(prefix);
    assert!(!scenarios.is_empty(), "no scenario starts with {prefix}");
    if let Some(e) = crate::registry::uncarried_bug::<I>(env.bugs) {
        panic!("LABSIM_BUGS: {e}");
    }
    if let Some(e) = env.optimisations.and_then(|o| crate::optimisations::unhonoured(o, I::OPTIMISATIONS, I::NAME)) {
        panic!("LABSIM_WITH: {e}");
    }
    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    let plan = SoakPlan {
        check_determinism: env.check_determinism,
        bugs: env.bugs,
        optimisations: env.optimisations,
        ..SoakPlan::new(scenarios, env.first_seed, env.seeds.unwrap_or(default_seeds), jobs)
    };
    let report = soak(&plan, &|_| {}, &std::sync::atomic::AtomicBool::new(false));
    if report.total_failures == 0 {
        println!("{}", format_report(&report));
        return;
    }
    if report.failed_runs.iter().all(|f| todo_reached(&f.reason)) {
        let lines = not_implemented(&report.failed_runs);
        for line in &lines {
            println!("{line}");
        }
        let listed = report.failed_runs.len() as u64;
        let unlisted = report.total_failures - listed;
        let more = match unlisted {
            0 => String::new(),
            n => format!(" (and {n} more failed runs, not listed)"),
        };
        panic!(
            "{} of {} scenarios of {} reach code not implemented yet{more}",
            lines.len(),
            plan.scenarios.len(),
            I::NAME
        );
    }
    println!("{}", format_report(&report));
    panic!(
        "{} of {} runs of {} failed; see the replay commands above",
        report.total_failures,
        report.total_runs,
        I::NAME
    );
}

/// One line per scenario whose failure is a `todo!()` or `unimplemented!()`
/// ("raft/basic_agree_2b: not implemented yet: Raft::start_command"); none
/// for other failures.
pub fn not_implemented(failures: &[FailedRun]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for failure in failures {
        let Some(at) = todo_at(&failure.reason) else { continue };
        if seen.insert(failure.scenario) {
            let what = failure.reason[at..].lines().next().unwrap_or_default();
            let what = what.trim_start_matches("not yet implemented").trim_start_matches("not implemented");
            lines.push(format!("{}: not implemented yet{what}", failure.scenario));
        }
    }
    lines
}

/// Where a failure's reason says a `todo!()` or `unimplemented!()` was
/// reached.
fn todo_at(reason: &str) -> Option<usize> {
    reason.find("not yet implemented").or_else(|| reason.find("not implemented"))
}

/// Whether a run failed by reaching a `todo!()` or `unimplemented!()`.
pub fn todo_reached(reason: &str) -> bool {
    todo_at(reason).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> Result<TestEnv, String> {
        TestEnv::read(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn the_environment_is_read_or_refused_in_one_line() {
        let plain = env(&[]).unwrap();
        assert_eq!((plain.first_seed, plain.seeds, plain.check_determinism), (0, None, false));
        assert_eq!(env(&[("SIM_SEED", "7"), ("SIM_SEEDS", "3")]).unwrap().seeds, Some(3));
        assert!(env(&[("SIM_CHECK_DETERMINISM", "1")]).unwrap().check_determinism);
        assert!(env(&[("SIM_SEEDS", "0")]).unwrap_err().contains("SIM_SEEDS=0"));
        assert!(env(&[("SIM_SEED", "-1")]).unwrap_err().contains("SIM_SEED"));
        assert!(env(&[("SIM_SEED", &u64::MAX.to_string()), ("SIM_SEEDS", "2")]).unwrap_err().contains("overflows"));
        assert!(env(&[("SIM_CHECK_DETERMINISM", "yes")]).unwrap_err().contains("use 1"));
        assert!(env(&[("LABSIM_BUGS", "garbage")]).unwrap_err().starts_with("LABSIM_BUGS: "));
        let one = env(&[("LABSIM_BUGS", "raft_vote_twice")]).unwrap().bugs;
        assert_eq!(one, bugs::Bugs::one(bugs::Bug::RaftVoteTwice));
    }

    #[test]
    fn a_todo_is_one_line_per_scenario() {
        let run = |scenario, seed, reason: &str| FailedRun {
            scenario,
            seed,
            reason: reason.to_string(),
            replay: String::new(),
        };
        let failures = [
            run("raft/a", 0, "panicked at virtual 0.000s, event #0: not yet implemented: Raft::start (src/raft.rs:9)"),
            run("raft/a", 1, "panicked at virtual 0.000s, event #0: not yet implemented: Raft::start (src/raft.rs:9)"),
            run("raft/b", 0, "one() failed to reach agreement"),
        ];
        assert_eq!(not_implemented(&failures), ["raft/a: not implemented yet: Raft::start (src/raft.rs:9)"]);
    }
}
