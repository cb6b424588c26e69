// Numbers, sizes, durations and times in the reader's language (Intl does the work).
import { language } from "./i18n.js";

const BYTE_UNITS = [["gigabyte", 1e9], ["megabyte", 1e6], ["kilobyte", 1e3]];

export function formatBytes(bytes) {
  if (bytes == null) return "";
  for (const [unit, size] of BYTE_UNITS) {
    if (bytes >= size) {
      return new Intl.NumberFormat(language(), { style: "unit", unit, maximumFractionDigits: 1 }).format(bytes / size);
    }
  }
  return `${new Intl.NumberFormat(language()).format(bytes)} B`;
}

export function formatSpeed(bytesPerSecond) {
  return `${formatBytes(bytesPerSecond)}/s`;
}

export function formatDuration(totalSeconds) {
  if (totalSeconds < 60 && !Number.isInteger(totalSeconds)) {
    // Under a minute, tenths count: frames half a second apart must not read "1 s" twice.
    return new Intl.NumberFormat(language(), { style: "unit", unit: "second", unitDisplay: "short", maximumFractionDigits: 1 })
      .format(Math.max(0, totalSeconds));
  }
  const seconds = Math.max(0, Math.round(totalSeconds));
  const parts = [];
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = seconds % 60;
  const unit = (value, name) =>
    new Intl.NumberFormat(language(), { style: "unit", unit: name, unitDisplay: "short" }).format(value);
  if (hours) parts.push(unit(hours, "hour"));
  if (minutes) parts.push(unit(minutes, "minute"));
  if (rest || parts.length === 0) parts.push(unit(rest, "second"));
  return parts.join(" ");
}

export function formatPercent(fraction) {
  return new Intl.NumberFormat(language(), { style: "percent", maximumFractionDigits: 0 }).format(fraction);
}

export function formatNumber(value) {
  return new Intl.NumberFormat(language()).format(value);
}

export function formatWhen(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const seconds = (date.getTime() - Date.now()) / 1000;
  const relative = new Intl.RelativeTimeFormat(language(), { numeric: "auto" });
  if (Math.abs(seconds) < 60) return relative.format(Math.round(seconds), "second");
  if (Math.abs(seconds) < 3600) return relative.format(Math.round(seconds / 60), "minute");
  if (Math.abs(seconds) < 86400) return relative.format(Math.round(seconds / 3600), "hour");
  return new Intl.DateTimeFormat(language(), { dateStyle: "medium", timeStyle: "short" }).format(date);
}

export function formatDate(iso) {
  return iso ? new Intl.DateTimeFormat(language(), { dateStyle: "medium", timeStyle: "medium" }).format(new Date(iso)) : "";
}
