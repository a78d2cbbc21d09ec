#!/bin/sh
# Fills fuzz/corpus/<target>/ with seeds taken from the repository's own files.
# Run from the repository root: `sh fuzz/seed.sh`. Needs python3 with PyYAML for the JSON seeds.
set -eu
corpus=fuzz/corpus
mkdir -p "$corpus/compile_source" "$corpus/export_program" "$corpus/load_manifest" "$corpus/evaluate_object"
for f in $(find stdlib/policies examples tests/diagnostics tests/manifests/policies -name '*.rp'); do
    name=$(echo "$f" | tr '/' '_')
    cp "$f" "$corpus/compile_source/$name"
    cp "$f" "$corpus/export_program/$name"
done
# Escapes in metadata strings, which exporters must carry into YAML and Rego intact.
printf '%s\n' 'module seed' 'rule escapes {' '  title "a\n---\nb: \"c\" \\ \{d\}"' \
    '  match Pod' '  deny when true message "m\n#"' '}' > "$corpus/export_program/escapes.rp"
for f in $(find examples/manifests tests/manifests -name '*.yaml' -o -name '*.yml' -o -name '*.json'); do
    cp "$f" "$corpus/load_manifest/$(echo "$f" | tr '/' '_')"
done
# The evaluator target reads one JSON object: every object of the example manifests.
python3 - "$corpus/evaluate_object" examples/manifests tests/manifests/controllers tests/manifests/clean tests/manifests/lists <<'PY'
import json, os, sys, yaml
out = sys.argv[1]
n = 0
for root in sys.argv[2:]:
    for folder, _, files in os.walk(root):
        for name in sorted(files):
            if not name.endswith((".yaml", ".yml")):
                continue
            try:
                docs = list(yaml.safe_load_all(open(os.path.join(folder, name))))
            except Exception:
                continue
            for doc in docs:
                if isinstance(doc, dict):
                    n += 1
                    with open(os.path.join(out, f"object-{n:04}.json"), "w") as f:
                        json.dump(doc, f, default=str)
PY
