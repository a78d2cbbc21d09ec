//! `rampart test -o html` in a real browser: Debian's chromium, headless, loads the page
//! from a file (no network), runs its script, and dumps the DOM it ends with. The page must
//! show the counts of the JSON report of the same run, its script must have run (every
//! finding listed by the filter), and the browser must log no console error.
//!
//! Chromium is looked up on PATH (`chromium`, `chromium-browser`, `google-chrome`). Without
//! it the test is skipped with a message, except in CI (`CI=true`), where it fails: `.ci/run`
//! installs it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{report, run, scratch};

fn chromium() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser", "google-chrome"] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// The text of the element with `id`, in the dumped DOM.
fn by_id<'a>(dom: &'a str, id: &str) -> &'a str {
    let marker = format!("id=\"{id}\"");
    let start = dom
        .find(&marker)
        .unwrap_or_else(|| panic!("the page has no element #{id}"));
    let open_end = dom[start..].find('>').expect("the tag closes") + start + 1;
    let close = dom[open_end..].find('<').expect("the element ends") + open_end;
    &dom[open_end..close]
}

/// Loads `page` in headless chromium: the DOM after its scripts ran, and the console
/// messages the browser logged.
fn load(browser: &Path, page: &Path, profile: &Path) -> (String, Vec<String>) {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && dom.contains("</html>"),
        "chromium did not render the page: {log}"
    );
    let console = log
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
        .map(str::to_string)
        .collect();
    (dom, console)
}

/// Chromium, or `None` (the caller returns) outside CI when it is missing.
fn browser_or_skip() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !ci,
            "chromium is not installed: CI must install it (apt-get install chromium)"
        );
        eprintln!("skipped: chromium is not installed (apt-get install chromium)");
    }
    found
}

#[test]
fn the_browser_harness_sees_console_errors() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let dir = scratch("html-harness");
    let page = dir.join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><script>console.error('boom'); missing();</script></body></html>",
    )
    .expect("the page is written");
    let (_, console) = load(&browser, &page, &dir.join("profile"));
    assert!(
        console.iter().any(|l| l.contains("boom"))
            && console
                .iter()
                .any(|l| l.contains("Uncaught ReferenceError")),
        "console: {console:?}"
    );
}

#[test]
fn the_html_report_renders_in_chromium_with_the_counts_of_the_json_report() {
    let Some(browser) = browser_or_skip() else {
        return;
    };
    let dir = scratch("html-report");
    let page = dir.join("report.html");
    let page_arg = page.to_str().expect("a UTF-8 path");
    let out = run(&[
        "test",
        "examples/manifests",
        "-o",
        "html",
        "--output-file",
        page_arg,
    ]);
    assert!(page.is_file(), "no page written: {}", common::stderr(&out));
    let (code, json) = report(&run(&["test", "examples/manifests", "-o", "json"]));
    assert_eq!(
        out.status.code(),
        Some(code),
        "both formats give the same verdict"
    );

    let (dom, console_errors) = load(&browser, &page, &dir.join("browser-profile"));
    assert!(
        console_errors.is_empty(),
        "console messages: {console_errors:?}"
    );
    assert!(
        dom.contains("data-ready=\"true\""),
        "the page's script did not finish"
    );
    assert_eq!(
        by_id(&dom, "script-errors"),
        "",
        "script errors in the page"
    );

    let summary = &json["summary"];
    for (id, key) in [
        ("count-files", "files"),
        ("count-resources", "resources"),
        ("count-violations", "violations"),
        ("count-warnings", "warnings"),
        ("count-failing", "failing"),
    ] {
        let expected = summary[key]
            .as_u64()
            .unwrap_or_else(|| panic!("summary.{key}"));
        assert_eq!(
            by_id(&dom, id),
            expected.to_string(),
            "#{id} against summary.{key}"
        );
    }
    let findings: usize = json["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            r["violations"].as_array().map_or(0, Vec::len)
                + r["exempted"].as_array().map_or(0, Vec::len)
        })
        .sum();
    assert!(findings > 0, "the examples have findings to show");
    assert_eq!(by_id(&dom, "total"), findings.to_string());
    // Set by the script after it applied the (empty) filter to every row.
    assert_eq!(by_id(&dom, "shown"), findings.to_string());
    assert_eq!(
        dom.matches("<tr data-severity=").count(),
        findings,
        "one row per finding"
    );
    assert!(
        dom.contains("id=\"controls\""),
        "the controls table is shown"
    );
}
