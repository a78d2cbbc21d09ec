//! Hover: the type of the expression under the cursor, a field's schema facts, a function's
//! signature and documentation, a rule's title and controls.

use crate::builtins;
use crate::syntax::each_expr;
use crate::text::{contains, LineIndex};
use crate::world::{FileData, World};
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};
use rampart_compiler::check::types::show;
use rampart_compiler::ir::Type;
use rampart_compiler::schema::Schema;
use rampart_compiler::syntax::ast::{
    Expr, ExprKind, Item, MatchWhat, RuleDef, RuleItem, Span, StrPart,
};

/// The hover text at byte `offset` of `file`.
pub fn hover(world: &World, schema: &Schema, file: &FileData, offset: usize) -> Option<Hover> {
    let (text, span) = hover_text(world, schema, file, offset)?;
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(LineIndex::new(&file.text).range(span)),
    })
}

fn hover_text(
    world: &World,
    schema: &Schema,
    file: &FileData,
    offset: usize,
) -> Option<(String, Span)> {
    for item in &file.ast.items {
        match item {
            Item::Rule(r) if contains(r.name.span, offset) => {
                return Some((rule_summary(file, r), r.name.span));
            }
            Item::Function(f) if contains(f.name.span, offset) => {
                let header = &file.text[f.span.start..f.body.span.start];
                return Some((code(header.trim_end().trim_end_matches('=')), f.name.span));
            }
            Item::Rule(r) => {
                for ri in &r.items {
                    if let RuleItem::Match {
                        what: MatchWhat::Kinds(kinds),
                        ..
                    } = ri
                    {
                        if let Some(k) = kinds.iter().find(|k| contains(k.span, offset)) {
                            return Some((kind_summary(schema, &k.text), k.span));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let e = innermost(file, offset)?;
    match &e.kind {
        ExprKind::Field(base, name) if contains(name.span, offset) => {
            if let Some(doc) = function_doc(world, file, e) {
                return Some((doc, name.span));
            }
            let ty = world.type_at(file.id, e.span);
            let base_ty = world.type_at(file.id, base.span);
            Some((field_summary(schema, base_ty, &name.name, ty), name.span))
        }
        ExprKind::Var(id) => {
            if let Some(doc) = function_doc(world, file, e) {
                return Some((doc, id.span));
            }
            let ty = world.type_at(file.id, e.span)?;
            Some((code(&format!("{}: {}", id.name, show(ty))), id.span))
        }
        _ => {
            let ty = world.type_at(file.id, e.span)?;
            Some((code(&show(ty)), e.span))
        }
    }
}

/// The innermost expression of `file` around `offset`.
pub fn innermost(file: &FileData, offset: usize) -> Option<&Expr> {
    let mut best: Option<&Expr> = None;
    each_expr(&file.ast, &mut |e| {
        if contains(e.span, offset)
            && !matches!(e.kind, ExprKind::Str(ref p) if p.iter().any(|x| matches!(x, StrPart::Expr(_))))
            && best.is_none_or(|b| e.span.end - e.span.start <= b.span.end - b.span.start)
        {
            best = Some(e);
        }
    });
    best
}

/// The signature and documentation of the function `callee` names (a builtin, a function of
/// this module or of an imported one), when it is one.
fn function_doc(world: &World, file: &FileData, callee: &Expr) -> Option<String> {
    match &callee.kind {
        ExprKind::Var(id) => {
            if let Some(b) = builtins::find(&id.name) {
                return Some(format!("{}\n\n{}", code(&b.signature), b.doc));
            }
            let module = file.ast.module.as_ref()?.text();
            function_in(world, &module, &id.name)
        }
        ExprKind::Field(base, name) => {
            let ExprKind::Var(alias) = &base.kind else {
                return None;
            };
            let module = crate::navigate::imported_module(file, &alias.name)?;
            function_in(world, &module, &name.name)
        }
        _ => None,
    }
}

fn function_in(world: &World, module: &str, name: &str) -> Option<String> {
    for f in world.module_files(module) {
        for item in &f.ast.items {
            if let Item::Function(func) = item {
                if func.name.name == name {
                    let header = f.text[func.span.start..func.body.span.start].trim_end();
                    let header = header.trim_end_matches('=').trim_end();
                    let comment = doc_comment(&f.text, func.span.start);
                    return Some(format!("{}\n\nin module `{module}`{comment}", code(header)));
                }
            }
        }
    }
    None
}

/// The comment lines right above `start`, as a paragraph.
fn doc_comment(text: &str, start: usize) -> String {
    let mut lines: Vec<&str> = Vec::new();
    for line in text[..start].lines().rev() {
        let t = line.trim();
        let Some(c) = t.strip_prefix("//").or_else(|| t.strip_prefix('#')) else {
            break;
        };
        lines.push(c.trim());
    }
    if lines.is_empty() {
        return String::new();
    }
    lines.reverse();
    format!("\n\n{}", lines.join(" "))
}

fn field_summary(schema: &Schema, base: Option<&Type>, name: &str, ty: Option<&Type>) -> String {
    let mut out = match ty {
        Some(t) => code(&format!("{name}: {}", show(t))),
        None => code(name),
    };
    if let Some(Type::Object(type_name)) = base.map(Type::strip_optional) {
        if let Some(field) = schema.object(type_name).and_then(|o| o.fields.get(name)) {
            out.push_str(&format!(
                "\n\nfield of `{}`",
                rampart_compiler::schema::short_name(type_name)
            ));
            if field.required {
                out.push_str(", required");
            }
            if !field.enum_values.is_empty() {
                let values: Vec<String> =
                    field.enum_values.iter().map(|v| format!("`{v}`")).collect();
                out.push_str(&format!("; one of {}", values.join(", ")));
            }
            if let Some(doc) = crate::docs::field_doc(type_name, name) {
                out.push_str("\n\n");
                out.push_str(doc);
            }
        }
    }
    out
}

fn kind_summary(schema: &Schema, text: &str) -> String {
    let kind = text.rsplit('/').next().unwrap_or(text);
    let found: Vec<String> = schema
        .kinds
        .iter()
        .filter(|k| k.kind == kind)
        .map(|k| {
            format!(
                "`{}` {} ({})",
                k.api_version(),
                k.kind,
                if k.namespaced {
                    "namespaced"
                } else {
                    "cluster-wide"
                }
            )
        })
        .collect();
    if found.is_empty() {
        return format!("`{text}`: not a kind of Kubernetes {}", schema.kubernetes);
    }
    found.join("\n\n")
}

fn rule_summary(file: &FileData, r: &RuleDef) -> String {
    let module = file
        .ast
        .module
        .as_ref()
        .map(|m| m.text())
        .unwrap_or_default();
    let mut out = format!("rule `{module}.{}`", r.name.name);
    for ri in &r.items {
        let RuleItem::Meta { key, value } = ri else {
            continue;
        };
        let shown = match &value.kind {
            ExprKind::List(items) => items
                .iter()
                .filter_map(literal)
                .collect::<Vec<_>>()
                .join(", "),
            _ => {
                literal(value).unwrap_or_else(|| file.text[value.span.start..value.span.end].into())
            }
        };
        match key.name.as_str() {
            "title" => out.push_str(&format!("\n\n**{shown}**")),
            "severity" | "controls" | "category" => {
                out.push_str(&format!("\n\n{}: {shown}", key.name))
            }
            _ => {}
        }
    }
    out
}

fn literal(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Str(parts) => match parts.as_slice() {
            [StrPart::Text(t)] => Some(t.clone()),
            _ => None,
        },
        ExprKind::Var(id) => Some(id.name.clone()),
        _ => None,
    }
}

fn code(s: &str) -> String {
    format!("```rampart\n{s}\n```")
}
