//! The HTML format: one self-contained page (no network access, no external script, style
//! or font): the run's counts, a chart of findings per severity, the controls the rules
//! name (see [`super::controls`]), and every finding by file with its source line, in a
//! table that a little inline JavaScript sorts and filters.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::controls::{self, Status};
use crate::eval::Action;
use crate::runner::Report;

/// Escapes text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}\
table{border-collapse:collapse;width:100%;font-size:.9em}\
th,td{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}th.sortable{cursor:pointer}\
.counts span{display:inline-block;margin-right:1.2em}\
.counts b{font-size:1.3em}\
.bar{display:flex;align-items:center;margin:.2em 0}\
.bar .label{width:6em}.bar .fill{height:1em;background:#c0392b;margin-right:.4em}\
.bar .fill.warn{background:#e67e22}\
.fail{color:#b00020;font-weight:bold}.pass{color:#1b7f3b}.na{color:#777}\
code{font-family:ui-monospace,monospace;white-space:pre-wrap}\
#filters{margin:.5em 0}";

/// Sorts the findings table by a column on a header click; filters rows by text and
/// severity; reports script errors in the page itself (#script-errors).
const SCRIPT: &str = r#"
(function () {
  var errors = document.getElementById('script-errors');
  window.addEventListener('error', function (e) {
    errors.textContent += 'script error: ' + e.message + '\n';
  });
  var table = document.getElementById('findings');
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var text = document.getElementById('filter-text');
  var severity = document.getElementById('filter-severity');
  var shown = document.getElementById('shown');
  function apply() {
    var needle = text.value.toLowerCase();
    var level = severity.value;
    var count = 0;
    rows.forEach(function (row) {
      var visible = (needle === '' || row.textContent.toLowerCase().indexOf(needle) >= 0) &&
        (level === '' || row.getAttribute('data-severity') === level);
      row.style.display = visible ? '' : 'none';
      if (visible) { count += 1; }
    });
    shown.textContent = String(count);
  }
  var ascending = {};
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell, index) {
    cell.classList.add('sortable');
    cell.addEventListener('click', function () {
      ascending[index] = !ascending[index];
      var numeric = cell.getAttribute('data-numeric') === 'true';
      rows.sort(function (a, b) {
        var x = a.cells[index].getAttribute('data-key') || a.cells[index].textContent;
        var y = b.cells[index].getAttribute('data-key') || b.cells[index].textContent;
        var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return ascending[index] ? order : -order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
  text.addEventListener('input', apply);
  severity.addEventListener('change', apply);
  apply();
  document.body.setAttribute('data-ready', 'true');
})();
"#;

const SEVERITIES: [&str; 4] = ["critical", "high", "medium", "low"];

fn severity_rank(s: &str) -> usize {
    SEVERITIES
        .iter()
        .position(|x| *x == s)
        .unwrap_or(SEVERITIES.len())
}

/// Renders the page.
pub fn render(report: &Report) -> String {
    let s = &report.summary;
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n");
    out.push_str("<title>Rampart report</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>Rampart report</h1>\n");
    let verdict = if !report.errors.is_empty() {
        "error"
    } else if report.failed() {
        "fail"
    } else {
        "pass"
    };
    let _ = writeln!(
        out,
        "<p>Verdict: <b id=\"verdict\" class=\"{}\">{verdict}</b></p>",
        if verdict == "pass" { "pass" } else { "fail" }
    );
    out.push_str("<p class=\"counts\">");
    for (id, label, n) in [
        ("files", "files", s.files),
        ("resources", "objects", s.resources),
        ("violations", "violations", s.violations),
        ("warnings", "warnings", s.warnings),
        ("exempted", "exempted", s.exempted),
        ("failing", "failing", s.failing),
        ("errors", "errors", s.errors),
    ] {
        let _ = write!(out, "<span>{label}: <b id=\"count-{id}\">{n}</b></span>");
    }
    out.push_str("</p>\n");

    // Findings per severity, as a bar chart (deny and warn bars side by side).
    let mut per_severity: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for v in report.results.iter().flat_map(|r| r.active()) {
        let entry = per_severity.entry(severity_rank(&v.severity)).or_default();
        match v.action {
            Action::Deny => entry.0 += 1,
            Action::Warn => entry.1 += 1,
        }
    }
    let most = per_severity
        .values()
        .map(|(d, w)| d.max(w))
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    out.push_str("<h2>Findings by severity</h2>\n<div id=\"chart\">\n");
    for (rank, name) in SEVERITIES.iter().enumerate() {
        let (deny, warn) = per_severity.get(&rank).copied().unwrap_or_default();
        let _ = writeln!(
            out,
            "<div class=\"bar\" data-severity=\"{name}\"><span class=\"label\">{name}</span>\
             <span class=\"fill\" style=\"width:{}px\"></span><span class=\"deny-count\">{deny} deny</span>&nbsp;\
             <span class=\"fill warn\" style=\"width:{}px\"></span><span class=\"warn-count\">{warn} warn</span></div>",
            deny * 300 / most,
            warn * 300 / most
        );
    }
    out.push_str("</div>\n");

    // Controls.
    let rows = controls::summarize(report);
    out.push_str("<h2>Controls</h2>\n");
    if rows.is_empty() {
        out.push_str("<p>The selected rules name no control.</p>\n");
    } else {
        out.push_str("<table id=\"controls\"><thead><tr><th>control</th><th>status</th><th>pass</th><th>fail</th><th>n/a</th><th>rules</th></tr></thead><tbody>\n");
        for row in &rows {
            let status = row.status();
            let class = match status {
                Status::Fail => "fail",
                Status::Pass => "pass",
                Status::NotApplicable => "na",
            };
            let rules: Vec<String> = row
                .rules
                .iter()
                .map(|(id, s)| format!("<code>{}</code> ({})", esc(id), s.as_str()))
                .collect();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"{class}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&row.control),
                status.as_str(),
                row.count(Status::Pass),
                row.count(Status::Fail),
                row.count(Status::NotApplicable),
                rules.join(", ")
            );
        }
        out.push_str("</tbody></table>\n");
    }

    // Findings.
    let total: usize = report.results.iter().map(|r| r.violations.len()).sum();
    let _ = writeln!(
        out,
        "<h2>Findings</h2>\n<div id=\"filters\"><label>Filter <input id=\"filter-text\" type=\"search\"></label> \
         <label>Severity <select id=\"filter-severity\"><option value=\"\">all</option>{}</select></label> \
         showing <span id=\"shown\">{total}</span> of <span id=\"total\">{total}</span></div>",
        SEVERITIES
            .iter()
            .map(|s| format!("<option value=\"{s}\">{s}</option>"))
            .collect::<String>()
    );
    out.push_str("<table id=\"findings\"><thead><tr><th>file</th><th data-numeric=\"true\">line</th><th>object</th><th>rule</th><th>severity</th><th>action</th><th>message</th><th>source</th></tr></thead><tbody>\n");
    for r in &report.results {
        for v in &r.violations {
            let action = match (&v.exemption, v.action) {
                (Some(_), _) => "exempted",
                (None, Action::Deny) => "deny",
                (None, Action::Warn) => "warn",
            };
            let _ = writeln!(
                out,
                "<tr data-severity=\"{sev}\"><td>{file}</td><td>{line}</td><td>{object}</td><td><code>{rule}</code></td>\
                 <td data-key=\"{rank}\">{sev}</td><td>{action}</td><td>{message}</td><td><code>{source}</code></td></tr>",
                sev = esc(&v.severity),
                file = esc(&r.file),
                line = v.line,
                object = esc(&r.describe()),
                rule = esc(&v.rule),
                rank = severity_rank(&v.severity),
                message = esc(&v.message),
                source = esc(v.source_line.trim_end()),
            );
        }
    }
    out.push_str("</tbody></table>\n");

    if !report.errors.is_empty() {
        out.push_str("<h2>Errors</h2>\n<ul id=\"errors\">\n");
        for e in &report.errors {
            let at = match e.line {
                Some(l) => format!("{}:{l}", e.file),
                None => e.file.clone(),
            };
            let _ = writeln!(out, "<li>{}: {}</li>", esc(&at), esc(&e.message));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<pre id=\"script-errors\"></pre>\n<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn an_empty_report_is_a_whole_page_without_external_resources() {
        let page = render(&Report::default());
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.ends_with("</html>\n"));
        assert!(page.contains("<b id=\"count-violations\">0</b>"));
        for external in ["http://", "https://", "src=", "@import", "url("] {
            assert!(!page.contains(external), "the page refers to {external}");
        }
    }
}
