//! Compiles hand-built IR programs and runs them with the runtime's evaluator.

use std::sync::OnceLock;

use rampart_runtime::eval::{
    Action as RAction, Evaluation, Finding, Limits, ObjectSet, Params, Policies, RuleError,
};
use rampart_runtime::manifest::{format_path, Node, Value as NV};
use serde_json::json;

use super::compile;
use crate::ir::*;

fn engine() -> &'static rampart_runtime::eval::Engine {
    static ENGINE: OnceLock<rampart_runtime::eval::Engine> = OnceLock::new();
    ENGINE.get_or_init(|| rampart_runtime::eval::Engine::new().unwrap())
}

/// A manifest node from JSON; lines count nodes in pre-order so positions are checkable.
fn node(v: &serde_json::Value) -> Node {
    fn go(v: &serde_json::Value, line: &mut u32, depth: u32) -> Node {
        *line += 1;
        let (l, c) = (*line, depth + 1);
        let value = match v {
            serde_json::Value::Null => NV::Null,
            serde_json::Value::Bool(b) => NV::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => NV::Int(i),
                None => NV::Float(n.as_f64().unwrap()),
            },
            serde_json::Value::String(s) => NV::String(s.clone()),
            serde_json::Value::Array(a) => {
                NV::List(a.iter().map(|x| go(x, line, depth + 1)).collect())
            }
            serde_json::Value::Object(o) => NV::Map(
                o.iter()
                    .map(|(k, x)| (k.clone(), go(x, line, depth + 1)))
                    .collect(),
            ),
        };
        Node::new(value, l, c)
    }
    go(v, &mut 0, 0)
}

fn x(ty: Type, kind: ExprKind) -> Expr {
    Expr { ty, kind }
}
fn int(i: i64) -> Expr {
    Expr::lit(Value::Int(i), Type::Int)
}
fn num(f: f64) -> Expr {
    Expr::lit(Value::Number(f), Type::Number)
}
fn s(v: &str) -> Expr {
    Expr::lit(Value::String(v.into()), Type::String)
}
fn b(v: bool) -> Expr {
    Expr::lit(Value::Bool(v), Type::Bool)
}
fn null() -> Expr {
    Expr::lit(Value::Null, Type::Null)
}
fn subject() -> Expr {
    x(Type::Object("Pod".into()), ExprKind::Subject)
}
fn field(base: Expr, name: &str, ty: Type) -> Expr {
    x(ty.optional(), ExprKind::Field(Box::new(base), name.into()))
}
/// `object.spec.a.b` with every step typed `any` except the last.
fn path(names: &[&str], ty: Type) -> Expr {
    let mut full = vec!["spec"];
    full.extend_from_slice(names);
    opath(&full, ty)
}

/// `object.a.b` with every step typed `any` except the last.
fn opath(names: &[&str], ty: Type) -> Expr {
    let mut e = subject();
    for (i, n) in names.iter().enumerate() {
        let t = if i + 1 == names.len() {
            ty.clone()
        } else {
            Type::Any
        };
        e = field(e, n, t);
    }
    e
}
fn local(l: Local, ty: Type) -> Expr {
    x(ty, ExprKind::Local(l))
}
fn bin(op: BinOp, a: Expr, c: Expr, ty: Type) -> Expr {
    x(ty, ExprKind::Binary(op, Box::new(a), Box::new(c)))
}
fn call(f: Builtin, args: Vec<Expr>, ty: Type) -> Expr {
    x(ty, ExprKind::Call(f, args))
}
fn dflt(a: Expr, d: Expr) -> Expr {
    let ty = d.ty.clone();
    x(ty, ExprKind::Default(Box::new(a), Box::new(d)))
}
fn list_of(items: Vec<Expr>, elem: Type) -> Expr {
    x(Type::List(Box::new(elem)), ExprKind::List(items))
}

fn gvk(group: &str, version: &str, kind: &str) -> Gvk {
    Gvk {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
    }
}

fn pod_matcher() -> Matcher {
    let t = |g: Gvk, p: &[&str]| Target {
        gvk: g,
        subject_path: p.iter().map(|s| s.to_string()).collect(),
        namespaced: true,
    };
    Matcher {
        targets: vec![
            t(gvk("", "v1", "Pod"), &[]),
            t(gvk("apps", "v1", "Deployment"), &["spec", "template"]),
            t(
                gvk("batch", "v1", "CronJob"),
                &["spec", "jobTemplate", "spec", "template"],
            ),
        ],
        ..Matcher::default()
    }
}

fn rule(id: &str, lets: Vec<(Local, Expr)>, outcomes: Vec<Outcome>, locals: u32) -> Rule {
    Rule {
        id: id.into(),
        module: "t".into(),
        name: id.rsplit('.').next().unwrap().into(),
        meta: RuleMeta {
            title: format!("title of {id}"),
            description: String::new(),
            rationale: String::new(),
            category: "Test".into(),
            remediation: String::new(),
            severity: Severity::High,
            controls: vec!["CIS 1".into()],
        },
        matcher: pod_matcher(),
        params: vec![],
        lets,
        outcomes,
        locals,
        reads_kinds: vec![],
        local_names: (0..locals).map(|i| format!("l{i}")).collect(),
        origin: Default::default(),
    }
}

fn outcome(
    action: Action,
    binders: Vec<Binder>,
    when: Option<Expr>,
    at: PathExpr,
    message: Vec<MessagePart>,
) -> Outcome {
    Outcome {
        action,
        binders,
        when,
        at,
        message,
        fixes: Vec::new(),
        generate: None,
    }
}

fn at_subject() -> PathExpr {
    PathExpr {
        root: PathRoot::Subject,
        steps: vec![],
    }
}

fn program(rules: Vec<Rule>) -> Program {
    Program {
        rules,
        source_digest: "0123456789abcdef".into(),
    }
}

fn load(p: &Program) -> Policies {
    let wasm = compile(p).expect("the program compiles");
    Policies::load(engine(), &wasm, None).expect("the module loads")
}

fn run(p: &Program, object: &serde_json::Value) -> Result<Vec<Finding>, RuleError> {
    load(p)
        .evaluate(
            &node(object),
            &ObjectSet::default(),
            &Params::default(),
            &Limits::default(),
        )
        .into_result()
}

fn pod(spec: serde_json::Value) -> serde_json::Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}, "spec": spec})
}

/// Evaluates `e` on a Pod with `spec` and returns its interpolation.
fn show_on(e: Expr, spec: serde_json::Value) -> Result<String, RuleError> {
    let r = rule(
        "t.show",
        vec![],
        vec![outcome(
            Action::Warn,
            vec![],
            None,
            at_subject(),
            vec![MessagePart::Text("=".into()), MessagePart::Expr(e)],
        )],
        8,
    );
    let findings = run(&program(vec![r]), &pod(spec))?;
    assert_eq!(findings.len(), 1);
    Ok(findings[0].message.trim_start_matches('=').to_string())
}

fn show(e: Expr) -> String {
    show_on(e, json!({})).unwrap()
}

fn err(e: Expr, spec: serde_json::Value) -> String {
    show_on(e, spec).unwrap_err().to_string()
}

#[test]
fn wasm_arithmetic_and_overflow() {
    assert_eq!(show(bin(BinOp::Add, int(1), int(2), Type::Int)), "3");
    assert_eq!(show(bin(BinOp::Sub, int(5), int(7), Type::Int)), "-2");
    assert_eq!(show(bin(BinOp::Add, num(2.5), int(1), Type::Number)), "3.5");
    assert_eq!(
        show(bin(BinOp::Sub, num(0.25), num(1.0), Type::Number)),
        "-0.75"
    );
    assert_eq!(
        show(bin(BinOp::Add, s("ab"), s("cd"), Type::String)),
        "abcd"
    );
    let l = |v: Vec<i64>| list_of(v.into_iter().map(int).collect(), Type::Int);
    let lt = Type::List(Box::new(Type::Int));
    assert_eq!(
        show(bin(BinOp::Add, l(vec![1]), l(vec![2, 3]), lt)),
        "[1,2,3]"
    );
    assert_eq!(
        show(x(Type::Int, ExprKind::Unary(UnOp::Neg, Box::new(int(4))))),
        "-4"
    );
    assert_eq!(
        show(x(
            Type::Number,
            ExprKind::Unary(UnOp::Neg, Box::new(num(1.5)))
        )),
        "-1.5"
    );
    let overflow = bin(BinOp::Add, int(i64::MAX), int(1), Type::Int);
    assert_eq!(err(overflow, json!({})), "rule `t.show`: integer overflow");
    let overflow = bin(BinOp::Sub, int(i64::MIN), int(1), Type::Int);
    assert_eq!(err(overflow, json!({})), "rule `t.show`: integer overflow");
    let neg = x(
        Type::Int,
        ExprKind::Unary(UnOp::Neg, Box::new(int(i64::MIN))),
    );
    assert_eq!(err(neg, json!({})), "rule `t.show`: integer overflow");
    assert_eq!(show(int(i64::MIN)), "-9223372036854775808");
}

#[test]
fn wasm_comparisons_and_logic() {
    let cmp = |op, a, c| show(bin(op, a, c, Type::Bool));
    assert_eq!(cmp(BinOp::Lt, int(1), int(2)), "true");
    assert_eq!(cmp(BinOp::Le, int(2), int(2)), "true");
    assert_eq!(cmp(BinOp::Gt, num(2.5), int(2)), "true");
    assert_eq!(cmp(BinOp::Ge, int(1), num(1.5)), "false");
    assert_eq!(cmp(BinOp::Lt, s("ab"), s("b")), "true");
    assert_eq!(cmp(BinOp::Gt, s("ab"), s("a")), "true");
    assert_eq!(cmp(BinOp::Eq, int(2), num(2.0)), "true");
    assert_eq!(cmp(BinOp::Ne, s("a"), s("a")), "false");
    let m = |v: i64| {
        x(
            Type::Map(Box::new(Type::Any)),
            ExprKind::Map(vec![
                ("b".into(), int(v)),
                ("a".into(), list_of(vec![b(true)], Type::Bool)),
            ]),
        )
    };
    assert_eq!(cmp(BinOp::Eq, m(1), m(1)), "true");
    assert_eq!(cmp(BinOp::Eq, m(1), m(2)), "false");
    assert_eq!(
        cmp(BinOp::Eq, null(), path(&["missing"], Type::Int)),
        "true"
    );
    assert_eq!(
        cmp(BinOp::Eq, int(0), path(&["missing"], Type::Int)),
        "false"
    );
    // Short-circuit: the right operand (a type error) is never evaluated.
    let bad = path(&["s"], Type::Any);
    let spec = json!({"s": "not a bool"});
    assert_eq!(
        show_on(
            bin(BinOp::And, b(false), bad.clone(), Type::Bool),
            spec.clone()
        )
        .unwrap(),
        "false"
    );
    assert_eq!(
        show_on(
            bin(BinOp::Or, b(true), bad.clone(), Type::Bool),
            spec.clone()
        )
        .unwrap(),
        "true"
    );
    assert_eq!(
        err(bin(BinOp::And, b(true), bad, Type::Bool), spec),
        "rule `t.show`: `spec.s`: expected a boolean, found the string \"not a bool\""
    );
    assert_eq!(
        show(x(
            Type::Bool,
            ExprKind::Unary(UnOp::Not, Box::new(b(false)))
        )),
        "true"
    );
    assert_eq!(
        err(bin(BinOp::Lt, int(1), s("a"), Type::Bool), json!({})),
        "rule `t.show`: expected a number, found the string \"a\""
    );
}

#[test]
fn wasm_absent_default_and_wrong_types() {
    let spec = json!({"a": {"b": 3}, "n": null, "l": [10, null, 30], "m": {"k": "v"}, "str": "x"});
    let on = |e| show_on(e, spec.clone()).unwrap();
    assert_eq!(on(path(&["a", "b"], Type::Int)), "3");
    assert_eq!(on(path(&["a", "zz", "q"], Type::Int)), "<none>");
    assert_eq!(on(dflt(path(&["a", "zz"], Type::Int), int(7))), "7");
    assert_eq!(on(dflt(path(&["a", "b"], Type::Int), int(7))), "3");
    assert_eq!(on(dflt(path(&["n"], Type::Int), int(7))), "7");
    let absent = |e: Expr| x(Type::Bool, ExprKind::IsAbsent(Box::new(e)));
    assert_eq!(on(absent(path(&["n"], Type::Int))), "true");
    assert_eq!(on(absent(path(&["a"], Type::Any))), "false");
    let idx = |base: Expr, i: Expr| {
        x(
            Type::Any.optional(),
            ExprKind::Index(Box::new(base), Box::new(i)),
        )
    };
    assert_eq!(on(idx(path(&["l"], Type::Any), int(2))), "30");
    assert_eq!(on(idx(path(&["l"], Type::Any), int(1))), "<none>");
    assert_eq!(on(idx(path(&["l"], Type::Any), int(3))), "<none>");
    assert_eq!(on(idx(path(&["l"], Type::Any), int(-1))), "<none>");
    assert_eq!(on(idx(path(&["m"], Type::Any), s("k"))), "v");
    assert_eq!(on(idx(path(&["m"], Type::Any), s("q"))), "<none>");
    assert_eq!(on(idx(path(&["nope"], Type::Any), int(0))), "<none>");
    // Navigating into a string, or a string where the schema says int: evaluation errors.
    // The error names the offending field and what it holds.
    let wrong = |expected: &str| {
        format!("rule `t.show`: `spec.str`: expected {expected}, found the string \"x\"")
    };
    assert_eq!(
        err(path(&["str", "x"], Type::Any), spec.clone()),
        wrong("a map")
    );
    assert_eq!(
        err(path(&["str"], Type::Int), spec.clone()),
        wrong("an integer")
    );
    assert_eq!(
        err(idx(path(&["str"], Type::Any), int(0)), spec.clone()),
        wrong("a list or a map")
    );
    // A value the rule built itself has no field.
    assert_eq!(
        err(idx(path(&["l"], Type::Any), s("k")), spec),
        "rule `t.show`: expected an integer, found the string \"k\""
    );
}

#[test]
fn wasm_membership_and_quantifiers() {
    let spec = json!({"l": ["a", "b"], "m": {"x": 1, "y": 5}, "e": []});
    let on = |e| show_on(e, spec.clone()).unwrap();
    let is_in = |v: Expr, c: Expr| x(Type::Bool, ExprKind::In(Box::new(v), Box::new(c)));
    assert_eq!(on(is_in(s("b"), path(&["l"], Type::Any))), "true");
    assert_eq!(on(is_in(s("c"), path(&["l"], Type::Any))), "false");
    assert_eq!(on(is_in(s("x"), path(&["m"], Type::Any))), "true");
    assert_eq!(on(is_in(s("z"), path(&["m"], Type::Any))), "false");
    assert_eq!(on(is_in(s("x"), path(&["absent"], Type::Any))), "false");
    let q = |q, coll: Expr, body: Expr, key: Option<Local>| {
        x(
            Type::Bool,
            ExprKind::Quantified {
                q,
                item: 0,
                key,
                collection: Box::new(coll),
                body: Box::new(body),
            },
        )
    };
    let eq_b = bin(BinOp::Eq, local(0, Type::String), s("b"), Type::Bool);
    assert_eq!(
        on(q(
            Quantifier::Any,
            path(&["l"], Type::Any),
            eq_b.clone(),
            None
        )),
        "true"
    );
    assert_eq!(
        on(q(
            Quantifier::All,
            path(&["l"], Type::Any),
            eq_b.clone(),
            None
        )),
        "false"
    );
    assert_eq!(
        on(q(
            Quantifier::Any,
            path(&["absent"], Type::Any),
            eq_b.clone(),
            None
        )),
        "false"
    );
    assert_eq!(
        on(q(
            Quantifier::All,
            path(&["absent"], Type::Any),
            eq_b.clone(),
            None
        )),
        "true"
    );
    assert_eq!(
        on(q(Quantifier::All, path(&["e"], Type::Any), eq_b, None)),
        "true"
    );
    // Map iteration binds the value and the key, keys in sorted order.
    let big = bin(BinOp::Gt, local(0, Type::Int), int(3), Type::Bool);
    let key_y = bin(BinOp::Eq, local(1, Type::String), s("y"), Type::Bool);
    let both = bin(BinOp::And, big.clone(), key_y, Type::Bool);
    assert_eq!(
        on(q(Quantifier::Any, path(&["m"], Type::Any), both, Some(1))),
        "true"
    );
    assert_eq!(
        on(q(Quantifier::All, path(&["m"], Type::Any), big, Some(1))),
        "false"
    );
    // List iteration binds the index.
    let idx1 = bin(BinOp::Eq, local(1, Type::Int), int(1), Type::Bool);
    let is_b = bin(BinOp::Eq, local(0, Type::String), s("b"), Type::Bool);
    let both = bin(BinOp::And, idx1, is_b, Type::Bool);
    assert_eq!(
        on(q(Quantifier::Any, path(&["l"], Type::Any), both, Some(1))),
        "true"
    );
    // Iterating a string is a type error.
    assert_eq!(
        err(q(Quantifier::Any, s("abc"), b(true), None), json!({})),
        "rule `t.show`: expected a list or a map, found the string \"abc\""
    );
}

#[test]
fn wasm_if_let_literals_and_interpolation() {
    let cond = x(
        Type::String,
        ExprKind::If(Box::new(b(false)), Box::new(s("yes")), Box::new(s("no"))),
    );
    assert_eq!(show(cond), "no");
    let body = bin(
        BinOp::Add,
        local(0, Type::Int),
        local(0, Type::Int),
        Type::Int,
    );
    assert_eq!(
        show(x(
            Type::Int,
            ExprKind::Let(0, Box::new(int(21)), Box::new(body))
        )),
        "42"
    );
    let map = x(
        Type::Map(Box::new(Type::Any)),
        ExprKind::Map(vec![
            ("b".into(), int(1)),
            (
                "a".into(),
                list_of(vec![b(true), null(), num(0.5), s("q\"\n")], Type::Any),
            ),
        ]),
    );
    assert_eq!(show(map), r#"{"a":[true,null,0.5,"q\"\n"],"b":1}"#);
    // Maps from the object print with sorted keys; absent prints <none>.
    let spec = json!({"m": {"z": 1, "a": {"y": false, "b": [1, "x"]}}});
    assert_eq!(
        show_on(path(&["m"], Type::Any), spec).unwrap(),
        r#"{"a":{"b":[1,"x"],"y":false},"z":1}"#
    );
    let inter = x(
        Type::String,
        ExprKind::Interpolate(vec![
            MessagePart::Text("n=".into()),
            MessagePart::Expr(int(-12)),
            MessagePart::Text(" b=".into()),
            MessagePart::Expr(b(true)),
            MessagePart::Text(" a=".into()),
            MessagePart::Expr(path(&["nope"], Type::Any)),
            MessagePart::Text(" f=".into()),
            MessagePart::Expr(num(2.0)),
        ]),
    );
    assert_eq!(show(inter), "n=-12 b=true a=<none> f=2.0");
}

#[test]
fn wasm_string_builtins() {
    let t = |f, a: &str, c: &str| show(call(f, vec![s(a), s(c)], Type::Bool));
    assert_eq!(t(Builtin::StartsWith, "nginx:1", "nginx"), "true");
    assert_eq!(t(Builtin::StartsWith, "ng", "nginx"), "false");
    assert_eq!(t(Builtin::EndsWith, "nginx:latest", ":latest"), "true");
    assert_eq!(t(Builtin::EndsWith, "nginx", "x:"), "false");
    assert_eq!(t(Builtin::Contains, "a/b/c", "b/"), "true");
    assert_eq!(t(Builtin::Contains, "abc", "abd"), "false");
    assert_eq!(t(Builtin::Contains, "abc", ""), "true");
    assert_eq!(t(Builtin::Glob, "kube-system", "kube-*"), "true");
    assert_eq!(t(Builtin::Glob, "abc", "a?c"), "true");
    assert_eq!(t(Builtin::Glob, "abcbd", "a*b?"), "true");
    assert_eq!(t(Builtin::Glob, "abc", "a*d"), "false");
    assert_eq!(t(Builtin::Matches, "nginx:1.25", "^nginx:[0-9.]+$"), "true");
    assert_eq!(
        t(Builtin::Matches, "nginx:latest", "^nginx:[0-9.]+$"),
        "false"
    );
    assert_eq!(
        t(
            Builtin::Matches,
            "my-registry.io/app",
            "registry\\.(io|com)"
        ),
        "true"
    );
    assert_eq!(t(Builtin::Matches, "", "a*"), "true");
    assert_eq!(t(Builtin::Matches, "xyz", "(ab|cd)+"), "false");
    assert_eq!(
        show(call(Builtin::Lower, vec![s("AbC-1")], Type::String)),
        "abc-1"
    );
    assert_eq!(
        show(call(Builtin::Upper, vec![s("AbC-1")], Type::String)),
        "ABC-1"
    );
    assert_eq!(show(call(Builtin::Len, vec![s("héllo")], Type::Int)), "6");
    assert_eq!(
        show(call(
            Builtin::Len,
            vec![path(&["nope"], Type::Any)],
            Type::Int
        )),
        "0"
    );
    let keys = call(
        Builtin::Keys,
        vec![path(&["m"], Type::Any)],
        Type::List(Box::new(Type::String)),
    );
    assert_eq!(
        show_on(keys, json!({"m": {"b": 1, "a": 2}})).unwrap(),
        r#"["a","b"]"#
    );
    let bad = program(vec![rule(
        "t.bad",
        vec![],
        vec![outcome(
            Action::Deny,
            vec![],
            Some(call(Builtin::Matches, vec![s("a"), s("(")], Type::Bool)),
            at_subject(),
            vec![],
        )],
        0,
    )]);
    let errors = compile(&bad).unwrap_err();
    assert!(
        errors[0]
            .to_string()
            .starts_with("rule `t.bad`: invalid regular expression `(`"),
        "{}",
        errors[0]
    );
}

fn qty(v: &str) -> Expr {
    call(Builtin::Quantity, vec![s(v)], Type::Quantity)
}

#[test]
fn wasm_quantities() {
    let c = |op, a: &str, b: &str| show(bin(op, qty(a), qty(b), Type::Bool));
    assert_eq!(c(BinOp::Lt, "500m", "1"), "true");
    assert_eq!(c(BinOp::Eq, "1Gi", "1024Mi"), "true");
    assert_eq!(c(BinOp::Eq, "1G", "1000M"), "true");
    assert_eq!(c(BinOp::Gt, "1Gi", "1G"), "true");
    assert_eq!(c(BinOp::Gt, "2.5", "2"), "true");
    assert_eq!(c(BinOp::Eq, "0.5", "500m"), "true");
    assert_eq!(c(BinOp::Eq, "1e3", "1k"), "true");
    assert_eq!(c(BinOp::Lt, "-1", "1m"), "true");
    assert_eq!(c(BinOp::Lt, "7Ei", "1n"), "false");
    assert_eq!(show(qty("500m")), "5e-1");
    assert_eq!(show(qty("1.5Gi")), "1610612736");
    assert_eq!(show(list_of(vec![qty("2k")], Type::Quantity)), r#"["2e3"]"#);
    assert_eq!(c(BinOp::Ne, "1.5Gi", "1536Mi"), "false");
    assert_eq!(c(BinOp::Lt, "999999999999999999", "1E"), "true");
    // Quantity-typed fields hold strings or numbers.
    let spec = json!({"mem": "256Mi", "cpu": 2, "f": 0.25, "bad": "12 apples"});
    let field_q = |n: &str| path(&[n], Type::Quantity);
    assert_eq!(
        show_on(
            bin(BinOp::Le, field_q("mem"), qty("1Gi"), Type::Bool),
            spec.clone()
        )
        .unwrap(),
        "true"
    );
    assert_eq!(
        show_on(
            bin(BinOp::Eq, field_q("cpu"), qty("2000m"), Type::Bool),
            spec.clone()
        )
        .unwrap(),
        "true"
    );
    assert_eq!(
        show_on(
            bin(BinOp::Eq, field_q("f"), qty("250m"), Type::Bool),
            spec.clone()
        )
        .unwrap(),
        "true"
    );
    for bad in ["12 apples", "", "1.2.3", "Gi", "1Qi", "1e"] {
        let e = bin(BinOp::Lt, qty(bad), qty("1"), Type::Bool);
        assert_eq!(
            err(e, json!({})),
            format!("rule `t.show`: invalid quantity: the string {bad:?}"),
        );
    }
    assert_eq!(
        err(bin(BinOp::Lt, field_q("bad"), qty("1"), Type::Bool), spec),
        "rule `t.show`: `spec.bad`: invalid quantity: the string \"12 apples\""
    );
}

#[test]
fn wasm_images() {
    let img = |r: &str| {
        let i = call(Builtin::Image, vec![s(r)], Type::Image);
        show(x(
            Type::String,
            ExprKind::Interpolate(
                [
                    ImageField::Registry,
                    ImageField::Repository,
                    ImageField::Tag,
                    ImageField::Digest,
                ]
                .into_iter()
                .flat_map(|f| {
                    [
                        MessagePart::Expr(x(
                            Type::String,
                            ExprKind::ImageField(Box::new(i.clone()), f),
                        )),
                        MessagePart::Text("|".into()),
                    ]
                })
                .collect(),
            ),
        ))
    };
    assert_eq!(img("nginx"), "docker.io|library/nginx|||");
    assert_eq!(img("nginx:1.25"), "docker.io|library/nginx|1.25||");
    assert_eq!(
        img("ghcr.io/org/app@sha256:abc123"),
        "ghcr.io|org/app||sha256:abc123|"
    );
    assert_eq!(img("localhost:5000/a/b:t"), "localhost:5000|a/b|t||");
    assert_eq!(img("docker.io/library/x"), "docker.io|library/x|||");
    assert_eq!(img("docker.io/x"), "docker.io|library/x|||");
    assert_eq!(
        img("org/app:v1@sha256:ff"),
        "docker.io|org/app|v1|sha256:ff|"
    );
    assert_eq!(img("localhost/app"), "localhost|app|||");
}

/// `deny for c in all_containers(object) when c.securityContext.privileged ?? false
///  at c.securityContext.privileged message "container `{c.name}` is privileged"`.
fn privileged_rule() -> Rule {
    let c = || local(0, Type::Object("Container".into()));
    let priv_ = dflt(
        field(
            field(c(), "securityContext", Type::Any),
            "privileged",
            Type::Bool,
        ),
        b(false),
    );
    let containers = call(
        Builtin::AllContainers,
        vec![subject()],
        Type::List(Box::new(Type::Object("Container".into()))),
    );
    rule(
        "t.privileged",
        vec![],
        vec![outcome(
            Action::Deny,
            vec![Binder {
                item: 0,
                key: None,
                collection: containers,
            }],
            Some(priv_),
            PathExpr {
                root: PathRoot::Binder(0),
                steps: vec![
                    PathStep::Field("securityContext".into()),
                    PathStep::Field("privileged".into()),
                ],
            },
            vec![
                MessagePart::Text("container `".into()),
                MessagePart::Expr(field(c(), "name", Type::String)),
                MessagePart::Text("` is privileged".into()),
            ],
        )],
        1,
    )
}

fn pod_spec() -> serde_json::Value {
    json!({
        "ephemeralContainers": [{"name": "debug", "securityContext": {"privileged": true}}],
        "containers": [
            {"name": "app"},
            {"name": "side", "securityContext": {"privileged": true}}
        ],
        "initContainers": [{"name": "init", "securityContext": {"privileged": true}}]
    })
}

#[test]
fn wasm_all_containers_order_and_paths() {
    let p = program(vec![privileged_rule()]);
    let object = node(&pod(pod_spec()));
    let findings = load(&p)
        .evaluate(
            &object,
            &ObjectSet::default(),
            &Params::default(),
            &Limits::default(),
        )
        .into_result()
        .unwrap();
    let got: Vec<(String, String)> = findings
        .iter()
        .map(|f| (f.message.clone(), format_path(&f.path)))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "container `init` is privileged".to_string(),
                "spec.initContainers[0].securityContext.privileged".to_string()
            ),
            (
                "container `side` is privileged".to_string(),
                "spec.containers[1].securityContext.privileged".to_string()
            ),
            (
                "container `debug` is privileged".to_string(),
                "spec.ephemeralContainers[0].securityContext.privileged".to_string()
            ),
        ]
    );
    // The line is the one of the `privileged` node itself.
    let (n, matched) = object.locate(&findings[1].path);
    assert_eq!(matched, findings[1].path.len());
    assert_eq!((findings[1].line, findings[1].col), (n.line, n.col));
    assert!(findings
        .iter()
        .all(|f| f.action == RAction::Deny && f.rule_id == "t.privileged"));
}

#[test]
fn wasm_absent_at_path_points_at_nearest_ancestor() {
    // `at c.securityContext.runAsNonRoot` for a container without securityContext.
    let c = || local(0, Type::Object("Container".into()));
    let containers = call(
        Builtin::AllContainers,
        vec![subject()],
        Type::List(Box::new(Type::Object("Container".into()))),
    );
    let r = rule(
        "t.nonroot",
        vec![],
        vec![outcome(
            Action::Warn,
            vec![Binder {
                item: 0,
                key: None,
                collection: containers,
            }],
            Some(x(
                Type::Bool,
                ExprKind::Unary(
                    UnOp::Not,
                    Box::new(dflt(
                        field(
                            field(c(), "securityContext", Type::Any),
                            "runAsNonRoot",
                            Type::Bool,
                        ),
                        b(false),
                    )),
                ),
            )),
            PathExpr {
                root: PathRoot::Binder(0),
                steps: vec![
                    PathStep::Field("securityContext".into()),
                    PathStep::Field("runAsNonRoot".into()),
                ],
            },
            vec![MessagePart::Text("no".into())],
        )],
        1,
    );
    let object = node(&pod(
        json!({"containers": [{"name": "a", "securityContext": {"runAsNonRoot": true}}, {"name": "b"}]}),
    ));
    let findings = load(&program(vec![r]))
        .evaluate(
            &object,
            &ObjectSet::default(),
            &Params::default(),
            &Limits::default(),
        )
        .into_result()
        .unwrap();
    assert_eq!(findings.len(), 1);
    assert_eq!(
        format_path(&findings[0].path),
        "spec.containers[1].securityContext.runAsNonRoot"
    );
    let container = object.locate(&findings[0].path[..3]).0;
    assert_eq!(
        (findings[0].line, findings[0].col),
        (container.line, container.col)
    );
    assert_eq!(findings[0].action, RAction::Warn);
}

#[test]
fn wasm_autogen_subject_paths() {
    let p = program(vec![privileged_rule()]);
    let template = json!({"metadata": {"labels": {"app": "x"}}, "spec": {"containers": [{"name": "c", "securityContext": {"privileged": true}}]}});
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": template}});
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": template}}}});
    let f = run(&p, &deploy).unwrap();
    assert_eq!(
        format_path(&f[0].path),
        "spec.template.spec.containers[0].securityContext.privileged"
    );
    let f = run(&p, &cron).unwrap();
    assert_eq!(
        format_path(&f[0].path),
        "spec.jobTemplate.spec.template.spec.containers[0].securityContext.privileged"
    );
    // No template: nothing. Another kind: nothing.
    let bare = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {}});
    assert_eq!(run(&p, &bare).unwrap(), vec![]);
    let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}});
    assert_eq!(run(&p, &svc).unwrap(), vec![]);
}

#[test]
fn wasm_params_default_and_override() {
    let mut r = rule(
        "t.replicas",
        vec![],
        vec![outcome(
            Action::Deny,
            vec![],
            Some(bin(
                BinOp::Gt,
                dflt(path(&["replicas"], Type::Int), int(1)),
                x(Type::Int, ExprKind::Param(0)),
                Type::Bool,
            )),
            PathExpr {
                root: PathRoot::Subject,
                steps: vec![
                    PathStep::Field("spec".into()),
                    PathStep::Field("replicas".into()),
                ],
            },
            vec![
                MessagePart::Text("max ".into()),
                MessagePart::Expr(x(Type::Int, ExprKind::Param(0))),
            ],
        )],
        0,
    );
    r.params = vec![Param {
        name: "max".into(),
        ty: Type::Int,
        default: Value::Int(3),
    }];
    let p = load(&program(vec![r]));
    assert_eq!(p.rules()[0].params[0].default, json!(3));
    let object = node(&pod(json!({"replicas": 5})));
    let none = ObjectSet::default();
    let f = p
        .evaluate(&object, &none, &Params::default(), &Limits::default())
        .into_result()
        .unwrap();
    assert_eq!(f[0].message, "max 3");
    assert_eq!(format_path(&f[0].path), "spec.replicas");
    let mut params = Params::default();
    params.set("t.replicas", "max", json!(10));
    assert_eq!(
        p.evaluate(&object, &none, &params, &Limits::default())
            .into_result()
            .unwrap(),
        vec![]
    );
    let mut bad = Params::default();
    bad.set("t.replicas", "max", json!("ten"));
    assert!(p
        .check_params(&bad)
        .unwrap_err()
        .contains("`t.replicas.max` expects"));
}

#[test]
fn wasm_objects_set_rule() {
    // deny when not any s in objects(Service): s.metadata.namespace == object.metadata.namespace
    let svc = gvk("", "v1", "Service");
    let objs = x(
        Type::List(Box::new(Type::Any)),
        ExprKind::Objects(svc.clone()),
    );
    let same_ns = bin(
        BinOp::Eq,
        field(
            field(local(0, Type::Any), "metadata", Type::Any),
            "namespace",
            Type::String,
        ),
        opath(&["metadata", "namespace"], Type::String),
        Type::Bool,
    );
    let any = x(
        Type::Bool,
        ExprKind::Quantified {
            q: Quantifier::Any,
            item: 0,
            key: None,
            collection: Box::new(objs.clone()),
            body: Box::new(same_ns),
        },
    );
    let mut r = rule(
        "t.needs_service",
        vec![],
        vec![outcome(
            Action::Deny,
            vec![],
            Some(x(Type::Bool, ExprKind::Unary(UnOp::Not, Box::new(any)))),
            at_subject(),
            vec![
                MessagePart::Text("services: ".into()),
                MessagePart::Expr(call(Builtin::Len, vec![objs], Type::Int)),
            ],
        )],
        1,
    );
    r.reads_kinds = vec![svc];
    let p = load(&program(vec![r]));
    assert_eq!(p.metadata().set_kinds.len(), 1);
    let service = node(
        &json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "web"}}),
    );
    let cm = node(
        &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "db"}}),
    );
    let in_web = node(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "namespace": "web"}}),
    );
    let in_db = node(
        &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b", "namespace": "db"}}),
    );
    let set = ObjectSet {
        objects: vec![&service, &cm, &in_web, &in_db],
    };
    let results = p.evaluate_all(
        &[&in_web, &in_db],
        &set,
        &Params::default(),
        &Limits::default(),
    );
    assert_eq!(results[0], Evaluation::default());
    let f = &results[1].findings;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].message, "services: 1");
    assert_eq!(f[0].path, vec![]);
}

#[test]
fn wasm_metadata_and_module_shape() {
    let wasm = compile(&program(vec![privileged_rule()])).unwrap();
    let meta = rampart_runtime::eval::read_metadata(&wasm).unwrap();
    assert_eq!(meta.compiler_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(meta.source_digest, "0123456789abcdef");
    let r = &meta.rules[0];
    assert_eq!(
        (r.id.as_str(), r.title.as_str(), r.severity.as_str()),
        ("t.privileged", "title of t.privileged", "high")
    );
    assert_eq!(r.controls, vec!["CIS 1".to_string()]);
    assert_eq!(
        r.matcher.targets[1].subject_path,
        vec!["spec".to_string(), "template".to_string()]
    );
    assert_eq!(r.outcomes[0].at.root, "binder");
    // Nothing imported; unused helpers (regex, quantities, images) are not emitted.
    let small = wasm.len();
    let with_all = compile(&program(vec![privileged_rule(), {
        let mut r = privileged_rule();
        r.id = "t.z".into();
        r.lets = vec![(0, bin(BinOp::Lt, qty("1"), qty("2"), Type::Bool))];
        r
    }]))
    .unwrap();
    assert!(
        with_all.len() > small + 500,
        "{} vs {small}",
        with_all.len()
    );
    assert!(!wasm.windows(6).any(|w| w == b"wasi_s"));
}

#[test]
fn wasm_evaluate_all_is_deterministic() {
    let p = load(&program(vec![privileged_rule()]));
    let objects: Vec<Node> = (0..64)
        .map(|i| {
            let mut spec = pod_spec();
            spec["containers"][0]["name"] = json!(format!("app{i}"));
            spec["containers"][0]["securityContext"] = json!({"privileged": i % 3 == 0});
            node(&pod(spec))
        })
        .collect();
    let refs: Vec<&Node> = objects.iter().collect();
    let with = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                p.evaluate_all(
                    &refs,
                    &ObjectSet::default(),
                    &Params::default(),
                    &Limits::default(),
                )
            })
    };
    let one = with(1);
    let two = with(2);
    assert_eq!(one, two);
    assert_eq!(one[0].findings.len(), 4);
    assert_eq!(one[1].findings.len(), 3);
    assert_eq!(one[0].findings[1].message, "container `app0` is privileged");
}

/// Prints sizes and timings (`cargo test -p rampart-compiler wasm_measure -- --ignored --nocapture`).
#[test]
#[ignore]
fn wasm_measure() {
    use std::time::Instant;
    let mut quota = privileged_rule();
    quota.id = "t.quota".into();
    quota.lets = vec![];
    let c = || local(0, Type::Object("Container".into()));
    let mem = field(
        field(field(c(), "resources", Type::Any), "limits", Type::Any),
        "memory",
        Type::Quantity,
    );
    quota.outcomes[0].when = Some(bin(BinOp::Gt, dflt(mem, qty("0")), qty("1Gi"), Type::Bool));
    let mut image = privileged_rule();
    image.id = "t.tag".into();
    let img = call(
        Builtin::Image,
        vec![field(c(), "image", Type::String)],
        Type::Image,
    );
    image.outcomes[0].when = Some(call(
        Builtin::Matches,
        vec![
            x(
                Type::String,
                ExprKind::ImageField(Box::new(img), ImageField::Tag),
            ),
            s("^(latest|)$"),
        ],
        Type::Bool,
    ));
    let p = program(vec![privileged_rule(), quota, image]);
    let wasm = compile(&p).unwrap();
    eprintln!("module size: {} bytes", wasm.len());
    let dir = std::env::temp_dir().join(format!("rampart-measure-{}", std::process::id()));
    let t = Instant::now();
    let cold = Policies::load(engine(), &wasm, Some(&dir)).unwrap();
    eprintln!(
        "cold load: {:?} (from cache: {})",
        t.elapsed(),
        cold.loaded_from_cache
    );
    let t = Instant::now();
    let warm = Policies::load(engine(), &wasm, Some(&dir)).unwrap();
    eprintln!(
        "cached load: {:?} (from cache: {})",
        t.elapsed(),
        warm.loaded_from_cache
    );
    let object = node(&pod(json!({
        "containers": [
            {"name": "app", "image": "nginx:latest", "resources": {"limits": {"memory": "2Gi", "cpu": "500m"}}},
            {"name": "side", "image": "ghcr.io/o/s@sha256:00", "securityContext": {"privileged": true}}
        ],
        "initContainers": [{"name": "init", "image": "busybox:1.36"}]
    })));
    let n = 2000;
    let t = Instant::now();
    for _ in 0..n {
        let f = warm
            .evaluate(
                &object,
                &ObjectSet::default(),
                &Params::default(),
                &Limits::default(),
            )
            .into_result()
            .unwrap();
        assert_eq!(f.len(), 4);
    }
    eprintln!(
        "evaluate: {:?} per object (3 rules, 4 findings)",
        t.elapsed() / n
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn wasm_collect_filters_and_maps() {
    let lt = Type::List(Box::new(Type::Int));
    let xs = list_of(vec![int(1), int(2), int(3), int(4)], Type::Int);
    let over = |coll: Expr, key: Option<Local>, filter: Option<Expr>, map: Option<Expr>| {
        x(
            lt.clone(),
            ExprKind::Collect {
                item: 0,
                key,
                collection: Box::new(coll),
                filter: filter.map(Box::new),
                map: map.map(Box::new),
            },
        )
    };
    let gt2 = bin(BinOp::Gt, local(0, Type::Int), int(2), Type::Bool);
    let plus10 = bin(BinOp::Add, local(0, Type::Int), int(10), Type::Int);
    assert_eq!(
        show(over(xs.clone(), None, Some(gt2.clone()), None)),
        "[3,4]"
    );
    assert_eq!(
        show(over(xs.clone(), None, None, Some(plus10.clone()))),
        "[11,12,13,14]"
    );
    assert_eq!(show(over(xs, None, Some(gt2), Some(plus10))), "[13,14]");
    // Over a map: its values in key order, the key bound too; absent is empty.
    let key_a = call(
        Builtin::StartsWith,
        vec![local(1, Type::String), s("a")],
        Type::Bool,
    );
    let m = path(&["m"], Type::Map(Box::new(Type::Int)));
    assert_eq!(
        show_on(
            over(m.clone(), Some(1), Some(key_a), None),
            json!({"m": {"b": 1, "ab": 2, "a": 3}})
        )
        .unwrap(),
        "[3,2]"
    );
    assert_eq!(show_on(over(m, None, None, None), json!({})).unwrap(), "[]");
}

#[test]
fn wasm_trim_prefix_and_suffix() {
    let t = |f: Builtin, a: &str, p: &str| show(call(f, vec![s(a), s(p)], Type::String));
    assert_eq!(t(Builtin::TrimPrefix, "ab-12", "ab-"), "12");
    assert_eq!(t(Builtin::TrimPrefix, "ab-12", "x"), "ab-12");
    assert_eq!(t(Builtin::TrimPrefix, "a", "abc"), "a");
    assert_eq!(t(Builtin::TrimPrefix, "héllo", "hé"), "llo");
    assert_eq!(t(Builtin::TrimSuffix, "ab-12", "12"), "ab-");
    assert_eq!(t(Builtin::TrimSuffix, "ab-12", "1"), "ab-12");
    assert_eq!(t(Builtin::TrimSuffix, "ab", "ab"), "");
}

#[test]
fn wasm_split_and_join() {
    let strings = || Type::List(Box::new(Type::String));
    let split = |a: &str, sep: &str| show(call(Builtin::Split, vec![s(a), s(sep)], strings()));
    assert_eq!(split("a,b,", ","), r#"["a","b",""]"#);
    assert_eq!(split("a,,b", ","), r#"["a","","b"]"#);
    assert_eq!(split("abc", "-"), r#"["abc"]"#);
    assert_eq!(split("", ","), r#"[""]"#);
    assert_eq!(split("a--b---c", "--"), r#"["a","b","-c"]"#);
    assert_eq!(split("héllo", ""), r#"["h","é","l","l","o"]"#);
    assert_eq!(split("", ""), "[]");
    assert_eq!(split("ab", "abc"), r#"["ab"]"#);
    let join = |xs: Expr, sep: &str| show(call(Builtin::Join, vec![xs, s(sep)], Type::String));
    let list = |items: &[&str]| list_of(items.iter().map(|i| s(i)).collect(), Type::String);
    assert_eq!(join(list(&["a", "b", "c"]), ", "), "a, b, c");
    assert_eq!(join(list(&["a"]), ","), "a");
    assert_eq!(join(list(&[]), ","), "");
    assert_eq!(join(list(&["", ""]), ""), "");
    assert_eq!(
        join(
            call(Builtin::Split, vec![s("x.y.z"), s(".")], strings()),
            "/"
        ),
        "x/y/z"
    );
    let xs = || {
        call(
            Builtin::Join,
            vec![path(&["xs"], strings()), s(",")],
            Type::String,
        )
    };
    assert_eq!(show(xs()), "", "absent joins to nothing");
    assert_eq!(show_on(xs(), json!({"xs": ["a", "b"]})).unwrap(), "a,b");
    assert!(
        err(xs(), json!({"xs": ["a", 1]})).contains("expected a string, found the integer 1"),
        "{}",
        err(xs(), json!({"xs": ["a", 1]}))
    );
}
