//! Completion on code being typed. The text at the cursor is rarely valid, so a placeholder
//! name is put where the cursor is (and, if the rule item is still unfinished, the end of an
//! outcome after it); the compiler's own parser and checker then read that copy, and the
//! type of the expression before a `.` gives the field names.

use crate::builtins::builtins;
use crate::syntax::{bindings, each_expr, import_alias, BindingKind};
use crate::world::{Server, World};
use lsp_types::{CompletionItem, CompletionItemKind, Url};
use rampart_compiler::ir::Type;
use rampart_compiler::syntax::ast::{ExprKind, Item, SourceFile};
use rampart_compiler::syntax::lexer::{Lexer, Token};
use rampart_compiler::syntax::parse_file;

/// The name put at the cursor.
const PLACEHOLDER: &str = "__rampart_cursor__";

/// The rule metadata keys (spec/language.md §3).
pub const METADATA: &[&str] = &[
    "title",
    "description",
    "rationale",
    "severity",
    "category",
    "controls",
    "remediation",
];
const SEVERITIES: &[&str] = &["low", "medium", "high", "critical"];
const RULE_WORDS: &[&str] = &[
    "deny",
    "warn",
    "match",
    "exclude",
    "let",
    "param",
    "autogen off",
];
const CLAUSE_WORDS: &[&str] = &["for", "let", "when", "at", "message", "fix"];
const TOP_WORDS: &[&str] = &["module", "import", "rule", "fn"];
const EXPR_WORDS: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "any",
    "all",
    "if",
    "then",
    "else",
    "true",
    "false",
    "null",
    "object",
    "request",
    "oldObject",
];

/// Completions at byte `offset` of the document `uri` whose text is `text`.
pub fn complete(server: &Server, uri: &Url, text: &str, offset: usize) -> Vec<CompletionItem> {
    let offset = floor_char(text, offset.min(text.len()));
    let word_start = text[..offset]
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let before = &text[..word_start];
    let line = &before[before.rfind('\n').map_or(0, |i| i + 1)..];
    let first_word = line.split_whitespace().next().unwrap_or("");

    if before.ends_with('.') {
        return members(server, uri, text, word_start, offset);
    }
    match first_word {
        "match" | "exclude" => {
            let mut out = kinds(server);
            if line.trim() == first_word {
                out.extend(words(
                    &["namespaces", "labels"],
                    CompletionItemKind::KEYWORD,
                ));
            }
            return out;
        }
        "severity" => return words(SEVERITIES, CompletionItemKind::ENUM_MEMBER),
        "import" if line.trim() == "import" => return modules(server, uri),
        _ => {}
    }
    let depth = brace_depth(&text[..word_start]);
    if line.trim().is_empty() {
        if depth == 0 {
            return words(TOP_WORDS, CompletionItemKind::KEYWORD);
        }
        if depth == 1 {
            let mut out = words(RULE_WORDS, CompletionItemKind::KEYWORD);
            out.extend(words(CLAUSE_WORDS, CompletionItemKind::KEYWORD));
            out.extend(words(METADATA, CompletionItemKind::PROPERTY));
            return out;
        }
    }
    expression(text, word_start, offset)
}

/// Names usable in an expression: locals in scope, parameters, functions, builtins, imported
/// modules and keywords.
fn expression(text: &str, word_start: usize, offset: usize) -> Vec<CompletionItem> {
    let mut out = Vec::new();
    if let Some((ast, _)) = patched_ast(text, word_start, offset) {
        let mut seen = std::collections::BTreeSet::new();
        for b in bindings(&ast) {
            if b.scope.start <= word_start
                && word_start <= b.scope.end
                && seen.insert(b.name.clone())
            {
                let what = match b.kind {
                    BindingKind::Param => "parameter",
                    BindingKind::Let => "let",
                    BindingKind::Binder => "bound by `for` or a quantifier",
                };
                out.push(item(
                    &b.name,
                    CompletionItemKind::VARIABLE,
                    Some(what.into()),
                ));
            }
        }
        for it in &ast.items {
            match it {
                Item::Function(f) => out.push(item(
                    &f.name.name,
                    CompletionItemKind::FUNCTION,
                    Some("function".into()),
                )),
                Item::Import { path, alias, .. } => out.push(item(
                    &import_alias(path, alias),
                    CompletionItemKind::MODULE,
                    Some(path.text()),
                )),
                _ => {}
            }
        }
    }
    for b in builtins() {
        out.push(item(
            &b.name,
            CompletionItemKind::FUNCTION,
            Some(b.signature),
        ));
    }
    out.extend(words(EXPR_WORDS, CompletionItemKind::KEYWORD));
    out
}

/// Fields after `x.` (from the type of `x`), or the functions of an imported module.
fn members(
    server: &Server,
    uri: &Url,
    text: &str,
    word_start: usize,
    offset: usize,
) -> Vec<CompletionItem> {
    let Some((ast, patched)) = patched_ast(text, word_start, offset) else {
        return Vec::new();
    };
    let Some(base) = placeholder_base(&ast) else {
        return Vec::new();
    };
    // A module alias: its functions.
    if let ExprKind::Var(id) = &base.kind {
        let module = ast.items.iter().find_map(|it| match it {
            Item::Import { path, alias, .. } if import_alias(path, alias) == id.name => {
                Some(path.text())
            }
            _ => None,
        });
        if let Some(module) = module {
            let world = server.analyze(uri, Some(&patched));
            return module_functions(&world, &module);
        }
    }
    let world = server.analyze(uri, Some(&patched));
    let Some(file) = world.file(uri) else {
        return Vec::new();
    };
    let Some(ty) = world.type_at(file.id, base.span) else {
        return Vec::new();
    };
    fields(server, &world, ty)
}

/// The fields of a value of type `ty`.
fn fields(server: &Server, world: &World, ty: &Type) -> Vec<CompletionItem> {
    match ty.strip_optional() {
        Type::Object(name) => {
            // A kind of an imported CRD is known to the compilation's schema only.
            let mut extended = None;
            if server.schema.object(name).is_none() {
                let mut schema = server.schema.clone();
                for crd in &world.compilation.imported_crds {
                    let _ = schema.add_crd_yaml(crd);
                }
                extended = Some(schema);
            }
            let schema = extended.as_ref().unwrap_or(&server.schema);
            // `request` and `controller` have types of their own, outside the schema.
            let Some(obj) = schema
                .object(name)
                .or_else(|| rampart_compiler::check::context_type(name))
            else {
                return Vec::new();
            };
            obj.fields
                .iter()
                .map(|(fname, field)| {
                    let detail = rampart_compiler::check::types::show(
                        &rampart_compiler::check::types::from_schema(&field.ty),
                    );
                    item(fname, CompletionItemKind::FIELD, Some(detail))
                })
                .collect()
        }
        Type::Image => ["registry", "repository", "tag", "digest"]
            .iter()
            .map(|f| item(f, CompletionItemKind::FIELD, Some("string".into())))
            .collect(),
        _ => Vec::new(),
    }
}

fn module_functions(world: &World, module: &str) -> Vec<CompletionItem> {
    let mut out = Vec::new();
    for f in world.module_files(module) {
        for it in &f.ast.items {
            if let Item::Function(func) = it {
                let header = f.text[func.span.start..func.body.span.start].trim_end();
                let detail = header.trim_end_matches('=').trim_end().to_string();
                out.push(item(
                    &func.name.name,
                    CompletionItemKind::FUNCTION,
                    Some(detail),
                ));
            }
        }
    }
    out
}

/// The text with the placeholder at the cursor, parsed: the first of a few completions of
/// the unfinished code in which the placeholder is read as an expression.
fn patched_ast(text: &str, word_start: usize, offset: usize) -> Option<(SourceFile, String)> {
    let (head, tail) = (&text[..word_start], &text[offset..]);
    let endings = ["", "\n message \"\"\n", ")\n message \"\"\n"];
    for ending in endings {
        let patched = format!("{head}{PLACEHOLDER}{ending}{tail}");
        let (ast, _) = parse_file(&patched);
        if has_placeholder(&ast) {
            return Some((ast, patched));
        }
    }
    None
}

fn has_placeholder(ast: &SourceFile) -> bool {
    let mut found = false;
    each_expr(ast, &mut |e| match &e.kind {
        ExprKind::Var(id) | ExprKind::Field(_, id) if id.name == PLACEHOLDER => found = true,
        _ => {}
    });
    found
}

/// The expression before `.placeholder`.
fn placeholder_base(ast: &SourceFile) -> Option<rampart_compiler::syntax::ast::Expr> {
    let mut base = None;
    each_expr(ast, &mut |e| {
        if let ExprKind::Field(b, id) = &e.kind {
            if id.name == PLACEHOLDER {
                base = Some((**b).clone());
            }
        }
    });
    base
}

/// How many `{` are open at the end of `text` (strings and comments skipped by the lexer).
fn brace_depth(text: &str) -> usize {
    let mut depth = 0usize;
    for t in Lexer::new(text).flatten() {
        match t.1 {
            Token::LBrace => depth += 1,
            Token::RBrace => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    depth
}

fn kinds(server: &Server) -> Vec<CompletionItem> {
    let mut seen = std::collections::BTreeSet::new();
    server
        .schema
        .kinds
        .iter()
        .filter(|k| seen.insert(k.kind.clone()))
        .map(|k| item(&k.kind, CompletionItemKind::CLASS, Some(k.api_version())))
        .collect()
}

fn modules(server: &Server, uri: &Url) -> Vec<CompletionItem> {
    let world = server.analyze(uri, None);
    let mut seen = std::collections::BTreeSet::new();
    world
        .files
        .iter()
        .filter(|f| &f.uri != uri)
        .filter_map(|f| f.ast.module.as_ref().map(|m| m.text()))
        .filter(|m| seen.insert(m.clone()))
        .map(|m| item(&m, CompletionItemKind::MODULE, None))
        .collect()
}

fn words(list: &[&str], kind: CompletionItemKind) -> Vec<CompletionItem> {
    list.iter().map(|w| item(w, kind, None)).collect()
}

fn item(label: &str, kind: CompletionItemKind, detail: Option<String>) -> CompletionItem {
    CompletionItem {
        label: label.to_string(),
        kind: Some(kind),
        detail,
        ..Default::default()
    }
}

fn floor_char(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
