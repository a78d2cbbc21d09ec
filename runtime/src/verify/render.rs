//! The three report formats: a table for people, JSON for tools, JUnit XML for CI.

use super::{Row, VerifyReport};

/// The closing line every table ends with (`, K not applicable` only when some row is).
fn closing(report: &VerifyReport) -> String {
    let mut line = format!("{} passed, {} failed", report.passed(), report.failed());
    if report.not_applicable() > 0 {
        line.push_str(&format!(", {} not applicable", report.not_applicable()));
    }
    line + "\n"
}

/// The notes of the rows, in order: why a backend gave `n/a` once per reason (it names the
/// rule), any other note with the row it is about.
fn notes(report: &VerifyReport) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in &report.rows {
        for note in &r.notes {
            let line = if note.contains(": n/a: ") {
                note.clone()
            } else {
                format!(
                    "{}:{}: case `{}`, rule `{}`: {note}",
                    r.file, r.line, r.case, r.rule
                )
            };
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    out
}

/// Columns status (`ok`, `FAIL`, `n/a`), rule, case, expected, got; then the reasons of
/// failures, the notes, the coverage and `N passed, M failed` alone on the last line. Errors go to stderr, not here.
pub fn table(report: &VerifyReport) -> String {
    let mut out = String::new();
    if !report.errors.is_empty() {
        return out;
    }
    let header = ["", "RULE", "CASE", "EXPECTED", "GOT"];
    let cells: Vec<[String; 5]> = report
        .rows
        .iter()
        .map(|r| {
            [
                if r.passed {
                    "ok"
                } else if r.not_applicable {
                    "n/a"
                } else {
                    "FAIL"
                }
                .to_string(),
                r.rule.clone(),
                r.case.clone(),
                r.expected.clone(),
                r.got_summary(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: [&str; 5]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i == 4 {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(w - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    out.push_str(&line(header));
    for row in &cells {
        out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
    }
    let failures: Vec<&Row> = report.rows.iter().filter(|r| !r.passed).collect();
    if !failures.is_empty() {
        out.push_str("\nfailures:\n");
        for r in failures {
            for reason in &r.reasons {
                out.push_str(&format!(
                    "  {}:{}: case `{}`, rule `{}`: {reason}\n",
                    r.file, r.line, r.case, r.rule
                ));
            }
        }
    }
    let notes = notes(report);
    if !notes.is_empty() {
        out.push_str("\nnotes:\n");
        for note in notes {
            out.push_str(&format!("  {note}\n"));
        }
    }
    if let Some(c) = &report.coverage {
        out.push_str(&format!("\ncoverage: {} rule(s)\n", c.rules.len()));
        let list = |title: &str, rules: &[String], out: &mut String| {
            if rules.is_empty() {
                out.push_str(&format!("  {title}: none\n"));
            } else {
                out.push_str(&format!("  {title} ({}):\n", rules.len()));
                for r in rules {
                    out.push_str(&format!("    {r}\n"));
                }
            }
        };
        list("no failing case", &c.no_failing_case, &mut out);
        list("no passing case", &c.no_passing_case, &mut out);
    }
    out.push('\n');
    out.push_str(&closing(report));
    out
}

/// One JSON document: counts, errors, one result per expectation, and the coverage.
pub fn json(report: &VerifyReport) -> String {
    let results: Vec<serde_json::Value> = report
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "file": r.file,
                "line": r.line,
                "case": r.case,
                "rule": r.rule,
                "expected": r.expected,
                "got": r.got_summary(),
                "backends": r.got.iter().map(|(b, g)| (b.clone(), serde_json::Value::from(g.as_str()))).collect::<serde_json::Map<_, _>>(),
                "passed": r.passed,
                "not_applicable": r.not_applicable,
                "failed_on": r.failed_on,
                "reasons": r.reasons,
                "notes": r.notes,
            })
        })
        .collect();
    let mut doc = serde_json::json!({
        "passed": report.passed(),
        "failed": report.failed(),
        "not_applicable": report.not_applicable(),
        "errors": report.errors,
        "backends": report.backends,
        "results": results,
    });
    if let Some(c) = &report.coverage {
        doc["coverage"] = serde_json::json!({
            "rules": c.rules.len(),
            "no_failing_case": c.no_failing_case,
            "no_passing_case": c.no_passing_case,
        });
    }
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// JUnit XML: one `testsuite` per test file, one `testcase` per expectation; errors found
/// before running become one `testcase` with an `<error>` each.
pub fn junit(report: &VerifyReport) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"rampart verify\" tests=\"{}\" failures=\"{}\" errors=\"{}\">\n",
        report.rows.len() + report.errors.len(),
        report.failed(),
        report.errors.len()
    ));
    if !report.errors.is_empty() {
        out.push_str(&format!(
            "  <testsuite name=\"checks\" tests=\"{0}\" failures=\"0\" errors=\"{0}\">\n",
            report.errors.len()
        ));
        for (i, e) in report.errors.iter().enumerate() {
            let first = e.lines().next().unwrap_or("");
            out.push_str(&format!(
                "    <testcase classname=\"checks\" name=\"error {}\">\n      <error message=\"{}\">{}</error>\n    </testcase>\n",
                i + 1,
                escape(first),
                escape(e)
            ));
        }
        out.push_str("  </testsuite>\n");
    }
    let mut files: Vec<&str> = report.rows.iter().map(|r| r.file.as_str()).collect();
    files.dedup();
    for file in files {
        let rows: Vec<&Row> = report.rows.iter().filter(|r| r.file == file).collect();
        let failed = rows
            .iter()
            .filter(|r| !r.passed && !r.not_applicable)
            .count();
        let skipped = match rows.iter().filter(|r| r.not_applicable).count() {
            0 => String::new(),
            n => format!(" skipped=\"{n}\""),
        };
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failed}\" errors=\"0\"{skipped}>\n",
            escape(file),
            rows.len()
        ));
        for r in rows {
            let name = format!("{} / {}", r.case, r.rule);
            let attrs = format!(
                "classname=\"{}\" name=\"{}\" file=\"{}\" line=\"{}\"",
                escape(file),
                escape(&name),
                escape(file),
                r.line
            );
            // Backends that gave `n/a` are told in `system-out`; a row no backend could
            // run is `skipped`.
            let notes = if r.notes.is_empty() {
                String::new()
            } else {
                format!(
                    "      <system-out>{}</system-out>\n",
                    escape(&r.notes.join("\n"))
                )
            };
            if r.not_applicable {
                out.push_str(&format!(
                    "    <testcase {attrs}>\n      <skipped message=\"not applicable\"/>\n{notes}    </testcase>\n"
                ));
            } else if r.passed && notes.is_empty() {
                out.push_str(&format!("    <testcase {attrs}/>\n"));
            } else if r.passed {
                out.push_str(&format!("    <testcase {attrs}>\n{notes}    </testcase>\n"));
            } else {
                out.push_str(&format!(
                    "    <testcase {attrs}>\n      <failure message=\"expected {}, got {}\">{}</failure>\n{notes}    </testcase>\n",
                    escape(&r.expected),
                    escape(&r.got_summary()),
                    escape(&r.reasons.join("\n"))
                ));
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Escapes text for XML attributes and content.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            c if (c as u32) < 0x20 && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}
