//! The builtin functions with their signatures and documentation, read from the table of
//! spec/language.md §4.4, so that the server says what the specification says.

const SPEC: &str = include_str!("../../spec/language.md");

/// A builtin function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Builtin {
    pub name: String,
    /// As written in the specification: `starts_with(s, p)`.
    pub signature: String,
    pub doc: String,
}

/// Every builtin of the specification's table, in its order.
pub fn builtins() -> Vec<Builtin> {
    let mut out = Vec::new();
    let Some(start) = SPEC.find("### 4.4 Builtin functions") else {
        return out;
    };
    for line in SPEC[start..].lines().skip(1) {
        if line.starts_with('#') {
            break;
        }
        let Some(row) = line.strip_prefix('|') else {
            continue;
        };
        let Some((functions, doc)) = row.split_once(" | ") else {
            continue;
        };
        let doc = doc.trim_end().trim_end_matches('|').trim().to_string();
        // The functions are code spans: every odd part between backticks.
        for signature in functions.split('`').skip(1).step_by(2) {
            let Some((name, _)) = signature.split_once('(') else {
                continue;
            };
            out.push(Builtin {
                name: name.to_string(),
                signature: signature.to_string(),
                doc: doc.clone(),
            });
        }
    }
    out
}

/// The builtin named `name`.
pub fn find(name: &str) -> Option<Builtin> {
    builtins().into_iter().find(|b| b.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_of_the_specification_is_read() {
        let all = builtins();
        let names: Vec<&str> = all.iter().map(|b| b.name.as_str()).collect();
        for expected in [
            "len",
            "starts_with",
            "ends_with",
            "image",
            "all_containers",
            "count",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let ends = find("ends_with").unwrap();
        assert_eq!(ends.signature, "ends_with(s, p)");
        assert_eq!(ends.doc, "string tests");
    }
}
