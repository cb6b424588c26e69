// The user's videos as the page shows them: the list (kept in order, newest first, updated in place) and the
// view of one video. Every text is set with textContent: nothing from the server is parsed as HTML.
import { downloadUrl, previewUrl } from "./api.js";
import { formatBytes, formatDate, formatDuration, formatNumber, formatPercent, formatWhen } from "./format.js";
import { optionFacts } from "./options.js";
import { t, translate } from "./i18n.js";
import { failureReason } from "./messages.js";

const TERMINAL = new Set(["done", "failed"]);

export function isNewer(candidate, known) {
  return !known || candidate.updated_at >= known.updated_at;
}

function summary(video) {
  const size = formatBytes(video.size_bytes);
  const when = formatWhen(video.created_at);
  switch (video.status) {
    case "processing":
      return [formatPercent(video.progress), size, when].join(" · ");
    case "done":
      return [t("frames", { n: video.frame_count ?? 0, count: formatNumber(video.frame_count ?? 0) }),
        t("zipSize", { size: formatBytes(video.result_size_bytes) }), when].join(" · ");
    case "failed":
      return [size, when].join(" · ");
    default:
      return [t("status.waiting"), size, when].join(" · ");
  }
}

function fillStatus(badge, bar, video) {
  badge.className = `badge ${video.status}`;
  badge.textContent = t(`status.${video.status}`);
  if (bar) {
    bar.value = video.status === "done" ? 1 : video.progress;
    bar.setAttribute("aria-label", t("processingOf", { name: video.filename }));
  }
}

export class VideoList {
  constructor({ list, empty, more, template, onDelete }) {
    Object.assign(this, { list, empty, more, template, onDelete });
    this.videos = new Map();
    this.elements = new Map();
    this.cursor = null;
    this.loaded = false;
  }

  reset() {
    this.videos.clear();
    this.elements.clear();
    this.list.replaceChildren();
    this.cursor = null;
    this.loaded = false;
    this.refreshEmpty();
  }

  // A page from GET /video: `complete` when there is nothing older.
  addPage(page) {
    for (const video of page.items) this.upsert(video, { fromList: true });
    this.cursor = page.next_cursor;
    this.loaded = true;
    this.more.hidden = !this.cursor;
    this.refreshEmpty();
  }

  // Returns the previous version (undefined if new); ignores a version older than the one shown.
  upsert(video, { fromList = false } = {}) {
    const known = this.videos.get(video.id);
    if (!isNewer(video, known)) return known;
    if (!known && !fromList && this.cursor && this.oldestShown() > video.created_at) return known; // on a later page
    this.videos.set(video.id, video);
    let element = this.elements.get(video.id);
    if (!element) {
      element = this.create(video);
      this.elements.set(video.id, element);
      this.place(video, element);
    }
    this.fill(element, video);
    this.refreshEmpty();
    return known;
  }

  remove(id) {
    this.videos.delete(id);
    this.elements.get(id)?.remove();
    this.elements.delete(id);
    this.refreshEmpty();
  }

  oldestShown() {
    let oldest = null;
    for (const video of this.videos.values()) if (!oldest || video.created_at < oldest) oldest = video.created_at;
    return oldest;
  }

  place(video, element) {
    const before = [...this.videos.values()]
      .filter((other) => other.id !== video.id && other.created_at < video.created_at && this.elements.has(other.id))
      .sort((a, b) => (a.created_at < b.created_at ? 1 : -1))[0];
    if (before) this.list.insertBefore(element, this.elements.get(before.id));
    else this.list.append(element);
  }

  create(video) {
    const element = this.template.content.firstElementChild.cloneNode(true);
    translate(element);
    element.dataset.id = video.id;
    element.querySelector(".video-delete").addEventListener("click", () => this.onDelete(this.videos.get(video.id)));
    return element;
  }

  fill(element, video) {
    element.dataset.status = video.status;
    const name = element.querySelector(".video-name");
    name.textContent = video.filename;
    name.href = `/app/videos/${video.id}`;
    fillStatus(element.querySelector(".badge"), element.querySelector("progress"), video);
    element.querySelector(".video-meta").textContent = summary(video);
    const error = element.querySelector(".video-error");
    error.hidden = video.status !== "failed";
    error.textContent = video.status === "failed" ? failureReason(video.error) : "";
    const download = element.querySelector(".video-download");
    download.hidden = video.status !== "done";
    download.href = downloadUrl(video.id);
    download.setAttribute("aria-label", t("downloadNamed", { name: video.filename }));
    element.querySelector(".video-delete").setAttribute("aria-label", t("deleteNamed", { name: video.filename }));
  }

  refreshEmpty() {
    this.empty.hidden = !this.loaded || this.videos.size > 0;
  }

  rerender() {
    for (const [id, element] of this.elements) {
      translate(element);
      this.fill(element, this.videos.get(id));
    }
  }
}

export function isTerminal(video) {
  return TERMINAL.has(video.status);
}

function fact(list, label, value) {
  if (value === "" || value == null) return;
  const term = document.createElement("dt");
  term.textContent = label;
  const detail = document.createElement("dd");
  detail.textContent = value;
  list.append(term, detail);
}

// The view of one video: its facts, the failure in plain words, the previews, download and delete.
export function renderVideo(container, video, { onDelete }) {
  const status = document.createElement("p");
  const badge = document.createElement("span");
  status.append(badge);
  const parts = [status];
  let bar = null;
  if (!isTerminal(video)) {
    bar = document.createElement("progress");
    bar.max = 1;
    parts.push(bar);
  }
  fillStatus(badge, bar, video);
  if (video.status === "failed") {
    const reason = document.createElement("p");
    reason.className = "reason";
    reason.setAttribute("role", "status");
    reason.textContent = failureReason(video.error);
    parts.push(reason);
  }
  const facts = document.createElement("dl");
  facts.className = "facts";
  if (video.status === "processing") fact(facts, t("fact.progress"), formatPercent(video.progress));
  if (video.frame_count != null) fact(facts, t("fact.frames"), formatNumber(video.frame_count));
  if (video.duration_seconds != null) fact(facts, t("fact.duration"), formatDuration(video.duration_seconds));
  fact(facts, t("fact.size"), formatBytes(video.size_bytes));
  if (video.result_size_bytes != null) fact(facts, t("fact.zipSize"), formatBytes(video.result_size_bytes));
  for (const [term, value] of optionFacts(video.options)) fact(facts, term, value);
  fact(facts, t("fact.uploaded"), formatDate(video.created_at));
  fact(facts, t("fact.finished"), formatDate(video.finished_at));
  parts.push(facts);
  if (video.status === "done" && video.preview_count > 0) parts.push(previews(video));
  parts.push(actions(video, onDelete));
  container.replaceChildren(...parts);
}

function previews(video) {
  const section = document.createElement("section");
  const heading = document.createElement("h2");
  heading.textContent = t("firstFrames");
  const list = document.createElement("ul");
  list.className = "previews";
  for (let number = 1; number <= video.preview_count; number += 1) {
    const item = document.createElement("li");
    const figure = document.createElement("figure");
    const image = document.createElement("img");
    image.src = previewUrl(video.id, number);
    image.alt = t("frameNumber", { n: number });
    image.loading = "lazy";
    image.width = 320;
    image.height = 180;
    const caption = document.createElement("figcaption");
    caption.textContent = frameCaption(video.options, number);
    figure.append(image, caption);
    item.append(figure);
    list.append(item);
  }
  section.append(heading, list);
  return section;
}

// When a frame was taken is known beforehand only for one frame every interval.
function frameCaption(options, number) {
  if (options.mode !== "interval" || options.count != null) return t("frameNumber", { n: number });
  return t("frameAt", { time: formatDuration(options.start_seconds + (number - 1) * options.interval_seconds) });
}

function actions(video, onDelete) {
  const row = document.createElement("div");
  row.className = "video-actions";
  if (video.status === "done") {
    const download = document.createElement("a");
    download.className = "button primary";
    download.href = downloadUrl(video.id);
    download.textContent = t("downloadZip");
    row.append(download);
  }
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "button danger-quiet";
  remove.textContent = t("delete");
  remove.addEventListener("click", () => onDelete(video));
  row.append(remove);
  return row;
}
