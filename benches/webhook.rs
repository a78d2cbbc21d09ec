//! `cargo bench --bench webhook`: the release binary's `rampart serve` (the standard
//! library) under HTTPS load on loopback, from a load generator in this process: keep-alive
//! connections, each sending AdmissionReviews of a Deployment one after the other. Reports
//! requests/s and p50/p99/p99.9 latency at 1, 16 and 64 connections as fast as they go, and
//! at 16 and 64 connections sending 5,000 requests/s together (BENCHMARKS.md).
//!
//! `RAMPART_SOAK_SECS=600` instead runs a soak: that many seconds at 80% of the peak rate
//! measured first, reporting the server's RSS at the start and the end and every error.
//! `RAMPART_BENCH_SECS` sets the seconds per load step (default 10).

#[path = "../tests/common/webhook.rs"]
mod webhook;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use webhook::{review, Server};

/// The load generator allocates from as many threads as it has connections, like the server,
/// and with the same allocator, so that it takes less of the machine the server runs on.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The release binary, built first so the numbers are not those of a debug build
/// (`RAMPART_BENCH_BINARY` names another binary to measure instead).
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("RAMPART_BENCH_BINARY") {
        return PathBuf::from(path);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--bin", "rampart"])
        .current_dir(root)
        .status()
        .expect("cargo runs");
    assert!(status.success());
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target.join("release/rampart")
}

/// A Deployment that passes some rules and fails others, as a cluster sends them.
fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "serviceAccountName": "web",
                    "securityContext": {"runAsNonRoot": true, "seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "web",
                        "image": "ghcr.io/example/web:1.4.2",
                        "ports": [{"containerPort": 8080}],
                        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}},
                    }, {
                        "name": "sidecar",
                        "image": "ghcr.io/example/proxy@sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
                        "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}, "requests": {"cpu": "50m", "memory": "32Mi"}},
                        "securityContext": {"allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "capabilities": {"drop": ["ALL"]}},
                    }],
                },
            },
        },
    })
}

/// Latencies and errors of one run.
struct Run {
    latencies: Vec<Duration>,
    errors: usize,
    elapsed: Duration,
}

impl Run {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[i]
    }
}

/// Sends reviews on `connections` keep-alive connections for `secs`; with `rate`, each
/// connection paces its requests so that all together send about that many per second.
fn load(server: &Server, connections: usize, secs: f64, rate: Option<f64>) -> Run {
    let body = review("bench", "CREATE", Some(&deployment()), None).to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicUsize::new(0));
    let all = Arc::new(Mutex::new(Vec::new()));
    let start = Instant::now();
    let threads: Vec<_> = (0..connections)
        .map(|_| {
            let (stop, errors, all, body) =
                (stop.clone(), errors.clone(), all.clone(), body.clone());
            let mut client = server.client().expect("connects");
            let gap = rate.map(|r| Duration::from_secs_f64(connections as f64 / r));
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    if let Some(gap) = gap {
                        next += gap;
                        if let Some(wait) = next.checked_duration_since(Instant::now()) {
                            std::thread::sleep(wait);
                        }
                    }
                    // Paced, a request is late from the time it was due, not from the time it
                    // could be sent: a slow answer delays the next ones, which counts.
                    let t = if gap.is_some() { next } else { Instant::now() };
                    match client.request("POST", "/validate", body.as_bytes()) {
                        Ok((200, b)) if b.starts_with(b"{\"apiVersion\"") => mine.push(t.elapsed()),
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                all.lock().unwrap().extend(mine);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = start.elapsed();
    let latencies = std::mem::take(&mut *all.lock().unwrap());
    Run {
        latencies,
        errors: errors.load(Ordering::Relaxed),
        elapsed,
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Resident memory of a process, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

pub fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let dir = std::env::temp_dir().join("rampart-webhook-bench");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let server = Server::start(&binary(), &dir, &["--log-decisions=false"]);
    let secs: f64 = std::env::var("RAMPART_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10.0);
    // Warm up: the first requests fill the instance pool and the caches.
    load(&server, 4, 1.0, None);

    let soak: Option<f64> = std::env::var("RAMPART_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok());
    if let Some(soak) = soak {
        let peak = load(&server, 16, secs, None);
        let rate = peak.rate() * 0.8;
        let pid = server.pid();
        let before = rss_mib(pid);
        println!(
            "soak: {soak} s at {rate:.0} requests/s (80% of the peak {:.0}), load average {}",
            peak.rate(),
            load_average()
        );
        let run = load(&server, 16, soak, Some(rate));
        let after = rss_mib(pid);
        println!(
            "soak: {} requests, {:.0}/s, {} errors, p50 {} ms, p99 {} ms, p99.9 {} ms, RSS {before:.1} MiB at the start, {after:.1} MiB at the end, load average {}",
            run.latencies.len(),
            run.rate(),
            run.errors,
            ms(run.quantile(0.5)),
            ms(run.quantile(0.99)),
            ms(run.quantile(0.999)),
            load_average()
        );
        return;
    }

    println!(
        "| connections | offered | requests/s | p50 ms | p99 ms | p99.9 ms | errors | load average |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---|");
    // As fast as each connection can go, then at the target rate (5,000/s) spread over the
    // connections, where latency counts from the time each request was due.
    let steps = [
        (1, None),
        (16, None),
        (64, None),
        (16, Some(5000.0)),
        (64, Some(5000.0)),
    ];
    for (connections, rate) in steps {
        let run = load(&server, connections, secs, rate);
        let offered = rate.map_or("max".to_string(), |r| format!("{r:.0}/s"));
        println!(
            "| {connections} | {offered} | {:.0} | {} | {} | {} | {} | {} |",
            run.rate(),
            ms(run.quantile(0.5)),
            ms(run.quantile(0.99)),
            ms(run.quantile(0.999)),
            run.errors,
            load_average()
        );
    }
    println!(
        "server RSS after the runs: {:.1} MiB",
        rss_mib(server.pid())
    );
}
