//! Kinds of API versions the embedded schema no longer serves (spec/language.md §3
//! "Removed API versions"): rules can still match and read them by group/version/kind.

use crate::schema::{KindInfo, Schema};

/// (group, version, kind, namespaced, the served type with the same fields, if any).
/// A kind whose fields changed in the served version is read as `any`.
const REMOVED: &[(&str, &str, &str, bool, Option<&str>)] = &[
    (
        "batch",
        "v1beta1",
        "CronJob",
        true,
        Some("io.k8s.api.batch.v1.CronJob"),
    ),
    (
        "batch",
        "v2alpha1",
        "CronJob",
        true,
        Some("io.k8s.api.batch.v1.CronJob"),
    ),
    ("extensions", "v1beta1", "Ingress", true, None),
    ("networking.k8s.io", "v1beta1", "Ingress", true, None),
    (
        "networking.k8s.io",
        "v1beta1",
        "IngressClass",
        false,
        Some("io.k8s.api.networking.v1.IngressClass"),
    ),
    ("extensions", "v1beta1", "Deployment", true, None),
    ("extensions", "v1beta1", "DaemonSet", true, None),
    ("extensions", "v1beta1", "ReplicaSet", true, None),
    (
        "extensions",
        "v1beta1",
        "NetworkPolicy",
        true,
        Some("io.k8s.api.networking.v1.NetworkPolicy"),
    ),
    ("extensions", "v1beta1", "PodSecurityPolicy", false, None),
    ("policy", "v1beta1", "PodSecurityPolicy", false, None),
    ("policy", "v1beta1", "PodDisruptionBudget", true, None),
    ("apps", "v1beta1", "Deployment", true, None),
    ("apps", "v1beta1", "StatefulSet", true, None),
    ("apps", "v1beta2", "Deployment", true, None),
    ("apps", "v1beta2", "StatefulSet", true, None),
    ("apps", "v1beta2", "DaemonSet", true, None),
    ("apps", "v1beta2", "ReplicaSet", true, None),
    (
        "rbac.authorization.k8s.io",
        "v1beta1",
        "Role",
        true,
        Some("io.k8s.api.rbac.v1.Role"),
    ),
    (
        "rbac.authorization.k8s.io",
        "v1beta1",
        "ClusterRole",
        false,
        Some("io.k8s.api.rbac.v1.ClusterRole"),
    ),
    (
        "rbac.authorization.k8s.io",
        "v1beta1",
        "RoleBinding",
        true,
        Some("io.k8s.api.rbac.v1.RoleBinding"),
    ),
    (
        "rbac.authorization.k8s.io",
        "v1beta1",
        "ClusterRoleBinding",
        false,
        Some("io.k8s.api.rbac.v1.ClusterRoleBinding"),
    ),
    (
        "scheduling.k8s.io",
        "v1beta1",
        "PriorityClass",
        false,
        Some("io.k8s.api.scheduling.v1.PriorityClass"),
    ),
    (
        "autoscaling",
        "v2beta1",
        "HorizontalPodAutoscaler",
        true,
        None,
    ),
    (
        "autoscaling",
        "v2beta2",
        "HorizontalPodAutoscaler",
        true,
        None,
    ),
    ("discovery.k8s.io", "v1beta1", "EndpointSlice", true, None),
    ("events.k8s.io", "v1beta1", "Event", true, None),
    ("node.k8s.io", "v1beta1", "RuntimeClass", false, None),
    ("storage.k8s.io", "v1beta1", "CSIDriver", false, None),
    (
        "admissionregistration.k8s.io",
        "v1beta1",
        "ValidatingWebhookConfiguration",
        false,
        None,
    ),
    (
        "admissionregistration.k8s.io",
        "v1beta1",
        "MutatingWebhookConfiguration",
        false,
        None,
    ),
    (
        "apiextensions.k8s.io",
        "v1beta1",
        "CustomResourceDefinition",
        false,
        None,
    ),
    (
        "apiregistration.k8s.io",
        "v1beta1",
        "APIService",
        false,
        None,
    ),
    (
        "certificates.k8s.io",
        "v1beta1",
        "CertificateSigningRequest",
        false,
        None,
    ),
    ("coordination.k8s.io", "v1beta1", "Lease", true, None),
    ("storage.k8s.io", "v1beta1", "CSINode", false, None),
    ("storage.k8s.io", "v1beta1", "StorageClass", false, None),
    ("storage.k8s.io", "v1beta1", "VolumeAttachment", false, None),
    (
        "storage.k8s.io",
        "v1beta1",
        "CSIStorageCapacity",
        true,
        None,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "v1beta1",
        "FlowSchema",
        false,
        None,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "v1beta1",
        "PriorityLevelConfiguration",
        false,
        None,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "v1beta2",
        "FlowSchema",
        false,
        None,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "v1beta2",
        "PriorityLevelConfiguration",
        false,
        None,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "v1beta3",
        "FlowSchema",
        false,
        None,
    ),
    (
        "flowcontrol.apiserver.k8s.io",
        "v1beta3",
        "PriorityLevelConfiguration",
        false,
        None,
    ),
];

/// The removed kind at exactly this group, version and kind; its `type_name` is empty when
/// its fields are read as `any`.
pub fn find(schema: &Schema, group: &str, version: &str, kind: &str) -> Option<KindInfo> {
    let (g, v, k, namespaced, served) = REMOVED
        .iter()
        .find(|(g, v, k, _, _)| *g == group && *v == version && *k == kind)?;
    let type_name = served
        .filter(|t| schema.object(t).is_some())
        .unwrap_or_default()
        .to_string();
    Some(KindInfo {
        group: g.to_string(),
        version: v.to_string(),
        kind: k.to_string(),
        namespaced: *namespaced,
        type_name,
    })
}
