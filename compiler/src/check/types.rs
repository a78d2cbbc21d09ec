//! Type helpers of the checker: schema types to IR types, written types, display, fitting.

use crate::ir::Type;
use crate::schema::{short_name, Schema, SchemaType};

/// The IR type of a schema type.
pub fn from_schema(t: &SchemaType) -> Type {
    match t {
        SchemaType::String => Type::String,
        SchemaType::Integer => Type::Int,
        SchemaType::Number => Type::Number,
        SchemaType::Boolean => Type::Bool,
        SchemaType::Quantity => Type::Quantity,
        SchemaType::IntOrString => Type::IntOrString,
        SchemaType::Any => Type::Any,
        SchemaType::List(t) => Type::List(Box::new(from_schema(t))),
        SchemaType::Map(t) => Type::Map(Box::new(from_schema(t))),
        SchemaType::Object(n) => Type::Object(n.clone()),
    }
}

/// A type as written in messages: `string`, `list<Container>`, `Container?`.
pub fn show(t: &Type) -> String {
    match t {
        Type::Bool => "bool".into(),
        Type::Int => "int".into(),
        Type::Number => "number".into(),
        Type::String => "string".into(),
        Type::Quantity => "quantity".into(),
        Type::IntOrString => "int_or_string".into(),
        Type::Image => "image".into(),
        Type::Any => "any".into(),
        Type::Null => "null".into(),
        Type::List(t) => format!("list<{}>", show(t)),
        Type::Map(t) => format!("map<{}>", show(t)),
        Type::Object(n) => short_name(n).to_string(),
        Type::Optional(t) => format!("{}?", show(t)),
    }
}

/// Whether a value of type `actual` may be used where `expected` is wanted.
pub fn fits(actual: &Type, expected: &Type) -> bool {
    match (actual, expected) {
        (Type::Any, _) | (_, Type::Any) => true,
        (Type::Null, Type::Optional(_)) => true,
        (Type::Optional(a), Type::Optional(e)) => fits(a, e),
        (a, Type::Optional(e)) => fits(a, e),
        (Type::Optional(_), _) => false,
        (Type::Int, Type::Number) => true,
        (Type::Int | Type::String, Type::IntOrString) => true,
        (Type::List(a), Type::List(e)) | (Type::Map(a), Type::Map(e)) => fits(a, e),
        (a, e) => a == e,
    }
}

/// Whether two present values of these types can be compared with `==`.
pub fn comparable(a: &Type, b: &Type) -> bool {
    fits(a, b) || fits(b, a) || matches!((a, b), (Type::IntOrString, Type::Int | Type::String))
}

/// The common type of two branches or list elements.
pub fn join(a: &Type, b: &Type) -> Option<Type> {
    if a == b {
        return Some(a.clone());
    }
    let optional = a.is_optional() || b.is_optional() || *a == Type::Null || *b == Type::Null;
    let (sa, sb) = (a.strip_optional(), b.strip_optional());
    let base = if *sa == Type::Null {
        sb.clone()
    } else if *sb == Type::Null || sa == sb {
        sa.clone()
    } else if matches!(
        (sa, sb),
        (Type::Int, Type::Number) | (Type::Number, Type::Int)
    ) {
        Type::Number
    } else if *sa == Type::Any || *sb == Type::Any {
        Type::Any
    } else {
        match (sa, sb) {
            (Type::List(x), Type::List(y)) => Type::List(Box::new(join(x, y)?)),
            (Type::Map(x), Type::Map(y)) => Type::Map(Box::new(join(x, y)?)),
            _ => return None,
        }
    };
    Some(if optional { base.optional() } else { base })
}

/// The names of the builtin types usable in signatures.
pub const BUILTIN_TYPES: &[&str] = &[
    "bool",
    "int",
    "number",
    "string",
    "quantity",
    "image",
    "any",
    "int_or_string",
    "list",
    "map",
];

/// Resolves a written type name without arguments: builtins, then schema object types.
pub fn named(schema: &Schema, name: &str) -> Result<Type, Vec<String>> {
    Ok(match name {
        "bool" => Type::Bool,
        "int" => Type::Int,
        "number" => Type::Number,
        "string" => Type::String,
        "quantity" => Type::Quantity,
        "image" => Type::Image,
        "any" => Type::Any,
        "int_or_string" => Type::IntOrString,
        _ => return schema.resolve_type_name(name).map(Type::Object),
    })
}
