//! Reports written as the run goes (runner::run_streaming, report::Writer) are the reports
//! rendered from the whole run: same results, same order, byte for byte, in every format,
//! on the real-world corpus; and a file's results are written before the files after it are
//! read.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use rampart_runtime::eval::set::PolicySet;
use rampart_runtime::eval::{Engine, Policies};
use rampart_runtime::report::{self, Format};
use rampart_runtime::runner::gate::Gate;
use rampart_runtime::runner::{self, inputs, Options, Report};

use common::{rampart, scratch};

/// The real-world corpus (../shared beside the checkout) and the example manifests.
fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    vec![
        root.join("../shared/corpus/real"),
        root.join("examples/manifests"),
    ]
}

fn stdlib() -> Policies {
    let program = rampart_stdlib::compile().program.expect("stdlib compiles");
    let wasm = rampart_compiler::backend::wasm::compile(&program).expect("stdlib compiles to Wasm");
    Policies::load(&Engine::new().unwrap(), &wasm, None).unwrap()
}

const FORMATS: [Format; 8] = [
    Format::Human,
    Format::Json,
    Format::Junit,
    Format::Sarif,
    Format::Github,
    Format::Tap,
    Format::PolicyReport,
    Format::Html,
];

#[test]
fn streamed_reports_are_the_reports_of_the_whole_run_on_the_corpus() {
    let policies = stdlib();
    let set = PolicySet::one(&policies);
    let paths: Vec<String> = corpus().iter().map(|p| p.display().to_string()).collect();
    let ignore = inputs::Ignore::new(&[]).unwrap();
    let (inputs, errors) = inputs::collect(&paths, &ignore, usize::MAX);
    assert!(inputs.len() > 100, "the corpus is there: {}", inputs.len());
    let options = Options {
        applicable_rules: true,
        ..Options::default()
    };
    let whole: Report = runner::run_set(&set, &inputs, errors.clone(), &options);
    // The order results were reported in before they were streamed: by file, then document,
    // then list item.
    let mut sorted = whole.results.clone();
    sorted.sort_by(|a, b| (&a.file, a.document, a.item).cmp(&(&b.file, b.document, b.item)));
    assert_eq!(whole.results, sorted);
    assert!(whole.summary.violations > 100, "{:?}", whole.summary);
    let mut recounted = Report {
        results: whole.results.clone(),
        ..Report::default()
    };
    recounted.count_findings();
    assert_eq!(recounted.summary.violations, whole.summary.violations);
    assert_eq!(whole.summary.resources, whole.results.len());

    for format in FORMATS {
        let mut out = Vec::new();
        let mut files = 0;
        let mut report = {
            let mut writer = report::Writer::start(format, false, false, false, &mut out).unwrap();
            let mut sink = |results| {
                files += 1;
                writer.file(results)
            };
            let mut report = runner::run_streaming(
                &set,
                &inputs,
                errors.clone(),
                &options,
                Gate::default(),
                &mut sink,
            )
            .unwrap();
            writer.finish(&mut report).unwrap();
            report
        };
        assert_eq!(files, inputs.len(), "{format:?}: every file handed on once");
        assert_eq!(report.summary, whole.summary, "{format:?}");
        if report::streams(format) {
            assert!(report.results.is_empty(), "{format:?} holds no results");
        }
        report.results.clear();
        // PolicyReport stamps each report with the time it is rendered.
        let timeless = |text: &str| -> String {
            text.lines()
                .filter(|l| !l.contains("\"seconds\":") && !l.contains("\"nanos\":"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let expected = timeless(&report::render(&whole, format, false));
        assert!(
            timeless(&String::from_utf8(out).unwrap()) == expected,
            "{format:?}: the streamed report differs from the whole one"
        );
    }
}

/// A file's findings are written before the next file is read: the last input is a FIFO
/// that gets its contents only once the report of the first file has been read back.
#[cfg(unix)]
#[test]
fn the_first_files_results_are_written_before_the_last_file_is_read() {
    let dir = scratch("streamed-fifo");
    let pod = |name: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\nspec:\n  containers:\n    - name: app\n      image: registry.example/app:1.0\n      securityContext:\n        privileged: true\n"
        )
    };
    std::fs::write(dir.join("a.yaml"), pod("first")).unwrap();
    let fifo = dir.join("z.yaml");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    for format in ["json", "human", "tap", "github"] {
        let mut child = rampart(&["test", "-o", format, "--rule", "pss.baseline.privileged"])
            .arg(dir.join("a.yaml"))
            .arg(&fifo)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut seen = String::new();
        // Blocks until the first file's finding is written: the FIFO has no writer yet, so
        // the last file cannot have been read.
        while !seen.contains("first") {
            let mut line = String::new();
            let n = stdout.read_line(&mut line).unwrap();
            assert!(
                n > 0,
                "{format}: the output ended before the first file's results: {seen}"
            );
            seen.push_str(&line);
        }
        assert!(!seen.contains("second"), "{format}");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&fifo)
            .unwrap()
            .write_all(pod("second").as_bytes())
            .unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "{format}: {seen}{rest}");
        assert!(rest.contains("second"), "{format}: {rest}");
    }
}
