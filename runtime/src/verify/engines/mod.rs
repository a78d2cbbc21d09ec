//! The Rego and CEL engines `rampart verify --backend rego|cel|all` runs the exported
//! policies with: regorus for the Gatekeeper Rego, the `cel` crate for the
//! ValidatingAdmissionPolicy CEL. Compiled only with the `engines` feature.

pub mod cel;
pub mod rego;

pub use cel::CelBackend;
pub use rego::RegoBackend;

use rampart_compiler::ir;

use super::parse::Case;

/// The parameter overrides a case gives for one rule: (name, value).
fn overrides<'a>(
    case: &'a Case,
    rule: &str,
) -> impl Iterator<Item = (&'a str, &'a serde_json::Value)> {
    let rule = rule.to_string();
    case.param_lines
        .iter()
        .filter(move |(r, ..)| *r == rule)
        .map(|(_, name, value, _)| (name.as_str(), value))
}

/// A JSON value as an IR constant; a number given for a `quantity` parameter becomes its
/// text, the form of quantity constants (`"500m"`) in the IR.
fn ir_value(v: &serde_json::Value, ty: &ir::Type) -> ir::Value {
    use serde_json::Value as J;
    match v {
        J::Null => ir::Value::Null,
        J::Bool(b) => ir::Value::Bool(*b),
        J::Number(n) if *ty == ir::Type::Quantity => ir::Value::String(n.to_string()),
        J::Number(n) => match n.as_i64() {
            Some(i) => ir::Value::Int(i),
            None => ir::Value::Number(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => ir::Value::String(s.clone()),
        J::Array(items) => {
            let inner = match ty {
                ir::Type::List(t) => t.as_ref(),
                _ => &ir::Type::Any,
            };
            ir::Value::List(items.iter().map(|x| ir_value(x, inner)).collect())
        }
        J::Object(entries) => {
            let inner = match ty {
                ir::Type::Map(t) => t.as_ref(),
                _ => &ir::Type::Any,
            };
            ir::Value::Map(
                entries
                    .iter()
                    .map(|(k, x)| (k.clone(), ir_value(x, inner)))
                    .collect(),
            )
        }
    }
}
