//! ClusterRole aggregation, as the clusterrole-aggregation controller of
//! kube-controller-manager does it (spec/rbac.md §4).

use std::collections::HashSet;

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
    // Each pass can only add rules, and there are finitely many, so this ends; the bound
    // is the longest possible chain of aggregations.
    for _ in 0..=aggregated.len() {
        let mut changed = false;
        for (&i, sources) in aggregated.iter().zip(&picked) {
            let mut rules = Vec::new();
            let mut from = Vec::new();
            let mut seen = HashSet::new();
            for &j in sources {
                for (k, rule) in roles[j].rules.iter().enumerate() {
                    if seen.insert(content(rule)) {
                        rules.push(rule.clone());
                        // Name the role the rule is written in, through any chain.
                        let source = roles[j].aggregated_from.get(k).cloned().flatten();
                        from.push(Some(source.unwrap_or_else(|| roles[j].name.clone())));
                    }
                }
            }
            if rules.len() != roles[i].rules.len() {
                changed = true;
            }
            roles[i].rules = rules;
            roles[i].aggregated_from = from;
        }
        if !changed {
            break;
        }
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
