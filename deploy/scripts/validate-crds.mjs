// Validates custom resources (KEDA, prometheus-operator, Argo CD) in two passes:
//  1. the @kubernetes-models validators, generated from each project's CRDs: types, required fields, enums;
//  2. strict JSON schemas, generated here from the same packages' TypeScript declarations with
//     ts-json-schema-generator, in which every object with declared fields is closed
//     (additionalProperties: false): an unknown or misspelled field fails, as kubernetes-validate --strict
//     does for built-in kinds. The CRDs leave their objects open and the API server silently prunes unknown
//     fields, so without this a typo such as `maxReplicas` for `maxReplicaCount` would apply and do nothing.
// Objects the CRDs keep free-form (x-kubernetes-preserve-unknown-fields, e.g. an Application's
// helm.valuesObject) are declared as `{}` and stay open.
// Usage: node validate-crds.mjs CRDS.json SCHEMA_DIR   (CRDS.json is written by k8s_validate.py; the
// generated schemas are written to SCHEMA_DIR for reading)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const modules = resolve(process.env.DEPLOY_NODE_MODULES);
const require = createRequire(`${modules}/`);
const { createGenerator } = require("ts-json-schema-generator");
const Ajv = require("ajv");

// apiVersion/kind -> [package module path (no extension), model class, TypeScript interface]
const kinds = {
  "keda.sh/v1alpha1/ScaledObject": ["@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject", "ScaledObject", "IScaledObject"],
  "keda.sh/v1alpha1/TriggerAuthentication": ["@kubernetes-models/keda/keda.sh/v1alpha1/TriggerAuthentication", "TriggerAuthentication", "ITriggerAuthentication"],
  "monitoring.coreos.com/v1/ServiceMonitor": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor", "ServiceMonitor", "IServiceMonitor"],
  "monitoring.coreos.com/v1/PrometheusRule": ["@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule", "PrometheusRule", "IPrometheusRule"],
  "argoproj.io/v1alpha1/Application": ["@kubernetes-models/argo-cd/argoproj.io/v1alpha1/Application", "Application", "IApplication"],
  "argoproj.io/v1alpha1/AppProject": ["@kubernetes-models/argo-cd/argoproj.io/v1alpha1/AppProject", "AppProject", "IAppProject"],
};

// Import the ES module file itself: some of these packages export only the "import" condition.
const loadModel = async (spec, name) => {
  const base = `${modules}/${spec}`;
  const file = [`${base}.mjs`, `${base}.js`].find(existsSync);
  return (await import(pathToFileURL(file).href))[name];
};

// An object schema that declares no field is free-form in the CRD: leave it open.
const openFreeForm = (node) => {
  if (Array.isArray(node)) {
    node.forEach(openFreeForm);
  } else if (node && typeof node === "object") {
    if (node.additionalProperties === false && !node.properties && !node.patternProperties) {
      delete node.additionalProperties;
    }
    Object.values(node).forEach(openFreeForm);
  }
  return node;
};

const strictSchema = (spec, type) => {
  const schema = createGenerator({
    path: `${modules}/${spec}.d.ts`,
    type,
    skipTypeCheck: true,
    additionalProperties: false,
    expose: "export",
    topRef: true,
  }).createSchema(type);
  return openFreeForm(schema);
};

const describe = (error) =>
  error.keyword === "additionalProperties"
    ? `unknown field "${error.params.additionalProperty}" at ${error.instancePath || "/"}`
    : `${error.instancePath || "/"} ${error.message}`;

const [crdsFile, schemaDir] = process.argv.slice(2);
mkdirSync(schemaDir, { recursive: true });
const ajv = new Ajv({ allErrors: true, strict: false });
const validators = {};
let failed = 0;
const crds = JSON.parse(readFileSync(crdsFile, "utf8"));
for (const { where, doc } of crds) {
  const key = `${doc.apiVersion}/${doc.kind}`;
  if (!kinds[key]) {
    console.log(`${where}: no validator for ${key}`);
    failed++;
    continue;
  }
  const [spec, name, type] = kinds[key];
  const Kind = await loadModel(spec, name);
  let valid = true;
  try {
    new Kind(doc).validate();
  } catch (err) {
    console.log(`${where}: ${err.message}`);
    valid = false;
  }
  if (!validators[key]) {
    const schema = strictSchema(spec, type);
    writeFileSync(`${schemaDir}/${key.replaceAll("/", "_")}.json`, JSON.stringify(schema, null, 1));
    validators[key] = ajv.compile(schema);
  }
  if (!validators[key](doc)) {
    // An unknown field is what this pass is for; the models above already report wrong types and values.
    const errors = validators[key].errors;
    const unknown = errors.filter((e) => e.keyword === "additionalProperties");
    for (const error of (unknown.length ? unknown : errors).slice(0, 10)) console.log(`${where}: strict: ${describe(error)}`);
    valid = false;
  }
  if (!valid) failed++;
}
console.log(`${crds.length} custom resources checked (models and strict schemas), ${failed} invalid`);
process.exit(failed ? 1 : 0);
