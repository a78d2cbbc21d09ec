//! `rampart fmt`: prints a parsed file in the one canonical style of spec/style.md,
//! keeping every comment. Only files without syntax errors are formatted.

mod doc;
mod expr;

use crate::syntax::ast::{
    FixOpKind, Function, Item, MatchWhat, OutcomeDef, RuleDef, RuleItem, SourceFile, Span,
};
use crate::syntax::trivia::{comments, Comment};
use crate::syntax::{parse_file, SyntaxError};
use doc::{concat, group, nest, render, text, Doc};

/// The line width the layout aims for.
pub const WIDTH: usize = 100;
/// Indentation of one level.
const INDENT: usize = 2;

/// Formats `src`, or returns its syntax errors (the text is then left as it is).
pub fn format_source(src: &str) -> Result<String, Vec<SyntaxError>> {
    let (file, errors) = parse_file(src);
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(format_file(src, &file))
}

/// Formats a file parsed from `src` without errors.
pub fn format_file(src: &str, file: &SourceFile) -> String {
    let mut p = Printer {
        src,
        comments: comments(src),
        used: Vec::new(),
        lines: Vec::new(),
    };
    p.used = vec![false; p.comments.len()];
    p.file(file);
    p.flush_comments(src.len(), 0);
    while p.lines.last().is_some_and(String::is_empty) {
        p.lines.pop();
    }
    let mut out = p.lines.join("\n");
    out.push('\n');
    out
}

/// Prints one file, line by line.
pub(crate) struct Printer<'a> {
    src: &'a str,
    comments: Vec<Comment>,
    /// Comments already printed (inside an expression kept as written).
    used: Vec<bool>,
    lines: Vec<String>,
}

impl<'a> Printer<'a> {
    fn source(&self, span: Span) -> &'a str {
        &self.src[span.start..span.end]
    }

    /// Whether a comment not yet printed lies inside `span`.
    fn has_comment(&self, span: Span) -> bool {
        self.comments
            .iter()
            .zip(&self.used)
            .any(|(c, used)| !used && c.span.start > span.start && c.span.start < span.end)
    }

    /// The source of an expression that holds a comment, kept as written (its comments
    /// marked printed); `None` for the others.
    fn verbatim(&mut self, span: Span) -> Option<Doc> {
        let inside: Vec<usize> = (0..self.comments.len())
            .filter(|&i| {
                let c = self.comments[i].span;
                !self.used[i] && c.start > span.start && c.start < span.end
            })
            .collect();
        if inside.is_empty() {
            return None;
        }
        for i in inside {
            self.used[i] = true;
        }
        Some(text(self.source(span)))
    }

    /// Whether the source has a blank line just before `pos` (white space only between).
    fn blank_before(&self, pos: usize) -> bool {
        let before = &self.src[..pos.min(self.src.len())];
        let ws = before.len() - before.trim_end().len();
        before[before.len() - ws..].matches('\n').count() >= 2
    }

    /// Starts a line for the node at `pos`: prints the comments before it, and a blank line
    /// before them when `blank` is set or the source had one (never right after a `{`).
    fn lead_in(&mut self, pos: usize, indent: usize, blank: bool) {
        let mut need_blank = blank;
        for i in 0..self.comments.len() {
            if self.used[i] || self.comments[i].span.start >= pos {
                continue;
            }
            self.used[i] = true;
            let c = self.comments[i].clone();
            if c.trailing {
                if let Some(last) = self.lines.last_mut().filter(|l| !l.is_empty()) {
                    last.push(' ');
                    last.push_str(&c.text);
                    continue;
                }
            }
            if need_blank || self.blank_before(c.span.start) {
                self.blank_line();
            }
            need_blank = false;
            self.lines.push(format!("{}{}", " ".repeat(indent), c.text));
        }
        if need_blank || self.blank_before(pos) {
            self.blank_line();
        }
    }

    fn blank_line(&mut self) {
        if self
            .lines
            .last()
            .is_some_and(|l| !l.is_empty() && !l.ends_with('{'))
        {
            self.lines.push(String::new());
        }
    }

    /// Prints the comments before `pos` (a closing brace or the end of the file).
    fn flush_comments(&mut self, pos: usize, indent: usize) {
        let end = self.src.len().min(pos);
        // No blank line is added before the brace itself.
        let saved = self.lines.len();
        self.lead_in(end, indent, false);
        if self.lines.len() > saved && self.lines.last().is_some_and(String::is_empty) {
            self.lines.pop();
        }
    }

    /// Where the word before `pos` starts (`let` before a name).
    fn word_before(&self, pos: usize) -> usize {
        let before = self.src[..pos].trim_end();
        before
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or(0, |n| n + 1)
    }

    /// Lays `doc` out at `indent` and appends its lines.
    fn push(&mut self, doc: &Doc, indent: usize) {
        let s = render(doc, WIDTH, indent);
        let mut first = true;
        for line in s.split('\n') {
            if first {
                self.lines.push(format!("{}{}", " ".repeat(indent), line));
                first = false;
            } else {
                self.lines.push(line.to_string());
            }
        }
    }

    fn file(&mut self, file: &SourceFile) {
        if let Some(m) = &file.module {
            self.lead_in(self.word_before(m.span.start), 0, false);
            self.lines.push(format!("module {}", m.text()));
        }
        let mut prev_rule = file.module.is_some();
        for item in &file.items {
            let start = item_start(item);
            let is_rule = matches!(item, Item::Rule(_));
            self.lead_in(start, 0, prev_rule || is_rule);
            prev_rule = is_rule;
            self.item(item);
        }
    }

    fn item(&mut self, item: &Item) {
        match item {
            Item::Import { path, alias, .. } => {
                let mut s = format!("import {}", path.text());
                if let Some(a) = alias {
                    s.push_str(" as ");
                    s.push_str(&a.name);
                }
                self.lines.push(s);
            }
            Item::SchemaImport { span, .. } => {
                let written = self.source(*span)["import".len()..].trim();
                self.lines.push(format!("import {written}"));
            }
            Item::Function(f) => self.function(f),
            Item::Rule(r) => self.rule(r),
            Item::Error(span) => {
                let s = self.source(*span).to_string();
                self.lines.push(s);
            }
        }
    }

    fn function(&mut self, f: &Function) {
        let params: Vec<Doc> = f
            .params
            .iter()
            .map(|(name, ty)| text(format!("{}: {}", name.name, self.type_expr(ty))))
            .collect();
        let params = self.delimited("(", params, ")");
        let body = self.expr(&f.body);
        let doc = concat(vec![
            text(format!("fn {}", f.name.name)),
            params,
            text(format!(" -> {} =", self.type_expr(&f.ret))),
            group(nest(INDENT, concat(vec![Doc::Line, body]))),
        ]);
        self.push(&doc, 0);
    }

    fn rule(&mut self, r: &RuleDef) {
        self.lines.push(format!("rule {} {{", r.name.name));
        // Metadata values line up within a run of metadata lines.
        let mut widths = vec![0; r.items.len()];
        let mut i = 0;
        while i < r.items.len() {
            let run = r.items[i..]
                .iter()
                .take_while(|x| matches!(x, RuleItem::Meta { .. }))
                .count();
            let width = r.items[i..i + run]
                .iter()
                .map(|x| match x {
                    RuleItem::Meta { key, .. } => key.name.len(),
                    _ => 0,
                })
                .max()
                .unwrap_or(0);
            widths[i..i + run].fill(width);
            i += run.max(1);
        }
        for (item, width) in r.items.iter().zip(widths) {
            let start = match item {
                RuleItem::Let { name, .. } => self.word_before(name.span.start),
                other => rule_item_start(other),
            };
            self.lead_in(start, INDENT, false);
            self.rule_item(item, width);
        }
        self.flush_comments(r.span.end.saturating_sub(1), INDENT);
        self.lines.push("}".to_string());
    }

    fn rule_item(&mut self, item: &RuleItem, key_width: usize) {
        let doc = match item {
            RuleItem::Meta { key, value } => {
                let value = self.expr(value);
                concat(vec![text(format!("{:key_width$} ", key.name)), value])
            }
            RuleItem::Match { exclude, what, .. } => {
                let word = if *exclude { "exclude" } else { "match" };
                let what = match what {
                    MatchWhat::Kinds(kinds) => {
                        let kinds: Vec<String> = kinds
                            .iter()
                            .map(|k| {
                                let written = self.source(k.span);
                                if written.starts_with('"') {
                                    written.to_string()
                                } else {
                                    k.text.clone()
                                }
                            })
                            .collect();
                        text(kinds.join(", "))
                    }
                    MatchWhat::Namespaces(list) => {
                        concat(vec![text("namespaces "), self.expr(list)])
                    }
                    MatchWhat::Labels(map) => concat(vec![text("labels "), self.expr(map)]),
                };
                concat(vec![text(format!("{word} ")), what])
            }
            RuleItem::Param {
                name, ty, default, ..
            } => {
                let head = format!("param {}: {} =", name.name, self.type_expr(ty));
                let default = self.expr(default);
                concat(vec![
                    text(head),
                    group(nest(INDENT, concat(vec![Doc::Line, default]))),
                ])
            }
            RuleItem::Let { name, value } => {
                let value = self.expr(value);
                concat(vec![text(format!("let {} = ", name.name)), value])
            }
            RuleItem::Outcome(o) => return self.outcome(o),
            RuleItem::AutogenOff(_) => text("autogen off"),
            RuleItem::Error(span) => text(self.source(*span)),
        };
        self.push(&doc, INDENT);
    }

    /// `deny`/`warn` and its first clause on one line, each further clause on its own line.
    fn outcome(&mut self, o: &OutcomeDef) {
        let action = match o.action {
            crate::ir::Action::Deny => "deny",
            crate::ir::Action::Warn => "warn",
        };
        // Each clause: where it starts in the source, and its document.
        let mut clauses: Vec<(usize, Doc)> = Vec::new();
        let mut lets = o.lets.iter().peekable();
        for (i, b) in o.binders.iter().enumerate() {
            while let Some(l) = lets.next_if(|l| l.after == i) {
                let value = self.expr(&l.value);
                clauses.push((
                    l.name.span.start,
                    concat(vec![text(format!("let {} = ", l.name.name)), value]),
                ));
            }
            let mut head = format!("for {}", b.first.name);
            if let Some(s) = &b.second {
                head.push_str(", ");
                head.push_str(&s.name);
            }
            head.push_str(" in ");
            let collection = self.expr(&b.collection);
            clauses.push((b.first.span.start, concat(vec![text(head), collection])));
        }
        for l in lets {
            let value = self.expr(&l.value);
            clauses.push((
                l.name.span.start,
                concat(vec![text(format!("let {} = ", l.name.name)), value]),
            ));
        }
        for (word, e) in [("when", &o.when), ("at", &o.at)] {
            if let Some(e) = e {
                let d = self.expr(e);
                clauses.push((e.span.start, concat(vec![text(format!("{word} ")), d])));
            }
        }
        let message = self.expr(&o.message);
        clauses.push((
            o.message.span.start,
            concat(vec![text("message "), message]),
        ));
        for f in &o.fixes {
            let mut head = String::from("fix ");
            if f.review {
                head.push_str("review ");
            }
            head.push_str(f.op.keyword());
            head.push(' ');
            let mut parts = vec![text(head), self.expr(&f.path)];
            if let Some(v) = &f.value {
                let sep = if f.op == FixOpKind::Set { " = " } else { ", " };
                parts.push(text(sep));
                parts.push(self.expr(v));
            }
            clauses.push((f.span.start, concat(parts)));
        }
        if let Some(g) = &o.generate {
            let map = self.expr(g);
            clauses.push((g.span.start, concat(vec![text("generate "), map])));
        }
        let inner = INDENT * 2;
        for (i, (pos, doc)) in clauses.into_iter().enumerate() {
            if i == 0 {
                // Continuation lines go deeper than the clauses that follow.
                let first = concat(vec![text(format!("{action} ")), nest(INDENT, doc)]);
                self.push(&first, INDENT);
            } else {
                self.lead_in(pos, inner, false);
                self.push(&doc, inner);
            }
        }
    }
}

fn item_start(item: &Item) -> usize {
    match item {
        Item::Import { span, .. } | Item::SchemaImport { span, .. } | Item::Error(span) => {
            span.start
        }
        Item::Function(f) => f.span.start,
        Item::Rule(r) => r.span.start,
    }
}

fn rule_item_start(item: &RuleItem) -> usize {
    match item {
        RuleItem::Meta { key, .. } => key.span.start,
        RuleItem::Match { span, .. }
        | RuleItem::Param { span, .. }
        | RuleItem::AutogenOff(span)
        | RuleItem::Error(span) => span.start,
        RuleItem::Let { name, .. } => name.span.start,
        RuleItem::Outcome(o) => o.span.start,
    }
}
