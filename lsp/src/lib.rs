//! The Rampart language server (`rampart lsp`): the Language Server Protocol over standard
//! input and output, a thin layer over the compiler's front end (the parser, checker and
//! formatter of `rampart check` and `rampart fmt`).

mod builtins;
mod complete;
mod diagnostics;
mod docs;
mod hover;
mod navigate;
mod syntax;
mod text;
mod world;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument, Notification as _,
    PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    References, Request as _,
};
use lsp_types::{
    CodeActionProviderCapability, CompletionOptions, CompletionResponse, DocumentSymbolResponse,
    GotoDefinitionResponse, HoverProviderCapability, InitializeParams, OneOf,
    PublishDiagnosticsParams, ServerCapabilities, TextDocumentSyncCapability, TextDocumentSyncKind,
    TextEdit, Url,
};
use serde_json::Value;
use std::error::Error;
use std::panic::{catch_unwind, AssertUnwindSafe};
use text::LineIndex;
pub use world::Server;

/// What the server can do.
pub fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Kind(TextDocumentSyncKind::FULL)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(vec![".".into(), " ".into()]),
            ..Default::default()
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        document_formatting_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Simple(true)),
        ..Default::default()
    }
}

/// Serves one client on standard input and output until it sends `exit`.
pub fn run_stdio() -> Result<(), Box<dyn Error + Send + Sync>> {
    let (connection, io_threads) = Connection::stdio();
    let init = connection.initialize(serde_json::to_value(capabilities())?)?;
    let params: InitializeParams = serde_json::from_value(init)?;
    let mut server = Server::new(workspace_root(&params));
    main_loop(&connection, &mut server)?;
    drop(connection);
    io_threads.join()?;
    Ok(())
}

#[allow(deprecated)] // `root_uri` is what older clients send.
fn workspace_root(params: &InitializeParams) -> Option<std::path::PathBuf> {
    let folder = params
        .workspace_folders
        .as_ref()
        .and_then(|f| f.first())
        .map(|f| f.uri.clone())
        .or_else(|| params.root_uri.clone())?;
    folder.to_file_path().ok()
}

fn main_loop(
    connection: &Connection,
    server: &mut Server,
) -> Result<(), Box<dyn Error + Send + Sync>> {
    for msg in &connection.receiver {
        match msg {
            Message::Request(req) => {
                if connection.handle_shutdown(&req)? {
                    return Ok(());
                }
                let id = req.id.clone();
                let response = respond(id, || request(server, req));
                connection.sender.send(Message::Response(response))?;
            }
            Message::Notification(n) => {
                // A failing notification has no one to answer: the server carries on.
                let outcome = catch_unwind(AssertUnwindSafe(|| notification(server, n)));
                if let Ok(Some(publish)) = outcome {
                    for params in publish {
                        let n = Notification::new(PublishDiagnostics::METHOD.into(), params);
                        connection.sender.send(Message::Notification(n))?;
                    }
                }
            }
            Message::Response(_) => {}
        }
    }
    Ok(())
}

/// Answers a request with `handle`'s result; a panic in `handle` becomes an error answer
/// instead of ending the server.
fn respond(id: RequestId, handle: impl FnOnce() -> Result<Value, String>) -> Response {
    match catch_unwind(AssertUnwindSafe(handle)) {
        Ok(Ok(value)) => Response::new_ok(id, value),
        Ok(Err(message)) => Response::new_err(id, ErrorCode::InvalidParams as i32, message),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Response::new_err(
                id,
                ErrorCode::InternalError as i32,
                format!("internal error while answering: {what}"),
            )
        }
    }
}

fn params<P: serde::de::DeserializeOwned>(v: Value) -> Result<P, String> {
    serde_json::from_value(v).map_err(|e| format!("bad parameters: {e}"))
}

fn json<T: serde::Serialize>(v: T) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| e.to_string())
}

/// The text of an open document.
fn document<'a>(server: &'a Server, uri: &Url) -> Result<&'a str, String> {
    server
        .docs
        .get(uri)
        .map(String::as_str)
        .ok_or_else(|| format!("`{uri}` is not open"))
}

fn request(server: &mut Server, req: Request) -> Result<Value, String> {
    match req.method.as_str() {
        HoverRequest::METHOD => {
            let p: lsp_types::HoverParams = params(req.params)?;
            let at = p.text_document_position_params;
            let text = document(server, &at.text_document.uri)?;
            if world::refused(text).is_some() {
                return Ok(Value::Null);
            }
            let offset = LineIndex::new(text).offset(at.position);
            let world = server.analyze(&at.text_document.uri, None);
            let Some(file) = world.file(&at.text_document.uri) else {
                return Ok(Value::Null);
            };
            json(hover::hover(&world, &server.schema, file, offset))
        }
        Completion::METHOD => {
            let p: lsp_types::CompletionParams = params(req.params)?;
            let at = p.text_document_position;
            let text = document(server, &at.text_document.uri)?;
            if world::refused(text).is_some() {
                return Ok(Value::Null);
            }
            let offset = LineIndex::new(text).offset(at.position);
            let items = complete::complete(server, &at.text_document.uri, text, offset);
            json(CompletionResponse::Array(items))
        }
        GotoDefinition::METHOD => {
            let p: lsp_types::GotoDefinitionParams = params(req.params)?;
            let at = p.text_document_position_params;
            let (world, offset) = analyzed_at(server, &at.text_document.uri, at.position)?;
            let found = world
                .file(&at.text_document.uri)
                .and_then(|f| navigate::definition(&world, f, offset))
                .map(|t| GotoDefinitionResponse::Scalar(navigate::location(&world, &t)));
            json(found)
        }
        References::METHOD => {
            let p: lsp_types::ReferenceParams = params(req.params)?;
            let at = p.text_document_position;
            let (world, offset) = analyzed_at(server, &at.text_document.uri, at.position)?;
            let Some(target) = world
                .file(&at.text_document.uri)
                .and_then(|f| navigate::definition(&world, f, offset))
            else {
                return Ok(Value::Null);
            };
            let refs = navigate::references(&world, &target, p.context.include_declaration);
            let locations: Vec<_> = refs.iter().map(|t| navigate::location(&world, t)).collect();
            json(locations)
        }
        DocumentSymbolRequest::METHOD => {
            let p: lsp_types::DocumentSymbolParams = params(req.params)?;
            let uri = p.text_document.uri;
            let text = document(server, &uri)?;
            if world::refused(text).is_some() {
                return Ok(Value::Null);
            }
            let (ast, _) = rampart_compiler::syntax::parse_file(text);
            let file = world::FileData {
                id: 0,
                uri: uri.clone(),
                text: text.to_string(),
                ast,
            };
            json(DocumentSymbolResponse::Nested(navigate::symbols(&file)))
        }
        Formatting::METHOD => {
            let p: lsp_types::DocumentFormattingParams = params(req.params)?;
            let text = document(server, &p.text_document.uri)?;
            if world::refused(text).is_some() {
                return Ok(Value::Null);
            }
            match rampart_compiler::format::format_source(text) {
                Ok(formatted) if formatted != text => {
                    let index = LineIndex::new(text);
                    let whole =
                        lsp_types::Range::new(index.position(0), index.position(text.len()));
                    json(vec![TextEdit::new(whole, formatted)])
                }
                Ok(_) => json(Vec::<TextEdit>::new()),
                Err(_) => Err("the document has syntax errors; it was not formatted".into()),
            }
        }
        CodeActionRequest::METHOD => {
            let p: lsp_types::CodeActionParams = params(req.params)?;
            json(diagnostics::code_actions(&p))
        }
        other => Err(format!("unknown request `{other}`")),
    }
}

/// The analysed policy set of an open document and the byte offset of `pos` in it.
fn analyzed_at(
    server: &Server,
    uri: &Url,
    pos: lsp_types::Position,
) -> Result<(world::World, usize), String> {
    let text = document(server, uri)?;
    let offset = LineIndex::new(text).offset(pos);
    Ok((server.analyze(uri, None), offset))
}

/// Applies a notification; returns the diagnostics to publish after a document changed.
fn notification(server: &mut Server, n: Notification) -> Option<Vec<PublishDiagnosticsParams>> {
    let uri = match n.method.as_str() {
        DidOpenTextDocument::METHOD => {
            let p: lsp_types::DidOpenTextDocumentParams = params(n.params).ok()?;
            server
                .docs
                .insert(p.text_document.uri.clone(), p.text_document.text);
            p.text_document.uri
        }
        DidChangeTextDocument::METHOD => {
            let p: lsp_types::DidChangeTextDocumentParams = params(n.params).ok()?;
            // Full synchronisation: the last change holds the whole text.
            let text = p.content_changes.into_iter().last()?.text;
            server.docs.insert(p.text_document.uri.clone(), text);
            p.text_document.uri
        }
        DidCloseTextDocument::METHOD => {
            let p: lsp_types::DidCloseTextDocumentParams = params(n.params).ok()?;
            server.docs.remove(&p.text_document.uri);
            return Some(vec![PublishDiagnosticsParams::new(
                p.text_document.uri,
                Vec::new(),
                None,
            )]);
        }
        _ => return None,
    };
    Some(publish(server, &uri))
}

/// The diagnostics of every open document of `uri`'s policy set.
pub fn publish(server: &Server, uri: &Url) -> Vec<PublishDiagnosticsParams> {
    let world = server.analyze(uri, None);
    server
        .docs
        .iter()
        .filter(|(u, _)| *u == uri || world.file(u).is_some())
        .map(|(u, text)| {
            PublishDiagnosticsParams::new(
                u.clone(),
                diagnostics::for_document(&world, u, text),
                None,
            )
        })
        .collect()
}

/// Completion at a position of an open document (for benchmarks and tests).
pub fn completion_at(server: &Server, uri: &Url, pos: lsp_types::Position) -> usize {
    let Some(text) = server.docs.get(uri) else {
        return 0;
    };
    let offset = LineIndex::new(text).offset(pos);
    complete::complete(server, uri, text, offset).len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_handler_becomes_an_error_answer() {
        let r = respond(RequestId::from(7), || panic!("boom"));
        let e = r.error.expect("an error answer");
        assert_eq!(e.code, ErrorCode::InternalError as i32);
        assert!(e.message.contains("boom"), "{}", e.message);
        let ok = respond(RequestId::from(8), || Ok(Value::Bool(true)));
        assert_eq!(ok.result, Some(Value::Bool(true)));
    }
}
