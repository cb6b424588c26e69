// Validates custom resources (KEDA, prometheus-operator, Argo CD) with the schemas the
// @kubernetes-models packages generate from each project's CRDs: types, required fields and enums.
// Usage: node validate-crds.mjs CRDS.json   (written by k8s_validate.py)
import { existsSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

// Import the ES module file itself: some of these packages export only the "import" condition.
const load = async (spec, name) => {
  const base = `${process.env.DEPLOY_NODE_MODULES}/${spec}`;
  const file = [`${base}.mjs`, `${base}.js`].find(existsSync);
  return (await import(pathToFileURL(file).href))[name];
};

const models = {
  "keda.sh/v1alpha1/ScaledObject": ["@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject", "ScaledObject"],
  "keda.sh/v1alpha1/TriggerAuthentication": ["@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication", "TriggerAuthentication"],
  "monitoring.coreos.com/v1/ServiceMonitor": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor", "ServiceMonitor"],
  "monitoring.coreos.com/v1/PrometheusRule": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule", "PrometheusRule"],
  "argoproj.io/v1alpha1/Application": ["@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application", "Application"],
  "argoproj.io/v1alpha1/AppProject": ["@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject", "AppProject"],
};

let failed = 0;
const crds = JSON.parse(readFileSync(process.argv[2], "utf8"));
for (const { where, doc } of crds) {
  const model = models[`${doc.apiVersion}/${doc.kind}`];
  if (!model) {
    console.log(`${where}: no validator for ${doc.apiVersion}/${doc.kind}`);
    failed++;
    continue;
  }
  const Kind = await load(...model);
  try {
    new Kind(doc).validate();
  } catch (err) {
    console.log(`${where}: ${err.message}`);
    failed++;
  }
}
console.log(`${crds.length} custom resources checked, ${failed} invalid`);
process.exit(failed ? 1 : 0);
