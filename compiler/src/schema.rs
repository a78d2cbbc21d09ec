//! The Kubernetes schema that policies are type-checked against: resource kinds, the object
//! types they are made of, and the conversion from JSON Schema (k8s-openapi's schemas and the
//! `openAPIV3Schema` of CustomResourceDefinitions) into that model.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The definition name of `ObjectMeta`, the type of every kind's `metadata` field.
pub const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";

/// A value type as the Kubernetes schema describes it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SchemaType {
    /// A JSON string (also timestamps and base64 bytes).
    String,
    /// A JSON integer.
    Integer,
    /// A JSON number.
    Number,
    /// A JSON boolean.
    Boolean,
    /// `io.k8s.apimachinery.pkg.api.resource.Quantity`: a string or number in JSON.
    Quantity,
    /// `io.k8s.apimachinery.pkg.util.intstr.IntOrString`.
    IntOrString,
    /// A free-form value: RawExtension, JSON, or `x-kubernetes-preserve-unknown-fields`.
    Any,
    /// A JSON array of the element type.
    List(Box<SchemaType>),
    /// A JSON object with string keys and values of one type (`additionalProperties`).
    Map(Box<SchemaType>),
    /// A named object type in [`Schema::types`].
    Object(String),
}

impl fmt::Display for SchemaType {
    /// Renders the type for messages; object types by their short (last segment) name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SchemaType::String => f.write_str("string"),
            SchemaType::Integer => f.write_str("integer"),
            SchemaType::Number => f.write_str("number"),
            SchemaType::Boolean => f.write_str("boolean"),
            SchemaType::Quantity => f.write_str("quantity"),
            SchemaType::IntOrString => f.write_str("int-or-string"),
            SchemaType::Any => f.write_str("any"),
            SchemaType::List(item) => write!(f, "list<{item}>"),
            SchemaType::Map(value) => write!(f, "map<{value}>"),
            SchemaType::Object(name) => f.write_str(short_name(name)),
        }
    }
}

/// One field of an object type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    /// The field's value type.
    pub ty: SchemaType,
    /// Whether the schema lists the field as required.
    #[serde(default, skip_serializing_if = "is_false")]
    pub required: bool,
    /// The values the schema allows (`enum`), when it restricts them.
    #[serde(default, rename = "enum", skip_serializing_if = "Vec::is_empty")]
    pub enum_values: Vec<Value>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// An object type: its fields by JSON name.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectType {
    /// The fields, sorted by name.
    pub fields: BTreeMap<String, Field>,
    /// Whether fields besides [`ObjectType::fields`] are kept
    /// (`x-kubernetes-preserve-unknown-fields` next to `properties`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub open: bool,
}

/// A resource kind the API serves, and the object type of its instances.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindInfo {
    /// The API group; `""` is the core group.
    pub group: String,
    /// The API version within the group, e.g. `v1`.
    pub version: String,
    /// The kind, e.g. `Pod`.
    pub kind: String,
    /// Whether instances live in a namespace.
    pub namespaced: bool,
    /// The name of the kind's object type in [`Schema::types`].
    pub type_name: String,
}

impl KindInfo {
    /// The `apiVersion` string of the kind: `group/version`, or just `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The resource kinds of a Kubernetes version and all the object types they use.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    /// The Kubernetes version the schema describes, e.g. `1.37`.
    pub kubernetes: String,
    /// The resource kinds, one per served group/version/kind.
    pub kinds: Vec<KindInfo>,
    /// Object types by definition name, e.g. `io.k8s.api.core.v1.Pod`.
    pub types: BTreeMap<String, ObjectType>,
}

impl Schema {
    /// Parses a schema written by [`Schema::to_json`].
    pub fn from_json(text: &str) -> Result<Schema, String> {
        serde_json::from_str(text).map_err(|e| format!("invalid schema json: {e}"))
    }

    /// Writes the schema as JSON with one kind or type per line, so diffs stay readable.
    pub fn to_json(&self) -> String {
        let mut out = String::from("{\n");
        out += &format!("\"kubernetes\": {},\n", compact(&self.kubernetes));
        out += "\"kinds\": [\n";
        for (i, kind) in self.kinds.iter().enumerate() {
            let comma = if i + 1 < self.kinds.len() { "," } else { "" };
            out += &format!("  {}{comma}\n", compact(kind));
        }
        out += "],\n\"types\": {\n";
        for (i, (name, ty)) in self.types.iter().enumerate() {
            let comma = if i + 1 < self.types.len() { "," } else { "" };
            out += &format!("  {}: {}{comma}\n", compact(name), compact(ty));
        }
        out += "}\n}\n";
        out
    }

    /// The object type with this full name.
    pub fn object(&self, type_name: &str) -> Option<&ObjectType> {
        self.types.get(type_name)
    }

    /// The kinds named `kind` (exactly), optionally restricted to a group and a version.
    pub fn find_kinds(
        &self,
        group: Option<&str>,
        version: Option<&str>,
        kind: &str,
    ) -> Vec<&KindInfo> {
        self.kinds
            .iter()
            .filter(|k| k.kind == kind)
            .filter(|k| group.is_none_or(|g| k.group == g))
            .filter(|k| version.is_none_or(|v| k.version == v))
            .collect()
    }

    /// The distinct kind names, sorted (for "did you mean" suggestions).
    pub fn kind_names(&self) -> impl Iterator<Item = &str> + '_ {
        let names: BTreeSet<&str> = self.kinds.iter().map(|k| k.kind.as_str()).collect();
        names.into_iter()
    }

    /// The field names of an object type, sorted; empty if there is no such type.
    pub fn field_names(&self, type_name: &str) -> Vec<&str> {
        self.object(type_name)
            .map(|o| o.fields.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }

    /// Resolves a full type name, or a trailing part of one (`Container`, `v1.Container`).
    ///
    /// Returns the matching names when the short name is ambiguous, or none when unknown.
    pub fn resolve_type_name(&self, short: &str) -> Result<String, Vec<String>> {
        if self.types.contains_key(short) {
            return Ok(short.to_string());
        }
        // Only whole segments match, so `Container` does not find `EphemeralContainer`.
        let candidates: Vec<String> = self
            .types
            .keys()
            .filter(|name| {
                name.strip_suffix(short)
                    .is_some_and(|rest| rest.ends_with(['.', '/']))
            })
            .cloned()
            .collect();
        match <[String; 1]>::try_from(candidates) {
            Ok([only]) => Ok(only),
            Err(candidates) => Err(candidates),
        }
    }

    /// Converts JSON Schema definitions (name to schema, as in `$defs`) into a schema without kinds.
    ///
    /// Every object definition becomes an object type of that name; nested anonymous objects
    /// are named `<parent>.<field>`. Scalar, list and map definitions are inlined where used.
    pub fn from_json_schema_definitions(
        kubernetes: &str,
        definitions: &Map<String, Value>,
    ) -> Result<Schema, String> {
        let mut converter = Converter::new(definitions);
        for name in definitions.keys() {
            converter.convert_ref(name)?;
        }
        Ok(Schema {
            kubernetes: kubernetes.to_string(),
            kinds: Vec::new(),
            types: converter.types,
        })
    }

    /// Adds the served versions of an `apiextensions.k8s.io/v1` CustomResourceDefinition.
    ///
    /// Each version's type is named `group/version/Kind`. Kinds already present with the same
    /// group, version and kind are replaced.
    pub fn add_crd(&mut self, crd: &Value) -> Result<Vec<KindInfo>, String> {
        let api_version = crd.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = crd.get("kind").and_then(Value::as_str).unwrap_or("");
        if api_version != "apiextensions.k8s.io/v1" || kind != "CustomResourceDefinition" {
            return Err(format!(
                "expected an `apiextensions.k8s.io/v1` CustomResourceDefinition, found `{api_version}` `{kind}`"
            ));
        }
        let crd_name = crd
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("<unnamed>");
        let text = |pointer: &str| {
            crd.pointer(pointer).and_then(Value::as_str).ok_or_else(|| {
                format!(
                    "crd `{crd_name}` has no `{}`",
                    &pointer[1..].replace('/', ".")
                )
            })
        };
        let group = text("/spec/group")?;
        let kind = text("/spec/names/kind")?;
        let namespaced = text("/spec/scope")? == "Namespaced";
        let versions = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("crd `{crd_name}` has no `spec.versions`"))?;

        let no_definitions = Map::new();
        let mut converter = Converter::new(&no_definitions);
        let mut added = Vec::new();
        for version in versions {
            if version.get("served").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            let version_name = version
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("crd `{crd_name}` has a version without a name"))?;
            let type_name = format!("{group}/{version_name}/{kind}");
            if let Some(schema) = version.pointer("/schema/openAPIV3Schema") {
                converter
                    .convert(schema, &type_name)
                    .map_err(|e| format!("crd `{crd_name}` version `{version_name}`: {e}"))?;
            }
            added.push(KindInfo {
                group: group.to_string(),
                version: version_name.to_string(),
                kind: kind.to_string(),
                namespaced,
                type_name,
            });
        }
        if added.is_empty() {
            return Err(format!("crd `{crd_name}` serves no versions"));
        }

        self.types.extend(converter.types);
        if !self.types.contains_key(OBJECT_META) {
            self.types
                .insert(OBJECT_META.to_string(), minimal_object_meta());
        }
        for info in &added {
            self.add_type_meta(&info.type_name);
            self.kinds.retain(|k| {
                (&k.group, &k.version, &k.kind) != (&info.group, &info.version, &info.kind)
            });
            self.kinds.push(info.clone());
        }
        Ok(added)
    }

    /// Adds every CustomResourceDefinition of a (multi-document) YAML file.
    ///
    /// Other documents are skipped, and `List` documents are searched, so the output of
    /// `kubectl get crd -o yaml` or a whole operator bundle can be loaded as it is.
    pub fn add_crd_yaml(&mut self, text: &str) -> Result<Vec<KindInfo>, String> {
        let mut added = Vec::new();
        let mut found = false;
        for document in serde_yaml_ng::Deserializer::from_str(text) {
            let value = Value::deserialize(document).map_err(|e| format!("invalid yaml: {e}"))?;
            let items = match value.get("kind").and_then(Value::as_str) {
                Some("List") => value
                    .get("items")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                _ => vec![value],
            };
            for item in items {
                if item.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
                    found = true;
                    added.extend(self.add_crd(&item)?);
                }
            }
        }
        if !found {
            return Err("no CustomResourceDefinition found in the yaml".to_string());
        }
        Ok(added)
    }

    /// Gives a kind's type the `apiVersion`, `kind` and `metadata` fields every object has,
    /// with the API server's types, whatever the CRD schema declares for them.
    fn add_type_meta(&mut self, type_name: &str) {
        // The API server replaces the metadata schema of a CRD with ObjectMeta.
        let declared_metadata = format!("{type_name}.metadata");
        self.types.remove(&declared_metadata);
        let object = self.types.entry(type_name.to_string()).or_default();
        for field in ["apiVersion", "kind"] {
            object.fields.entry(field.to_string()).or_insert(Field {
                ty: SchemaType::String,
                required: false,
                enum_values: Vec::new(),
            });
        }
        let metadata = object
            .fields
            .entry("metadata".to_string())
            .or_insert(Field {
                ty: SchemaType::Any,
                required: false,
                enum_values: Vec::new(),
            });
        metadata.ty = SchemaType::Object(OBJECT_META.to_string());
    }
}

/// The last segment of a type name: `Container` for `io.k8s.api.core.v1.Container`.
pub fn short_name(type_name: &str) -> &str {
    type_name.rsplit(['.', '/']).next().unwrap_or(type_name)
}

/// Definitions whose type cannot be told from their JSON Schema alone: Quantity and
/// IntOrString are both bare `x-kubernetes-int-or-string`, and the free-form ones are
/// plain `type: object`.
fn well_known(name: &str) -> Option<SchemaType> {
    Some(match name {
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => SchemaType::Quantity,
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => SchemaType::IntOrString,
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
        | "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime" => SchemaType::String,
        "io.k8s.apimachinery.pkg.runtime.RawExtension"
        | "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"
        | "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON" => SchemaType::Any,
        _ => return None,
    })
}

/// The commonly used ObjectMeta fields, for CRDs loaded into a schema without Kubernetes types.
fn minimal_object_meta() -> ObjectType {
    let optional = |ty| Field {
        ty,
        required: false,
        enum_values: Vec::new(),
    };
    let string_map = || SchemaType::Map(Box::new(SchemaType::String));
    let fields = [
        ("annotations", string_map()),
        ("creationTimestamp", SchemaType::String),
        ("deletionTimestamp", SchemaType::String),
        ("finalizers", SchemaType::List(Box::new(SchemaType::String))),
        ("generateName", SchemaType::String),
        ("generation", SchemaType::Integer),
        ("labels", string_map()),
        ("name", SchemaType::String),
        ("namespace", SchemaType::String),
        ("resourceVersion", SchemaType::String),
        ("uid", SchemaType::String),
    ];
    ObjectType {
        fields: fields
            .into_iter()
            .map(|(name, ty)| (name.to_string(), optional(ty)))
            .collect(),
        open: false,
    }
}

/// Converts JSON Schema values into [`SchemaType`]s, collecting the object types it names.
struct Converter<'a> {
    definitions: &'a Map<String, Value>,
    types: BTreeMap<String, ObjectType>,
    /// Definitions already converted (or being converted, which ends recursion).
    resolved: HashMap<String, SchemaType>,
}

impl<'a> Converter<'a> {
    fn new(definitions: &'a Map<String, Value>) -> Self {
        Converter {
            definitions,
            types: BTreeMap::new(),
            resolved: HashMap::new(),
        }
    }

    /// Converts a `$ref` target (`#/$defs/Name`, `#/definitions/Name` or a bare name).
    fn convert_ref(&mut self, reference: &str) -> Result<SchemaType, String> {
        let encoded = reference.rsplit('/').next().unwrap_or(reference);
        let name = decode_pointer_segment(encoded);
        if let Some(ty) = well_known(&name) {
            return Ok(ty);
        }
        if let Some(ty) = self.resolved.get(&name) {
            return Ok(ty.clone());
        }
        let definitions = self.definitions;
        let definition = definitions
            .get(&name)
            .ok_or_else(|| format!("unresolved reference `{reference}`"))?;
        // Record the outcome before descending so that recursive types (JSONSchemaProps) end.
        let placeholder = if has_properties(definition) {
            SchemaType::Object(name.clone())
        } else {
            SchemaType::Any
        };
        self.resolved.insert(name.clone(), placeholder);
        let ty = self.convert(definition, &name)?;
        self.resolved.insert(name, ty.clone());
        Ok(ty)
    }

    /// Converts one schema; `name` is the type name an object schema here would get.
    fn convert(&mut self, schema: &Value, name: &str) -> Result<SchemaType, String> {
        // Boolean schemas (`true`) accept anything.
        let Some(schema) = schema.as_object() else {
            return Ok(SchemaType::Any);
        };
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            return self.convert_ref(reference);
        }
        // `allOf: [{$ref}]` is how OpenAPI v3 attaches a description or default to a reference.
        if let Some([only]) = schema
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            if !schema.contains_key("type") {
                return self.convert(only, name);
            }
        }
        let format = schema.get("format").and_then(Value::as_str);
        if flag(schema, "x-kubernetes-int-or-string") || format == Some("int-or-string") {
            return Ok(if is_quantity(schema) {
                SchemaType::Quantity
            } else {
                SchemaType::IntOrString
            });
        }
        if format == Some("quantity") {
            return Ok(SchemaType::Quantity);
        }
        if flag(schema, "x-kubernetes-preserve-unknown-fields")
            && !has_properties_map(schema)
            && !schema.contains_key("additionalProperties")
        {
            return Ok(SchemaType::Any);
        }
        match type_of(schema) {
            Some("string") => Ok(SchemaType::String),
            Some("integer") => Ok(SchemaType::Integer),
            Some("number") => Ok(SchemaType::Number),
            Some("boolean") => Ok(SchemaType::Boolean),
            Some("array") => {
                let item = match schema.get("items") {
                    Some(items) => self.convert(items, name)?,
                    None => SchemaType::Any,
                };
                Ok(SchemaType::List(Box::new(item)))
            }
            Some("object") => self.convert_object(schema, name),
            Some(other) => Err(format!("unsupported schema type `{other}` at `{name}`")),
            // No single type (e.g. an `anyOf` of several): nothing to check against.
            None => Ok(SchemaType::Any),
        }
    }

    fn convert_object(
        &mut self,
        schema: &Map<String, Value>,
        name: &str,
    ) -> Result<SchemaType, String> {
        if has_properties_map(schema) {
            let required: BTreeSet<&str> = schema
                .get("required")
                .and_then(Value::as_array)
                .map(|names| names.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let properties = schema["properties"].as_object().into_iter().flatten();
            let mut fields = BTreeMap::new();
            for (field, subschema) in properties {
                let ty = self.convert(subschema, &format!("{name}.{field}"))?;
                let required = required.contains(field.as_str());
                let enum_values = subschema
                    .get("enum")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                fields.insert(
                    field.clone(),
                    Field {
                        ty,
                        required,
                        enum_values,
                    },
                );
            }
            let open = flag(schema, "x-kubernetes-preserve-unknown-fields");
            self.types
                .insert(name.to_string(), ObjectType { fields, open });
            return Ok(SchemaType::Object(name.to_string()));
        }
        match schema.get("additionalProperties") {
            Some(Value::Bool(false)) | None => {
                // Without properties, the API server prunes every field (free-form objects say
                // `x-kubernetes-preserve-unknown-fields`), so this is an empty marker object.
                self.types.insert(name.to_string(), ObjectType::default());
                Ok(SchemaType::Object(name.to_string()))
            }
            Some(values) => Ok(SchemaType::Map(Box::new(self.convert(values, name)?))),
        }
    }
}

/// Whether a schema is an object with at least one property.
fn has_properties(schema: &Value) -> bool {
    schema.as_object().is_some_and(has_properties_map)
}

fn has_properties_map(schema: &Map<String, Value>) -> bool {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty())
}

fn flag(schema: &Map<String, Value>, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

/// The schema's type: `type` (ignoring `null` in a type list), else inferred from its keywords.
fn type_of(schema: &Map<String, Value>) -> Option<&str> {
    match schema.get("type") {
        Some(Value::String(ty)) => Some(ty),
        Some(Value::Array(types)) => {
            let mut non_null = types
                .iter()
                .filter_map(Value::as_str)
                .filter(|t| *t != "null");
            match (non_null.next(), non_null.next()) {
                (Some(ty), None) => Some(ty),
                _ => None,
            }
        }
        _ if schema.contains_key("properties") || schema.contains_key("additionalProperties") => {
            Some("object")
        }
        _ if schema.contains_key("items") => Some("array"),
        _ => None,
    }
}

/// Whether an int-or-string schema is a Quantity: controller-gen marks CRD quantities with a
/// pattern accepting the binary suffixes `Ki`, `Mi`, ...
fn is_quantity(schema: &Map<String, Value>) -> bool {
    schema
        .get("pattern")
        .and_then(Value::as_str)
        .is_some_and(|p| p.contains("[KMGTPE]i"))
}

/// Decodes a JSON Pointer segment in URI fragment form (`~1`, `~0` and `%XX` escapes).
fn decode_pointer_segment(segment: &str) -> String {
    let mut bytes = Vec::with_capacity(segment.len());
    let mut rest = segment.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        let hex = tail
            .get(..2)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (byte, hex) {
            (b'%', Some(decoded)) => {
                bytes.push(decoded);
                rest = &tail[2..];
            }
            _ => {
                bytes.push(byte);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&bytes)
        .replace("~1", "/")
        .replace("~0", "~")
}

/// One line of JSON for a piece of [`Schema::to_json`].
fn compact<T: Serialize>(value: &T) -> String {
    // Strings, maps with string keys and plain structs always serialize.
    serde_json::to_string(value).expect("schema values serialize to json")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn definitions(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn field<'s>(schema: &'s Schema, type_name: &str, field: &str) -> &'s Field {
        &schema.types[type_name].fields[field]
    }

    fn list(ty: SchemaType) -> SchemaType {
        SchemaType::List(Box::new(ty))
    }

    fn map(ty: SchemaType) -> SchemaType {
        SchemaType::Map(Box::new(ty))
    }

    fn object(name: &str) -> SchemaType {
        SchemaType::Object(name.to_string())
    }

    #[test]
    fn converts_refs_lists_and_maps() {
        let defs = definitions(json!({
            "a.Pod": {
                "type": "object",
                "properties": {
                    "metadata": { "$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" },
                    "containers": { "type": "array", "items": { "$ref": "#/$defs/a.Container" } },
                    "labels": { "type": "object", "additionalProperties": { "type": "string" } },
                    "limits": {
                        "type": "object",
                        "additionalProperties": { "$ref": "#/$defs/io.k8s.apimachinery.pkg.api.resource.Quantity" }
                    },
                    "created": { "$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.Time" },
                    "priority": { "type": "integer", "format": "int32" },
                    "ratio": { "type": ["number", "null"] },
                },
                "required": ["containers"],
            },
            "a.Container": {
                "type": "object",
                "properties": {
                    "privileged": { "type": "boolean" },
                    "port": { "allOf": [{ "$ref": "#/$defs/io.k8s.apimachinery.pkg.util.intstr.IntOrString" }] },
                    "env": { "type": "array", "items": { "type": "object", "properties": { "name": { "type": "string" } } } },
                },
            },
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": {
                "type": "object",
                "properties": { "name": { "type": "string" } },
            },
            "io.k8s.apimachinery.pkg.api.resource.Quantity": { "x-kubernetes-int-or-string": true },
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString": { "x-kubernetes-int-or-string": true },
            "io.k8s.apimachinery.pkg.apis.meta.v1.Time": { "type": "string", "format": "date-time" },
        }));
        let schema = Schema::from_json_schema_definitions("1.37", &defs).unwrap();
        assert_eq!(field(&schema, "a.Pod", "metadata").ty, object(OBJECT_META));
        assert_eq!(
            field(&schema, "a.Pod", "containers").ty,
            list(object("a.Container"))
        );
        assert!(field(&schema, "a.Pod", "containers").required);
        assert!(!field(&schema, "a.Pod", "labels").required);
        assert_eq!(
            field(&schema, "a.Pod", "labels").ty,
            map(SchemaType::String)
        );
        assert_eq!(
            field(&schema, "a.Pod", "limits").ty,
            map(SchemaType::Quantity)
        );
        assert_eq!(field(&schema, "a.Pod", "created").ty, SchemaType::String);
        assert_eq!(field(&schema, "a.Pod", "priority").ty, SchemaType::Integer);
        assert_eq!(field(&schema, "a.Pod", "ratio").ty, SchemaType::Number);
        assert_eq!(
            field(&schema, "a.Container", "privileged").ty,
            SchemaType::Boolean
        );
        assert_eq!(
            field(&schema, "a.Container", "port").ty,
            SchemaType::IntOrString
        );
        assert_eq!(
            field(&schema, "a.Container", "env").ty,
            list(object("a.Container.env"))
        );
        assert_eq!(
            field(&schema, "a.Container.env", "name").ty,
            SchemaType::String
        );
        // Only objects become types: the scalar definitions do not.
        let names: Vec<&str> = schema.types.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["a.Container", "a.Container.env", "a.Pod", OBJECT_META]
        );
    }

    #[test]
    fn converts_int_or_string_and_free_form_values() {
        let defs = definitions(json!({
            "T": {
                "type": "object",
                "properties": {
                    "port": { "x-kubernetes-int-or-string": true, "anyOf": [{ "type": "integer" }, { "type": "string" }] },
                    "cpu": {
                        "x-kubernetes-int-or-string": true,
                        "anyOf": [{ "type": "integer" }, { "type": "string" }],
                        "pattern": "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$",
                    },
                    "legacy": { "type": "string", "format": "int-or-string" },
                    "config": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
                    "open": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true,
                        "properties": { "known": { "type": "string" } },
                    },
                    "raw": { "$ref": "#/definitions/io.k8s.apimachinery.pkg.runtime.RawExtension" },
                    "anything": {},
                    "extra": { "type": "object", "additionalProperties": true },
                    "marker": { "type": "object" },
                },
            },
        }));
        let schema = Schema::from_json_schema_definitions("1.37", &defs).unwrap();
        assert_eq!(field(&schema, "T", "port").ty, SchemaType::IntOrString);
        assert_eq!(field(&schema, "T", "cpu").ty, SchemaType::Quantity);
        assert_eq!(field(&schema, "T", "legacy").ty, SchemaType::IntOrString);
        assert_eq!(field(&schema, "T", "config").ty, SchemaType::Any);
        assert_eq!(field(&schema, "T", "open").ty, object("T.open"));
        // Declared fields are typed, and the others are kept rather than refused.
        assert!(schema.types["T.open"].open);
        assert!(!schema.types["T"].open);
        assert_eq!(field(&schema, "T", "raw").ty, SchemaType::Any);
        assert_eq!(field(&schema, "T", "anything").ty, SchemaType::Any);
        assert_eq!(field(&schema, "T", "extra").ty, map(SchemaType::Any));
        assert_eq!(field(&schema, "T", "marker").ty, object("T.marker"));
        assert!(schema.field_names("T.marker").is_empty());
    }

    #[test]
    fn converts_recursive_definitions_and_reports_missing_refs() {
        let defs = definitions(json!({
            "Props": {
                "type": "object",
                "properties": {
                    "items": { "$ref": "#/$defs/Props" },
                    "properties": { "type": "object", "additionalProperties": { "$ref": "#/$defs/Props" } },
                },
            },
        }));
        let schema = Schema::from_json_schema_definitions("1.37", &defs).unwrap();
        assert_eq!(field(&schema, "Props", "items").ty, object("Props"));
        assert_eq!(
            field(&schema, "Props", "properties").ty,
            map(object("Props"))
        );

        let defs = definitions(json!({ "A": { "properties": { "b": { "$ref": "#/$defs/B" } } } }));
        let error = Schema::from_json_schema_definitions("1.37", &defs).unwrap_err();
        assert_eq!(error, "unresolved reference `#/$defs/B`");
    }

    const PEER_AUTHENTICATION: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: peerauthentications.security.istio.io
spec:
  group: security.istio.io
  names:
    kind: PeerAuthentication
    plural: peerauthentications
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                mtls:
                  type: object
                  properties:
                    mode:
                      type: string
                      enum: [UNSET, DISABLE, PERMISSIVE, STRICT]
                portLevelMtls:
                  type: object
                  additionalProperties:
                    type: object
                    properties:
                      mode:
                        type: string
                selector:
                  type: object
                  properties:
                    matchLabels:
                      type: object
                      additionalProperties:
                        type: string
            status:
              type: object
              x-kubernetes-preserve-unknown-fields: true
    - name: v1beta1
      served: true
      storage: false
      schema:
        openAPIV3Schema:
          type: object
          properties:
            metadata:
              type: object
              properties:
                name:
                  type: string
                  maxLength: 63
            spec:
              type: object
              properties:
                mtls:
                  type: object
                  properties:
                    mode:
                      type: string
    - name: v1alpha1
      served: false
      storage: false
"#;

    #[test]
    fn loads_crds_from_yaml() {
        let mut schema = Schema::default();
        let added = schema.add_crd_yaml(PEER_AUTHENTICATION).unwrap();
        let versions: Vec<&str> = added.iter().map(|k| k.version.as_str()).collect();
        assert_eq!(versions, ["v1", "v1beta1"]);
        let v1 = &added[0];
        assert_eq!(v1.group, "security.istio.io");
        assert_eq!(v1.kind, "PeerAuthentication");
        assert!(v1.namespaced);
        assert_eq!(v1.type_name, "security.istio.io/v1/PeerAuthentication");
        assert_eq!(v1.api_version(), "security.istio.io/v1");

        let root = "security.istio.io/v1/PeerAuthentication";
        assert_eq!(
            schema.field_names(root),
            ["apiVersion", "kind", "metadata", "spec", "status"]
        );
        assert_eq!(field(&schema, root, "metadata").ty, object(OBJECT_META));
        assert_eq!(field(&schema, root, "status").ty, SchemaType::Any);
        let spec = format!("{root}.spec");
        assert_eq!(
            field(&schema, &spec, "mtls").ty,
            object(&format!("{spec}.mtls"))
        );
        assert_eq!(
            field(&schema, &spec, "portLevelMtls").ty,
            map(object(&format!("{spec}.portLevelMtls")))
        );
        let mtls = format!("{spec}.mtls");
        assert_eq!(
            field(&schema, &mtls, "mode").enum_values,
            [
                json!("UNSET"),
                json!("DISABLE"),
                json!("PERMISSIVE"),
                json!("STRICT")
            ]
        );
        let selector = format!("{spec}.selector");
        assert_eq!(
            field(&schema, &selector, "matchLabels").ty,
            map(SchemaType::String)
        );

        // The declared metadata schema gives way to ObjectMeta, as in the API server.
        let beta = "security.istio.io/v1beta1/PeerAuthentication";
        assert_eq!(field(&schema, beta, "metadata").ty, object(OBJECT_META));
        assert!(schema.object(&format!("{beta}.metadata")).is_none());
        assert!(schema.field_names(OBJECT_META).contains(&"labels"));

        assert_eq!(schema.find_kinds(None, None, "PeerAuthentication").len(), 2);
        assert_eq!(
            schema
                .find_kinds(
                    Some("security.istio.io"),
                    Some("v1beta1"),
                    "PeerAuthentication"
                )
                .len(),
            1
        );
        assert!(schema
            .find_kinds(Some(""), None, "PeerAuthentication")
            .is_empty());

        // Loading the same CRD again replaces its kinds rather than duplicating them.
        schema.add_crd_yaml(PEER_AUTHENTICATION).unwrap();
        assert_eq!(schema.kinds.len(), 2);
        assert_eq!(
            schema.kind_names().collect::<Vec<_>>(),
            ["PeerAuthentication"]
        );
    }

    #[test]
    fn rejects_yaml_without_crds_and_other_documents() {
        let mut schema = Schema::default();
        let error = schema
            .add_crd_yaml("apiVersion: v1\nkind: Namespace\n")
            .unwrap_err();
        assert_eq!(error, "no CustomResourceDefinition found in the yaml");
        let error = schema
            .add_crd(&json!({ "apiVersion": "v1", "kind": "Namespace" }))
            .unwrap_err();
        assert!(error.contains("`v1` `Namespace`"), "{error}");
    }

    #[test]
    fn resolves_short_type_names() {
        let mut schema = Schema::default();
        for name in [
            "io.k8s.api.core.v1.Container",
            "io.k8s.api.core.v1.EphemeralContainer",
            "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
            "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler",
            "security.istio.io/v1/PeerAuthentication",
        ] {
            schema.types.insert(name.to_string(), ObjectType::default());
        }
        assert_eq!(
            schema.resolve_type_name("Container").unwrap(),
            "io.k8s.api.core.v1.Container"
        );
        assert_eq!(
            schema
                .resolve_type_name("io.k8s.api.core.v1.Container")
                .unwrap(),
            "io.k8s.api.core.v1.Container"
        );
        assert_eq!(
            schema
                .resolve_type_name("v2.HorizontalPodAutoscaler")
                .unwrap(),
            "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"
        );
        assert_eq!(
            schema.resolve_type_name("PeerAuthentication").unwrap(),
            "security.istio.io/v1/PeerAuthentication"
        );
        assert_eq!(
            schema
                .resolve_type_name("HorizontalPodAutoscaler")
                .unwrap_err(),
            [
                "io.k8s.api.autoscaling.v1.HorizontalPodAutoscaler",
                "io.k8s.api.autoscaling.v2.HorizontalPodAutoscaler"
            ]
        );
        assert!(schema.resolve_type_name("Ontainer").unwrap_err().is_empty());
    }

    #[test]
    fn round_trips_through_json() {
        let mut schema = Schema {
            kubernetes: "1.37".to_string(),
            ..Schema::default()
        };
        schema.add_crd_yaml(PEER_AUTHENTICATION).unwrap();
        let text = schema.to_json();
        // One kind or type per line keeps diffs of the committed schema readable.
        assert_eq!(
            text.lines().count(),
            3 + schema.kinds.len() + 2 + schema.types.len() + 2
        );
        let parsed = Schema::from_json(&text).unwrap();
        assert_eq!(parsed, schema);
        assert_eq!(parsed.to_json(), text);
        assert!(Schema::from_json("{")
            .unwrap_err()
            .starts_with("invalid schema json: "));
    }

    #[test]
    fn displays_types_briefly() {
        let ty = list(map(object("io.k8s.api.core.v1.Container")));
        assert_eq!(ty.to_string(), "list<map<Container>>");
        assert_eq!(SchemaType::IntOrString.to_string(), "int-or-string");
    }
}
