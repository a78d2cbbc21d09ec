//! Limits of the policy front end: file size, nesting depth and number of rules, each refused
//! with a clear diagnostic instead of a crash, a stack overflow or an unbounded run.

use rampart_compiler::schema::Schema;
use rampart_compiler::{compile, read_source, Compilation, Source, MAX_SOURCE_BYTES};

fn compile_text(text: String) -> Compilation {
    let schema = Schema::from_json(rampart_stdlib::KUBERNETES_SCHEMA).unwrap();
    let source = Source {
        name: "limits.rp".into(),
        text: Ok(text),
    };
    compile(vec![source], &schema)
}

/// `(code, message)` of every error.
fn errors(compilation: &Compilation) -> Vec<(&str, &str)> {
    compilation
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| (d.code, d.message.as_str()))
        .collect()
}

fn rule(name: &str, condition: &str) -> String {
    format!(
        "rule {name} {{\n  title \"t\"\n  match Pod\n  deny when {condition} message \"m\"\n}}\n"
    )
}

#[test]
fn oversized_policy_files_are_refused_before_parsing() {
    let dir = std::env::temp_dir().join(format!("rampart-policy-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.rp");
    let fits = format!("module t\n// {}\n", "x".repeat(MAX_SOURCE_BYTES - 13));
    assert_eq!(fits.len(), MAX_SOURCE_BYTES);
    std::fs::write(&path, &fits).unwrap();
    assert!(read_source(&path).text.is_ok());
    std::fs::write(&path, format!("{fits} ")).unwrap();
    let error = read_source(&path).text.unwrap_err();
    assert_eq!(
        error,
        format!(
            "`{}` is {} bytes, more than the limit of {MAX_SOURCE_BYTES} for a policy file",
            path.display(),
            MAX_SOURCE_BYTES + 1
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn deep_nesting_of_every_kind_is_a_diagnostic_not_a_stack_overflow() {
    let depth = 20_000;
    let nested = [
        format!("{}true{}", "(".repeat(depth), ")".repeat(depth)),
        format!("{}true", "not ".repeat(depth)),
        format!("len({}1{}) > 0", "[".repeat(depth), "]".repeat(depth)),
        format!("1 {} == 1", "+ 1 ".repeat(depth)),
        format!(
            "{}true{}",
            "if true then ".repeat(depth),
            " else false".repeat(depth)
        ),
    ];
    for condition in nested {
        let text = format!("module t\n{}", rule("deep", &condition));
        // A thread with a small stack: a recursive pass over 20,000 levels would overflow it.
        let compilation = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || compile_text(text))
            .unwrap()
            .join()
            .expect("compiling deep nesting does not crash");
        let errors = errors(&compilation);
        assert!(
            errors
                .iter()
                .any(|(_, m)| m.contains("nested more than 64 levels deep")),
            "{}: {errors:?}",
            &condition[..40]
        );
    }
}

#[test]
fn more_than_a_thousand_rules_are_refused() {
    let program = |count: usize| {
        let rules: String = (0..count).map(|i| rule(&format!("r{i}"), "true")).collect();
        compile_text(format!("module t\n{rules}"))
    };
    let thousand = program(1000);
    assert_eq!(errors(&thousand), []);
    assert_eq!(thousand.program.unwrap().rules.len(), 1000);
    let too_many = program(1001);
    assert_eq!(
        errors(&too_many),
        [(
            "too-many-rules",
            "the policy set has 1001 rules, more than the limit of 1000"
        )]
    );
}
