//! Generates Rampart's embedded Kubernetes schema from the JSON schemas of k8s-openapi.

use k8s_openapi::{ClusterResourceScope, NamespaceResourceScope, Resource, SubResourceScope};
use rampart_compiler::schema::{KindInfo, Schema};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use std::collections::BTreeMap;

/// The Kubernetes version whose API k8s-openapi is built for (its `v1_37` feature).
pub const KUBERNETES_VERSION: &str = "1.37";

/// Adds each listed resource type to the collector.
macro_rules! resources {
    ($collector:ident; $($ty:ty,)*) => {
        $( $collector.add::<$ty>(); )*
    };
}

/// Builds the schema of every resource kind of the Kubernetes version.
pub fn generate() -> Result<Schema, String> {
    let Collector {
        generator,
        mut kinds,
    } = collect();
    let mut schema =
        Schema::from_json_schema_definitions(KUBERNETES_VERSION, generator.definitions())?;
    kinds.sort_by(|a, b| (&a.group, &a.version, &a.kind).cmp(&(&b.group, &b.version, &b.kind)));
    schema.kinds = kinds;
    Ok(schema)
}

/// The documentation of every field, as JSON: `{"type name": {"field": "description"}}`,
/// each description cut to its first paragraph (the language server's hover shows it).
pub fn generate_docs() -> String {
    let collector = collect();
    let mut docs: BTreeMap<&str, BTreeMap<&str, String>> = BTreeMap::new();
    for (type_name, def) in collector.generator.definitions() {
        let Some(props) = def.get("properties").and_then(|p| p.as_object()) else {
            continue;
        };
        for (field, prop) in props {
            let Some(d) = prop.get("description").and_then(|d| d.as_str()) else {
                continue;
            };
            let first = d.split("\n\n").next().unwrap_or(d).trim();
            if !first.is_empty() {
                docs.entry(type_name.as_str())
                    .or_default()
                    .insert(field.as_str(), first.to_string());
            }
        }
    }
    let mut out = String::from("{\n");
    let last = docs.len().saturating_sub(1);
    for (i, (type_name, fields)) in docs.iter().enumerate() {
        let line = serde_json::to_string(fields).unwrap_or_default();
        let name = serde_json::to_string(type_name).unwrap_or_default();
        out.push_str(&format!(
            "{name}:{line}{}\n",
            if i < last { "," } else { "" }
        ));
    }
    out.push_str("}\n");
    out
}

/// Every resource kind, registered with one generator.
fn collect() -> Collector {
    let mut collector = Collector {
        generator: SchemaSettings::draft2020_12().into_generator(),
        kinds: Vec::new(),
    };
    // Every type of k8s-openapi that implements `Resource`, apart from the generic `List<T>`.
    // `Collector::add` leaves out the ones that are not kinds of their own.
    resources!(
        collector;
        k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicy,
        k8s_openapi::api::admissionregistration::v1::MutatingAdmissionPolicyBinding,
        k8s_openapi::api::admissionregistration::v1::MutatingWebhookConfiguration,
        k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicy,
        k8s_openapi::api::admissionregistration::v1::ValidatingAdmissionPolicyBinding,
        k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration,
        k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicy,
        k8s_openapi::api::admissionregistration::v1alpha1::MutatingAdmissionPolicyBinding,
        k8s_openapi::api::admissionregistration::v1beta1::MutatingAdmissionPolicy,
        k8s_openapi::api::admissionregistration::v1beta1::MutatingAdmissionPolicyBinding,
        k8s_openapi::api::apiserverinternal::v1alpha1::StorageVersion,
        k8s_openapi::api::apps::v1::ControllerRevision,
        k8s_openapi::api::apps::v1::DaemonSet,
        k8s_openapi::api::apps::v1::Deployment,
        k8s_openapi::api::apps::v1::ReplicaSet,
        k8s_openapi::api::apps::v1::StatefulSet,
        k8s_openapi::api::authentication::v1::SelfSubjectReview,
        k8s_openapi::api::authentication::v1::TokenRequest,
        k8s_openapi::api::authentication::v1::TokenReview,
        k8s_openapi::api::authorization::v1::LocalSubjectAccessReview,
        k8s_openapi::api::authorization::v1::SelfSubjectAccessReview,
        k8s_openapi::api::authorization::v1::SelfSubjectRulesReview,
        k8s_openapi::api::authorization::v1::SubjectAccessReview,
        k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler,
        k8s_openapi::api::autoscaling::v1::Scale,
        k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler,
        k8s_openapi::api::batch::v1::CronJob,
        k8s_openapi::api::batch::v1::Job,
        k8s_openapi::api::certificates::v1::CertificateSigningRequest,
        k8s_openapi::api::certificates::v1::ClusterTrustBundle,
        k8s_openapi::api::certificates::v1::PodCertificateRequest,
        k8s_openapi::api::certificates::v1beta1::ClusterTrustBundle,
        k8s_openapi::api::certificates::v1beta1::PodCertificateRequest,
        k8s_openapi::api::coordination::v1::Lease,
        k8s_openapi::api::coordination::v1alpha2::LeaseCandidate,
        k8s_openapi::api::coordination::v1beta1::LeaseCandidate,
        k8s_openapi::api::core::v1::Binding,
        k8s_openapi::api::core::v1::ComponentStatus,
        k8s_openapi::api::core::v1::ConfigMap,
        k8s_openapi::api::core::v1::Endpoints,
        k8s_openapi::api::core::v1::Event,
        k8s_openapi::api::core::v1::LimitRange,
        k8s_openapi::api::core::v1::Namespace,
        k8s_openapi::api::core::v1::Node,
        k8s_openapi::api::core::v1::PersistentVolume,
        k8s_openapi::api::core::v1::PersistentVolumeClaim,
        k8s_openapi::api::core::v1::Pod,
        k8s_openapi::api::core::v1::PodTemplate,
        k8s_openapi::api::core::v1::ReplicationController,
        k8s_openapi::api::core::v1::ResourceQuota,
        k8s_openapi::api::core::v1::Secret,
        k8s_openapi::api::core::v1::Service,
        k8s_openapi::api::core::v1::ServiceAccount,
        k8s_openapi::api::discovery::v1::EndpointSlice,
        k8s_openapi::api::events::v1::Event,
        k8s_openapi::api::flowcontrol::v1::FlowSchema,
        k8s_openapi::api::flowcontrol::v1::PriorityLevelConfiguration,
        k8s_openapi::api::lifecycle::v1alpha1::Eviction,
        k8s_openapi::api::lifecycle::v1alpha1::EvictionRequest,
        k8s_openapi::api::networking::v1::IPAddress,
        k8s_openapi::api::networking::v1::Ingress,
        k8s_openapi::api::networking::v1::IngressClass,
        k8s_openapi::api::networking::v1::NetworkPolicy,
        k8s_openapi::api::networking::v1::ServiceCIDR,
        k8s_openapi::api::node::v1::RuntimeClass,
        k8s_openapi::api::policy::v1::Eviction,
        k8s_openapi::api::policy::v1::PodDisruptionBudget,
        k8s_openapi::api::rbac::v1::ClusterRole,
        k8s_openapi::api::rbac::v1::ClusterRoleBinding,
        k8s_openapi::api::rbac::v1::Role,
        k8s_openapi::api::rbac::v1::RoleBinding,
        k8s_openapi::api::resource::v1::DeviceClass,
        k8s_openapi::api::resource::v1::DeviceTaintRule,
        k8s_openapi::api::resource::v1::ResourceClaim,
        k8s_openapi::api::resource::v1::ResourceClaimTemplate,
        k8s_openapi::api::resource::v1::ResourceSlice,
        k8s_openapi::api::resource::v1alpha3::DeviceTaintRule,
        k8s_openapi::api::resource::v1alpha3::ResourcePoolStatusRequest,
        k8s_openapi::api::resource::v1beta1::DeviceClass,
        k8s_openapi::api::resource::v1beta1::ResourceClaim,
        k8s_openapi::api::resource::v1beta1::ResourceClaimTemplate,
        k8s_openapi::api::resource::v1beta1::ResourceSlice,
        k8s_openapi::api::resource::v1beta2::DeviceClass,
        k8s_openapi::api::resource::v1beta2::DeviceTaintRule,
        k8s_openapi::api::resource::v1beta2::ResourceClaim,
        k8s_openapi::api::resource::v1beta2::ResourceClaimTemplate,
        k8s_openapi::api::resource::v1beta2::ResourceSlice,
        k8s_openapi::api::scheduling::v1::PriorityClass,
        k8s_openapi::api::scheduling::v1alpha3::CompositePodGroup,
        k8s_openapi::api::scheduling::v1alpha3::PodGroup,
        k8s_openapi::api::scheduling::v1alpha3::Workload,
        k8s_openapi::api::scheduling::v1beta1::PodGroup,
        k8s_openapi::api::scheduling::v1beta1::Workload,
        k8s_openapi::api::storage::v1::CSIDriver,
        k8s_openapi::api::storage::v1::CSINode,
        k8s_openapi::api::storage::v1::CSIStorageCapacity,
        k8s_openapi::api::storage::v1::StorageClass,
        k8s_openapi::api::storage::v1::VolumeAttachment,
        k8s_openapi::api::storage::v1::VolumeAttributesClass,
        k8s_openapi::api::storagemigration::v1::StorageVersionMigration,
        k8s_openapi::api::storagemigration::v1beta1::StorageVersionMigration,
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        k8s_openapi::apimachinery::pkg::apis::meta::v1::APIGroup,
        k8s_openapi::apimachinery::pkg::apis::meta::v1::APIGroupList,
        k8s_openapi::apimachinery::pkg::apis::meta::v1::APIResourceList,
        k8s_openapi::apimachinery::pkg::apis::meta::v1::APIVersions,
        k8s_openapi::apimachinery::pkg::apis::meta::v1::Status,
        k8s_openapi::kube_aggregator::pkg::apis::apiregistration::v1::APIService,
    );
    collector
}

/// Collects kinds and their JSON schemas with one generator, so that shared types such as
/// Container and ObjectMeta are defined once.
struct Collector {
    generator: SchemaGenerator,
    kinds: Vec<KindInfo>,
}

impl Collector {
    fn add<T: Resource + JsonSchema>(&mut self)
    where
        T::Scope: Scope,
    {
        // Subresources (Scale, Eviction, Status, ...) are not kinds of their own, and discovery
        // documents (APIGroup, APIVersions, ...) have no URL path: policies never see either.
        let Some(namespaced) = <T::Scope as Scope>::NAMESPACED else {
            return;
        };
        if T::URL_PATH_SEGMENT.is_empty() {
            return;
        }
        // Registers the type and everything it uses in the generator's definitions.
        self.generator.subschema_for::<T>();
        self.kinds.push(KindInfo {
            group: T::GROUP.to_string(),
            version: T::VERSION.to_string(),
            kind: T::KIND.to_string(),
            namespaced,
            type_name: T::schema_name().into_owned(),
        });
    }
}

/// Whether instances of a resource scope live in a namespace; `None` for subresources.
trait Scope {
    const NAMESPACED: Option<bool>;
}

impl Scope for NamespaceResourceScope {
    const NAMESPACED: Option<bool> = Some(true);
}

impl Scope for ClusterResourceScope {
    const NAMESPACED: Option<bool> = Some(false);
}

impl Scope for SubResourceScope {
    const NAMESPACED: Option<bool> = None;
}
