//! The `labsim` command line: exit codes and one-line errors for bad input.

use crate::labsim;
use std::process::Command;

fn testdata(file: &str) -> String {
    let dir = std::env::var("PORCUPINE_TESTDATA")
        .unwrap_or_else(|_| format!("{}/../../shared/testdata/porcupine", env!("CARGO_MANIFEST_DIR")));
    format!("{dir}/{file}")
}

#[test]
fn bad_usage_exits_2_with_one_line() {
    for args in [
        vec!["run", "no/such", "--seed", "1"],
        vec!["run", "sim/basic", "--seed", "x1"],
        vec!["soak", "--jobs", "0"],
        vec!["soak", "--jobs", "5000"],
        vec!["soak", "--seeds", "1e9"],
        vec!["soak", "--seeds", "18446744073709551615"],
        vec!["soak", "sim", "--first-seed", "18446744073709551615", "--seeds", "2"],
        vec!["soak", "--shard", "0/2"],
        vec!["soak", "--shard", "3/2"],
        vec!["soak", "--shard", "half"],
        vec!["soak", "--watchdog-secs", "0"],
        vec!["soak", "no-such-filter"],
        vec!["soak", "raft/["],
        vec!["run", "raft/basic_agree_2b", "--seed", "1", "--bugs", ""],
        vec!["run", "raft/basic_agree_2b", "--seed", "1", "--bugs", "kv_read_without_log"],
        vec!["soak", "raft", "--bugs", "shard_never_deletes"],
        vec!["run", "raft/basic_agree_2b", "--seed", "-1"],
        vec!["list", "zzz"],
        vec!["list", "raft/["],
        vec!["frobnicate"],
        vec!["check", "/no/such/file", "--model", "kv"],
        vec!["check", "x", "--model", "queue"],
        vec!["run", "raft/swarm", "--seed", "1", "--bugs", "raft_vote_thrice"],
        vec!["soak", "raft", "--bugs", "raft_vote_twice,nope"],
        vec!["hunt", "raft_vote_thrice"],
        vec!["hunt"],
        vec!["hunt", "raft_vote_twice", "--all"],
        vec!["hunt", "--all", "--seeds", "0"],
        vec!["run", "raft/basic_agree_2b", "--seed", "1", "--with", "fast_paxos"],
        vec!["run", "raft/basic_agree_2b", "--seed", "1", "--with", "pre_vote,"],
        vec!["run", "raft/basic_agree_2b", "--seed", "1", "--bugs", "raft_pre_vote_takes_term"],
        vec!["soak", "raft", "--bugs", "raft_quorum_check_counts_sends", "--with", "pre_vote"],
        vec!["compare", "no/such"],
        vec!["compare", "raft/isolated_leader", "--seeds", "0"],
        vec!["compare", "raft/isolated_leader", "--seeds", "1", "--html", "/"],
        vec!["compare", "raft/isolated_leader", "--seeds", "1", "--svg", "/no/such/dir/x.svg"],
        vec!["compare", "raft/isolated_leader", "--seeds", "1", "--of", "pre_vote,bogus"],
    ] {
        let (code, _, err) = labsim(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line, got {err:?}");
        assert!(err.starts_with("labsim: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
    let (_, _, err) = labsim(&["run", "raft/basic_agree_2b", "--seed", "-1"]);
    assert!(err.contains("a seed is a whole number from 0 to"), "the fix is said, not a tip that fails: {err}");
    let (_, _, err) = labsim(&["soak", "raft", "--bugs", "shard_never_deletes"]);
    assert!(err.contains("shard_never_deletes is a shardkv bug"), "{err}");
    let (_, _, err) = labsim(&["run", "raft/basic_agree_2b", "--seed", "1", "--bugs", "raft_pre_vote_takes_term"]);
    assert!(err.contains("runs only with --with default,pre_vote"), "{err}");
}

#[test]
fn optimisations_are_noted_and_replayed() {
    let bug = ["--bugs", "raft_pre_candidate_keeps_leader", "--with", "pre_vote,check_quorum"];
    let (code, out, err) = labsim(&[&["run", "raft/isolated_leader", "--seed", "0"][..], &bug[..]].concat());
    assert_eq!(code, 1, "etcd #9586 leaves no leader: {out}{err}");
    assert!(out.contains("raft optimisations: pre_vote,check_quorum"), "{out}");
    assert!(out.contains("--with pre_vote,check_quorum --expect-trace"), "the replay keeps the set: {out}");
    let (code, out, err) = labsim(&[
        "compare",
        "raft/rejoin_after_isolation",
        "--seeds",
        "2",
        "--jobs",
        "1",
        "--of",
        "pre_vote,check_quorum",
    ]);
    assert_eq!(code, 0, "{err}");
    for row in
        ["| none | 2 | 0 |", "| pre_vote | 2 | 0 | 0.00 (max 0) | 0.00 (max 0) |", "| pre_vote,check_quorum | 2 |"]
    {
        assert!(out.contains(row), "{row} in {out}");
    }
}

#[test]
fn a_soak_says_the_threads_it_will_use() {
    let (code, _, err) = labsim(&["soak", "sim/fault_pause", "--seeds", "3", "--jobs", "1000"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("on 3 threads"), "{err}");
}

#[test]
fn ctrl_c_stops_a_huge_soak_and_reports_what_ran() {
    // A trillion seeds start at once (nothing is allocated per seed); the
    // first Ctrl-C ends the soak with the summary of the runs done.
    let dir = std::env::temp_dir().join(format!("labsim-cli-ctrlc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("r.json");
    let child = Command::new(env!("CARGO_BIN_EXE_labsim"))
        .args(["soak", "sim/fault_", "--seeds", "1000000000000", "--jobs", "2", "--json", json.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("labsim runs");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: kill sends a signal to the child we started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    assert!(stdout.contains("INCOMPLETE") && stdout.contains("sim/fault_pause"), "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(report["complete"], false);
    assert!(report["total_runs"].as_u64().unwrap() > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_and_list() {
    let (code, out, _) = labsim(&["run", "sim/fault_pause", "--seed", "3"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("PASS sim/fault_pause seed 3"), "{out}");
    let (code, out, _) = labsim(&["list", "sim/fault_"]);
    assert_eq!(code, 0);
    assert!(out.lines().count() >= 8 && out.lines().all(|l| l.starts_with("sim/fault_")), "{out}");
}

#[test]
fn check_gives_verdicts_as_exit_codes() {
    let (code, out, _) = labsim(&["check", &testdata("kv/c10-ok.txt"), "--model", "kv"]);
    assert_eq!(code, 0, "{out}");
    let html = std::env::temp_dir().join(format!("labsim-cli-test-{}.html", std::process::id()));
    let (code, out, _) =
        labsim(&["check", &testdata("jepsen/etcd_000.log"), "--model", "register", "--html", html.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("not linearizable") && out.contains("longest linearizable prefix"), "{out}");
    let page = std::fs::read_to_string(&html).expect("the drawing was written");
    assert!(page.contains("<svg"));
    let _ = std::fs::remove_file(html);
    // Without --html, nothing is written; the output says how to draw it.
    let (code, out, _) = labsim(&["check", &testdata("kv/c01-bad.txt"), "--model", "kv"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--html FILE") && !out.contains("drawing:"), "{out}");
}

#[test]
fn a_search_out_of_budget_is_unknown_exit_3_never_a_pass() {
    // (The memory budget is tested with the checker, in sim.)
    let (code, out, _) = labsim(&["check", &testdata("kv/c50-ok.txt"), "--model", "kv", "--max-steps", "10"]);
    assert_eq!(code, 3, "{out}");
    assert!(out.starts_with("unknown:") && out.contains("not a pass"), "{out}");
    let (code, _, err) = labsim(&["check", &testdata("kv/c50-ok.txt"), "--model", "kv", "--max-steps", "0"]);
    assert_eq!(code, 2, "a zero budget is bad usage: {err}");
}

#[test]
fn the_drawing_never_replaces_its_input() {
    let path = std::env::temp_dir().join(format!("labsim-cli-self-{}.txt", std::process::id()));
    std::fs::copy(testdata("kv/c01-bad.txt"), &path).unwrap();
    let p = path.to_str().unwrap();
    let (code, _, err) = labsim(&["check", p, "--model", "kv", "--html", p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is the input file"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(testdata("kv/c01-bad.txt")).unwrap());
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_malformed_history_names_file_and_line() {
    let path = std::env::temp_dir().join(format!("labsim-cli-bad-{}.txt", std::process::id()));
    std::fs::write(
        &path,
        "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n{:process 0, :type :ok, :f :frob}\n",
    )
    .unwrap();
    let (code, _, err) = labsim(&["check", path.to_str().unwrap(), "--model", "kv"]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{}:2:", path.display())), "{err}");
    let _ = std::fs::remove_file(path);
}

#[test]
fn a_file_with_no_operation_of_the_model_is_bad_input() {
    let empty = std::env::temp_dir().join(format!("labsim-cli-empty-{}.txt", std::process::id()));
    std::fs::write(&empty, "").unwrap();
    for (file, model) in [
        (empty.to_str().unwrap().to_string(), "kv"),
        ("/dev/null".to_string(), "register"),
        (testdata("kv/c01-bad.txt"), "register"),
    ] {
        let (code, out, err) = labsim(&["check", &file, "--model", model]);
        assert_eq!(code, 2, "{file} as {model}: {out}{err}");
        assert!(err.contains("no operation of this model") && !out.contains("linearizable"), "{err}");
    }
    let _ = std::fs::remove_file(empty);
}

#[test]
fn a_missing_argument_is_named_and_near_scenario_names_are_suggested() {
    let (code, _, err) = labsim(&["run", "raft/figure_8_2c"]);
    assert_eq!((code, err.trim().lines().count()), (2, 1), "{err}");
    assert!(err.contains("--seed"), "the missing argument is named: {err}");
    let (code, _, err) = labsim(&["run", "raft/figure8", "--seed", "1"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean") && err.contains("raft/figure_8_2c"), "{err}");
    let (code, _, err) = labsim(&["soak", "kv/basic3a"]);
    assert_eq!(code, 2);
    assert!(err.contains("kv/basic_3a"), "{err}");
}

#[test]
fn a_closed_pipe_ends_labsim_quietly() {
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_labsim"))
        .args(["run", "sim/fault_pause", "--seed", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("labsim runs");
    drop(child.stdout.take()); // the reader goes away before anything is read
    let out = child.wait_with_output().expect("labsim ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked") && out.status.code() != Some(101), "{:?}: {err}", out.status);
}

#[test]
fn an_unwritable_report_path_is_refused_before_the_soak() {
    let (code, out, err) = labsim(&["soak", "sim/fault_pause", "--seeds", "1", "--json", "/no/such/dir/report.json"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("/no/such/dir/report.json") && err.trim().lines().count() == 1, "{err}");
    assert!(out.is_empty(), "nothing was soaked: {out}");
}

#[test]
fn a_runs_trace_is_every_event_as_json_lines() {
    let path = std::env::temp_dir().join(format!("labsim-cli-trace-{}.jsonl", std::process::id()));
    let (code, out, err) =
        labsim(&["run", "raft/initial_election_2a", "--seed", "2", "--trace", path.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let events: u64 =
        out.split(" events").next().unwrap().rsplit(' ').next().unwrap().parse().expect("PASS names the events");
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
    let traced = lines.iter().filter(|l| l["kind"] != "status").count() as u64;
    assert_eq!(traced, events, "one line per traced event, besides the nodes' status changes");
    assert!(lines.iter().any(|l| l["kind"] == "status" && l["role"] == "leader"), "someone was elected");
    assert!(lines.windows(2).all(|w| w[0]["at"].as_u64() <= w[1]["at"].as_u64()), "in virtual time order");
    for kind in ["fault", "start", "request", "reply", "timer"] {
        assert!(lines.iter().any(|l| l["kind"] == kind), "{kind}");
    }
    let vote = lines.iter().find(|l| l["label"] == "RequestVote").expect("an election asks for votes");
    assert!(vote["node"].as_str().unwrap().starts_with("raft-") && vote["peer"].is_string(), "{vote}");
    let _ = std::fs::remove_file(path);
    let (code, _, err) = labsim(&["run", "sim/fault_pause", "--seed", "1", "--trace", "/no/such/dir/t.jsonl"]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn a_bad_labsim_bugs_variable_is_one_line_and_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_labsim"))
        .args(["list", "raft"])
        .env("LABSIM_BUGS", "raft_vote_twice,no_such_bug")
        .output()
        .expect("labsim runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("LABSIM_BUGS") && err.contains("no_such_bug"), "{err}");
}

#[test]
fn the_catalogue_lists_every_bug_with_its_source() {
    let (code, out, _) = labsim(&["bugs"]);
    assert_eq!(code, 0);
    for bug in bugs::Bug::ALL {
        assert!(out.contains(bug.name()) && out.contains(bug.source()), "{} missing", bug.name());
    }
}

#[test]
fn a_hunts_catch_replays_with_the_bug_and_passes_without_it() {
    let (code, out, _) = labsim(&["hunt", "raft_vote_twice", "--jobs", "1"]);
    assert_eq!(code, 0, "{out}");
    // "caught by raft/swarm seed 3 (raft observer) after ..."
    let caught = out.lines().find_map(|l| l.strip_prefix("caught by ")).expect("a catch");
    let words: Vec<&str> = caught.split_whitespace().collect();
    let (scenario, seed) = (words[0], words[2]);
    let (code, run, _) = labsim(&["run", scenario, "--seed", seed, "--bugs", "raft_vote_twice"]);
    assert_eq!(code, 1, "the catch replays: {run}");
    assert!(run.contains("--bugs raft_vote_twice"), "the replay names the bug: {run}");
    let (code, run, _) = labsim(&["run", scenario, "--seed", seed]);
    assert_eq!(code, 0, "without the bug the run passes: {run}");
}

#[test]
fn hunt_reports_the_catch_and_the_replay() {
    let (code, out, _) = labsim(&["hunt", "raft_commits_old_term_by_count", "--jobs", "1"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("caught by raft/"), "{out}");
    assert!(out.contains("replay: ") && out.contains("--bugs raft_commits_old_term_by_count"), "{out}");
}

#[test]
fn a_swarm_run_names_only_the_injection_points_of_the_code_it_runs() {
    let mut seen_some = false;
    for seed in 0..8 {
        let seed = seed.to_string();
        let (code, out, err) = labsim(&["run", "raft/swarm", "--seed", &seed]);
        assert_eq!(code, 0, "{err}");
        let sites = out.lines().find_map(|l| l.trim().strip_prefix("buggify sites: ")).expect("the sites are noted");
        assert!(!sites.contains("kv_") && !sites.contains("shard_"), "a Raft run names only Raft's sites: {sites}");
        seen_some |= sites.contains("raft_");
    }
    assert!(seen_some, "some seed enables a Raft site");
}

#[test]
fn check_reads_a_history_from_standard_input() {
    use std::io::Write;
    let text = std::fs::read_to_string(testdata("kv/c10-bad.txt")).expect("the recorded history");
    let mut child = Command::new(env!("CARGO_BIN_EXE_labsim"))
        .args(["check", "-", "--model", "kv"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("labsim runs");
    child.stdin.take().expect("piped").write_all(text.as_bytes()).expect("written");
    let out = child.wait_with_output().expect("exited");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with("-: not linearizable"), "{stdout}");
}

/// An output path that exists and is not a regular file is refused before
/// any work, and never replaced (as root, `--html /dev/full` once replaced
/// the device with a page).
#[test]
fn an_output_path_that_is_not_a_regular_file_is_refused_and_left_alone() {
    let dir = std::env::temp_dir();
    for (flag, args) in [
        ("--html", vec!["run", "raft/basic_agree_2b", "--seed", "1"]),
        ("--trace", vec!["run", "raft/basic_agree_2b", "--seed", "1"]),
        ("--history", vec!["run", "kv/basic_3a", "--seed", "1"]),
        ("--json", vec!["soak", "sim/fault_pause", "--seeds", "1"]),
        ("--junit", vec!["soak", "sim/fault_pause", "--seeds", "1"]),
    ] {
        for target in ["/dev/null", dir.to_str().unwrap()] {
            let mut all = args.clone();
            all.extend([flag, target]);
            let (code, out, err) = labsim(&all);
            assert_eq!(code, 2, "{all:?}: {out}{err}");
            assert!(err.contains(target) && err.trim().lines().count() == 1, "{all:?}: {err}");
            assert!(!out.contains("PASS") && !out.contains("total:"), "nothing ran before the refusal: {out}");
        }
    }
    assert!(std::fs::metadata("/dev/null").is_ok_and(|m| !m.is_file()), "the device is still a device");
    let (code, _, err) =
        labsim(&["check", &testdata("jepsen/etcd_000.log"), "--model", "register", "--html", "/dev/null"]);
    assert_eq!(code, 2, "{err}");
}

/// `check --html` on a linearizable history says why nothing is drawn.
#[test]
fn check_html_on_a_linearizable_history_says_why_nothing_is_drawn() {
    let html = std::env::temp_dir().join(format!("labsim-cli-ok-{}.html", std::process::id()));
    let (code, out, _) =
        labsim(&["check", &testdata("kv/c01-ok.txt"), "--model", "kv", "--html", html.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("linearizable") && out.contains("nothing drawn"), "{out}");
    assert!(!html.exists(), "no page for a history that does not break");
}

/// A return that is not of the operation its process has open (a Get
/// answered as a Put, a write answered with another value) is bad input
/// naming the file and line: never a pass, never "not linearizable".
#[test]
fn a_return_for_another_operation_is_bad_input_naming_file_and_line() {
    let path = std::env::temp_dir().join(format!("labsim-cli-mismatch-{}.txt", std::process::id()));
    let invoke = "{:process 0, :type :invoke, :f :get, :key \"1\", :value nil}\n";
    for completion in [
        "{:process 0, :type :ok, :f :put, :key \"1\", :value \"x\"}\n",
        "{:process 0, :type :ok, :f :append, :key \"1\", :value \"x\"}\n",
    ] {
        std::fs::write(&path, format!("{invoke}{completion}")).unwrap();
        let (code, out, err) = labsim(&["check", path.to_str().unwrap(), "--model", "kv"]);
        assert_eq!(code, 2, "{out}{err}");
        assert!(err.contains(&format!("{}:2:", path.display())), "{err}");
    }
    let put = "{:process 0, :type :invoke, :f :put, :key \"1\", :value \"a\"}\n";
    std::fs::write(&path, format!("{put}{{:process 0, :type :ok, :f :put, :key \"1\", :value \"b\"}}\n")).unwrap();
    let (code, _, err) = labsim(&["check", path.to_str().unwrap(), "--model", "kv"]);
    assert_eq!(code, 2, "{err}");
    let _ = std::fs::remove_file(path);
}

/// The replay line a failure prints takes every option the run had and the
/// run's trace hash; run as printed, it says it replayed the same run (with
/// or without the determinism check, whose trace hash is a plain run's);
/// a different run is named as such.
#[test]
fn a_failures_replay_line_replays_the_same_run_and_says_so() {
    let (code, out, _) = labsim(&["run", "raft/swarm", "--seed", "3", "--bugs", "raft_vote_twice"]);
    assert_eq!(code, 1, "{out}");
    let replay = out.lines().find_map(|l| l.trim().strip_prefix("replay: ")).expect("a replay line");
    let args: Vec<&str> = replay.split_whitespace().skip_while(|w| *w != "run").collect();
    assert!(args.contains(&"--bugs") && args.contains(&"--expect-trace"), "{replay}");
    for extra in [&[][..], &["--check-determinism"][..]] {
        let mut all = args.clone();
        all.extend(extra);
        let (code, again, _) = labsim(&all);
        assert_eq!(code, 1, "the failure replays: {again}");
        assert!(again.contains("replayed: same run"), "{again}");
    }
    let hash = args[args.iter().position(|a| *a == "--expect-trace").expect("given") + 1];
    let (code, other, _) = labsim(&["run", "raft/swarm", "--seed", "0", "--expect-trace", hash]);
    assert_eq!(code, 1, "without the bug it is another run: {other}");
    assert!(other.contains("replayed: NOT the same run"), "{other}");
}

#[test]
fn schedules_are_written_followed_and_checked() {
    let dir = std::env::temp_dir().join(format!("labsim-cli-schedule-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    let written = path("figure8.schedule");
    let (code, out, _) = labsim(&["run", "raft/figure_8_unreliable_2c", "--seed", "2", "--write-schedule", &written]);
    assert_eq!(code, 0, "{out}");
    let trace = out.split("trace ").nth(1).expect("a trace hash").get(..16).expect("16 digits").to_string();
    let (code, out, err) = labsim(&[
        "run",
        "raft/figure_8_unreliable_2c",
        "--seed",
        "2",
        "--schedule",
        &written,
        "--expect-trace",
        &trace,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("replayed: same run"), "{out}");

    let text = std::fs::read_to_string(&written).expect("written");
    std::fs::write(path("extra.schedule"), format!("{text}fault kill 3 999\nclients 1\n")).expect("written");
    let (code, out, err) =
        labsim(&["run", "raft/figure_8_unreliable_2c", "--seed", "2", "--schedule", &path("extra.schedule")]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 choice(s) the schedule lists were not made"), "{out}");
    assert!(out.contains("`fault kill 3 999`"), "{out}");
    assert!(out.contains("takes no such workload cap"), "{out}");
    std::fs::write(path("bad.schedule"), text.replacen("\nfault ", "\nfault x", 1)).expect("written");
    std::fs::write(path("site.schedule"), format!("{text}buggify no_such_site 1\n")).expect("written");
    for (args, said) in [
        (vec!["--seed", "2", "--schedule", &path("none.schedule")], "cannot read --schedule"),
        (vec!["--seed", "2", "--schedule", &path("bad.schedule")], "line 4: unknown fault `x"),
        (vec!["--seed", "3", "--schedule", &written], "is the schedule of raft/figure_8_unreliable_2c seed 2"),
        (vec!["--seed", "2", "--schedule", &path("site.schedule")], "names no buggify site `no_such_site`"),
        (vec!["--seed", "2", "--write-schedule", &dir.to_string_lossy()], "is a directory"),
    ] {
        let args = [&["run", "raft/figure_8_unreliable_2c"][..], &args[..]].concat();
        let (code, _, err) = labsim(&args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: one line, got {err:?}");
        assert!(err.contains(said), "{args:?}: {err}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn shrink_explains_and_writes_a_replayable_schedule() {
    let dir = std::env::temp_dir().join(format!("labsim-cli-shrink-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let (schedule, html) = (dir.join("s.schedule"), dir.join("s.html"));
    let (schedule, html) = (schedule.to_string_lossy(), html.to_string_lossy());
    let args = [
        "shrink",
        "raft/swarm",
        "--seed",
        "0",
        "--bugs",
        "raft_vote_twice",
        "--write-schedule",
        &schedule,
        "--html",
        &html,
    ];
    let (code, out, err) = labsim(&args);
    assert_eq!(code, 0, "{out}{err}");
    for said in ["failing the same way: step rules: one vote per term", "before:", "after:", "What failed:", "replay:"]
    {
        assert!(out.contains(said), "{said}: {out}");
    }
    assert!(std::fs::read_to_string(&*html).expect("drawn").contains("What happened"));
    let replay = out.lines().find_map(|l| l.strip_prefix("replay: ")).expect("a replay command");
    let words: Vec<&str> = replay.split_whitespace().skip_while(|w| *w != "run").collect();
    let (code, out, _) = labsim(&words);
    assert_eq!(code, 1, "the shrunk run fails: {out}");
    assert!(out.contains("replayed: same run"), "{out}");

    let (code, out, _) = labsim(&["shrink", "raft/basic_agree_2b", "--seed", "1"]);
    assert_eq!(code, 1, "a passing run has nothing to shrink: {out}");
    assert!(out.contains("passes"), "{out}");
    let (code, _, err) =
        labsim(&["shrink", "raft/swarm", "--seed", "0", "--html", &schedule, "--write-schedule", &schedule]);
    assert_eq!(code, 2, "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_soak_shrinks_its_first_failures_when_asked() {
    let args =
        ["soak", "raft/swarm", "--seeds", "2", "--jobs", "1", "--bugs", "raft_vote_twice", "--shrink-first", "1"];
    let (code, out, err) = labsim(&args);
    assert_eq!(code, 1, "the soak failed: {out}{err}");
    assert_eq!(out.matches("failing the same way: step rules: one vote per term").count(), 1, "one shrunk: {out}");
    assert!(out.contains("shrinking raft/swarm seed 0"), "{out}");
    assert!(out.contains("--schedule "), "its replay follows the schedule: {out}");
}
