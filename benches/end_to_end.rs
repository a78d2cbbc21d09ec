//! End-to-end throughput of the real binary: `cargo bench --bench end_to_end`.
//!
//! Writes generated manifests (the objects of the throughput bench, 10 per file) to a
//! temporary folder and prints three tables:
//! - `rampart test -o json` over 50 MB at 1, 2 and 4 worker threads (`--threads`), against
//!   two floors, each reading the same files on as many threads in this process: parsing
//!   them with the same crate (`rampart_runtime::manifest::load_bytes`), and parsing them
//!   with serde_yaml_ng into serde_json values (the floor of the performance targets);
//! - 10 MB against 100 MB of input: time and peak RSS of the process (`/usr/bin/time`);
//! - start-up: `rampart test` of one small Pod with a warm and with a cold module cache, and
//!   `rampart check` of the standard library.
//!
//! `RAMPART_BENCH_MB=N` changes the 50 MB of the first table, `RAMPART_BENCH_SCALING_MB=10,100`
//! the sizes of the second, and `RAMPART_BENCH_PARTS=end_to_end,scaling,startup` which tables
//! are run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rampart_runtime::manifest;
use rayon::prelude::*;

#[path = "../runtime/benches/common/generate.rs"]
mod generate;

const BIN: &str = env!("CARGO_BIN_EXE_rampart");
const OBJECTS_PER_FILE: usize = 10;
const FILES_PER_FOLDER: usize = 200;
const MB: f64 = 1e6;

/// Writes at least `bytes` of generated manifests below `dir`; returns the files.
fn write_manifests(dir: &Path, bytes: usize) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut written = 0;
    while written < bytes {
        let n = files.len();
        let folder = dir.join(format!("team-{:03}", n / FILES_PER_FOLDER));
        std::fs::create_dir_all(&folder).expect("create a folder");
        let path = folder.join(format!("app-{n:05}.yaml"));
        let text = generate::generate(n * OBJECTS_PER_FILE..(n + 1) * OBJECTS_PER_FILE);
        std::fs::write(&path, &text).expect("write a manifest");
        written += text.len();
        files.push(path);
    }
    files
}

fn size_of(files: &[PathBuf]) -> u64 {
    files
        .iter()
        .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
        .sum()
}

/// The floor: read and parse every file on `threads` threads; returns the objects loaded.
fn parse_only(files: &[PathBuf], threads: usize) -> usize {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    let limits = manifest::Limits::default();
    pool.install(|| {
        files
            .par_iter()
            .map(|f| {
                let bytes = std::fs::read(f).expect("read a manifest");
                manifest::load_bytes(&bytes, &limits)
                    .expect("generated manifests load")
                    .objects
                    .len()
            })
            .sum()
    })
}

/// The serde floor: read every file and parse each document with serde_yaml_ng into a
/// `serde_json::Value`, on `threads` threads; returns the documents parsed.
fn serde_parse(files: &[PathBuf], threads: usize) -> usize {
    use serde::Deserialize;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("pool");
    pool.install(|| {
        files
            .par_iter()
            .map(|f| {
                let bytes = std::fs::read(f).expect("read a manifest");
                serde_yaml_ng::Deserializer::from_slice(&bytes)
                    .map(|doc| {
                        std::hint::black_box(
                            serde_json::Value::deserialize(doc).expect("generated manifests parse"),
                        );
                    })
                    .count()
            })
            .sum()
    })
}

/// One run of the binary: wall time and peak RSS in kB (when /usr/bin/time is there).
fn run(args: &[&str], cache: &Path) -> (Duration, Option<u64>) {
    let rss_file = cache.with_extension("rss");
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.arg("-o").arg(&rss_file).args(["-f", "%M", BIN]);
        c
    } else {
        Command::new(BIN)
    };
    cmd.args(args)
        .env("RAMPART_CACHE_DIR", cache)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let status = cmd.status().expect("run rampart");
    let took = start.elapsed();
    // 0: clean, 1: deny findings; anything else means the run itself failed.
    assert!(
        matches!(status.code(), Some(0 | 1)),
        "`rampart {}` failed: {status}",
        args.join(" ")
    );
    let rss = std::fs::read_to_string(&rss_file)
        .ok()
        .and_then(|t| t.lines().last()?.trim().parse().ok());
    (took, rss)
}

/// The best of `runs` runs (the least disturbed by other work on the machine), with the
/// largest peak RSS seen.
fn best_run(runs: usize, args: &[&str], cache: &Path) -> (Duration, Option<u64>) {
    let mut best = Duration::MAX;
    let mut rss = None;
    for _ in 0..runs {
        let (t, r) = run(args, cache);
        best = best.min(t);
        rss = rss.max(r);
    }
    (best, rss)
}

fn best<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .min()
        .expect("runs > 0")
}

fn mib(kb: Option<u64>) -> String {
    kb.map_or("-".into(), |kb| format!("{:.0}", kb as f64 / 1024.0))
}

fn main() {
    let megabytes: usize = std::env::var("RAMPART_BENCH_MB")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let root = std::env::temp_dir().join(format!("rampart-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("a temporary folder");
    let cache = root.join("cache");
    let one_pod = root.join("one-pod.yaml");
    std::fs::write(&one_pod, generate::generate(0..1)).expect("write one-pod.yaml");
    let one_pod = one_pod.to_str().expect("a UTF-8 path");
    // Warms the module cache that every run below uses.
    run(&["test", one_pod], &cache);
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{BIN}; {cpus} CPUs");
    let parts = std::env::var("RAMPART_BENCH_PARTS")
        .unwrap_or_else(|_| "end_to_end,scaling,startup".into());
    let part = |name: &str| parts.split(',').any(|p| p.trim() == name);
    if part("end_to_end") {
        end_to_end(&root, &cache, megabytes);
    }
    if part("scaling") {
        let sizes: Vec<usize> = std::env::var("RAMPART_BENCH_SCALING_MB")
            .unwrap_or_else(|_| "10,100".into())
            .split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect();
        scaling(&root, &cache, &sizes);
    }
    if part("startup") {
        startup(&root, &cache, one_pod);
    }
    let _ = std::fs::remove_dir_all(&root);
}

/// The first table: `rampart test -o json` against the two floors, on 1, 2 and 4 threads.
fn end_to_end(root: &Path, cache: &Path, megabytes: usize) {
    let dir = root.join(format!("{megabytes}mb"));
    let files = write_manifests(&dir, megabytes * 1_000_000);
    let bytes = size_of(&files) as f64;
    let dir_arg = dir.to_str().expect("a UTF-8 path");
    println!(
        "\nend to end: `rampart test -o json` over {} files, {:.1} MB, {} objects",
        files.len(),
        bytes / MB,
        files.len() * OBJECTS_PER_FILE
    );
    println!("(ratio: the floor's time over `rampart test`'s; 1.0 = as fast as the parse alone)");
    println!(
        "{:>7} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "threads",
        "parse s",
        "serde s",
        "rampart s",
        "files/s",
        "MB/s",
        "vs parse",
        "vs serde",
        "RSS MiB"
    );
    for threads in [1, 2, 4] {
        let floor = best(3, || parse_only(&files, threads));
        let serde = best(3, || serde_parse(&files, threads));
        let t = threads.to_string();
        let (test, rss) = best_run(2, &["test", "-o", "json", "--threads", &t, dir_arg], cache);
        let n = files.len() as f64;
        println!(
            "{threads:>7} {:>9.2} {:>9.2} {:>10.2} {:>9.0} {:>9.1} {:>9.2} {:>9.2} {:>9}",
            floor.as_secs_f64(),
            serde.as_secs_f64(),
            test.as_secs_f64(),
            n / test.as_secs_f64(),
            bytes / MB / test.as_secs_f64(),
            floor.as_secs_f64() / test.as_secs_f64(),
            serde.as_secs_f64() / test.as_secs_f64(),
            mib(rss)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Time and peak RSS against the input's size (`RAMPART_BENCH_SCALING_MB`, default 10,100).
fn scaling(root: &Path, cache: &Path, sizes: &[usize]) {
    println!("\nscaling with input size (default threads)");
    println!(
        "{:>8} {:>7} {:>10} {:>9} {:>9}",
        "input MB", "files", "rampart s", "MB/s", "RSS MiB"
    );
    for &size in sizes {
        let dir = root.join(format!("{size}mb"));
        let files = write_manifests(&dir, size * 1_000_000);
        let bytes = size_of(&files) as f64;
        let (test, rss) = best_run(
            2,
            &["test", "-o", "json", dir.to_str().expect("a UTF-8 path")],
            cache,
        );
        println!(
            "{:>8.1} {:>7} {:>10.2} {:>9.1} {:>9}",
            bytes / MB,
            files.len(),
            test.as_secs_f64(),
            bytes / MB / test.as_secs_f64(),
            mib(rss)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Start-up: one small file with a warm and a cold cache, and `rampart check`.
fn startup(root: &Path, cache: &Path, one_pod: &str) {
    println!("\nstart-up (best of 5)");
    let (warm, warm_rss) = best_run(5, &["test", one_pod], cache);
    let mut cold = Duration::MAX;
    let mut cold_rss = None;
    for i in 0..5 {
        let fresh = root.join(format!("cold-cache-{i}"));
        let (t, rss) = run(&["test", one_pod], &fresh);
        cold = cold.min(t);
        cold_rss = cold_rss.max(rss);
    }
    let (check, check_rss) = best_run(5, &["check"], cache);
    println!("{:<40} {:>8} {:>9}", "command", "ms", "RSS MiB");
    for (what, t, rss) in [
        ("rampart test one-pod.yaml (warm cache)", warm, warm_rss),
        ("rampart test one-pod.yaml (cold cache)", cold, cold_rss),
        ("rampart check (standard library)", check, check_rss),
    ] {
        println!("{what:<40} {:>8.1} {:>9}", t.as_secs_f64() * 1e3, mib(rss));
    }
}
