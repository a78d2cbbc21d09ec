//! `rampart test`: evaluates manifests against the policies and reports what fails.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rampart_runtime::eval::set::PolicySet;
use rampart_runtime::manifest;
use rampart_runtime::report::{self, Format};
use rampart_runtime::runner::{self, inputs};

use super::config;
use super::library;
use super::policies::{self, Selection};
use super::{ci, fail, EXIT_ERROR};

/// Everything `rampart test` was asked to do.
pub struct Args {
    /// Manifest files, folders, or `-`.
    pub paths: Vec<String>,
    /// `-p`: policy files, folders or a bundle.
    pub policies: Vec<PathBuf>,
    /// `--rule` / `--exclude-rule`.
    pub selection: Selection,
    /// `--param RULE.NAME=VALUE`.
    pub params: Vec<String>,
    /// `--params FILE`.
    pub params_file: Option<PathBuf>,
    /// `--exceptions FILE`.
    pub exceptions: Vec<PathBuf>,
    /// `--require-owner-and-expiry`.
    pub require_owner_and_expiry: bool,
    /// `-o`.
    pub format: Format,
    /// `--output-file`.
    pub output_file: Option<PathBuf>,
    /// `--fail-on-warn`.
    pub fail_on_warn: bool,
    /// `--ignore`.
    pub ignore: Vec<String>,
    /// `--threads`.
    pub threads: Option<usize>,
    /// `--max-file-size`, `--max-depth`, `--max-documents`, `--max-alias-nodes`.
    pub limits: LimitArgs,
    /// `--stdlib`, `--fail-on-severity`, `--baseline`, `--fail-on-empty`, `--stdin-name`.
    pub ci: ci::CiArgs,
    /// `--crd`, `--strict-kinds`.
    pub schema: super::schema::SchemaArgs,
    /// `--profile`, `--kube-version`, `--summary`.
    pub library: super::library::LibraryArgs,
    /// `--operation`, `--old`.
    pub admission: super::admission::AdmissionArgs,
}

/// The manifest loader's limits, as command-line flags (defaults: [`manifest::Limits`]).
#[derive(clap::Args, Debug)]
pub struct LimitArgs {
    /// Largest manifest file (or stdin) read, in bytes.
    #[arg(long = "max-file-size", value_name = "BYTES", default_value_t = manifest::Limits::default().max_bytes)]
    pub max_bytes: usize,
    /// Deepest nesting of lists and maps accepted in a manifest.
    #[arg(long = "max-depth", value_name = "N", default_value_t = manifest::Limits::default().max_depth)]
    pub max_depth: usize,
    /// Most YAML documents accepted in one file.
    #[arg(long = "max-documents", value_name = "N", default_value_t = manifest::Limits::default().max_documents)]
    pub max_documents: usize,
    /// Most nodes YAML aliases may copy in one document (stops "billion laughs").
    #[arg(long = "max-alias-nodes", value_name = "N", default_value_t = manifest::Limits::default().max_alias_expansion)]
    pub max_alias_expansion: usize,
}

impl LimitArgs {
    pub fn limits(&self) -> manifest::Limits {
        manifest::Limits {
            max_bytes: self.max_bytes,
            max_depth: self.max_depth,
            max_documents: self.max_documents,
            max_alias_expansion: self.max_alias_expansion,
        }
    }
}

/// Exit code of a run stopped by Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

/// Makes Ctrl-C set `stop`, so the run ends after the objects being evaluated; a second
/// Ctrl-C exits at once. Nothing is written for an interrupted run.
fn stop_on_ctrl_c(stop: &Arc<AtomicBool>) {
    let flag = Arc::clone(stop);
    // Without a handler (one is already set) Ctrl-C keeps its default: exit at once.
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
}

/// Prints progress on stderr at most every 100 ms; only used when stderr is a terminal.
fn progress(total: usize) -> Box<dyn Fn(usize, usize) + Send + Sync> {
    let last = Mutex::new(Instant::now());
    Box::new(move |files, objects| {
        let Ok(mut last) = last.lock() else {
            return;
        };
        if last.elapsed() >= Duration::from_millis(100) || files == total {
            *last = Instant::now();
            eprint!("\r\x1b[2K{files}/{total} files, {objects} objects");
            let _ = std::io::stderr().flush();
        }
    })
}

/// Runs `rampart test`.
pub fn run(args: Args) -> ExitCode {
    if args.paths.is_empty() {
        return fail("no manifests given: name files, folders, or `-` for stdin");
    }
    let module = match policies::module_set(&args.policies, args.ci.stdlib, &args.selection) {
        Ok(m) => m,
        Err(e) => return fail(&e),
    };
    let today = runner::exceptions::Date::today();
    // `--kube-version` stands for `--param` flags given first, so explicit ones win.
    let mut params = match library::kube_version_params(
        args.library.kube_version.as_deref(),
        &module.declared,
        &module.selected,
    ) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    params.extend(args.params.iter().cloned());
    let flags = config::Flags {
        params: &params,
        params_file: args.params_file.as_ref(),
        exceptions: &args.exceptions,
        require_owner_and_expiry: args.require_owner_and_expiry,
    };
    let config = match config::read(&flags, &module, today) {
        Ok(c) => c,
        Err(errors) => return config::fail(&errors),
    };
    if let Err(e) = ci::check_rules(&args.ci, &module.selected) {
        return fail(&e);
    }
    let baseline = match ci::load_baseline(&args.ci) {
        Ok(b) => b,
        Err(e) => return fail(&e),
    };
    let loaded = match policies::load_set(&module) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    let policies = match PolicySet::new(loaded.iter().collect()) {
        Ok(p) => p,
        Err(e) => return fail(&e),
    };
    if let Err(e) = policies.check_params(&config.params) {
        return fail(&e);
    }
    let ignore = match inputs::Ignore::new(&args.ignore) {
        Ok(g) => g,
        Err(e) => return fail(&e),
    };

    let mut options = runner::Options {
        rules: Some(module.selected.clone()),
        params: config.params,
        exceptions: config.exceptions,
        today,
        require_owner_and_expiry: args.require_owner_and_expiry,
        load_limits: args.limits.limits(),
        // Only the human and HTML formats print the source line of a finding.
        source_lines: matches!(args.format, Format::Human | Format::Html),
        strict_kinds: args.schema.strict_kinds,
        // The formats that report the rules that passed or did not apply.
        applicable_rules: matches!(args.format, Format::PolicyReport | Format::Json),
        ..runner::Options::default()
    };
    options.admission = match super::admission::read(&args.admission, &options.load_limits) {
        Ok(a) => a,
        Err(e) => return fail(&e),
    };
    options.schema = match super::schema::validator(&args.schema, &module.selected, &module.crds) {
        Ok(v) => v,
        Err(e) => return fail(&e),
    };
    stop_on_ctrl_c(&options.stop);
    let mut early_errors = Vec::new();
    let mut notices = config.notices;

    let (mut inputs, mut listing_errors) =
        inputs::collect(&args.paths, &ignore, options.load_limits.max_bytes);
    ci::name_stdin(&args.ci, &mut inputs, &mut listing_errors);
    early_errors.extend(listing_errors);
    notices.extend(ignore.unused());
    // Not over a report written to the same terminal as the run goes.
    let show_progress = std::io::stderr().is_terminal()
        && inputs.len() > 1
        && (args.output_file.is_some() || !std::io::stdout().is_terminal());
    if show_progress {
        options.progress = Some(progress(inputs.len()));
    }
    let pool = match rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads.unwrap_or(0))
        .build()
    {
        Ok(p) => p,
        Err(e) => return fail(&format!("cannot start the worker threads: {e}")),
    };
    let color = args.format == Format::Human
        && args.output_file.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let gate = ci::gate(&args.ci, args.fail_on_warn, baseline);
    // The controls table and GitHub's step summary read every result: they are held then.
    let keep = args.library.summary == Some(library::Summary::Controls)
        || (args.format == Format::Github && ci::step_summary_wanted());
    // Each file's results are written as soon as the files before it are done; the rest of
    // the report once the run is over (nothing more for an interrupted run).
    let run = |w: &mut (dyn Write + Send), flush: bool| -> std::io::Result<runner::Report> {
        let baseline = args.ci.baseline.is_some();
        let mut writer = report::Writer::start(args.format, color, baseline, keep, w)?;
        let mut sink = |results: Vec<runner::ObjectResult>| -> std::io::Result<()> {
            writer.file(results)?;
            if flush {
                writer.flush()?;
            }
            Ok(())
        };
        let mut report = pool.install(|| {
            runner::run_streaming(&policies, &inputs, early_errors, &options, gate, &mut sink)
        })?;
        if report.interrupted {
            return Ok(report);
        }
        notices.extend(std::mem::take(&mut report.notices));
        report.notices = notices;
        ci::finish(&args.ci, &args.paths, &mut report);
        writer.finish(&mut report)?;
        Ok(report)
    };
    let report = match &args.output_file {
        Some(path) => {
            let mut done = None;
            let written = rampart_runtime::output_file::write_with(path, |w| {
                let report = run(w, false)?;
                let interrupted = report.interrupted;
                done = Some(report);
                if interrupted {
                    // Leaves no file behind.
                    return Err(std::io::Error::other("interrupted"));
                }
                Ok(())
            });
            match (done, written) {
                (Some(report), _) if report.interrupted => report,
                (Some(report), Ok(())) => report,
                (_, Err(e)) => return fail(&format!("cannot write `{}`: {e}", path.display())),
                (None, Ok(())) => unreachable!("the report is set when the file is written"),
            }
        }
        None => {
            let mut out = Stdout::default();
            let ran = run(&mut out, true);
            let _ = out.flush();
            match ran {
                Ok(report) => report,
                Err(e) => return fail(&format!("cannot write the report: {e}")),
            }
        }
    };
    if show_progress {
        eprint!("\r\x1b[2K");
    }
    if report.interrupted {
        match args.output_file {
            Some(_) => eprintln!("interrupted: no report written"),
            None => eprintln!("interrupted: the report above is incomplete"),
        }
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    if args.output_file.is_some() && args.format != Format::Human {
        eprintln!("{}", report::human::summary_line(&report));
    }
    if args.format == Format::Github {
        if let Err(e) = ci::write_step_summary(&report) {
            eprintln!("warning: {e}");
        }
    }
    if args.library.summary == Some(library::Summary::Controls) {
        let table = report::controls::render(&report::controls::summarize(&report));
        if args.format == Format::Human && args.output_file.is_none() {
            let _ = std::io::stdout().lock().write_all(table.as_bytes());
        } else {
            eprint!("{table}");
        }
    }
    if !report.errors.is_empty() {
        ExitCode::from(EXIT_ERROR)
    } else if report.failed() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Standard output for the report. A closed pipe (`| head`) is not an error worth
/// reporting: what follows is dropped and the run goes on to its exit code.
struct Stdout {
    out: std::io::BufWriter<std::io::Stdout>,
    closed: bool,
}

impl Default for Stdout {
    fn default() -> Self {
        Stdout {
            // Results are written as each file is done; a large buffer makes that a few
            // hundred writes for a report of tens of megabytes instead of one per object.
            out: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
            closed: false,
        }
    }
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !self.closed && self.out.write_all(buf).is_err() {
            self.closed = true;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.closed && self.out.flush().is_err() {
            self.closed = true;
        }
        Ok(())
    }
}
