//! The `schema.*` rules: ids and the metadata that `rampart rules`, `rampart explain` and
//! the report formats show for them.

use crate::eval::{Action, At, Matcher, OutcomeInfo, RuleInfo};

/// A field the object's type does not declare (the API server's strict field validation).
pub const UNKNOWN_FIELD: &str = "schema.unknown_field";
/// A value of the wrong JSON type, or a string that is not a quantity.
pub const WRONG_TYPE: &str = "schema.wrong_type";
/// A required field left out (or set to null).
pub const REQUIRED: &str = "schema.required";
/// A value outside the `enum` of its field.
pub const ENUM: &str = "schema.enum";

/// The ids of the `schema.*` rules, sorted.
pub const IDS: [&str; 4] = [ENUM, REQUIRED, UNKNOWN_FIELD, WRONG_TYPE];

/// Whether `id` names one of the `schema.*` rules.
pub fn is_schema_rule(id: &str) -> bool {
    IDS.contains(&id)
}

/// The metadata of the `schema.*` rules, in id order.
pub fn infos() -> Vec<RuleInfo> {
    let rule = |name: &str, title: &str, description: &str, remediation: &str| RuleInfo {
        id: format!("schema.{name}"),
        module: "schema".to_string(),
        name: name.to_string(),
        title: title.to_string(),
        description: description.to_string(),
        rationale: "The API server refuses the object, so `kubectl apply` (and every deployment \
                    tool) fails; finding it in CI is cheaper than at deploy time."
            .to_string(),
        category: "Schema".to_string(),
        remediation: remediation.to_string(),
        severity: "high".to_string(),
        controls: Vec::new(),
        matcher: Matcher::default(),
        params: Vec::new(),
        reads_kinds: Vec::new(),
        outcomes: vec![OutcomeInfo {
            action: Action::Deny,
            at: At {
                root: "subject".to_string(),
                steps: Vec::new(),
            },
            fixes: Vec::new(),
            generate: None,
        }],
    };
    vec![
        rule(
            "enum",
            "Fields must hold one of the values their schema allows",
            "The value of a field whose schema lists the allowed values (an `enum`, found in \
             CRD schemas) is not one of them.",
            "Use one of the values the message lists; the spelling and case must match.",
        ),
        rule(
            "required",
            "Required fields must be set",
            "A field the schema of the object's type lists as required is missing or null.",
            "Set the field; `rampart explain` of the policies, `kubectl explain` or the CRD \
             show what it holds.",
        ),
        rule(
            "unknown_field",
            "Objects must not have fields their schema does not declare",
            "The object has a field that its type does not declare. With strict field \
             validation (the default of `kubectl apply` since Kubernetes 1.27), the API server \
             refuses it; without it, the field is silently dropped, which is worse for a \
             security setting written in the wrong place.",
            "Fix the spelling (the message suggests the nearest field) or move the field to \
             the level where it belongs.",
        ),
        rule(
            "wrong_type",
            "Field values must have the type their schema declares",
            "A value has the wrong JSON type for its field (a boolean or number where a string \
             is required, a string where an integer is, a scalar where a list is), or a \
             quantity field holds a string that is not a quantity. Unquoted `yes`, `no`, `on`, \
             `off`, `true` and numbers are booleans and numbers in YAML.",
            "Quote values that must stay strings (`enabled: \"yes\"`), remove the quotes from \
             numbers and booleans, and write lists and mappings where the schema asks for them.",
        ),
    ]
}
