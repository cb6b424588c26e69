// What went wrong, in plain words: problem+json codes and processing failure codes, with the server's own
// words as the fallback for a code this page does not know yet.
import { formatBytes, formatDuration } from "./format.js";
import { has, t } from "./i18n.js";
import { optionLabel } from "./options.js";

export function problemMessage(error) {
  const problem = error.problem || {};
  const key = `problem.${error.code}`;
  if (error.code === "validation_error" && Array.isArray(problem.errors) && problem.errors.length) {
    const fields = [...new Set(problem.errors.map((e) => optionLabel(e.field)))];
    return t("problem.validation_error", { fields: fields.join(", ") });
  }
  if (has(key)) {
    return t(key, {
      limit: problem.limit != null ? formatBytes(problem.limit) : "",
      count: problem.limit ?? "",
      wait: problem.retry_after != null ? formatDuration(problem.retry_after) : "",
    });
  }
  return problem.detail || problem.title || t("problem.unknown");
}

export function failureReason(error) {
  if (!error) return "";
  const key = `failure.${error.code}`;
  return has(key) ? t(key) : error.message || t("failure.unknown");
}
