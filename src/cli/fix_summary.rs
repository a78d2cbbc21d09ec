//! The summary `rampart fix` prints: what it fixed per rule, what needs `--unsafe`, what has
//! no fix, the conflicts, the files left untouched and what is left.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use rampart_runtime::fix::edit::{Refusal, Target};
use rampart_runtime::fix::Applied;
use rampart_runtime::manifest::format_path;
use rampart_runtime::runner::Report;

/// What one run of `rampart fix` did.
#[derive(Default)]
pub struct Summary {
    /// Findings fixed, per rule.
    fixed: BTreeMap<String, usize>,
    /// Findings whose review fixes were skipped, per rule.
    needs_unsafe: BTreeMap<String, usize>,
    /// Findings whose rule has no fix, per rule.
    no_fix: BTreeMap<String, usize>,
    /// `file: rules … set PATH to different values`.
    conflicts: Vec<String>,
    /// `file: rule: FIX cannot be applied`.
    unreachable: Vec<String>,
    /// `file:line: reason`.
    left_alone: Vec<String>,
    /// Files whose text changed.
    files: usize,
}

impl Summary {
    pub fn no_fix(&mut self, rule: &str) {
        *self.no_fix.entry(rule.to_owned()).or_default() += 1;
    }

    pub fn needs_unsafe(&mut self, rule: &str) {
        *self.needs_unsafe.entry(rule.to_owned()).or_default() += 1;
    }

    pub fn left_alone(&mut self, file: &str, refusal: &Refusal) {
        self.left_alone
            .push(format!("{file}:{}: {}", refusal.line, refusal.message));
    }

    pub fn changed_file(&mut self) {
        self.files += 1;
    }

    /// Records what was done with one object's fixes; `rules[i]` is the rule and line of
    /// the finding that brought fix `i`.
    pub fn record(
        &mut self,
        file: &str,
        target: &Target,
        applied: &Applied,
        rules: &[(String, u32)],
    ) {
        let mut failed: BTreeSet<&(String, u32)> = BTreeSet::new();
        for c in &applied.conflicts {
            let names: BTreeSet<&str> = c.fixes.iter().map(|&i| rules[i].0.as_str()).collect();
            let names: Vec<&str> = names.into_iter().collect();
            self.conflicts.push(format!(
                "{file}:{}: {} set {} to different values",
                rules[c.fixes[0]].1,
                names.join(" and "),
                format_path(&c.path)
            ));
            failed.extend(c.fixes.iter().map(|&i| &rules[i]));
        }
        for &i in &applied.unreachable {
            self.unreachable.push(format!(
                "{file}:{}: {}: cannot {}",
                rules[i].1,
                rules[i].0,
                target.fixes[i].describe()
            ));
            failed.insert(&rules[i]);
        }
        let done: BTreeSet<&(String, u32)> = applied
            .applied
            .iter()
            .map(|&i| &rules[i])
            .filter(|f| !failed.contains(f))
            .collect();
        for (rule, _) in done {
            *self.fixed.entry(rule.clone()).or_default() += 1;
        }
    }

    /// Prints the summary; `after` is the run over the fixed files.
    pub fn print(&self, after: &Report, dry_run: bool, out: &mut dyn Write) {
        let total: usize = self.fixed.values().sum();
        let verb = if dry_run { "would fix" } else { "fixed" };
        let files = if self.files == 1 { "file" } else { "files" };
        let _ = writeln!(
            out,
            "{verb} {total} finding{} in {} {files}{}",
            plural(total),
            self.files,
            if dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            }
        );
        counts(out, &self.fixed);
        if !self.needs_unsafe.is_empty() {
            let _ = writeln!(out, "needs --unsafe (review fixes skipped):");
            counts(out, &self.needs_unsafe);
        }
        if !self.no_fix.is_empty() {
            let _ = writeln!(out, "no fix available:");
            counts(out, &self.no_fix);
        }
        list(out, "conflicts (neither fix applied):", &self.conflicts);
        list(out, "fixes that cannot be applied:", &self.unreachable);
        list(out, "files left untouched:", &self.left_alone);
        let remaining = after.summary.failing;
        if !after.errors.is_empty() {
            for e in &after.errors {
                let at = match e.line {
                    Some(line) => format!("{}:{line}", e.file),
                    None => e.file.clone(),
                };
                let _ = writeln!(out, "error: {at}: {}", e.message);
            }
        }
        if remaining > 0 {
            let _ = writeln!(
                out,
                "{remaining} finding{} remain{} (`rampart test` lists them)",
                plural(remaining),
                if remaining == 1 { "s" } else { "" }
            );
        } else {
            let _ = writeln!(out, "no finding left");
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn counts(out: &mut dyn Write, counts: &BTreeMap<String, usize>) {
    for (rule, n) in counts {
        let _ = writeln!(out, "  {rule}: {n}");
    }
}

fn list(out: &mut dyn Write, title: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "{title}");
    for line in lines {
        let _ = writeln!(out, "  {line}");
    }
}
