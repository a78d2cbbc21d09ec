//! `rampart serve`: the evaluator as a validating admission webhook (spec/admission.md).
//!
//! HTTPS (rustls) on one listening socket, one thread per connection (bounded), requests
//! answered in turn on each kept-alive connection. `POST /validate` takes an
//! `admission.k8s.io/v1` AdmissionReview and answers with the verdict of the policies'
//! current snapshot; `/healthz`, `/readyz` and `/metrics` serve the probes and Prometheus.
//! The policies and the certificate are reloaded on a file change or SIGHUP ([`watch`]).

mod conn;
mod http;
mod log;
mod metrics;
mod policy;
mod review;
mod tls;
mod watch;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::cli::fail;
use http::{Request, Response};
use metrics::Metrics;
pub use policy::PolicyArgs;
use policy::Snapshot;
use review::{Review, Settings, Verdict};

/// What to do when a rule cannot be evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailurePolicy {
    /// Deny the request, naming the rule (the default).
    Fail,
    /// Allow it, with the error as a warning (for dry runs).
    Ignore,
}

/// The flags of `rampart serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The server certificate (PEM; the chain may follow it).
    #[arg(long = "tls-cert", value_name = "FILE")]
    pub tls_cert: PathBuf,
    /// The certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long = "tls-key", value_name = "FILE")]
    pub tls_key: PathBuf,
    /// Address to listen on (port 0 picks a free port, logged at start).
    #[arg(long = "addr", value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub policies: PolicyArgs,
    /// `false`: log and warn about deny findings but allow every request (audit mode).
    #[arg(long = "enforce", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub enforce: bool,
    /// What an evaluation error (or a rule past its deadline) does to the request.
    #[arg(long = "failure-policy", value_enum, default_value_t = FailurePolicy::Fail)]
    pub failure_policy: FailurePolicy,
    /// Largest request body accepted (the API server's own limit is 3 MiB).
    #[arg(long = "max-body", value_name = "BYTES", default_value_t = 3 << 20)]
    pub max_body: usize,
    /// Seconds allowed to receive a request (TLS handshake, headers and body).
    #[arg(long = "read-timeout", value_name = "SECS", default_value_t = 10.0)]
    pub read_timeout: f64,
    /// Seconds allowed to send an answer.
    #[arg(long = "write-timeout", value_name = "SECS", default_value_t = 10.0)]
    pub write_timeout: f64,
    /// Seconds a kept-alive connection may stay idle between requests.
    #[arg(long = "idle-timeout", value_name = "SECS", default_value_t = 90.0)]
    pub idle_timeout: f64,
    /// Most connections served at once; more are closed on arrival.
    #[arg(long = "max-connections", value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds between checks of the policy, configuration and certificate files.
    #[arg(long = "watch-interval", value_name = "SECS", default_value_t = 2.0)]
    pub watch_interval: f64,
    /// Seconds to keep answering after SIGTERM, not ready, so that the Service stops
    /// sending requests before the process exits.
    #[arg(long = "shutdown-delay", value_name = "SECS", default_value_t = 5.0)]
    pub shutdown_delay: f64,
    /// Log one line per decision (`false`: only errors, reloads and denials).
    #[arg(long = "log-decisions", value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    pub log_decisions: bool,
}

/// State shared by every connection.
pub struct Shared {
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    metrics: Metrics,
    settings: Settings,
    max_body: usize,
    timeouts: conn::Timeouts,
    log_decisions: bool,
    /// Set on SIGTERM: not ready any more, connections close after their answer.
    stopping: AtomicBool,
}

impl Shared {
    fn current(&self) -> Option<Arc<Snapshot>> {
        self.snapshot
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Serves `snapshot` from the next request on.
    fn install(&self, snapshot: Snapshot) {
        *self.snapshot.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(snapshot));
    }

    fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Relaxed)
    }
}

fn seconds(flag: &str, secs: f64) -> Result<Duration, String> {
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`--{flag}` must be a positive number of seconds, got `{secs}`"))
}

/// Runs `rampart serve` until SIGTERM or SIGINT.
pub fn run(args: ServeArgs) -> ExitCode {
    let timeouts = match (|| {
        Ok::<_, String>(conn::Timeouts {
            read: seconds("read-timeout", args.read_timeout)?,
            write: seconds("write-timeout", args.write_timeout)?,
            idle: seconds("idle-timeout", args.idle_timeout)?,
        })
    })() {
        Ok(t) => t,
        Err(e) => return fail(&e),
    };
    let (interval, shutdown_delay) = match (
        seconds("watch-interval", args.watch_interval),
        Duration::try_from_secs_f64(args.shutdown_delay),
    ) {
        (Ok(i), Ok(d)) => (i, d),
        (Err(e), _) => return fail(&e),
        (_, Err(_)) => return fail("`--shutdown-delay` must be a number of seconds"),
    };
    let certificates = match tls::load(&args.tls_cert, &args.tls_key) {
        Ok(key) => tls::Certificates::new(key),
        Err(e) => return fail(&e),
    };
    let config = match tls::server_config(Arc::clone(&certificates)) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let listener = match TcpListener::bind(args.addr) {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on `{}`: {e}", args.addr)),
    };
    let shared = Arc::new(Shared {
        snapshot: RwLock::new(None),
        metrics: Metrics::default(),
        settings: Settings {
            enforce: args.enforce,
            fail_open: args.failure_policy == FailurePolicy::Ignore,
        },
        max_body: args.max_body,
        timeouts,
        log_decisions: args.log_decisions,
        stopping: AtomicBool::new(false),
    });
    let addr = listener.local_addr().map_or(args.addr, |a| a);
    log::info(
        "listening",
        &[
            ("addr", json!(addr.to_string())),
            ("enforce", json!(args.enforce)),
            (
                "failurePolicy",
                json!(format!("{:?}", args.failure_policy).to_lowercase()),
            ),
        ],
    );
    let watcher = watch::Watcher {
        shared: Arc::clone(&shared),
        policies: args.policies,
        cert: args.tls_cert,
        key: args.tls_key,
        certificates,
        interval,
        shutdown_delay,
    };
    if let Err(e) = watcher.start() {
        return fail(&e);
    }
    accept(&listener, &shared, &config, args.max_connections);
    ExitCode::SUCCESS
}

/// Accepts connections, each served on a thread of its own.
fn accept(
    listener: &TcpListener,
    shared: &Arc<Shared>,
    config: &Arc<rustls::ServerConfig>,
    max_connections: usize,
) {
    let active = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(tcp) = stream else { continue };
        if active.load(Ordering::Relaxed) >= max_connections {
            shared.metrics.http_error(503);
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let (shared, config, count) = (Arc::clone(shared), Arc::clone(config), Arc::clone(&active));
        let spawned = std::thread::Builder::new()
            .name("rampart-conn".into())
            .spawn(move || {
                conn::serve(&shared, config, tcp);
                count.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Answers one request.
fn route(shared: &Shared, request: &Request) -> Response {
    let response = match (request.method.as_str(), request.path.as_str()) {
        ("GET", "/healthz") => Response::text(200, "ok"),
        ("GET", "/readyz") => match shared.current() {
            Some(_) if !shared.stopping() => Response::text(200, "ready"),
            Some(_) => Response::text(503, "shutting down"),
            None => Response::text(503, "policies not loaded yet"),
        },
        ("GET", "/metrics") => {
            let current = shared.current();
            let rules = current.as_ref().map_or(0, |s| s.rules);
            Response {
                status: 200,
                content_type: "text/plain; version=0.0.4; charset=utf-8",
                body: shared.metrics.render(current.is_some(), rules).into_bytes(),
            }
        }
        ("POST", "/validate") => validate(shared, request),
        (_, "/healthz" | "/readyz" | "/metrics" | "/validate") => {
            Response::text(405, "method not allowed")
        }
        _ => Response::text(404, "not found"),
    };
    if response.status >= 400 {
        shared.metrics.http_error(response.status);
    }
    response
}

/// Why a review is answered without evaluating its object, if it is (spec/admission.md).
fn not_evaluated(review: &Review) -> Option<&'static str> {
    match (review.operation.as_str(), review.subresource.as_deref()) {
        ("DELETE", _) => Some("delete"),
        ("CONNECT", _) => Some("connect"),
        (_, Some("ephemeralcontainers")) => None,
        (_, Some(_)) => Some("subresource"),
        _ if review.object.is_none() => Some("no object"),
        _ => None,
    }
}

/// `POST /validate`.
fn validate(shared: &Shared, request: &Request) -> Response {
    let start = Instant::now();
    if let Some(ct) = &request.content_type {
        if !ct.to_ascii_lowercase().starts_with("application/json") {
            return Response::text(415, &format!("expected `application/json`, got `{ct}`"));
        }
    }
    let Some(snapshot) = shared.current() else {
        return Response::text(503, "policies not loaded yet");
    };
    let mut review = match review::decode(&request.body) {
        Ok(r) => r,
        Err(reason) => {
            log::error("malformed review", &[("reason", json!(reason))]);
            return Response::text(400, &format!("malformed AdmissionReview: {reason}"));
        }
    };
    let verdict = match not_evaluated(&review) {
        Some(why) => Verdict {
            allowed: true,
            skipped: Some(why),
            ..Verdict::default()
        },
        None => review::decide(&snapshot.evaluate(&mut review), shared.settings),
    };
    let took = start.elapsed();
    record(shared, &review, &verdict, took);
    Response::json(200, review::encode(&review.uid, &verdict))
}

/// Counts and logs one decision.
fn record(shared: &Shared, review: &Review, verdict: &Verdict, took: Duration) {
    let m = &shared.metrics;
    let label = match (
        verdict.allowed,
        verdict.denied.is_empty() && verdict.errors.is_empty(),
    ) {
        (false, _) => "denied",
        (true, false) if !shared.settings.enforce => "audit_denied",
        (true, _) => "allowed",
    };
    m.decision(label, &review.operation);
    m.latency(took);
    for id in &verdict.denied {
        m.finding(id, "deny");
    }
    for id in &verdict.warned {
        m.finding(id, "warn");
    }
    for id in &verdict.exempted {
        m.finding(id, "exempted");
    }
    for id in &verdict.errors {
        m.error(id);
    }
    if !shared.log_decisions && verdict.allowed && verdict.errors.is_empty() {
        return;
    }
    let list = |ids: &[String]| Value::from(ids.to_vec());
    let mut fields = vec![
        ("uid", json!(review.uid)),
        ("kind", json!(review.kind)),
        ("namespace", json!(review.namespace)),
        ("name", json!(review.name)),
        ("operation", json!(review.operation)),
        ("user", json!(review.user)),
        ("dryRun", json!(review.dry_run)),
        ("verdict", json!(label)),
        ("denied", list(&verdict.denied)),
        ("warned", list(&verdict.warned)),
        ("errors", list(&verdict.errors)),
        ("exempted", list(&verdict.exempted)),
        (
            "latencyMs",
            json!((took.as_secs_f64() * 1e3 * 1e3).round() / 1e3),
        ),
    ];
    if let Some(sub) = &review.subresource {
        fields.push(("subResource", json!(sub)));
    }
    if let Some(why) = verdict.skipped {
        fields.push(("notEvaluated", json!(why)));
    }
    log::info("decision", &fields);
}
