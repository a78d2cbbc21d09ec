//! The open documents and the policy set each belongs to, analysed by the compiler's front
//! end (the same parser and checker as `rampart check`).

use lsp_types::Url;
use rampart_compiler::check::TypeAt;
use rampart_compiler::diagnostics::FileId;
use rampart_compiler::schema::Schema;
use rampart_compiler::syntax::ast::{SourceFile, Span};
use rampart_compiler::syntax::parse_file;
use rampart_compiler::{compile_typed, Compilation, Source, MAX_SOURCE_BYTES};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The server's state: the schema, the workspace folder and the open documents.
pub struct Server {
    pub schema: Schema,
    pub root: Option<PathBuf>,
    pub docs: BTreeMap<Url, String>,
}

/// One analysed file of a policy set.
pub struct FileData {
    pub id: FileId,
    pub uri: Url,
    pub text: String,
    pub ast: SourceFile,
}

/// A policy set analysed: its files, the compilation and the type of every expression.
pub struct World {
    pub files: Vec<FileData>,
    pub compilation: Compilation,
    pub types: Vec<TypeAt>,
}

impl World {
    /// The file of `uri`.
    pub fn file(&self, uri: &Url) -> Option<&FileData> {
        self.files.iter().find(|f| &f.uri == uri)
    }

    /// The file numbered `id`.
    pub fn by_id(&self, id: FileId) -> Option<&FileData> {
        self.files.iter().find(|f| f.id == id)
    }

    /// The type of the expression at exactly `span` of file `id`.
    pub fn type_at(&self, id: FileId, span: Span) -> Option<&rampart_compiler::ir::Type> {
        self.types
            .iter()
            .find(|(f, s, _)| *f == id && *s == span)
            .map(|(_, _, t)| t)
    }

    /// The files declaring module `name`.
    pub fn module_files<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a FileData> + 'a {
        self.files
            .iter()
            .filter(move |f| f.ast.module.as_ref().is_some_and(|m| m.text() == name))
    }
}

/// Why a document is not analysed, if it is too large or binary.
pub fn refused(text: &str) -> Option<String> {
    if text.len() > MAX_SOURCE_BYTES {
        Some(format!(
            "this document is {} bytes, more than the limit of {MAX_SOURCE_BYTES} for a policy file",
            text.len()
        ))
    } else if text.contains('\0') {
        Some("this document holds binary data (a NUL byte), not policy text".to_string())
    } else {
        None
    }
}

impl Server {
    /// A server for the workspace folder `root`, with the embedded Kubernetes schema.
    pub fn new(root: Option<PathBuf>) -> Server {
        let schema = Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA)
            .expect("the embedded Kubernetes schema is valid (tested)");
        Server {
            schema,
            root,
            docs: BTreeMap::new(),
        }
    }

    /// The folder whose `.rp` files form `uri`'s policy set: the workspace folder when it
    /// holds the document, otherwise the document's own folder.
    fn project_dir(&self, uri: &Url) -> Option<PathBuf> {
        let path = uri.to_file_path().ok()?;
        match &self.root {
            Some(root) if path.starts_with(root) => Some(root.clone()),
            _ => path.parent().map(Path::to_path_buf),
        }
    }

    /// Analyses the policy set of `uri`, reading the document's text as `text` when given
    /// (completion analyses an edited copy).
    pub fn analyze(&self, uri: &Url, text: Option<&str>) -> World {
        let mut sources: BTreeMap<Url, String> = BTreeMap::new();
        let dir = self.project_dir(uri);
        if let Some(dir) = &dir {
            for s in rampart_compiler::read_sources(std::slice::from_ref(dir)) {
                if let (Ok(t), Ok(u)) = (s.text, Url::from_file_path(&s.name)) {
                    sources.insert(u, t);
                }
            }
        }
        for (u, t) in &self.docs {
            let inside = match (&dir, u.to_file_path()) {
                (Some(d), Ok(p)) => p.starts_with(d),
                (None, _) => u == uri,
                _ => false,
            };
            if inside {
                sources.insert(u.clone(), t.clone());
            }
        }
        if let Some(t) = text {
            sources.insert(uri.clone(), t.to_string());
        }
        sources.retain(|_, t| refused(t).is_none());
        let list: Vec<(Url, String)> = sources.into_iter().collect();
        let compile_sources = list
            .iter()
            .map(|(u, t)| Source {
                name: name_of(u),
                text: Ok(t.clone()),
            })
            .collect();
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| format!("cannot read `{}`: {e}", p.display()))
        };
        let (compilation, types) = compile_typed(compile_sources, &self.schema, &read, true);
        let files = list
            .into_iter()
            .enumerate()
            .map(|(id, (uri, text))| FileData {
                id,
                ast: parse_file(&text).0,
                uri,
                text,
            })
            .collect();
        World {
            files,
            compilation,
            types,
        }
    }
}

/// The source name of a document: its path for files, the URI otherwise.
pub fn name_of(uri: &Url) -> String {
    match uri.to_file_path() {
        Ok(p) => p.display().to_string(),
        Err(()) => uri.to_string(),
    }
}
