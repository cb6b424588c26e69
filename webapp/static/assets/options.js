// The processing options of the upload form and of a video's view. Bounds come from the server (GET /video/limits
// serves the schema generated from the contract); only the fields that apply to the chosen mode and format are
// shown and sent; the contract's rules about combinations are checked here before a byte is sent, and the server
// checks everything again.
import { formatNumber } from "./format.js";
import { has, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const optionInputs = () => [...document.querySelectorAll("#options [data-option]")];

export function applyLimits(schema) {
  const properties = schema?.properties ?? {};
  for (const input of optionInputs()) {
    const property = properties[input.dataset.option];
    if (!property || input.type !== "number") continue;
    const low = property.minimum ?? property.exclusiveMinimum;
    const high = property.maximum ?? property.exclusiveMaximum;
    if (low === undefined || high === undefined) continue;
    Object.assign(input, { min: low, max: high });
    input.dataset.exclusiveMin = String(property.exclusiveMinimum !== undefined);
    input.dataset.exclusiveMax = String(property.exclusiveMaximum !== undefined);
    const hint = $(`${input.id}-hint`);
    if (hint) hint.textContent = t(input.id === "interval" ? "intervalHint" : "rangeHint", bounds(input));
  }
}

export function showApplicable() {
  const mode = $("mode").value;
  const spacing = document.querySelector("input[name=spacing]:checked")?.value ?? "every";
  for (const element of document.querySelectorAll("#options [data-modes]")) {
    const forMode = element.dataset.modes.split(" ").includes(mode);
    element.hidden = !forMode || (element.dataset.spacing !== undefined && element.dataset.spacing !== spacing);
  }
  $("quality-field").hidden = $("image-format").value === "png";
}

// { fields } to send, or { message, input } when a choice is refused.
export function chosenOptions() {
  const fields = {};
  for (const input of optionInputs()) {
    input.removeAttribute("aria-invalid");
    if (input.closest("[hidden]")) continue; // not for this mode or format
    if (input.type === "checkbox") {
      if (input.checked) fields[input.dataset.option] = "true";
    } else if (input.type !== "number") {
      fields[input.dataset.option] = input.value;
    } else if (input.value !== "" || input.validity.badInput) {
      const message = outOfBounds(input);
      if (message) return refused(input, message);
      fields[input.dataset.option] = input.value;
    }
  }
  const rule = brokenRule(fields);
  if (rule) return refused($(rule.input), t(rule.key));
  return { fields };
}

// The contract's rules about combinations (contracts/events.py, ProcessingOptions).
function brokenRule(fields) {
  const mode = fields.mode ?? "interval";
  if (fields.count !== undefined && mode !== "interval") return { input: "count", key: "rule.countInterval" };
  if (fields.max_frames !== undefined && mode === "interval") return { input: "max-frames", key: "rule.maxFramesMode" };
  if (fields.end_seconds !== undefined && Number(fields.end_seconds) <= Number(fields.start_seconds ?? 0)) {
    return { input: "end", key: "rule.endAfterStart" };
  }
  if (fields.quality !== undefined && (fields.image_format ?? "png") === "png") return { input: "quality", key: "rule.qualityPng" };
  return null;
}

function outOfBounds(input) {
  const value = Number(input.value);
  const whole = input.step === "1";
  const low = input.min === "" ? -Infinity : Number(input.min);
  const high = input.max === "" ? Infinity : Number(input.max);
  const tooLow = input.dataset.exclusiveMin === "true" ? value <= low : value < low;
  const tooHigh = input.dataset.exclusiveMax === "true" ? value >= high : value > high;
  const wrong = input.value === "" || !Number.isFinite(value) || (whole && !Number.isInteger(value)) || tooLow || tooHigh;
  if (!wrong) return null;
  if (input.id === "interval") return t("intervalInvalid", bounds(input));
  const label = input.labels[0]?.textContent ?? input.dataset.option;
  if (input.min === "" || input.max === "") return t("optionNotNumber", { label });
  return t(whole ? "optionInvalidWhole" : "optionInvalid", { label, ...bounds(input) });
}

function bounds(input) {
  return { min: formatNumber(Number(input.min)), max: formatNumber(Number(input.max)) };
}

function refused(input, message) {
  input.setAttribute("aria-invalid", "true");
  return { message, input };
}

// A field's name in plain words, for the server's refusals.
export function optionLabel(field) {
  return has(`option.${field}`) ? t(`option.${field}`) : field;
}

// [term, description] pairs of a video's options, in plain words.
export function optionFacts(options) {
  const facts = [[t("fact.which"), which(options)], [t("fact.range"), range(options)]];
  facts.push([t("fact.frameSize"), frameSize(options)]);
  const format = options.image_format.toUpperCase();
  facts.push([t("fact.format"), options.quality == null ? format : t("opt.quality", { format, quality: options.quality })]);
  const extras = [];
  if (options.skip_black_start) extras.push(t("opt.skipBlackStart"));
  if (options.storyboard) extras.push(t("opt.storyboard"));
  if (extras.length) facts.push([t("fact.extras"), extras.join(", ")]);
  return facts;
}

function which(options) {
  const most = options.max_frames == null ? "" : t("opt.atMost", { n: options.max_frames, count: formatNumber(options.max_frames) });
  if (options.mode === "keyframes") return t("opt.keyframes") + most;
  if (options.mode === "scenes") return t("opt.scenes", { threshold: formatNumber(options.scene_threshold) }) + most;
  if (options.count != null) return t("opt.count", { n: options.count, count: formatNumber(options.count) });
  return t("everySeconds", { n: options.interval_seconds, seconds: formatNumber(options.interval_seconds) });
}

function range(options) {
  const start = formatNumber(options.start_seconds ?? 0);
  if (options.end_seconds != null) return t("opt.range", { start, end: formatNumber(options.end_seconds) });
  return options.start_seconds ? t("opt.rangeFrom", { start }) : t("opt.wholeVideo");
}

function frameSize({ width, height }) {
  if (width != null && height != null) return t("opt.fit", { width, height });
  if (width != null) return t("opt.maxWidth", { width });
  if (height != null) return t("opt.maxHeight", { height });
  return t("opt.originalSize");
}
