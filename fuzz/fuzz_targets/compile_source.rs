//! Lexer, parser and type checker on arbitrary source text: diagnostics, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rampart_compiler::diagnostics::{render, to_json};

fuzz_target!(|data: &[u8]| {
    if let Some(compilation) = rampart_fuzz::compile_bytes(data) {
        // Errors and a program are mutually exclusive.
        assert_eq!(compilation.has_errors(), compilation.program.is_none());
        // Rendering must not panic either (spans must lie inside the file).
        let _ = render(&compilation.files, &compilation.diagnostics, false);
        let _ = to_json(&compilation.files, &compilation.diagnostics);
    }
});
