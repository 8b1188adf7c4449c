//! The checker over all 108 recorded histories of testdata/porcupine
//! (parsing included), and the two slowest files alone. Also prints each
//! file's time from one pass, slowest first, to show the per-file maximum.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use checker::parse::{read_jepsen, read_kv};
use checker::{check, CheckOptions, KvModel, RegisterModel};
use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;

fn testdata() -> PathBuf {
    std::env::var_os("PORCUPINE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/testdata/porcupine"))
}

fn files() -> Vec<String> {
    let text = std::fs::read_to_string(testdata().join("expected.txt")).expect("expected.txt");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect()
}

/// Parses and checks one file; returns whether it is linearizable.
fn check_file(file: &str) -> bool {
    let path = testdata().join(file);
    if file.starts_with("jepsen/") {
        check(&RegisterModel, &read_jepsen(&path).unwrap(), CheckOptions::default()).is_linearizable()
    } else {
        check(&KvModel, &read_kv(&path).unwrap(), CheckOptions::default()).is_linearizable()
    }
}

fn bench(c: &mut Criterion) {
    let files = files();
    assert_eq!(files.len(), 108);
    let mut times: Vec<(f64, &str)> = files
        .iter()
        .map(|f| {
            let start = std::time::Instant::now();
            check_file(f);
            (start.elapsed().as_secs_f64() * 1e3, f.as_str())
        })
        .collect();
    times.sort_by(|a, b| b.0.total_cmp(&a.0));
    let total: f64 = times.iter().map(|t| t.0).sum();
    println!("one pass: {total:.1} ms for 108 files; slowest:");
    for (ms, f) in times.iter().take(5) {
        println!("  {ms:7.2} ms  {f}");
    }
    let mut group = c.benchmark_group("linearizability");
    group.sample_size(10);
    group.bench_function("all_108_files", |b| b.iter(|| files.iter().filter(|f| check_file(f)).count()));
    group.bench_function("kv_c50_ok", |b| b.iter(|| check_file("kv/c50-ok.txt")));
    group.bench_function("jepsen_etcd_002", |b| b.iter(|| check_file("jepsen/etcd_002.log")));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
