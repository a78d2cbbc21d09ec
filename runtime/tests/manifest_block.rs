//! Differential test of the manifest block scanner against the full YAML parser.
//!
//! For every input, `load` (the block scanner per document, the full parser as fallback)
//! must give exactly what `load_full` (the full parser only) gives: the same trees with the
//! same positions, or the same error. When `load_block` (the block scanner only) reads the
//! whole input, its result must equal `load_full`'s as well.
//!
//! The inputs are the shared corpora, the repository's example and stdlib manifests, and
//! several thousand generated texts: Kubernetes-style manifests, YAML edge cases (every
//! class of plain scalar, quoting, block scalars, flows, comments, tabs, CRLF, document
//! markers, anchors, bad indentation...) and mutations of both that reach the error paths.
//! A mismatch prints the case's seed, the text shrunk to a smaller one that still differs,
//! and both results. Coverage (how many inputs the block scanner read whole) is printed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use rampart_runtime::manifest::{load, load_block, load_full, Limits};

/// Least share of the files under ../shared/corpus/real that the block scanner must read
/// whole (80 of 102 when it was written; the rest use anchors, flow collections over several
/// lines, multi-line plain scalars or tabs): a scanner that declines more than it should
/// would still agree with the full parser, and only this floor would notice.
const MIN_BLOCK_SHARE_REAL: f64 = 0.75;

/// Number of generated texts, and the seed the first one derives from.
const CASES: u64 = 20_000;
const SEED: u64 = 0x5EED_B10C;

/// How an input fared: whether the block scanner read it whole, and what it held.
struct Outcome {
    block_read: bool,
    error: bool,
    objects: usize,
    skipped: usize,
}

/// Checks both properties on one text; `Err` describes the mismatch.
fn check(text: &str) -> Result<Outcome, String> {
    let limits = Limits::default();
    let results = catch_unwind(AssertUnwindSafe(|| {
        let full = load_full(text, &limits);
        (load(text, &limits), load_block(text, &limits), full)
    }));
    let (mixed, block, full) = results.map_err(|panic| {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("(no message)");
        format!("a loader panicked: {message}")
    })?;
    if mixed != full {
        return Err(format!("load:      {mixed:?}\nload_full: {full:?}"));
    }
    if let Some(block) = &block {
        if full.as_ref() != Ok(block) {
            return Err(format!("load_block: {block:?}\nload_full:  {full:?}"));
        }
    }
    let error = full.is_err();
    let (objects, skipped) = full.map_or((0, 0), |l| (l.objects.len(), l.skipped));
    Ok(Outcome {
        block_read: block.is_some(),
        error,
        objects,
        skipped,
    })
}

/// Removes lines, then characters, while the text still shows a mismatch.
fn shrink(text: &str) -> String {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let mut fewer = lines.clone();
        fewer.remove(i);
        if check(&fewer.concat()).is_err() {
            lines = fewer;
        } else {
            i += 1;
        }
    }
    let mut text = lines.concat();
    let mut at = 0;
    while at < text.len() {
        let width = text[at..].chars().next().map_or(1, char::len_utf8);
        let shorter = format!("{}{}", &text[..at], &text[at + width..]);
        if check(&shorter).is_err() {
            text = shorter;
        } else {
            at += width;
        }
    }
    text
}

/// Counts for one group of inputs.
#[derive(Default)]
struct Tally {
    inputs: usize,
    block_read: usize,
    errors: usize,
    objects: usize,
    skipped: usize,
    mismatches: Vec<String>,
}

impl Tally {
    /// Checks one input, recording a mismatch with `label` (shrunk when `shrink_it`).
    fn add(&mut self, label: &str, text: &str, shrink_it: bool) {
        self.inputs += 1;
        match check(text) {
            Ok(outcome) => {
                self.block_read += usize::from(outcome.block_read);
                self.errors += usize::from(outcome.error);
                self.objects += outcome.objects;
                self.skipped += outcome.skipped;
            }
            Err(difference) => {
                let (shown, difference) = if shrink_it {
                    let small = shrink(text);
                    let difference = check(&small).err().unwrap_or(difference);
                    (small, difference)
                } else {
                    (text.to_owned(), difference)
                };
                self.mismatches.push(format!(
                    "--- {label}\n--- text: {shown:?}\n{shown}\n--- results:\n{difference}\n"
                ));
            }
        }
    }

    fn report(&self, name: &str) {
        println!(
            "{name}: {} inputs ({} errors), {} read whole by the block scanner, {} objects, \
             {} skipped documents, {} mismatches",
            self.inputs,
            self.errors,
            self.block_read,
            self.objects,
            self.skipped,
            self.mismatches.len()
        );
        for mismatch in self.mismatches.iter().take(20) {
            println!("{mismatch}");
        }
    }
}

fn manifest_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            manifest_files(&path, out);
        } else if path
            .extension()
            .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
        {
            out.push(path);
        }
    }
}

#[test]
fn corpora_load_the_same_with_and_without_the_block_scanner() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = crate_dir.join("../../shared");
    assert!(
        shared.join("corpus/real").is_dir(),
        "{} is missing: ../shared must be beside the checkout",
        shared.display()
    );
    let groups = [
        ("corpus/real", shared.join("corpus/real")),
        ("corpus/psa", shared.join("corpus/psa")),
        ("corpus/gatekeeper", shared.join("corpus/gatekeeper")),
        ("reference", shared.join("reference")),
        ("examples", crate_dir.join("../examples")),
        ("stdlib", crate_dir.join("../stdlib")),
    ];
    let mut failed = false;
    for (name, dir) in groups {
        let mut files = Vec::new();
        manifest_files(&dir, &mut files);
        files.sort();
        let mut tally = Tally::default();
        for file in &files {
            let text = std::fs::read_to_string(file).unwrap();
            tally.add(&file.display().to_string(), &text, false);
        }
        tally.report(name);
        failed |= !tally.mismatches.is_empty();
        if name == "corpus/real" {
            assert!(!files.is_empty(), "no manifests under {}", dir.display());
            let share = tally.block_read as f64 / files.len() as f64;
            assert!(
                share >= MIN_BLOCK_SHARE_REAL,
                "the block scanner read {share:.3} of corpus/real, below {MIN_BLOCK_SHARE_REAL}"
            );
        }
    }
    assert!(!failed, "the loaders disagree on corpus files (see above)");
}

#[test]
fn generated_yaml_loads_the_same_with_and_without_the_block_scanner() {
    let mut tally = Tally::default();
    for case in 0..CASES {
        let seed = SEED ^ case.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let text = generate(seed);
        tally.add(&format!("case {case}, seed {seed:#x}"), &text, true);
    }
    tally.report("generated");
    assert!(
        tally.mismatches.is_empty(),
        "the loaders disagree on {} generated texts (see above)",
        tally.mismatches.len()
    );
}

/// splitmix64: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn one_in(&mut self, n: usize) -> bool {
        self.below(n) == 0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Plain scalars of every resolution class, and some that are errors or not plain at all.
#[rustfmt::skip]
const PLAIN: &[&str] = &[
    "web", "nginx:1.25", "1", "0", "-1", "+1", "0755", "0x1F", "0o17", "0b1010", "1_000", "08",
    "1e3", "1.5e3", "1.5", "-.5", "1.", ".inf", "-.Inf", ".nan", "9223372036854775807",
    "9223372036854775808", "-9223372036854775809", "1e400", "yes", "No", "ON", "off", "y", "N",
    "True", "FALSE", "~", "null", "Null", "NULL", "2024-01-02", "2001-12-14t21:59:43.10-05:00",
    "1:20", "a#b", "a #comment", "a: b", ":x", "-x", "- x", "x:", "trailing  ", "é", "日本語",
    "🚀 go", "http://example.com/a?b=c#d", "a b  c", "x'y", "x\"y", "@at", "`tick", "%pct",
    "? q", "[a", "]", "{a", "}", ",x", "x,y", "...", "---x", "<<", "=", "-", "?",
    // Outside the block scanner's subset: tags, anchors, aliases, tabs.
    "!tag x", "!!str 5", "!!int 5", "!!int x", "!!bool yes", "!!float 1", "!!null ''",
    "!!binary aGk=", "! 5", "&anc 5", "*anc", "*missing", "a\tb",
];
const PLAIN_EXOTIC: usize = 13;

/// Mapping keys, Kubernetes ones first (the manifest generator takes from those).
#[rustfmt::skip]
const KEYS: &[&str] = &[
    "name", "image", "replicas", "labels", "app", "containers", "args", "env", "value",
    "command", "ports", "on", "off", "1", "0x10", "null", "~", "true", "y", "\"quoted key\"",
    "'single key'", "\"\"", "é", "日本", "🔑", "a b", "x-y.z/w", "key#x", "-k", "k:", "!!str k",
    "&ka k", "<<",
];
const K8S_KEYS: usize = 11;

#[rustfmt::skip]
const DOUBLE: &[&str] = &[
    "plain", "a\\\"b", "back\\\\slash", "nl\\n", "tab\\t", "\\u00e9", "\\x41", "\\U0001F600",
    "\\q", "\\", "é日本🎉", " ", "", "# no comment", "a: b", "\\ \\/", "'",
];
#[rustfmt::skip]
const SINGLE: &[&str] = &[
    "it''s", "", "a\"b", "\\n", "# x", "x: y", "'", "é 日本", " ",
];
#[rustfmt::skip]
const FLOW_SCALARS: &[&str] = &[
    "a", "1", "0x1F", "yes", "~", "null", "\"b\"", "'c'", "é", "a b", "-1", "1:20", "x#y",
    "http://h/p", "\"q,\"", "''", "!!str 1", "&f 1",
];
#[rustfmt::skip]
const BLOCK_HEADERS: &[&str] = &[
    "|", "|-", "|+", ">", ">-", ">+", "|2", "|2-", ">1", "|-1", "| # note", "|  ", "|0", "|x",
    ">+2",
];
#[rustfmt::skip]
const BLOCK_LINES: &[&str] = &[
    "text", "  more indented", "", "   ", "# no comment", "é 日本 🎉", "a: b", "- x",
    "trailing  ", "---", "...", "\ttab",
];
const COMMENTS: &[&str] = &[" # comment", " #", "  # é 日本", "\t# tab"];
const API_KINDS: &[(&str, &str)] = &[
    ("v1", "Pod"),
    ("apps/v1", "Deployment"),
    ("v1", "ConfigMap"),
    ("batch/v1", "CronJob"),
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("v1", "Service"),
];

/// Whole entries (re-indented to the mapping they land in) for features that need several
/// lines in a fixed shape.
const SNIPPETS: &[&str] = &[
    "dup: 1\ndup: 2\n",
    "1: one\n\"1\": two\n",
    "spaced:   \n  \n  x: 1\n",
    "list:\n- a\n-\n- - b\n  - c\n-   d: 1\n    e: 2\n",
    "list:\n  - a\n   - b\n",
    "over:\n    a: 1\n  b: 2\n",
    "nomatch:\n    a: 1\n   b: 2\n",
    "plain: first\nsecond\n",
    "q: \"unterminated\n",
    "q: 'unterminated\n",
    "flow: [a, b,]\n",
    "flow: [a: b, c]\n",
    "flow: [a\n",
    "block: |\n\n  leading\n\n  trailing\n\n\n",
    "block: >\n  folded\n  lines\n\n    more\n  back\n",
    "block: |\nless\n",
    "block: |2\n    four\n  two\n",
    "block: |-\n  a\nnext: 1\n",
    "key with spaces   : v\n",
    "empty_flow: []\nempty_map: {}\n",
    "nested:\n  - name: a\n    items:\n    - x\n    - y\n  - name: b\n",
    "dash:\n-\n  a: 1\n-\n  - b\n",
    "colon:value\n",
    "\"quoted\": 1\n'single': 2\n",
];

/// Snippets outside the block scanner's subset (it must decline them).
const EXOTIC_SNIPPETS: &[&str] = &[
    "base: &b\n  x: 1\n  y: [1, 2]\nderived:\n  <<: *b\n  y: 3\n",
    "merged:\n  <<: [*b, {z: 1}]\n",
    "? complex\n: value\n",
    "? [a, b]\n: c\n",
    "? |\n  block key\n: v\n",
    "plain: first\n  second\n\n  third\n",
    "q: \"first\n  second\n\n  third\"\n",
    "q: 'first\n\n  second'\n",
    "flow: [a,\n  b,\n  c]\n",
    "flow: [\n  a, b\n]\n",
    "flow: {\n  a: 1,\n  b: [x, {y: z}]\n  }\n",
    "flow: [a, [b, [c, {d: [e]}]], {}, []]\n",
    "flow: {a, b: }\n",
    "tagged: !!map\n  a: 1\n",
    "tagged: !!seq\n- a\n",
    "tagged: !custom\n  a: 1\n",
    "anchored: &m\n  a: 1\nalias: *m\n",
    "anchored: &s\n- a\nalias: *s\n",
    "tab:\tvalue\n",
    "tabbed:\n\tx: 1\n",
    "json: {\"a\": 1, \"b\": [true, null]}\n",
];

/// Builds YAML text line by line, tracking whether the cursor already sits after a `- `.
struct Gen {
    rng: Rng,
    out: String,
    /// The next line starts where the cursor is (after `- `): no indentation to write.
    inline: bool,
    /// How often edge cases appear: 1 in `edge`.
    edge: usize,
    /// Whether edge cases may leave the block scanner's subset (tags, anchors, multi-line
    /// scalars and flows, tabs, CRLF...); without them every error must make it decline.
    exotic: bool,
}

impl Gen {
    fn start(&mut self, indent: usize) {
        if !std::mem::take(&mut self.inline) {
            self.out.push_str(&" ".repeat(indent));
        }
    }

    /// Usually one of the first `common` items of `pool`; on an edge case any item, except
    /// the last `exotic` ones (outside the block scanner's subset) when the case avoids them.
    fn choose(&mut self, pool: &[&'static str], common: usize, exotic: usize) -> &'static str {
        let len = if !self.rng.one_in(self.edge) {
            common
        } else if self.exotic {
            pool.len()
        } else {
            pool.len() - exotic
        };
        self.rng.pick(&pool[..len])
    }

    fn end_line(&mut self) {
        if self.rng.one_in(12) {
            let comment = self.choose(COMMENTS, 3, 1);
            self.out.push_str(comment);
        } else if self.rng.one_in(25) {
            self.out.push_str("  ");
        }
        self.out.push('\n');
    }

    fn key(&mut self) -> &'static str {
        self.choose(KEYS, K8S_KEYS, 3)
    }

    /// A scalar that fits on the rest of the current line.
    fn inline_scalar(&mut self) -> String {
        if !self.rng.one_in(self.edge) {
            return self.rng.pick(&PLAIN[..8]).to_owned();
        }
        match self.rng.below(16) {
            0 | 1 => format!("'{}'", self.rng.pick(SINGLE)),
            2 | 3 => format!("\"{}\"", self.rng.pick(DOUBLE)),
            4 => format!("\"{}", self.rng.pick(DOUBLE)),
            _ => self.choose(PLAIN, PLAIN.len(), PLAIN_EXOTIC).to_owned(),
        }
    }

    /// A flow collection or scalar, on one line unless `indent` is given.
    fn flow(&mut self, depth: usize, indent: Option<usize>) -> String {
        let nested = depth > 0 && !(self.exotic && self.rng.one_in(self.edge));
        if depth > 2 || nested || self.rng.one_in(3) {
            return self.choose(FLOW_SCALARS, 10, 2).to_owned();
        }
        let is_map = self.rng.one_in(2);
        // The block scanner reads no mapping in flow style but `{}`.
        let count = if is_map && !self.exotic {
            0
        } else {
            self.rng.below(4)
        };
        let mut keys: Vec<&str> = Vec::new();
        let items: Vec<String> = (0..count)
            .map(|_| {
                let value = self.flow(depth + 1, None);
                if !is_map {
                    return value;
                }
                let mut key = self.rng.pick(&FLOW_SCALARS[..12]);
                if keys.contains(&key) && !self.rng.one_in(self.edge) {
                    key = ["k1", "k2", "k3"][keys.len()];
                }
                keys.push(key);
                format!("{key}: {value}")
            })
            .collect();
        let (open, close) = if is_map { ("{", "}") } else { ("[", "]") };
        match indent {
            Some(indent) if count > 0 => {
                let inner = " ".repeat(indent + 2);
                let close_pad = " ".repeat(indent + 2 * usize::from(self.rng.one_in(2)));
                format!(
                    "{open}\n{inner}{}\n{close_pad}{close}",
                    items.join(&format!(",\n{inner}"))
                )
            }
            _ => format!("{open}{}{close}", items.join(", ")),
        }
    }

    /// A block scalar after `key:` (header and content lines).
    fn block_scalar(&mut self, indent: usize) {
        let header = self.choose(BLOCK_HEADERS, 6, 0);
        self.out.push(' ');
        self.out.push_str(header);
        self.out.push('\n');
        let content =
            indent + [2, 4, 1, 0][self.rng.below(4) * usize::from(self.rng.one_in(self.edge))];
        // An empty block scalar is an edge case.
        let lines = if self.rng.one_in(self.edge) { 0 } else { 1 } + self.rng.below(4);
        for _ in 0..lines {
            let line = self.choose(BLOCK_LINES, 1, 1);
            if !line.is_empty() {
                self.out.push_str(&" ".repeat(content));
            }
            self.out.push_str(line);
            self.out.push('\n');
        }
    }

    /// What follows `key:` for a value nested at `indent`.
    fn value(&mut self, indent: usize, depth: usize) {
        let choice = if depth > 5 {
            self.rng.below(3)
        } else {
            self.rng.below(14)
        };
        match choice {
            0 | 1 => {
                let scalar = self.inline_scalar();
                self.out.push(' ');
                self.out.push_str(&scalar);
                self.end_line();
            }
            2 => self.end_line(),
            3 if self.rng.one_in(2) => {
                self.out.push_str(" |\n");
                self.out.push_str(&" ".repeat(indent + 2));
                self.out.push_str("line one\n");
            }
            3 => self.block_scalar(indent),
            4 => {
                let multiline = (self.exotic && self.rng.one_in(self.edge)).then_some(indent);
                let flow = self.flow(0, multiline);
                self.out.push(' ');
                self.out.push_str(&flow);
                self.end_line();
            }
            5 | 6 => {
                self.end_line();
                let step = if self.rng.one_in(2) { 0 } else { 2 };
                self.seq(indent + step, depth + 1);
            }
            _ => {
                if self.exotic && self.rng.one_in(self.edge) {
                    let property = self.rng.pick(&[" &n", " !!map", " !t", " &a !!map"]);
                    self.out.push_str(property);
                }
                self.end_line();
                let step = [2, 2, 2, 4, 1, 3][self.rng.below(6)];
                self.map(indent + step, depth + 1);
            }
        }
    }

    /// A block mapping whose keys differ (a repeated one may come from a snippet).
    fn map(&mut self, indent: usize, depth: usize) {
        let mut used = Vec::new();
        for _ in 0..1 + self.rng.below(4) {
            let mut key = self.key();
            for _ in 0..4 {
                if !used.contains(&key) {
                    break;
                }
                key = self.key();
            }
            used.push(key);
            self.entry(indent, depth, key);
        }
    }

    fn entry(&mut self, indent: usize, depth: usize, key: &str) {
        if self.rng.one_in(self.edge * 8) {
            let snippet = if self.exotic && self.rng.one_in(2) {
                self.rng.pick(EXOTIC_SNIPPETS)
            } else {
                self.rng.pick(SNIPPETS)
            };
            for line in snippet.lines() {
                self.start(indent);
                self.out.push_str(line);
                self.out.push('\n');
            }
            return;
        }
        if !self.inline && self.rng.one_in(self.edge * 2) {
            // A blank or comment line, or a key at a column matching no parent.
            match self.rng.below(4) {
                0 => self.out.push_str("\n"),
                1 => self.out.push_str("   \n"),
                2 => self
                    .out
                    .push_str(&format!("{}# note\n", " ".repeat(indent))),
                _ => self.out.push(' '),
            }
        }
        self.start(indent);
        self.out.push_str(key);
        self.out.push(':');
        self.value(indent, depth);
    }

    fn seq(&mut self, indent: usize, depth: usize) {
        for _ in 0..1 + self.rng.below(3) {
            self.start(indent);
            self.out.push('-');
            match self.rng.below(8) {
                0 => {
                    // `-` alone, the content below it.
                    self.end_line();
                    if self.rng.one_in(2) {
                        self.map(indent + 2, depth + 1);
                    } else {
                        self.seq(indent + 2, depth + 1);
                    }
                }
                1 | 2 | 3 => {
                    self.out.push(' ');
                    self.inline = true;
                    self.map(indent + 2, depth + 1);
                }
                4 if depth < 5 => {
                    self.out.push(' ');
                    self.inline = true;
                    self.seq(indent + 2, depth + 1);
                }
                5 => {
                    let flow = self.flow(0, None);
                    self.out.push(' ');
                    self.out.push_str(&flow);
                    self.end_line();
                }
                _ => {
                    let scalar = self.inline_scalar();
                    self.out.push(' ');
                    self.out.push_str(&scalar);
                    self.end_line();
                }
            }
        }
    }

    /// A Kubernetes object at `indent`, its keys sometimes missing or shuffled.
    fn manifest(&mut self, indent: usize) {
        let (api, kind) = API_KINDS[self.rng.below(API_KINDS.len())];
        let mut head = vec![format!("apiVersion: {api}"), format!("kind: {kind}")];
        if self.rng.one_in(8) {
            head.remove(self.rng.below(2));
        }
        if self.rng.one_in(4) {
            head.reverse();
        }
        for line in head {
            self.start(indent);
            self.out.push_str(&line);
            self.end_line();
        }
        self.start(indent);
        self.out.push_str("metadata:\n");
        self.start(indent + 2);
        let name = self.inline_scalar();
        self.out.push_str(&format!("name: {name}\n"));
        if self.rng.one_in(2) {
            self.start(indent + 2);
            self.out.push_str("labels:\n");
            self.map(indent + 4, 2);
        }
        self.start(indent);
        self.out.push_str("spec:");
        self.value(indent, 1);
    }

    fn json(&mut self, depth: usize) -> String {
        match if depth > 3 { 5 } else { self.rng.below(8) } {
            0 | 1 => {
                let fields: Vec<String> = (0..self.rng.below(4))
                    .map(|i| format!("\"k{i}\": {}", self.json(depth + 1)))
                    .collect();
                format!(
                    "{{{}}}",
                    fields.join(if self.rng.one_in(2) { ",\n  " } else { ", " })
                )
            }
            2 => {
                let items: Vec<String> = (0..self.rng.below(4))
                    .map(|_| self.json(depth + 1))
                    .collect();
                format!("[{}]", items.join(", "))
            }
            _ => self
                .rng
                .pick(&[
                    "1",
                    "-0.5",
                    "1e3",
                    "true",
                    "null",
                    "\"s\"",
                    "\"\\u00e9\\n\"",
                    "\"é\"",
                ])
                .to_owned(),
        }
    }

    fn document(&mut self) {
        match self.rng.below(20) {
            0..=10 => self.manifest(0),
            11 | 12 => self.map(0, 0),
            13 => {
                self.out.push_str("apiVersion: v1\nkind: List\nitems:\n");
                let indent = 2 * self.rng.below(2);
                for _ in 0..self.rng.below(3) {
                    self.start(indent);
                    self.out.push_str("- ");
                    self.inline = true;
                    self.manifest(indent + 2);
                }
            }
            14 => self.seq(0, 0),
            15 => {
                let scalar = self.inline_scalar();
                self.out.push_str(&scalar);
                self.out.push('\n');
            }
            16 => {
                let (api, kind) = API_KINDS[self.rng.below(API_KINDS.len())];
                let body = self.json(1);
                self.out.push_str(&format!(
                    "{{\"apiVersion\": \"{api}\", \"kind\": \"{kind}\",\n \"spec\": {body}}}\n"
                ));
            }
            17 => self.out.push_str("# only a comment\n"),
            18 => {}
            _ => self.block_scalar(0),
        }
    }
}

/// One generated text: a stream of documents, then whole-text changes and mutations.
fn generate(seed: u64) -> String {
    let mut rng = Rng(seed);
    // One case in four is plain Kubernetes style, with neither edge cases nor mutations.
    let edge = [3, 8, 20, 100_000][rng.below(4)];
    let exotic = rng.one_in(2);
    let mut g = Gen {
        rng,
        out: String::new(),
        inline: false,
        edge,
        exotic,
    };
    if exotic && g.rng.one_in(20) {
        g.out.push_str("%YAML 1.2\n---\n");
    }
    for index in 0..1 + g.rng.below(3) {
        if index > 0 || g.rng.one_in(4) {
            let markers = [
                "---\n",
                "---\n",
                "--- # doc\n",
                "...\n---\n",
                "--- |\n  text\n",
                "--- a: 1\n",
                "--- [a, b]\n",
                "--- value\n",
                "---\t\n",
                "---x\n",
            ];
            let marker = g.rng.pick(&markers[..if edge < 100_000 { 10 } else { 3 }]);
            g.out.push_str(marker);
            if !marker.ends_with("---\n") {
                continue; // The marker line holds the document.
            }
        }
        g.document();
    }
    if g.rng.one_in(10) {
        g.out.push_str("...\n");
    }
    let mut text = g.out;
    let rng = &mut g.rng;
    if edge < 100_000 && rng.one_in(3) {
        for _ in 0..1 + rng.below(3) {
            text = mutate(rng, &text);
        }
    }
    if exotic && rng.one_in(12) {
        text = text.replace('\n', "\r\n");
    }
    if exotic && rng.one_in(25) {
        text.insert(0, '\u{feff}');
    }
    if rng.one_in(8) {
        text.pop();
    }
    text
}

/// One small random change: a character deleted or inserted, lines swapped or re-indented.
fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    if lines.is_empty() {
        return text.to_owned();
    }
    let at = rng.below(lines.len());
    let line = &mut lines[at];
    let chars: Vec<char> = line.chars().collect();
    let column = rng.below(chars.len() + 1);
    match rng.below(7) {
        0 if !chars.is_empty() => {
            let mut chars = chars;
            chars.remove(column.min(chars.len() - 1));
            *line = chars.into_iter().collect();
        }
        0 | 1 => {
            let inserted = [
                ' ', ':', '-', '#', '\'', '"', '\t', '[', '{', '}', 'x', '&', '*', '|',
            ][rng.below(14)];
            let mut chars = chars;
            chars.insert(column, inserted);
            *line = chars.into_iter().collect();
        }
        2 => line.insert(0, ' '),
        3 if line.starts_with(' ') => {
            line.remove(0);
        }
        3 => line.insert_str(0, "\t"),
        4 => {
            let other = rng.below(lines.len());
            lines.swap(at, other);
        }
        5 => {
            let copy = line.clone();
            lines.insert(at, copy);
        }
        _ => line.push_str("  "),
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// The scanner recurses once per nesting level, so it reads only a bounded depth itself and
/// leaves deeper input to the full parser (which keeps its open collections on the heap),
/// even when the limits allow far deeper nesting (`--max-depth`).
#[test]
fn deep_nesting_is_left_to_the_full_parser() {
    let nested = |depth: usize| {
        let mut text = String::from("apiVersion: v1\nkind: ConfigMap\ndata:\n");
        for level in 1..depth {
            text.push_str(&" ".repeat(level));
            text.push_str("k:\n");
        }
        text.push_str(&" ".repeat(depth));
        text.push_str("k: v\n");
        text
    };
    let limits = Limits {
        max_depth: 100_000,
        ..Limits::default()
    };
    let shallow = nested(100);
    assert!(load_block(&shallow, &limits).is_some());
    let deep = nested(1_000);
    assert!(load_block(&deep, &limits).is_none());
    let full = load_full(&deep, &limits).expect("the full parser reads it");
    assert_eq!(load(&deep, &limits), Ok(full));
}
