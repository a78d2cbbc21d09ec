//! Which rules apply to an object (spec §3 "Matching" and "Pod-controller autogen"), decided
//! by the host from the matchers in the module's metadata.

use std::collections::HashMap;

use serde::Deserialize;

use crate::manifest::Node;

/// A group/version/kind; `group` is "" for the core group.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct Gvk {
    pub group: String,
    pub version: String,
    pub kind: String,
}

impl Gvk {
    /// Whether an object's `apiVersion` and `kind` name this kind (an empty version matches
    /// every version).
    pub fn matches(&self, api_version: &str, kind: &str) -> bool {
        self.matches_head(&Head::new(api_version, kind))
    }

    /// [`Gvk::matches`] for an object whose `apiVersion` is already split.
    fn matches_head(&self, head: &Head) -> bool {
        // `match *` (spec/language.md §3 "Matching").
        if self.kind == "*" {
            return true;
        }
        self.kind == head.kind
            && self.group == head.group
            && (self.version.is_empty() || self.version == head.version)
    }
}

/// An object's group, version and kind, read once for all the rules' matchers.
struct Head<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
}

impl<'a> Head<'a> {
    fn new(api_version: &'a str, kind: &'a str) -> Head<'a> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        Head {
            group,
            version,
            kind,
        }
    }

    /// The head of `object`, `None` when it has no string `apiVersion` or `kind` (then no
    /// rule applies to it).
    fn of(object: &'a Node) -> Option<Head<'a>> {
        Some(Head::new(
            str_at(object, &["apiVersion"])?,
            str_at(object, &["kind"])?,
        ))
    }
}

/// One kind a rule applies to and where its subject sits.
#[derive(Clone, Debug, Deserialize)]
pub struct Target {
    pub gvk: Gvk,
    pub subject_path: Vec<String>,
    pub namespaced: bool,
}

/// A rule's matcher, as in the metadata.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Matcher {
    pub targets: Vec<Target>,
    #[serde(default)]
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub exclude_namespaces: Vec<String>,
    #[serde(default)]
    pub labels: Vec<(String, String)>,
    #[serde(default)]
    pub exclude_labels: Vec<(String, String)>,
}

/// `*` matches any run of bytes, `?` one byte; the whole text must match.
pub fn glob(text: &str, pattern: &str) -> bool {
    let (s, p) = (text.as_bytes(), pattern.as_bytes());
    let (mut si, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            si += 1;
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

fn str_at<'a>(node: &'a Node, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(node, |n, k| n.get(k))
        .and_then(Node::as_str)
}

fn labels_match(object: &Node, wanted: &[(String, String)]) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let labels = object.get("metadata").and_then(|m| m.get("labels"));
    wanted.iter().all(|(k, v)| {
        labels
            .and_then(|l| l.get(k))
            .and_then(Node::as_str)
            .is_some_and(|value| glob(value, v))
    })
}

/// The subject of the rule for `object` (the object, or its pod template under autogen), or
/// `None` when the rule does not apply.
pub fn subject<'a>(matcher: &Matcher, object: &'a Node) -> Option<&'a Node> {
    let head = Head::of(object)?;
    let target = matcher.targets.iter().find(|t| t.gvk.matches_head(&head))?;
    let namespace = || str_at(object, &["metadata", "namespace"]);
    let node = target.subject_path.iter().try_fold(object, |n, k| n.get(k));
    applies(matcher, target, object, namespace, node)
}

/// The rest of [`subject`] once `target`, the matcher's first target naming the object's
/// kind, is found: the namespace and label selectors, then the subject itself (`node`, the
/// node at the target's subject path). `namespace` reads the object's namespace.
fn applies<'a, 'n>(
    matcher: &Matcher,
    target: &Target,
    object: &Node,
    namespace: impl FnOnce() -> Option<&'n str>,
    node: Option<&'a Node>,
) -> Option<&'a Node> {
    // Cluster-scoped objects (and objects without a namespace) are never selected by
    // `match namespaces` and never excluded by `exclude namespaces`.
    let has_selector = !matcher.namespaces.is_empty() || !matcher.exclude_namespaces.is_empty();
    let namespace = if target.namespaced && has_selector {
        namespace()
    } else {
        None
    };
    if !matcher.namespaces.is_empty() {
        match namespace {
            Some(ns) if matcher.namespaces.iter().any(|g| glob(ns, g)) => {}
            _ => return None,
        }
    }
    if let Some(ns) = namespace {
        if matcher.exclude_namespaces.iter().any(|g| glob(ns, g)) {
            return None;
        }
    }
    if !labels_match(object, &matcher.labels) {
        return None;
    }
    if !matcher.exclude_labels.is_empty() && labels_match(object, &matcher.exclude_labels) {
        return None;
    }
    // A controller whose template is null has nothing to check.
    node.filter(|n| !matches!(n.value, crate::manifest::Value::Null))
}

/// One target of one rule, as the [`Index`] lists it.
#[derive(Clone, Copy, Debug)]
struct Entry {
    rule: usize,
    target: usize,
    /// The target's subject path, as an index into [`Index::paths`].
    path: usize,
    /// The target's group and version, as an index into the [`Kind::versions`] of its kind;
    /// `None` for `match *`, which matches every object.
    version: Option<usize>,
}

/// The entries naming one kind.
#[derive(Debug, Default)]
struct Kind {
    /// The distinct (group, version) pairs they name.
    versions: Vec<(String, String)>,
    /// In rule then target order.
    entries: Vec<Entry>,
}

/// The rules' targets by the kind they name, made once per module: an object's rules are
/// found by its kind, its group and version are compared once per pair the kind's targets
/// name, and each subject path is walked once per object, instead of testing every rule's
/// matcher on every object.
#[derive(Debug, Default)]
pub struct Index {
    by_kind: HashMap<String, Kind>,
    /// The entries of `match *`, in rule then target order.
    any_kind: Vec<Entry>,
    /// The distinct subject paths.
    paths: Vec<Vec<String>>,
}

/// The position of `item` in `list`, added at the end if absent.
fn position_or_push<T: PartialEq>(list: &mut Vec<T>, item: T) -> usize {
    match list.iter().position(|x| *x == item) {
        Some(i) => i,
        None => {
            list.push(item);
            list.len() - 1
        }
    }
}

impl Index {
    /// The index of the rules with these matchers, in rule order.
    pub fn new<'m>(matchers: impl IntoIterator<Item = &'m Matcher>) -> Index {
        let mut index = Index::default();
        for (rule, matcher) in matchers.into_iter().enumerate() {
            for (target, t) in matcher.targets.iter().enumerate() {
                let path = position_or_push(&mut index.paths, t.subject_path.clone());
                let mut entry = Entry {
                    rule,
                    target,
                    path,
                    version: None,
                };
                if t.gvk.kind == "*" {
                    index.any_kind.push(entry);
                } else {
                    let kind = index.by_kind.entry(t.gvk.kind.clone()).or_default();
                    let gv = (t.gvk.group.clone(), t.gvk.version.clone());
                    entry.version = Some(position_or_push(&mut kind.versions, gv));
                    kind.entries.push(entry);
                }
            }
        }
        index
    }

    /// The rules that apply to `object`, each with its subject, in rule order: the rules `r`
    /// for which [`subject`]`(matcher(r), object)` is `Some`, with that subject.
    /// `matcher(r)` is the matcher of rule `r` of the ones the index was made from.
    pub fn subjects<'a, 'm>(
        &self,
        matcher: impl Fn(usize) -> &'m Matcher,
        object: &'a Node,
    ) -> Vec<(usize, &'a Node)> {
        let Some(head) = Head::of(object) else {
            return Vec::new();
        };
        let kind = self.by_kind.get(head.kind);
        let named = kind.map_or(&[][..], |k| &k.entries[..]);
        // Which of the kind's (group, version) pairs name the object's (the `Gvk::matches`
        // of every target of the kind).
        let fits: Vec<bool> = kind.map_or(Vec::new(), |k| {
            k.versions
                .iter()
                .map(|(g, v)| g == head.group && (v.is_empty() || v == head.version))
                .collect()
        });
        let merged;
        let entries = if self.any_kind.is_empty() {
            named
        } else {
            merged = {
                let mut all = [named, &self.any_kind].concat();
                all.sort_unstable_by_key(|e| (e.rule, e.target));
                all
            };
            &merged[..]
        };
        let namespace = std::cell::OnceCell::new();
        let mut nodes: Vec<Option<Option<&'a Node>>> = vec![None; self.paths.len()];
        let mut out = Vec::with_capacity(entries.len());
        let mut decided = None;
        for e in entries {
            // A rule's first target that names the object's kind decides, as in `subject`.
            if decided == Some(e.rule) || !e.version.is_none_or(|v| fits[v]) {
                continue;
            }
            let m = matcher(e.rule);
            let target = &m.targets[e.target];
            decided = Some(e.rule);
            let node = *nodes[e.path]
                .get_or_insert_with(|| self.paths[e.path].iter().try_fold(object, |n, k| n.get(k)));
            let namespace =
                || *namespace.get_or_init(|| str_at(object, &["metadata", "namespace"]));
            if let Some(s) = applies(m, target, object, namespace, node) {
                out.push((e.rule, s));
            }
        }
        out
    }
}

/// The subject of the rule in `old`, the object before the request: the node at the subject
/// path of the target `object` matches (the old object of a Deployment is a Deployment), or
/// `None` when there is none (spec/language.md §4.11).
pub fn old_subject<'a>(matcher: &Matcher, object: &Node, old: &'a Node) -> Option<&'a Node> {
    let head = Head::of(object)?;
    let target = matcher.targets.iter().find(|t| t.gvk.matches_head(&head))?;
    let subject = target.subject_path.iter().try_fold(old, |n, k| n.get(k))?;
    (!matches!(subject.value, crate::manifest::Value::Null)).then_some(subject)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Value;

    fn s(v: &str) -> Node {
        Node::new(Value::String(v.to_string()), 1, 1)
    }
    fn map(entries: Vec<(&str, Node)>) -> Node {
        Node::new(
            Value::Map(
                entries
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            ),
            1,
            1,
        )
    }
    fn pod_matcher() -> Matcher {
        let gvk = |g: &str, v: &str, k: &str| Gvk {
            group: g.into(),
            version: v.into(),
            kind: k.into(),
        };
        Matcher {
            targets: vec![
                Target {
                    gvk: gvk("", "v1", "Pod"),
                    subject_path: vec![],
                    namespaced: true,
                },
                Target {
                    gvk: gvk("apps", "v1", "Deployment"),
                    subject_path: vec!["spec".into(), "template".into()],
                    namespaced: true,
                },
            ],
            ..Matcher::default()
        }
    }
    fn object(api: &str, kind: &str, ns: Option<&str>, labels: Vec<(&str, Node)>) -> Node {
        let mut meta = vec![("labels", map(labels))];
        if let Some(ns) = ns {
            meta.push(("namespace", s(ns)));
        }
        map(vec![
            ("apiVersion", s(api)),
            ("kind", s(kind)),
            ("metadata", map(meta)),
            ("spec", map(vec![("template", map(vec![("x", s("y"))]))])),
        ])
    }

    #[test]
    fn globs() {
        assert!(glob("kube-system", "kube-*"));
        assert!(glob("abc", "a?c"));
        assert!(glob("", "*"));
        assert!(!glob("abc", "a?"));
        assert!(glob("aXbXc", "*b*c"));
        assert!(!glob("default", "kube-*"));
    }

    #[test]
    fn kinds_and_autogen_subject() {
        let m = pod_matcher();
        let pod = object("v1", "Pod", Some("a"), vec![]);
        assert!(std::ptr::eq(subject(&m, &pod).unwrap(), &pod));
        let deploy = object("apps/v1", "Deployment", Some("a"), vec![]);
        let template = deploy.get("spec").unwrap().get("template").unwrap();
        assert!(std::ptr::eq(subject(&m, &deploy).unwrap(), template));
        assert!(subject(&m, &object("v1", "Service", None, vec![])).is_none());
        assert!(subject(&m, &object("batch/v1", "Pod", None, vec![])).is_none());
    }

    #[test]
    fn namespaces_and_labels() {
        let mut m = pod_matcher();
        m.namespaces = vec!["team-*".into()];
        m.exclude_namespaces = vec!["team-x".into()];
        assert!(subject(&m, &object("v1", "Pod", Some("team-a"), vec![])).is_some());
        assert!(subject(&m, &object("v1", "Pod", Some("team-x"), vec![])).is_none());
        assert!(subject(&m, &object("v1", "Pod", Some("default"), vec![])).is_none());
        assert!(subject(&m, &object("v1", "Pod", None, vec![])).is_none());
        let mut m = pod_matcher();
        m.labels = vec![("app".into(), "web-*".into())];
        m.exclude_labels = vec![("skip".into(), "*".into())];
        let web = object("v1", "Pod", None, vec![("app", s("web-1"))]);
        assert!(subject(&m, &web).is_some());
        let skipped = object(
            "v1",
            "Pod",
            None,
            vec![("app", s("web-1")), ("skip", s("yes"))],
        );
        assert!(subject(&m, &skipped).is_none());
        assert!(subject(&m, &object("v1", "Pod", None, vec![("app", s("db"))])).is_none());
    }
}
