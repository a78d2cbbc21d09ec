//! `rampart fmt` end to end: rewriting, `--check`, `--diff`, standard input, and files that
//! do not parse.

mod common;

const MESSY: &str =
    "module t.a\nrule r{\nmatch Pod\ndeny when object.spec.hostPID??false message \"m\"}\n";
const TIDY: &str = "module t.a\n\nrule r {\n  match Pod\n  deny when object.spec.hostPID ?? false\n    message \"m\"\n}\n";
const BROKEN: &str = "module t.b\nrule r {\n  deny when message \"m\"\n}\n";

#[test]
fn check_lists_unformatted_files_and_changes_nothing() {
    let dir = common::scratch("fmt-check");
    std::fs::write(dir.join("a.rp"), MESSY).unwrap();
    std::fs::write(dir.join("b.rp"), TIDY).unwrap();
    let out = common::run(&["fmt", "--check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", common::stderr(&out));
    let listed = String::from_utf8(out.stdout).unwrap();
    assert!(
        listed.contains("a.rp") && !listed.contains("b.rp"),
        "{listed}"
    );
    assert_eq!(std::fs::read_to_string(dir.join("a.rp")).unwrap(), MESSY);

    let diff = common::run(&["fmt", "--diff", dir.to_str().unwrap()]);
    assert_eq!(diff.status.code(), Some(1));
    let text = String::from_utf8(diff.stdout).unwrap();
    assert!(
        text.contains("+  deny when object.spec.hostPID ?? false"),
        "{text}"
    );
    assert!(
        text.contains("-deny when object.spec.hostPID??false"),
        "{text}"
    );

    let write = common::run(&["fmt", dir.to_str().unwrap()]);
    assert_eq!(write.status.code(), Some(0), "{}", common::stderr(&write));
    assert_eq!(std::fs::read_to_string(dir.join("a.rp")).unwrap(), TIDY);
    let again = common::run(&["fmt", "--check", dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0));
}

#[test]
fn files_that_do_not_parse_are_left_untouched_with_their_errors() {
    let dir = common::scratch("fmt-broken");
    std::fs::write(dir.join("a.rp"), MESSY).unwrap();
    std::fs::write(dir.join("b.rp"), BROKEN).unwrap();
    let out = common::run(&["fmt", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = common::stderr(&out);
    assert!(err.contains("b.rp:3:"), "{err}");
    assert!(err.contains("was not formatted"), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("b.rp")).unwrap(), BROKEN);
    // The other file is still formatted.
    assert_eq!(std::fs::read_to_string(dir.join("a.rp")).unwrap(), TIDY);
}

#[test]
fn standard_input_is_formatted_to_standard_output() {
    let out = common::run_with_stdin(&["fmt", "-"], MESSY.as_bytes());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), TIDY);
}
