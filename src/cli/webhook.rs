//! `rampart build --target webhook -o DIR`: the manifests that run `rampart serve` in a
//! cluster as a validating admission webhook: its namespace (isolated by NetworkPolicies),
//! service account, policies (a ConfigMap), optionally a cert-manager Certificate, the
//! Deployment with its Service and PodDisruptionBudget, and the
//! ValidatingWebhookConfiguration for the kinds the policies match. Files are numbered in
//! the order `kubectl apply -f` must create them.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rampart_compiler::backend::cel::resource_rules;
use rampart_runtime::output_file;
use serde_json::{json, Value};

use super::fail;
use super::policies;

/// The names the manifests use.
const NAME: &str = "rampart-webhook";
const TLS_SECRET: &str = "rampart-webhook-tls";
const POLICY_DIR: &str = "/etc/rampart/policies";
const TLS_DIR: &str = "/etc/rampart/tls";

/// The flags of `build` that only `--target webhook` reads.
#[derive(clap::Args, Debug)]
pub struct BuildArgs {
    /// With `--target webhook`: the image running `rampart serve`, pinned by digest
    /// (`registry/rampart:TAG@sha256:DIGEST`).
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// With `--target webhook`: the namespace the webhook runs in.
    #[arg(long, value_name = "NAME", default_value = "rampart-system")]
    pub namespace: String,
    /// With `--target webhook`: also write a cert-manager Issuer and Certificate, and let
    /// cert-manager fill the webhook's CA bundle.
    #[arg(long)]
    pub cert_manager: bool,
}

/// What `build --target webhook` was asked for.
pub struct Args<'a> {
    /// Policy `.rp` files or folders (the standard library embedded in the image when none).
    pub paths: &'a [PathBuf],
    pub out_dir: &'a Path,
    /// The container image running `rampart`, pinned by digest.
    pub image: Option<&'a str>,
    /// The namespace the webhook runs in.
    pub namespace: &'a str,
    /// Also write a cert-manager Issuer and Certificate, and let cert-manager fill the
    /// webhook's `caBundle`.
    pub cert_manager: bool,
}

/// A ConfigMap key for a policy source name: its path with every character a key cannot
/// hold (`/` first of all) made `_`.
fn config_key(name: &str) -> String {
    let name = name.strip_prefix("./").unwrap_or(name);
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// YAML documents from JSON values, separated by `---`.
pub(super) fn yaml(docs: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    for (i, doc) in docs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        let text = serde_yaml_ng::to_string(doc).map_err(|e| format!("cannot write YAML: {e}"))?;
        out.push_str(&text);
    }
    Ok(out)
}

/// Runs `rampart build --target webhook`.
pub fn build(args: &Args) -> ExitCode {
    let Some(image) = args.image else {
        return fail(
            "`--target webhook` needs `--image IMAGE@sha256:DIGEST`: the image running `rampart \
             serve` (the standard library requires images pinned by digest)",
        );
    };
    let (compilation, texts) = match policies::compile(args.paths) {
        Ok(c) => c,
        Err(e) => return fail(&e),
    };
    let Some(program) = &compilation.program else {
        return fail("the policies do not compile");
    };
    let mut targets: Vec<&rampart_compiler::ir::Target> = program
        .rules
        .iter()
        .flat_map(|r| &r.matcher.targets)
        .collect();
    targets.sort_by(|a, b| {
        (&a.gvk.group, &a.gvk.version, &a.gvk.kind).cmp(&(
            &b.gvk.group,
            &b.gvk.version,
            &b.gvk.kind,
        ))
    });
    targets.dedup_by(|a, b| a.gvk == b.gvk);
    let rules = match serde_json::to_value(resource_rules(&targets)) {
        Ok(v) => v,
        Err(e) => return fail(&format!("cannot derive the webhook rules: {e}")),
    };
    // The keys of the policies' ConfigMap; the standard library is in the binary.
    let mut sources = Vec::new();
    if !args.paths.is_empty() {
        for (name, text) in &texts {
            let key = config_key(name);
            if let Some((other, _)) = sources.iter().find(|(k, _): &&(String, &String)| *k == key) {
                return fail(&format!(
                    "policy files `{name}` and `{other}` have the same ConfigMap key `{key}`: rename one"
                ));
            }
            sources.push((key, text));
        }
    }
    let files = manifests(args, image, rules, &sources);
    if let Err(e) = std::fs::create_dir_all(args.out_dir) {
        return fail(&format!("cannot create `{}`: {e}", args.out_dir.display()));
    }
    for (file, docs) in &files {
        let path = args.out_dir.join(file);
        let written = yaml(docs).and_then(|text| {
            output_file::write(&path, text.as_bytes())
                .map_err(|e| format!("cannot write `{}`: {e}", path.display()))
        });
        if let Err(e) = written {
            return fail(&e);
        }
    }
    eprintln!(
        "wrote {} file(s) to {}: a webhook for {} kind(s), {} rule(s)",
        files.len(),
        args.out_dir.display(),
        targets.len(),
        program.rules.len()
    );
    ExitCode::SUCCESS
}

/// The files to write, in apply order, each with its documents.
fn manifests(
    args: &Args,
    image: &str,
    mut rules: Value,
    sources: &[(String, &String)],
) -> Vec<(&'static str, Vec<Value>)> {
    let ns = args.namespace;
    let labels = json!({"app.kubernetes.io/name": NAME, "app.kubernetes.io/part-of": "rampart"});
    let selector = json!({"app.kubernetes.io/name": NAME});
    let mut files = Vec::new();

    // The namespace: restricted pods only, and no traffic but the API server's calls.
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ns,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
                "pod-security.kubernetes.io/warn": "restricted",
                "pod-security.kubernetes.io/audit": "restricted",
            },
            "annotations": {
                "rampart.dev/exempt": "net.dns_egress",
                "rampart.dev/exempt-reason": "the webhook makes no outgoing connections, so it needs no DNS",
            },
        },
    });
    let deny_all = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    });
    let allow_api_server = json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": "allow-api-server",
            "namespace": ns,
            "annotations": {
                "rampart.dev/exempt": "net.no_allow_all",
                "rampart.dev/exempt-reason": "the API server's source addresses depend on the cluster; only the webhook port is open",
            },
        },
        "spec": {
            "podSelector": {"matchLabels": selector},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": [{"protocol": "TCP", "port": 8443}]}],
        },
    });
    files.push((
        "00-namespace.yaml",
        vec![namespace, deny_all, allow_api_server],
    ));

    let account = json!({
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": NAME, "namespace": ns, "labels": labels},
        "automountServiceAccountToken": false,
    });
    files.push(("10-serviceaccount.yaml", vec![account]));

    let mut policy_args = Vec::new();
    if !sources.is_empty() {
        let data: serde_json::Map<String, Value> = sources
            .iter()
            .map(|(k, text)| (k.clone(), json!(text)))
            .collect();
        let config = json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "rampart-policies", "namespace": ns, "labels": labels},
            "data": data,
        });
        files.push(("20-policies.yaml", vec![config]));
        // Each file by name: the folder of a ConfigMap volume also holds the same files
        // under its hidden timestamped folder.
        for (key, _) in sources {
            policy_args.push("--policy".to_string());
            policy_args.push(format!("{POLICY_DIR}/{key}"));
        }
    }

    if args.cert_manager {
        let issuer = json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Issuer",
            "metadata": {"name": "rampart-selfsigned", "namespace": ns},
            "spec": {"selfSigned": {}},
        });
        let certificate = json!({
            "apiVersion": "cert-manager.io/v1",
            "kind": "Certificate",
            "metadata": {"name": NAME, "namespace": ns},
            "spec": {
                "secretName": TLS_SECRET,
                "dnsNames": [format!("{NAME}.{ns}.svc"), format!("{NAME}.{ns}.svc.cluster.local")],
                "issuerRef": {"name": "rampart-selfsigned", "kind": "Issuer"},
                "duration": "2160h",
                "renewBefore": "360h",
                "privateKey": {"algorithm": "ECDSA", "size": 256, "rotationPolicy": "Always"},
            },
        });
        files.push(("30-certificate.yaml", vec![issuer, certificate]));
    }

    let mut container_args = vec![
        "serve".to_string(),
        "--addr".into(),
        "0.0.0.0:8443".into(),
        "--tls-cert".into(),
        format!("{TLS_DIR}/tls.crt"),
        "--tls-key".into(),
        format!("{TLS_DIR}/tls.key"),
    ];
    container_args.extend(policy_args);
    let probe = |path: &str, period: u32| {
        json!({
            "httpGet": {"path": path, "port": "https", "scheme": "HTTPS"},
            "periodSeconds": period,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        })
    };
    let mut volumes = vec![
        json!({"name": "tls", "secret": {"secretName": TLS_SECRET}}),
        json!({"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}),
    ];
    let mut mounts = vec![
        json!({"name": "tls", "mountPath": TLS_DIR, "readOnly": true}),
        json!({"name": "tmp", "mountPath": "/tmp"}),
    ];
    if !sources.is_empty() {
        volumes.push(json!({"name": "policies", "configMap": {"name": "rampart-policies"}}));
        mounts.push(json!({"name": "policies", "mountPath": POLICY_DIR, "readOnly": true}));
    }
    let deployment = json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": ns, "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "serviceAccountName": NAME,
                    "automountServiceAccountToken": false,
                    "securityContext": {
                        "runAsNonRoot": true,
                        "runAsUser": 65532,
                        "runAsGroup": 65532,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": selector},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }]}},
                    "terminationGracePeriodSeconds": 30,
                    "containers": [{
                        "name": "webhook",
                        "image": image,
                        "imagePullPolicy": "IfNotPresent",
                        "args": container_args,
                        "env": [{"name": "RAMPART_CACHE_DIR", "value": "/tmp/rampart-cache"}],
                        "ports": [{"name": "https", "containerPort": 8443, "protocol": "TCP"}],
                        "readinessProbe": probe("/readyz", 5),
                        "livenessProbe": probe("/healthz", 10),
                        "resources": {
                            "requests": {"cpu": "100m", "memory": "128Mi"},
                            "limits": {"cpu": "1", "memory": "512Mi"},
                        },
                        "securityContext": {
                            "allowPrivilegeEscalation": false,
                            "privileged": false,
                            "readOnlyRootFilesystem": true,
                            "runAsNonRoot": true,
                            "capabilities": {"drop": ["ALL"]},
                        },
                        "volumeMounts": mounts,
                    }],
                    "volumes": volumes,
                },
            },
        },
    });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": NAME, "namespace": ns, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            "ports": [{"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"}],
        },
    });
    let budget = json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": NAME, "namespace": ns, "labels": labels},
        // A replica stuck unready must not block node drains.
        "spec": {
            "minAvailable": 1,
            "selector": {"matchLabels": selector},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    });
    files.push(("40-deployment.yaml", vec![deployment, service, budget]));

    // Every rule also covers the objects of all scopes; ephemeral containers are added to
    // running pods through a subresource of their own.
    if let Some(list) = rules.as_array_mut() {
        let has_pods = list.iter().any(|r| {
            r["apiGroups"] == json!([""])
                && r["resources"]
                    .as_array()
                    .is_some_and(|x| x.contains(&json!("pods")))
        });
        if has_pods {
            list.push(json!({
                "apiGroups": [""],
                "apiVersions": ["v1"],
                "operations": ["UPDATE"],
                "resources": ["pods/ephemeralcontainers"],
            }));
        }
        for r in list.iter_mut() {
            r["scope"] = json!("*");
        }
    }
    let mut metadata = json!({"name": "rampart", "labels": labels});
    if args.cert_manager {
        metadata["annotations"] = json!({"cert-manager.io/inject-ca-from": format!("{ns}/{NAME}")});
    }
    let webhook = json!({
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": metadata,
        "webhooks": [{
            "name": "validate.rampart.dev",
            "admissionReviewVersions": ["v1"],
            "sideEffects": "None",
            "failurePolicy": "Fail",
            "matchPolicy": "Equivalent",
            "timeoutSeconds": 10,
            "clientConfig": {"service": {"name": NAME, "namespace": ns, "path": "/validate", "port": 443}},
            "rules": rules,
            "namespaceSelector": {"matchExpressions": [{
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": [ns, "kube-system"],
            }]},
        }],
    });
    files.push(("50-webhook.yaml", vec![webhook]));
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_keys_hold_only_allowed_characters() {
        assert_eq!(config_key("./policies/team a/x.rp"), "policies_team_a_x.rp");
        assert_eq!(config_key("x.rp"), "x.rp");
    }
}
