//! The ValidatingAdmissionPolicy export run by the `cel` crate: each rule compiled to CEL as
//! `rampart build --target vap` writes it, and evaluated as the API server does: match
//! conditions, then variables in order, then each validation with its message expression.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use cel::extractors::This;
use cel::{Context, Env, FunctionContext, Value as CV};
use rampart_compiler::backend::cel::{self as rcel, Dialect};
use rampart_compiler::ir::{Action as IrAction, Program, Rule};

use super::super::backend::{Backend, Details, Got};
use super::super::parse::Case;
use crate::eval::{select, Action, AdmissionContext, Finding, RuleInfo};

/// The exported CEL of a policy set.
pub struct CelBackend {
    env: Arc<Env>,
    rules: BTreeMap<String, Rule>,
    /// Parsed expressions by their text: parsing costs far more than evaluating, and the
    /// cases of a rule share its expressions.
    parsed: RefCell<HashMap<String, Rc<cel::Program>>>,
}

impl CelBackend {
    /// Keeps the rules of `program`; each is compiled to CEL per case, with the case's
    /// parameter values inlined as the VAP export inlines the defaults.
    pub fn new(program: &Program) -> CelBackend {
        CelBackend {
            env: Arc::new(kubernetes_env()),
            rules: program
                .rules
                .iter()
                .map(|r| (r.id.clone(), r.clone()))
                .collect(),
            parsed: RefCell::default(),
        }
    }

    /// A context with the Kubernetes quantity functions and `object` bound.
    fn context(
        &self,
        object: &CV,
        request: &CV,
        old: &CV,
    ) -> Result<Context<'static, 'static>, String> {
        let mut ctx = Context::with_env(self.env.clone());
        add_quantity_functions(&mut ctx)?;
        ctx.add_variable_from_value("object", object.clone());
        ctx.add_variable_from_value("request", request.clone());
        ctx.add_variable_from_value("oldObject", old.clone());
        Ok(ctx)
    }

    fn eval(&self, ctx: &Context, expr: &str) -> Result<CV, String> {
        let cached = self.parsed.borrow().get(expr).cloned();
        let program = match cached {
            Some(p) => p,
            None => {
                let p = Rc::new(
                    self.env
                        .compile(expr)
                        .map_err(|e| format!("cannot parse `{expr}`: {e}"))?,
                );
                self.parsed.borrow_mut().insert(expr.to_string(), p.clone());
                p
            }
        };
        program
            .execute(ctx)
            .map_err(|e| format!("`{expr}` fails: {e}"))
    }

    fn eval_bool(&self, ctx: &Context, expr: &str) -> Result<bool, String> {
        match self.eval(ctx, expr)? {
            CV::Bool(b) => Ok(b),
            other => Err(format!("`{expr}` gives {other:?}, not a bool")),
        }
    }
}

impl Backend for CelBackend {
    fn name(&self) -> &'static str {
        "cel"
    }

    /// A validation fails with one message (from the first offending element), so CEL
    /// gives neither the number of findings nor where they are.
    fn details(&self) -> Details {
        Details {
            count: false,
            path: false,
            line: false,
        }
    }

    fn outcomes(&self, info: &RuleInfo, case: &Case) -> Result<Got, String> {
        if select::subject(&info.matcher, &case.object).is_none() {
            return Ok(Got::Skip);
        }
        let Some(rule) = self.rules.get(&info.id) else {
            return Err(format!("no CEL for rule `{}`", info.id));
        };
        let mut rule = rule.clone();
        for (name, value) in super::overrides(case, &rule.id) {
            if let Some(p) = rule.params.iter_mut().find(|p| p.name == name) {
                p.default = super::ir_value(value, &p.ty);
            }
        }
        let compiled = match rcel::compile_rule(&rule, Dialect::Vap, "vap") {
            Ok(c) => c,
            Err(e) => return Ok(Got::NotApplicable(e.to_string())),
        };
        let json = case.object.to_json();
        let object = to_cel(&json, true);
        let old = to_cel(&case.context.old_json(), true);
        // A real API server always sends the namespace of a namespaced object; a test object
        // may leave it out, and the matcher's scoping then reads `''` (as the shared matcher
        // decides). The rule itself reads the request as the API server sends it.
        let matching = self.context(&object, &request(&json, None), &old)?;
        let request = admission_request(&json, &case.context);
        for c in &compiled.match_conditions {
            if !self
                .eval_bool(&matching, &c.expression)
                .map_err(|e| format!("match condition `{}`: {e}", c.name))?
            {
                // The policy does not apply: what the API server does with the object.
                return Ok(Got::Skip);
            }
        }
        let mut variables: HashMap<String, CV> = HashMap::new();
        for v in &compiled.variables {
            let mut inner = self.context(&object, &request, &old)?;
            inner.add_variable_from_value("variables", CV::from(variables.clone()));
            let value = self
                .eval(&inner, &v.expression)
                .map_err(|e| format!("variable `{}`: {e}", v.name))?;
            variables.insert(v.name.clone(), value);
        }
        let mut ctx = self.context(&object, &request, &old)?;
        ctx.add_variable_from_value("variables", CV::from(variables));
        let mut findings = Vec::new();
        for v in &compiled.validations {
            if self.eval_bool(&ctx, &v.expression)? {
                continue;
            }
            let message = match self.eval(&ctx, &v.message_expression)? {
                CV::String(s) => s.to_string(),
                other => return Err(format!("the message gives {other:?}, not a string")),
            };
            findings.push(Finding {
                rule_id: rule.id.clone(),
                action: match v.action {
                    IrAction::Deny => Action::Deny,
                    IrAction::Warn => Action::Warn,
                },
                message,
                path: Vec::new(),
                line: 0,
                col: 0,
                fixes: Vec::new(),
                generated: None,
            });
        }
        Ok(Got::Findings(findings))
    }
}

/// The CEL standard library with the strings extension (`lowerAscii`, …), as in Kubernetes.
pub fn kubernetes_env() -> Env {
    let mut env = Env::stdlib();
    // Only fails for a name registered twice.
    let _ = env.add_extension(cel::extensions::strings);
    env
}

/// Registers Kubernetes' `quantity(s)` and `q.compareTo(other)`.
pub fn add_quantity_functions(ctx: &mut Context) -> Result<(), String> {
    ctx.add_function("quantity", quantity)
        .and_then(|_| ctx.add_function("compareTo", compare_to))
        .map_err(|e| format!("cannot register the quantity functions: {e}"))
}

/// JSON → CEL as the API server binds `object`: null fields are absent (typed decoding drops
/// them) and, with `escape` (ValidatingAdmissionPolicy), properties named like CEL keywords
/// are escaped as `__word__`.
pub fn to_cel(v: &serde_json::Value, escape: bool) -> CV {
    use serde_json::Value as J;
    match v {
        J::Null => CV::Null,
        J::Bool(b) => CV::Bool(*b),
        J::Number(n) => match n.as_i64() {
            Some(i) => CV::Int(i),
            None => CV::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => CV::String(Arc::new(s.clone())),
        J::Array(a) => CV::List(Arc::new(a.iter().map(|x| to_cel(x, escape)).collect())),
        J::Object(o) => {
            let mut m = HashMap::new();
            for (k, x) in o {
                if x.is_null() {
                    continue;
                }
                // Only reserved words: the other escapes (`__dash__`, …) apply to schema
                // properties, and the keys of maps (labels, annotations) are not escaped.
                let key = if escape && rcel::RESERVED.contains(&k.as_str()) {
                    format!("__{k}__")
                } else {
                    k.clone()
                };
                m.insert(key, to_cel(x, escape));
            }
            CV::from(m)
        }
    }
}

/// The admission request that creates `object`, as CEL's `request`: its operation, kind,
/// name and namespace (`namespace`, when given, else the object's own; `''` for none).
pub fn request(object: &serde_json::Value, namespace: Option<&str>) -> CV {
    let api = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    let text = |s: &str| CV::String(Arc::new(s.to_string()));
    let meta = |f: &str| object["metadata"][f].as_str().unwrap_or("").to_string();
    let namespace = namespace.map_or_else(|| meta("namespace"), str::to_string);
    let kind = HashMap::from([
        ("group".to_string(), text(group)),
        ("version".to_string(), text(version)),
        (
            "kind".to_string(),
            text(object["kind"].as_str().unwrap_or("")),
        ),
    ]);
    CV::from(HashMap::from([
        ("operation".to_string(), text("CREATE")),
        ("kind".to_string(), CV::from(kind)),
        ("name".to_string(), text(&meta("name"))),
        ("namespace".to_string(), text(&namespace)),
    ]))
}

/// The admission request of `context` for `object`, as CEL's `request`: the fields rules
/// read (left out when empty, as in the JSON the API server sends) and `kind`.
pub fn admission_request(object: &serde_json::Value, context: &AdmissionContext) -> CV {
    let mut r = context.request_json(object);
    let api = object["apiVersion"].as_str().unwrap_or("");
    let (group, version) = api.rsplit_once('/').unwrap_or(("", api));
    r["kind"] = serde_json::json!({"group": group, "version": version, "kind": object["kind"]});
    to_cel(&r, false)
}

/// The key under which a quantity value keeps its amount.
const NANOS: &str = "__quantity_nanos";

/// Kubernetes' `quantity(s)`: a value holding the amount in nano-units.
fn quantity(ftx: &FunctionContext, s: Arc<String>) -> Result<CV, cel::ExecutionError> {
    let nanos = parse_quantity(&s).ok_or_else(|| ftx.error(format!("invalid quantity `{s}`")))?;
    let mut m = HashMap::new();
    m.insert(NANOS.to_string(), CV::String(Arc::new(nanos.to_string())));
    Ok(CV::from(m))
}

/// Kubernetes' `a.compareTo(b)` on quantities: -1, 0 or 1.
fn compare_to(ftx: &FunctionContext, This(a): This<CV>, b: CV) -> Result<i64, cel::ExecutionError> {
    match (nanos_of(&a), nanos_of(&b)) {
        (Some(x), Some(y)) => Ok(x.cmp(&y) as i64),
        _ => Err(ftx.error("compareTo expects quantities")),
    }
}

/// The amount of a value made by `quantity()`, in nano-units.
pub fn nanos_of(v: &CV) -> Option<i128> {
    match v {
        CV::Map(m) => match m.get(&cel::objects::Key::from(NANOS)) {
            Some(CV::String(s)) => s.parse().ok(),
            _ => None,
        },
        _ => None,
    }
}

/// A Kubernetes quantity in nano-units (exact for every quantity that fits).
pub fn parse_quantity(s: &str) -> Option<i128> {
    let s = s.trim();
    let (sign, s) = match s.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(end);
    if num.is_empty() || num == "." {
        return None;
    }
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits: i128 = format!("{int}{frac}").parse().ok()?;
    let scale = frac.len() as i32;
    // value = digits * 10^(exp10 - scale) * 2^exp2, in nano-units: exponent + 9.
    let (exp10, exp2): (i32, u32) = match suffix {
        "" => (0, 0),
        "n" => (-9, 0),
        "u" => (-6, 0),
        "m" => (-3, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "P" => (15, 0),
        "E" => (18, 0),
        "Ki" => (0, 10),
        "Mi" => (0, 20),
        "Gi" => (0, 30),
        "Ti" => (0, 40),
        "Pi" => (0, 50),
        "Ei" => (0, 60),
        e if e.starts_with(['e', 'E']) => (e[1..].parse().ok()?, 0),
        _ => return None,
    };
    let mut v = digits.checked_mul(1i128.checked_shl(exp2)?)?;
    let e = exp10 - scale + 9;
    if e >= 0 {
        v = v.checked_mul(10i128.checked_pow(e as u32)?)?;
    } else {
        // Below a nano-unit the API server rounds up; no comparison gets there.
        v /= 10i128.checked_pow((-e) as u32)?;
    }
    Some(sign * v)
}

#[cfg(test)]
mod tests {
    use super::parse_quantity;

    #[test]
    fn quantities_parse_like_kubernetes() {
        assert_eq!(parse_quantity("1Gi"), parse_quantity("1024Mi"));
        assert!(parse_quantity("500m") < parse_quantity("1"));
        assert_eq!(parse_quantity("1.5Gi"), Some(1_610_612_736 * 1_000_000_000));
        assert_eq!(parse_quantity("1e3"), parse_quantity("1k"));
        assert_eq!(parse_quantity("abc"), None);
    }
}
