//! `admission.k8s.io/v1` AdmissionReview: reading the request the API server sends, and
//! writing the answer from the findings of the evaluation (spec/admission.md).

use rampart_runtime::eval::Action;
use rampart_runtime::runner::checker::Checked;
use serde_json::{json, Map, Value};

/// The request of an AdmissionReview, as far as the webhook reads it.
#[derive(Debug)]
pub struct Review {
    /// `request.uid`, echoed in the answer.
    pub uid: String,
    /// `request.kind.kind`.
    pub kind: String,
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// `CREATE`, `UPDATE`, `DELETE` or `CONNECT`.
    pub operation: String,
    /// `request.subResource`, when the request is for one (`status`, `scale`, …).
    pub subresource: Option<String>,
    /// `request.userInfo.username`.
    pub user: Option<String>,
    pub dry_run: bool,
    /// `request.object`, when present and not null.
    pub object: Option<Value>,
    /// `request.oldObject`, when present and not null (UPDATE, DELETE).
    pub old_object: Option<Value>,
    /// The rest of `request` (without `object` and `oldObject`), for the rules that read
    /// `request.*`.
    pub request: Value,
}

/// Reads an AdmissionReview; the error is the reason of a 400 answer.
pub fn decode(body: &[u8]) -> Result<Review, String> {
    let mut review: Value =
        serde_json::from_slice(body).map_err(|e| format!("the body is not JSON: {e}"))?;
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
    let api_version = field(&review, "apiVersion");
    if api_version.as_deref() != Some("admission.k8s.io/v1") {
        return Err(format!(
            "expected `apiVersion: admission.k8s.io/v1`, got `{}`",
            api_version.as_deref().unwrap_or("")
        ));
    }
    if field(&review, "kind").as_deref() != Some("AdmissionReview") {
        return Err("expected `kind: AdmissionReview`".into());
    }
    let Some(request) = review.get_mut("request").map(Value::take) else {
        return Err("the AdmissionReview has no `request`".into());
    };
    if !request.is_object() {
        return Err("`request` is not an object".into());
    }
    let uid = field(&request, "uid").ok_or("`request.uid` is missing")?;
    let operation = field(&request, "operation").ok_or("`request.operation` is missing")?;
    if !matches!(
        operation.as_str(),
        "CREATE" | "UPDATE" | "DELETE" | "CONNECT"
    ) {
        return Err(format!("unknown `request.operation` `{operation}`"));
    }
    let mut request = request;
    // The objects are moved out of the request, not copied: they are the bulk of it.
    let mut take = |k: &str| {
        request
            .as_object_mut()
            .and_then(|r| r.remove(k))
            .filter(|v| !v.is_null())
    };
    let object = take("object");
    let old_object = take("oldObject");
    for (name, value) in [("object", &object), ("oldObject", &old_object)] {
        if value.as_ref().is_some_and(|v| !v.is_object()) {
            return Err(format!("`request.{name}` is not an object"));
        }
    }
    Ok(Review {
        uid,
        kind: request
            .get("kind")
            .and_then(|k| field(k, "kind"))
            .unwrap_or_default(),
        namespace: field(&request, "namespace").filter(|s| !s.is_empty()),
        name: field(&request, "name").filter(|s| !s.is_empty()),
        subresource: field(&request, "subResource").filter(|s| !s.is_empty()),
        user: request.get("userInfo").and_then(|u| field(u, "username")),
        dry_run: request
            .get("dryRun")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        operation,
        object,
        old_object,
        request,
    })
}

/// What the webhook decides on one request.
#[derive(Debug, Default)]
pub struct Verdict {
    pub allowed: bool,
    /// Why it is denied: one line per deny finding or evaluation error.
    pub message: Option<String>,
    /// What kubectl shows: warn findings (and, in audit mode, the deny findings).
    pub warnings: Vec<String>,
    /// Rule ids with a deny finding that fails (not exempted).
    pub denied: Vec<String>,
    /// Rule ids with a warn finding.
    pub warned: Vec<String>,
    /// Rule ids that could not be evaluated (or `object` when the object could not be).
    pub errors: Vec<String>,
    /// Rule ids whose findings an exception waived.
    pub exempted: Vec<String>,
    /// Why the object was not evaluated, when it was not (DELETE, CONNECT, a subresource).
    pub skipped: Option<&'static str>,
}

/// How findings become a verdict.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// `--enforce=false`: deny findings and errors are logged and shown as warnings, but the
    /// request is allowed.
    pub enforce: bool,
    /// `--failure-policy ignore`: an evaluation error allows the request (with a warning)
    /// instead of denying it.
    pub fail_open: bool,
}

/// One finding as a line: `rule.id: message (at field.path)`.
fn line(rule: &str, message: &str, path: &str) -> String {
    if path.is_empty() {
        format!("{rule}: {message}")
    } else {
        format!("{rule}: {message} (at {path})")
    }
}

fn push_unique(list: &mut Vec<String>, id: &str) {
    if !list.iter().any(|x| x == id) {
        list.push(id.to_string());
    }
}

/// The verdict from the results of checking the request's object.
pub fn decide(checked: &Checked, settings: Settings) -> Verdict {
    let mut verdict = Verdict::default();
    let mut deny_lines = Vec::new();
    let mut error_lines = Vec::new();
    for v in checked.results.iter().flat_map(|r| &r.violations) {
        if v.exemption.is_some() {
            push_unique(&mut verdict.exempted, &v.rule);
        } else if v.fails() {
            push_unique(&mut verdict.denied, &v.rule);
            deny_lines.push(line(&v.rule, &v.message, &v.path));
        } else if v.action == Action::Warn {
            push_unique(&mut verdict.warned, &v.rule);
            verdict.warnings.push(line(&v.rule, &v.message, &v.path));
        }
    }
    for e in &checked.errors {
        let id = e.rule.as_deref().unwrap_or("object");
        push_unique(&mut verdict.errors, id);
        let what = match &e.rule {
            Some(rule) => format!("rule `{rule}` could not be evaluated"),
            None => "the object could not be evaluated".to_string(),
        };
        error_lines.push(format!("{id}: {what}: {}", e.message));
    }
    let errors_deny = !error_lines.is_empty() && !settings.fail_open;
    let denies = !deny_lines.is_empty() || errors_deny;
    if denies && settings.enforce {
        verdict.allowed = false;
        let mut lines = deny_lines;
        if errors_deny {
            lines.extend(error_lines.iter().cloned());
        }
        verdict.message = Some(lines.join("\n"));
        if !errors_deny {
            verdict.warnings.extend(error_lines);
        }
    } else {
        verdict.allowed = true;
        // Audit mode, or errors under `--failure-policy ignore`: said, not enforced.
        let prefix = if settings.enforce { "" } else { "audit: " };
        let mut said: Vec<String> = deny_lines
            .into_iter()
            .chain(error_lines)
            .map(|l| format!("{prefix}{l}"))
            .collect();
        said.append(&mut verdict.warnings);
        verdict.warnings = said;
    }
    verdict
}

/// The AdmissionReview answering `uid`.
pub fn encode(uid: &str, verdict: &Verdict) -> Vec<u8> {
    let mut response = Map::new();
    response.insert("uid".into(), json!(uid));
    response.insert("allowed".into(), json!(verdict.allowed));
    if let Some(message) = &verdict.message {
        response.insert(
            "status".into(),
            json!({"code": 403, "reason": "Forbidden", "message": message}),
        );
    }
    if !verdict.warnings.is_empty() {
        response.insert("warnings".into(), json!(verdict.warnings));
    }
    let mut audit = Map::new();
    for (key, ids) in [
        ("denied-rules", &verdict.denied),
        ("warned-rules", &verdict.warned),
        ("error-rules", &verdict.errors),
        ("exempted-rules", &verdict.exempted),
    ] {
        if !ids.is_empty() {
            audit.insert(key.into(), json!(ids.join(",")));
        }
    }
    if !audit.is_empty() {
        response.insert("auditAnnotations".into(), Value::Object(audit));
    }
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "response": response,
    });
    serde_json::to_vec(&review).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_a_create_request() {
        let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview",
            "request":{"uid":"u1","kind":{"group":"","version":"v1","kind":"Pod"},
            "namespace":"team","name":"web","operation":"CREATE",
            "userInfo":{"username":"alice"},"dryRun":true,
            "object":{"apiVersion":"v1","kind":"Pod"},"oldObject":null}}"#;
        let r = decode(body).unwrap();
        assert_eq!(r.uid, "u1");
        assert_eq!(r.kind, "Pod");
        assert_eq!(r.namespace.as_deref(), Some("team"));
        assert_eq!(r.user.as_deref(), Some("alice"));
        assert!(r.dry_run);
        assert!(r.object.is_some() && r.old_object.is_none());
    }

    #[test]
    fn refuses_what_is_not_an_admission_review() {
        let reason = |body: &str| decode(body.as_bytes()).unwrap_err();
        assert!(reason("{").contains("not JSON"));
        assert!(
            reason(r#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview"}"#)
                .contains("admission.k8s.io/v1")
        );
        assert!(
            reason(r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#)
                .contains("no `request`")
        );
        assert!(reason(
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"operation":"CREATE"}}"#
        )
        .contains("uid"));
        assert!(reason(
            r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"x","operation":"CREATE","object":[1]}}"#
        )
        .contains("not an object"));
    }

    #[test]
    fn the_answer_echoes_the_uid_and_lists_rules() {
        let verdict = Verdict {
            allowed: false,
            message: Some("a: no".into()),
            warnings: vec!["b: careful".into()],
            denied: vec!["a".into()],
            warned: vec!["b".into()],
            ..Verdict::default()
        };
        let v: Value = serde_json::from_slice(&encode("u9", &verdict)).unwrap();
        assert_eq!(v["response"]["uid"], "u9");
        assert_eq!(v["response"]["allowed"], false);
        assert_eq!(v["response"]["status"]["code"], 403);
        assert_eq!(v["response"]["warnings"][0], "b: careful");
        assert_eq!(v["response"]["auditAnnotations"]["denied-rules"], "a");
    }
}
