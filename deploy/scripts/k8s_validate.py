"""Strict schema validation of rendered Kubernetes manifests, for deploy/scripts/validate.sh.

Usage: k8s_validate.py KUBERNETES_VERSION CRD_JSON_OUT FILE...

Every built-in kind is validated with kubernetes-validate in strict mode (an unknown field is an error).
A kind with no built-in schema is an error too, unless it is one of the custom resources below:
External Secrets kinds, and the RabbitMQ operators' and cert-manager's (deploy/schemas/operators.json), are
checked here against deploy/schemas; the others (KEDA, prometheus-operator, Argo CD) are written to
CRD_JSON_OUT for validate-crds.mjs.
"""

import json
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import yaml

NODE_VALIDATED = {
    "keda.sh/v1alpha1": {"ScaledObject", "TriggerAuthentication"},
    "monitoring.coreos.com/v1": {"ServiceMonitor", "PrometheusRule"},
    "argoproj.io/v1alpha1": {"Application", "AppProject"},
}
SCHEMA_VALIDATED = {"external-secrets.io/v1": {"ExternalSecret", "SecretStore"}}
SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


def is_kind(doc: dict, table: dict[str, set[str]]) -> bool:
    return doc.get("kind") in table.get(doc.get("apiVersion", ""), set())


def main() -> int:
    version, crd_out, *files = sys.argv[1:]
    eso_schema = json.loads((SCHEMAS / "external-secrets.io_v1.json").read_text())
    operator_schemas = json.loads((SCHEMAS / "operators.json").read_text())["kinds"]
    crds, errors, checked = [], 0, 0
    for path in files:
        for doc in yaml.safe_load_all(Path(path).read_text()):
            if not doc:
                continue
            checked += 1
            where = f"{path}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            try:
                if is_kind(doc, NODE_VALIDATED):
                    crds.append({"where": where, "doc": doc})
                elif is_kind(doc, SCHEMA_VALIDATED):
                    jsonschema.validate(doc, eso_schema)
                elif f"{doc.get('apiVersion')}/{doc.get('kind')}" in operator_schemas:
                    jsonschema.validate(doc, operator_schemas[f"{doc['apiVersion']}/{doc['kind']}"])
                else:
                    kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.SchemaNotFoundError:
                print(f"{where}: unknown kind {doc.get('apiVersion')}/{doc.get('kind')}")
                errors += 1
            except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as exc:
                print(f"{where}: {getattr(exc, 'message', exc)} at {'/'.join(map(str, exc.path))}")
                errors += 1
    Path(crd_out).write_text(json.dumps(crds))
    print(f"{checked} manifests checked ({len(crds)} custom resources left for validate-crds.mjs), {errors} invalid")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
