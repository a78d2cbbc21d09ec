//! Reloads without a restart: the policy, params and exceptions files and the certificate
//! are checked every interval (and at once on SIGHUP); what changed is loaded anew and
//! swapped in whole. A policy or certificate that fails to load is logged and the old one
//! keeps serving. SIGTERM and SIGINT make the server not ready, then exit after a delay.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rampart_runtime::runner::exceptions::Date;
use serde_json::json;

use super::policy::{PolicyArgs, Snapshot};
use super::{log, tls, Shared};

/// What the reload thread watches.
pub struct Watcher {
    pub shared: Arc<Shared>,
    pub policies: PolicyArgs,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub certificates: Arc<tls::Certificates>,
    pub interval: Duration,
    pub shutdown_delay: Duration,
}

/// A digest of the contents of files and folders (walked for every file), so that any edit,
/// creation or removal changes it.
fn fingerprint(paths: &[PathBuf]) -> u64 {
    fn visit(path: &Path, h: &mut DefaultHasher, depth: usize) {
        path.hash(h);
        if depth > 32 {
            return;
        }
        if path.is_dir() {
            let Ok(entries) = std::fs::read_dir(path) else {
                return;
            };
            let mut children: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
            children.sort();
            for child in children {
                visit(&child, h, depth + 1);
            }
        } else {
            std::fs::read(path).ok().hash(h);
        }
    }
    let mut h = DefaultHasher::new();
    for p in paths {
        visit(p, &mut h, 0);
    }
    h.finish()
}

impl Watcher {
    /// Registers the signals, then loads the policies and watches for changes on a thread
    /// of its own. A first load that fails ends the process (exit code 2): there is no old
    /// policy to keep serving.
    pub fn start(self) -> Result<(), String> {
        let hup = Arc::new(AtomicBool::new(false));
        let term = Arc::new(AtomicBool::new(false));
        let register = |signal, flag: &Arc<AtomicBool>| {
            signal_hook::flag::register(signal, Arc::clone(flag))
                .map(|_| ())
                .map_err(|e| format!("cannot handle signal {signal}: {e}"))
        };
        register(signal_hook::consts::SIGHUP, &hup)?;
        register(signal_hook::consts::SIGTERM, &term)?;
        register(signal_hook::consts::SIGINT, &term)?;
        std::thread::Builder::new()
            .name("rampart-reload".into())
            .spawn(move || self.run(&hup, &term))
            .map_err(|e| format!("cannot start the reload thread: {e}"))?;
        Ok(())
    }

    fn run(self, hup: &AtomicBool, term: &AtomicBool) {
        let watched = self.policies.watched();
        let certs = [self.cert.clone(), self.key.clone()];
        let mut policy_print = fingerprint(&watched);
        let mut cert_print = fingerprint(&certs);
        let started = Instant::now();
        match Snapshot::load(&self.policies) {
            Ok(snapshot) => {
                log::info(
                    "policies loaded",
                    &[
                        ("rules", json!(snapshot.rules)),
                        ("ms", json!(started.elapsed().as_millis() as u64)),
                    ],
                );
                self.shared.install(snapshot);
            }
            Err(e) => {
                log::error("cannot load the policies", &[("error", json!(e))]);
                std::process::exit(2);
            }
        }
        let mut today = Date::today();
        let mut next_check = Instant::now() + self.interval;
        loop {
            std::thread::sleep(Duration::from_millis(50));
            if term.load(Ordering::Relaxed) {
                self.shared.stopping.store(true, Ordering::Relaxed);
                log::info(
                    "shutting down",
                    &[("delaySeconds", json!(self.shutdown_delay.as_secs_f64()))],
                );
                std::thread::sleep(self.shutdown_delay);
                std::process::exit(0);
            }
            let signalled = hup.swap(false, Ordering::Relaxed);
            if !signalled && Instant::now() < next_check {
                continue;
            }
            next_check = Instant::now() + self.interval;
            let now_policy = fingerprint(&watched);
            let now_cert = fingerprint(&certs);
            // Exceptions expire at midnight: a new day reloads them.
            let day = Date::today();
            if signalled || now_policy != policy_print || day != today {
                policy_print = now_policy;
                today = day;
                self.reload_policies(if signalled { "signal" } else { "change" });
            }
            if signalled || now_cert != cert_print {
                cert_print = now_cert;
                self.reload_certificate();
            }
        }
    }

    fn reload_policies(&self, cause: &str) {
        let started = Instant::now();
        match Snapshot::load(&self.policies) {
            Ok(snapshot) => {
                let rules = snapshot.rules;
                self.shared.install(snapshot);
                self.shared.metrics.reload("policies", true);
                log::info(
                    "policies reloaded",
                    &[
                        ("cause", json!(cause)),
                        ("rules", json!(rules)),
                        ("ms", json!(started.elapsed().as_millis() as u64)),
                    ],
                );
            }
            Err(e) => {
                self.shared.metrics.reload("policies", false);
                log::error(
                    "policy reload failed: the previous policies keep serving",
                    &[("cause", json!(cause)), ("error", json!(e))],
                );
            }
        }
    }

    fn reload_certificate(&self) {
        match tls::load(&self.cert, &self.key) {
            Ok(key) => {
                self.certificates.replace(key);
                self.shared.metrics.reload("certificate", true);
                log::info("certificate reloaded", &[]);
            }
            Err(e) => {
                self.shared.metrics.reload("certificate", false);
                log::error(
                    "certificate reload failed: the previous certificate keeps serving",
                    &[("error", json!(e))],
                );
            }
        }
    }
}
