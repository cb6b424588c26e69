// The page: who is signed in, which view shows (/app/ or /app/videos/<id>), and the wiring between the upload
// queue, the list, the live feed and the session. No framework and no build step: plain modules.
import { api, ApiError } from "./api.js";
import { formatBytes, formatNumber } from "./format.js";
import { language, preferredLanguage, t, translate, useLanguage } from "./i18n.js";
import { LiveFeed } from "./live.js";
import { applyLimits, chosenOptions, showApplicable } from "./options.js";
import { failureReason, problemMessage } from "./messages.js";
import { UploadQueue } from "./uploads.js";
import { VideoList, isTerminal, renderVideo } from "./videos.js";

const $ = (id) => document.getElementById(id);
const VIEWS = ["auth-view", "home-view", "video-view", "settings-view", "missing-view"];
const LIST_FALLBACK_MS = 3000;

const state = { user: null, limits: null, refreshTimer: null, listTimer: null, shown: null };

const videos = new VideoList({
  list: $("videos"),
  empty: $("videos-empty"),
  more: $("more"),
  template: $("video-template"),
  onDelete: (video) => confirmDelete(video),
});

const uploads = new UploadQueue({
  list: $("uploads"),
  template: $("upload-template"),
  announce,
  onAccepted: (video) => videos.upsert(video),
});

const live = new LiveFeed({
  onReady: () => loadFirstPage(),
  onVideo: (video) => changed(video),
  onDeleted: (id) => deleted(id),
  onResync: () => loadFirstPage({ again: true }),
  onState: (value) => showLiveState(value),
  onRefused: () => streamRefused(),
});

// --- announcements and notices ---------------------------------------------------------------------------------

function announce(text) {
  const region = $("announcer");
  region.textContent = "";
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}

function notify(text) {
  $("notice-text").textContent = text;
  $("notice").hidden = false;
}

function showLiveState(value) {
  const element = $("live-state");
  element.dataset.state = value;
  element.textContent = t(`live.${value}`);
}

// --- views -----------------------------------------------------------------------------------------------------

function route() {
  if (/^\/app\/settings\/?$/.test(location.pathname)) return { name: "settings" };
  const match = location.pathname.match(/^\/app\/videos\/([0-9a-fA-F-]{36})\/?$/);
  return match ? { name: "video", id: match[1].toLowerCase() } : { name: "home" };
}

function show(view, title, { focus = true } = {}) {
  $("loading").hidden = true;
  for (const id of VIEWS) $(id).hidden = id !== view;
  document.title = title ? `${title} · framepipe` : "framepipe";
  if (focus && state.shown !== null) $(view).querySelector("h1")?.focus();
  state.shown = view;
}

async function render({ focus = true } = {}) {
  if (!state.user) {
    show("auth-view", t("signIn"), { focus });
    return;
  }
  const current = route();
  if (current.name === "home") {
    show("home-view", null, { focus });
    return;
  }
  if (current.name === "settings") {
    show("settings-view", t("settingsTitle"), { focus });
    return;
  }
  const known = videos.videos.get(current.id);
  if (known) {
    showVideo(known, { focus });
    return;
  }
  try {
    showVideo(await api.video(current.id), { focus });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) show("missing-view", t("missingTitle"), { focus });
    else if (!handledSessionEnd(error)) notify(problemMessage(error));
  }
}

function showVideo(video, { focus = true } = {}) {
  $("video-title").textContent = video.filename;
  renderVideo($("video-detail"), video, { onDelete: (v) => confirmDelete(v) });
  show("video-view", video.filename, { focus });
}

function navigate(path) {
  history.pushState(null, "", path);
  render();
}

// --- the list and its live feed --------------------------------------------------------------------------------

async function loadFirstPage({ again = false } = {}) {
  clearTimeout(state.listTimer);
  if (videos.loaded && !again) return;
  try {
    const page = await api.videos(null);
    if (again) videos.reset();
    videos.addPage(page);
  } catch (error) {
    if (!handledSessionEnd(error)) notify(problemMessage(error));
  }
}

function changed(video) {
  const before = videos.upsert(video);
  if (before && !isTerminal(before) && isTerminal(video)) {
    announce(
      video.status === "done"
        ? t("announce.done", { name: video.filename, count: formatNumber(video.frame_count ?? 0) })
        : t("announce.failed", { name: video.filename, reason: failureReason(video.error) }),
    );
  }
  const current = route();
  if (state.shown === "video-view" && current.name === "video" && current.id === video.id) {
    showVideo(videos.videos.get(video.id) ?? video, { focus: false });
  }
}

function deleted(id) {
  videos.remove(id);
  const current = route();
  if (current.name === "video" && current.id === id && state.shown === "video-view") {
    show("missing-view", t("missingTitle"), { focus: false });
  }
}

async function streamRefused() {
  // The stream was refused outright: a signed-out session ends here; anything else is tried again later.
  try {
    await api.session();
    live.reopenLater();
  } catch (error) {
    if (!handledSessionEnd(error)) live.reopenLater();
  }
}

// --- session ---------------------------------------------------------------------------------------------------

function scheduleRefresh(expiresIn) {
  clearTimeout(state.refreshTimer);
  const seconds = Math.max(10, Math.floor(expiresIn * 0.8));
  state.refreshTimer = setTimeout(async () => {
    try {
      const session = await api.refresh();
      scheduleRefresh(session.expires_in);
    } catch (error) {
      if (!handledSessionEnd(error)) scheduleRefresh(60);
    }
  }, seconds * 1000);
}

function handledSessionEnd(error) {
  if (!(error instanceof ApiError) || error.status !== 401) return false;
  signedOut(t("sessionEnded"));
  return true;
}

async function signedIn(session) {
  state.user = session.user;
  $("who").textContent = session.user.email;
  $("who").hidden = false;
  $("sign-out").hidden = false;
  $("settings-link").hidden = false;
  scheduleRefresh(session.expires_in);
  await loadLimits();
  videos.reset();
  live.lastId = null;
  live.open();
  clearTimeout(state.listTimer);
  state.listTimer = setTimeout(() => loadFirstPage(), LIST_FALLBACK_MS); // the list, even without a live feed
}

function signedOut(message) {
  state.user = null;
  clearTimeout(state.refreshTimer);
  clearTimeout(state.listTimer);
  live.close();
  videos.reset();
  $("uploads").replaceChildren();
  $("who").hidden = true;
  $("sign-out").hidden = true;
  $("settings-link").hidden = true;
  if ($("confirm-account").open) $("confirm-account").close();
  for (const form of [$("sign-in-form"), $("register-form"), $("password-form"), $("delete-account-form")]) form.reset();
  render();
  if (message) announce(message);
  if (message) notify(message);
}

async function loadLimits() {
  try {
    state.limits = await api.limits();
  } catch {
    state.limits = null; // the server still checks everything
  }
  uploads.limits = state.limits;
  describeLimits();
}

function describeLimits() {
  applyLimits(state.limits?.options);
  if (state.limits) {
    $("limits-hint").textContent = t("limitsHint", { size: formatBytes(state.limits.max_upload_bytes) });
  }
}

// --- forms -----------------------------------------------------------------------------------------------------

function formError(form, message, field) {
  const box = form.querySelector(".form-error");
  box.textContent = message;
  box.hidden = !message;
  for (const input of form.querySelectorAll("input")) input.removeAttribute("aria-invalid");
  if (field) {
    field.setAttribute("aria-invalid", "true");
    field.focus();
  }
}

async function submitting(form, action) {
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  try {
    await action();
  } finally {
    button.disabled = false;
  }
}

async function signIn(event) {
  event.preventDefault();
  const form = $("sign-in-form");
  const email = $("sign-in-email");
  const password = $("sign-in-password");
  if (!email.value.trim() || !email.validity.valid) return formError(form, t("invalidEmail"), email);
  if (!password.value) return formError(form, t("passwordMissing"), password);
  await submitting(form, async () => {
    try {
      const session = await api.signIn(email.value.trim(), password.value);
      formError(form, "");
      await signedIn(session);
      render();
      announce(t("signedInAs", { email: session.user.email }));
    } catch (error) {
      formError(form, problemMessage(error), error.code === "invalid_credentials" ? password : null);
    }
  });
}

async function register(event) {
  event.preventDefault();
  const form = $("register-form");
  const email = $("register-email");
  const password = $("register-password");
  const repeat = $("register-repeat");
  if (!email.value.trim() || !email.validity.valid) return formError(form, t("invalidEmail"), email);
  if (password.value.length < 8) return formError(form, t("passwordShort"), password);
  if (password.value !== repeat.value) return formError(form, t("passwordsDiffer"), repeat);
  await submitting(form, async () => {
    try {
      await api.register(email.value.trim(), password.value, $("register-name").value.trim());
      const session = await api.signIn(email.value.trim(), password.value);
      formError(form, "");
      await signedIn(session);
      render();
      announce(t("welcomeNew", { email: session.user.email }));
    } catch (error) {
      formError(form, problemMessage(error), error.code === "email_taken" ? email : null);
    }
  });
}

// --- account settings ------------------------------------------------------------------------------------------

async function changePassword(event) {
  event.preventDefault();
  const form = $("password-form");
  const current = $("current-password");
  const next = $("new-password");
  const repeat = $("new-password-repeat");
  if (!current.value) return formError(form, t("passwordMissing"), current);
  if (next.value.length < 8) return formError(form, t("passwordShort"), next);
  if (next.value !== repeat.value) return formError(form, t("passwordsDiffer"), repeat);
  await submitting(form, async () => {
    try {
      await api.changePassword(current.value, next.value);
      form.reset();
      formError(form, "");
      scheduleRefresh((await api.session()).expires_in); // the answer carried a fresh session cookie
      announce(t("passwordChanged"));
      notify(t("passwordChanged"));
    } catch (error) {
      if (handledSessionEnd(error)) return;
      formError(form, problemMessage(error), error.code === "wrong_password" ? current : null);
    }
  });
}

function openAccountDeletion() {
  const form = $("delete-account-form");
  form.reset();
  formError(form, "");
  $("confirm-account").showModal();
  $("delete-account-password").focus();
}

async function deleteAccount(event) {
  event.preventDefault();
  const form = $("delete-account-form");
  const password = $("delete-account-password");
  if (!password.value) return formError(form, t("passwordMissing"), password);
  await submitting(form, async () => {
    try {
      await api.deleteAccount(password.value);
      $("confirm-account").close();
      history.replaceState(null, "", "/app/");
      signedOut(t("accountDeleted"));
    } catch (error) {
      if (handledSessionEnd(error)) return;
      formError(form, problemMessage(error), error.code === "wrong_password" ? password : null);
    }
  });
}

function selectTab(which) {
  const signInTab = which === "sign-in";
  $("tab-sign-in").setAttribute("aria-selected", String(signInTab));
  $("tab-register").setAttribute("aria-selected", String(!signInTab));
  $("tab-sign-in").tabIndex = signInTab ? 0 : -1;
  $("tab-register").tabIndex = signInTab ? -1 : 0;
  $("sign-in-form").hidden = !signInTab;
  $("register-form").hidden = signInTab;
}

function tabKeys(event) {
  if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
  event.preventDefault();
  const next = event.currentTarget.id === "tab-sign-in" ? "register" : "sign-in";
  selectTab(next);
  $(`tab-${next}`).focus();
}

// --- uploads and deletes ---------------------------------------------------------------------------------------

function addFiles(files) {
  if (!files.length) return;
  const options = chosenOptions();
  if (!options.fields) {
    notify(options.message);
    options.input.focus();
    return;
  }
  uploads.add([...files], options.fields);
}

function confirmDelete(video) {
  const dialog = $("confirm-delete");
  $("confirm-text").textContent = t("deleteText", { name: video.filename });
  dialog.returnValue = "";
  dialog.showModal();
  dialog.addEventListener(
    "close",
    async () => {
      if (dialog.returnValue !== "delete") return;
      try {
        await api.remove(video.id);
        videos.remove(video.id);
        announce(t("deletedNamed", { name: video.filename }));
        if (route().name === "video") navigate("/app/");
      } catch (error) {
        if (!handledSessionEnd(error)) notify(problemMessage(error));
      }
    },
    { once: true },
  );
}

// --- wiring ----------------------------------------------------------------------------------------------------

function wire() {
  $("sign-in-form").addEventListener("submit", signIn);
  $("register-form").addEventListener("submit", register);
  $("tab-sign-in").addEventListener("click", () => selectTab("sign-in"));
  $("tab-register").addEventListener("click", () => selectTab("register"));
  $("tab-sign-in").addEventListener("keydown", tabKeys);
  $("tab-register").addEventListener("keydown", tabKeys);
  $("notice-close").addEventListener("click", () => {
    $("notice").hidden = true;
  });
  $("sign-out").addEventListener("click", async () => {
    try {
      await api.signOut();
    } finally {
      signedOut(null);
      announce(t("signedOut"));
    }
  });
  $("password-form").addEventListener("submit", changePassword);
  $("delete-account").addEventListener("click", openAccountDeletion);
  $("delete-account-form").addEventListener("submit", deleteAccount);
  $("delete-account-cancel").addEventListener("click", () => $("confirm-account").close());
  $("choose-files").addEventListener("click", () => $("file-input").click());
  $("file-input").addEventListener("change", (event) => {
    addFiles(event.target.files);
    event.target.value = "";
  });
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("over");
    addFiles(event.dataTransfer.files);
  });
  $("options").addEventListener("change", () => showApplicable());
  $("options").addEventListener("input", (event) => event.target.removeAttribute("aria-invalid"));
  $("more").addEventListener("click", async () => {
    try {
      videos.addPage(await api.videos(videos.cursor));
    } catch (error) {
      if (!handledSessionEnd(error)) notify(problemMessage(error));
    }
  });
  $("language").addEventListener("change", async (event) => {
    await useLanguage(event.target.value, { remember: true });
    rerender();
  });
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-nav]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    navigate(link.getAttribute("href"));
  });
  window.addEventListener("popstate", () => render());
}

function rerender() {
  videos.rerender();
  describeLimits();
  showLiveState($("live-state").dataset.state);
  render({ focus: false });
}

async function start() {
  await useLanguage(preferredLanguage());
  $("language").value = language();
  wire();
  try {
    await signedIn(await api.session());
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 401)) notify(problemMessage(error));
  }
  await render({ focus: false });
}

start();
