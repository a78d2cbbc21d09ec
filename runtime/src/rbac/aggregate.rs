//! ClusterRole aggregation, as the clusterrole-aggregation controller of
//! kube-controller-manager does it (spec/rbac.md §4).

use std::collections::{HashMap, HashSet};

use super::matching::selector_matches;
use super::model::{Problem, Role, RoleKind, Rule};

/// Replaces the rules of every ClusterRole with an `aggregationRule` by the union of the
/// rules of the other ClusterRoles its selectors match, until nothing changes.
///
/// The controller lists the matching roles sorted by name, skips the role itself, and adds
/// each rule not already present (compared by content). It runs again whenever a role
/// changes, so aggregated roles feeding other aggregated roles (`view` → `edit` → `admin`)
/// converge; the result here is that fixed point, starting from empty aggregated roles.
/// Returns a warning for each aggregated role whose own `rules` are thereby replaced.
pub fn aggregate(roles: &mut [Role]) -> Vec<Problem> {
    let mut warnings = Vec::new();
    let aggregated: Vec<usize> = (0..roles.len())
        .filter(|&i| roles[i].kind == RoleKind::ClusterRole && roles[i].aggregation.is_some())
        .collect();
    if aggregated.is_empty() {
        return warnings;
    }
    for &i in &aggregated {
        if !roles[i].rules.is_empty() {
            warnings.push(Problem {
                origin: roles[i].origin.clone(),
                message: format!(
                    "ClusterRole `{}` has an `aggregationRule`: its own {} rule(s) are replaced by the aggregated ones",
                    roles[i].name,
                    roles[i].rules.len()
                ),
            });
        }
        roles[i].rules.clear();
        roles[i].aggregated_from.clear();
    }
    let mut by_name: Vec<usize> = (0..roles.len())
        .filter(|&i| roles[i].kind == RoleKind::ClusterRole)
        .collect();
    by_name.sort_by(|&a, &b| roles[a].name.cmp(&roles[b].name));
    // Labels do not change while aggregating: which roles each selector picks is computed
    // once, in the controller's order (selector by selector, then by name).
    let view: &[Role] = roles;
    let picked: Vec<Vec<usize>> = aggregated
        .iter()
        .map(|&i| {
            let selectors = view[i].aggregation.as_deref().unwrap_or_default();
            selectors
                .iter()
                .flat_map(|selector| {
                    by_name.iter().copied().filter(move |&j| {
                        view[j].name != view[i].name && selector_matches(selector, &view[j].labels)
                    })
                })
                .collect()
        })
        .collect();
    // The passes work on references to the rules of the non-aggregated roles, each with the
    // id of its content, and the rules are copied once at the end.
    let mut ids: HashMap<[Vec<String>; 5], usize> = HashMap::new();
    let content_id: Vec<Vec<usize>> = view
        .iter()
        .map(|role| {
            role.rules
                .iter()
                .map(|rule| {
                    let next = ids.len();
                    *ids.entry(content(rule)).or_insert(next)
                })
                .collect()
        })
        .collect();
    let is_aggregated: HashSet<usize> = aggregated.iter().copied().collect();
    let mut current: Vec<Vec<(usize, usize)>> = vec![Vec::new(); aggregated.len()];
    let position: HashMap<usize, usize> = aggregated
        .iter()
        .enumerate()
        .map(|(p, &i)| (i, p))
        .collect();
    // Each pass can only add rules, and there are finitely many, so this ends; the bound
    // is the longest possible chain of aggregations.
    for _ in 0..=aggregated.len() {
        let mut changed = false;
        for (p, sources) in picked.iter().enumerate() {
            let mut rules: Vec<(usize, usize)> = Vec::new();
            let mut seen = HashSet::new();
            for &j in sources {
                let from: Vec<(usize, usize)> = if is_aggregated.contains(&j) {
                    current[position[&j]].clone()
                } else {
                    (0..view[j].rules.len()).map(|k| (j, k)).collect()
                };
                for (r, k) in from {
                    if seen.insert(content_id[r][k]) {
                        rules.push((r, k));
                    }
                }
            }
            if rules.len() != current[p].len() {
                changed = true;
            }
            current[p] = rules;
        }
        if !changed {
            break;
        }
    }
    for (p, &i) in aggregated.iter().enumerate() {
        let rules: Vec<Rule> = current[p]
            .iter()
            .map(|&(r, k)| roles[r].rules[k].clone())
            .collect();
        // Name the role each rule is written in, through any chain.
        let from = current[p]
            .iter()
            .map(|&(r, _)| Some(roles[r].name.clone()))
            .collect();
        roles[i].rules = rules;
        roles[i].aggregated_from = from;
    }
    warnings
}

/// What makes two rules equal for the controller's `ruleExists` (everything but the origin).
fn content(rule: &Rule) -> [Vec<String>; 5] {
    [
        rule.verbs.clone(),
        rule.api_groups.clone(),
        rule.resources.clone(),
        rule.resource_names.clone(),
        rule.non_resource_urls.clone(),
    ]
}
