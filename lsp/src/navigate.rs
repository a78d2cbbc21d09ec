//! Go to definition, find references and document symbols.

use crate::hover::innermost;
use crate::syntax::{bindings, each_expr, import_alias, resolve_local};
use crate::text::{contains, LineIndex};
use crate::world::{FileData, World};
use lsp_types::{DocumentSymbol, Location, Position, Range, SymbolKind, Url};
use rampart_compiler::syntax::ast::{ExprKind, Item, MatchWhat, RuleItem, Span};

/// A place a name is defined: a file and the defining name's span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub uri: Url,
    pub span: Span,
}

/// The module an import alias of `file` names.
pub fn imported_module(file: &FileData, alias: &str) -> Option<String> {
    file.ast.items.iter().find_map(|item| match item {
        Item::Import { path, alias: a, .. } if import_alias(path, a) == alias => Some(path.text()),
        _ => None,
    })
}

/// The definition of the name at `offset` of `file`.
pub fn definition(world: &World, file: &FileData, offset: usize) -> Option<Target> {
    let here = |span| {
        Some(Target {
            uri: file.uri.clone(),
            span,
        })
    };
    let locals = bindings(&file.ast);
    // On a binding itself.
    if let Some(b) = locals.iter().find(|b| contains(b.span, offset)) {
        return here(b.span);
    }
    for item in &file.ast.items {
        match item {
            Item::Import { path, .. } if contains(path.span, offset) => {
                return module_target(world, &path.text());
            }
            Item::SchemaImport { path, span } if contains(*span, offset) => {
                let dir = file.uri.to_file_path().ok()?.parent()?.to_path_buf();
                let uri = Url::from_file_path(dir.join(path)).ok()?;
                return Some(Target {
                    uri,
                    span: Span::new(0, 0),
                });
            }
            Item::Function(f) if contains(f.name.span, offset) => return here(f.name.span),
            Item::Rule(r) => {
                for ri in &r.items {
                    if let RuleItem::Match {
                        what: MatchWhat::Kinds(kinds),
                        ..
                    } = ri
                    {
                        if let Some(k) = kinds.iter().find(|k| contains(k.span, offset)) {
                            return crd_of_kind(file, &k.text);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let e = innermost(file, offset)?;
    match &e.kind {
        ExprKind::Var(id) => {
            if let Some(b) = resolve_local(&locals, &id.name, id.span.start) {
                return here(b.span);
            }
            if let Some(t) = function_target(world, file, None, &id.name) {
                return Some(t);
            }
            let module = imported_module(file, &id.name)?;
            module_target(world, &module)
        }
        ExprKind::Field(base, name) if contains(name.span, offset) => {
            let ExprKind::Var(alias) = &base.kind else {
                return None;
            };
            if resolve_local(&locals, &alias.name, alias.span.start).is_some() {
                return None;
            }
            let module = imported_module(file, &alias.name)?;
            function_target(world, file, Some(&module), &name.name)
        }
        _ => None,
    }
}

/// The function `name` of `module` (the file's own module when `None`).
fn function_target(
    world: &World,
    file: &FileData,
    module: Option<&str>,
    name: &str,
) -> Option<Target> {
    let own = file.ast.module.as_ref().map(|m| m.text());
    let module = module.map(str::to_string).or(own)?;
    let found = world.module_files(&module).find_map(|f| {
        f.ast.items.iter().find_map(|item| match item {
            Item::Function(func) if func.name.name == name => Some(Target {
                uri: f.uri.clone(),
                span: func.name.span,
            }),
            _ => None,
        })
    });
    found
}

/// The `module` line of the first file of `module`.
fn module_target(world: &World, module: &str) -> Option<Target> {
    let f = world.module_files(module).next()?;
    Some(Target {
        uri: f.uri.clone(),
        span: f.ast.module.as_ref()?.span,
    })
}

/// The CRD file imported by `file` that defines `kind`, at its `kind:` line.
fn crd_of_kind(file: &FileData, kind: &str) -> Option<Target> {
    let kind = kind.rsplit('/').next().unwrap_or(kind);
    let dir = file.uri.to_file_path().ok()?.parent()?.to_path_buf();
    for item in &file.ast.items {
        let Item::SchemaImport { path, .. } = item else {
            continue;
        };
        let full = dir.join(path);
        let Ok(text) = std::fs::read_to_string(&full) else {
            continue;
        };
        let needle = format!("kind: {kind}");
        if let Some(at) = text
            .match_indices(&needle)
            .map(|(i, _)| i)
            .find(|&i| text[i + needle.len()..].starts_with(['\n', '\r', ' ']))
        {
            return Some(Target {
                uri: Url::from_file_path(&full).ok()?,
                span: Span::new(at, at + needle.len()),
            });
        }
    }
    None
}

/// Every use of the name defined at `target` (and the definition itself when asked).
pub fn references(world: &World, target: &Target, declaration: bool) -> Vec<Target> {
    let mut out = Vec::new();
    if declaration {
        out.push(target.clone());
    }
    for file in &world.files {
        let mut candidates = Vec::new();
        each_expr(&file.ast, &mut |e| match &e.kind {
            ExprKind::Var(id) => candidates.push(id.span),
            ExprKind::Field(_, name) => candidates.push(name.span),
            _ => {}
        });
        for span in candidates {
            let found = definition(world, file, span.start);
            if found.as_ref() == Some(target) && !(file.uri == target.uri && span == target.span) {
                out.push(Target {
                    uri: file.uri.clone(),
                    span,
                });
            }
        }
    }
    out
}

/// A target as a protocol location.
pub fn location(world: &World, t: &Target) -> Location {
    let range = match world.file(&t.uri) {
        Some(f) => LineIndex::new(&f.text).range(t.span),
        None => match std::fs::read_to_string(t.uri.path()) {
            Ok(text) => LineIndex::new(&text).range(t.span),
            Err(_) => Range::new(Position::new(0, 0), Position::new(0, 0)),
        },
    };
    Location::new(t.uri.clone(), range)
}

/// The module, its imports, functions and rules (with their parameters and `let`s).
#[allow(deprecated)] // `DocumentSymbol::deprecated` must be written out.
pub fn symbols(file: &FileData) -> Vec<DocumentSymbol> {
    let index = LineIndex::new(&file.text);
    let symbol =
        |name: String, kind, span: Span, sel: Span, children: Vec<DocumentSymbol>| DocumentSymbol {
            name,
            detail: None,
            kind,
            tags: None,
            deprecated: None,
            range: index.range(span),
            selection_range: index.range(sel),
            children: (!children.is_empty()).then_some(children),
        };
    let mut items = Vec::new();
    for item in &file.ast.items {
        match item {
            Item::Import { path, span, .. } => items.push(symbol(
                path.text(),
                SymbolKind::NAMESPACE,
                *span,
                path.span,
                vec![],
            )),
            Item::Function(f) => items.push(symbol(
                f.name.name.clone(),
                SymbolKind::FUNCTION,
                f.span,
                f.name.span,
                vec![],
            )),
            Item::Rule(r) => {
                let children = r
                    .items
                    .iter()
                    .filter_map(|ri| match ri {
                        RuleItem::Param { name, span, .. } => Some(symbol(
                            name.name.clone(),
                            SymbolKind::PROPERTY,
                            *span,
                            name.span,
                            vec![],
                        )),
                        RuleItem::Let { name, value } => Some(symbol(
                            name.name.clone(),
                            SymbolKind::VARIABLE,
                            name.span.to(value.span),
                            name.span,
                            vec![],
                        )),
                        _ => None,
                    })
                    .collect();
                items.push(symbol(
                    r.name.name.clone(),
                    SymbolKind::CLASS,
                    r.span,
                    r.name.span,
                    children,
                ));
            }
            _ => {}
        }
    }
    match &file.ast.module {
        Some(m) => {
            let whole = Span::new(0, file.text.len());
            vec![symbol(m.text(), SymbolKind::MODULE, whole, m.span, items)]
        }
        None => items,
    }
}
