//! Generated manifests of realistic size, shared by the throughput and end-to-end benches.

/// Generates the objects numbered `range`, alternating Pod and Deployment, with 1–3 containers
/// each, a mix of compliant and non-compliant settings, labels, probes and resources, as real
/// manifests have.
pub fn generate(range: std::ops::Range<usize>) -> String {
    let mut out = String::new();
    for i in range {
        let containers = 1 + i % 3;
        let (head, indent) = if i % 2 == 0 {
            (
                format!(
                    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: app-{i}\n  namespace: team-{}\n  labels:\n    app: app-{i}\n    tier: backend\n  annotations:\n    example.com/owner: team-{}\nspec:\n",
                    i % 17,
                    i % 17
                ),
                "  ",
            )
        } else {
            (
                format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: team-{}\n  labels:\n    app: app-{i}\nspec:\n  replicas: 3\n  selector:\n    matchLabels:\n      app: app-{i}\n  template:\n    metadata:\n      labels:\n        app: app-{i}\n    spec:\n",
                    i % 17
                ),
                "      ",
            )
        };
        out.push_str("---\n");
        out.push_str(&head);
        out.push_str(&format!("{indent}serviceAccountName: sa-{i}\n{indent}securityContext:\n{indent}  runAsNonRoot: true\n{indent}  seccompProfile:\n{indent}    type: RuntimeDefault\n{indent}containers:\n"));
        for c in 0..containers {
            let image = match (i + c) % 4 {
                0 => format!("ghcr.io/example/app-{c}:1.{i}"),
                1 => "nginx".to_string(),
                2 => format!("registry.example.com/team/app@sha256:{:064x}", i * 31 + c),
                _ => format!("docker.io/library/redis:7.{c}"),
            };
            out.push_str(&format!(
                "{indent}- name: c{c}\n{indent}  image: {image}\n{indent}  ports:\n{indent}  - containerPort: {}\n{indent}    protocol: TCP\n{indent}  resources:\n{indent}    limits:\n{indent}      cpu: 500m\n{indent}      memory: 256Mi\n{indent}    requests:\n{indent}      cpu: 100m\n{indent}      memory: 128Mi\n{indent}  readinessProbe:\n{indent}    httpGet:\n{indent}      path: /healthz\n{indent}      port: 8080\n{indent}  securityContext:\n{indent}    allowPrivilegeEscalation: {}\n{indent}    privileged: {}\n{indent}    readOnlyRootFilesystem: true\n{indent}    capabilities:\n{indent}      drop: [\"ALL\"]\n",
                8080 + c,
                i % 5 == 0,
                i % 11 == 0
            ));
        }
    }
    out
}
