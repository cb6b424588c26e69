// The page's words in English and Portuguese. The language comes from the browser unless the reader chose one
// (that choice, not the session, is what the page keeps in localStorage).
const SUPPORTED = ["en", "pt"];
const STORAGE_KEY = "framepipe.language";
let current = "en";
let catalog = {};

export function language() {
  return current;
}

export function preferredLanguage() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (SUPPORTED.includes(saved)) return saved;
  for (const tag of navigator.languages || [navigator.language]) {
    const base = String(tag).toLowerCase().split("-")[0];
    if (SUPPORTED.includes(base)) return base;
  }
  return "en";
}

export async function useLanguage(next, { remember = false } = {}) {
  const chosen = SUPPORTED.includes(next) ? next : "en";
  const response = await fetch(`/app/assets/i18n/${chosen}.json`, { cache: "no-cache" });
  catalog = await response.json();
  current = chosen;
  document.documentElement.lang = chosen;
  if (remember) localStorage.setItem(STORAGE_KEY, chosen);
  translate(document);
}

export function has(key) {
  return Object.hasOwn(catalog, key);
}

// `{name}` placeholders; an entry that is an object is chosen by plural category of `params.n`.
export function t(key, params = {}) {
  let entry = catalog[key];
  if (entry === undefined) return key;
  if (typeof entry === "object") {
    entry = entry[new Intl.PluralRules(current).select(params.n ?? 0)] ?? entry.other;
  }
  return entry.replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}

export function translate(root) {
  for (const element of root.querySelectorAll("[data-i18n]")) element.textContent = t(element.dataset.i18n);
  for (const element of root.querySelectorAll("[data-i18n-label]")) {
    element.setAttribute("aria-label", t(element.dataset.i18nLabel));
  }
}
