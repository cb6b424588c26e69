// The upload queue: files checked against the server's own limits before a byte is sent, at most a few sent at
// once, each with its progress bar, speed, time left and a cancel button.
import { ApiError, uploadFile } from "./api.js";
import { formatBytes, formatDuration, formatPercent, formatSpeed } from "./format.js";
import { t, translate } from "./i18n.js";
import { problemMessage } from "./messages.js";

const PARALLEL = 3;
const SPEED_WINDOW_MS = 4000;
const FORGET_DONE_MS = 5000;

export class UploadQueue {
  constructor({ list, template, announce, onAccepted }) {
    Object.assign(this, { list, template, announce, onAccepted });
    this.waiting = [];
    this.active = 0;
    this.limits = null;
  }

  add(files, options) {
    for (const file of files) {
      const item = this.render(file);
      const refusal = this.refusal(file);
      if (refusal) {
        this.finish(item, "refused", refusal);
        continue;
      }
      item.options = options;
      this.setState(item, "queued", t("upload.waiting"));
      this.waiting.push(item);
    }
    this.pump();
  }

  // The same limits the server enforces (GET /video/limits): size, and a type that can be a video at all.
  refusal(file) {
    if (file.size === 0) return t("problem.empty_file");
    if (!this.limits) return null;
    if (file.size > this.limits.max_upload_bytes) {
      return t("problem.upload_too_large", { limit: formatBytes(this.limits.max_upload_bytes) });
    }
    const name = file.name.toLowerCase();
    const known = this.limits.containers.some(
      (c) => c.content_type === file.type || c.extensions.some((ext) => name.endsWith(ext)),
    );
    if (!known && !file.type.startsWith("video/")) return t("problem.unsupported_media");
    return null;
  }

  render(file) {
    const element = this.template.content.firstElementChild.cloneNode(true);
    translate(element);
    element.querySelector(".upload-name").textContent = file.name;
    const bar = element.querySelector("progress");
    bar.setAttribute("aria-label", t("upload.progressOf", { name: file.name }));
    const item = { file, element, bar, handle: null, samples: [], state: "new" };
    element.querySelector(".upload-cancel").addEventListener("click", () => this.cancel(item));
    this.list.prepend(element);
    return item;
  }

  pump() {
    while (this.active < PARALLEL && this.waiting.length) this.start(this.waiting.shift());
  }

  async start(item) {
    this.active += 1;
    this.setState(item, "uploading", t("upload.sending"));
    item.handle = uploadFile(item.file, item.options, (loaded, total) => this.progress(item, loaded, total));
    try {
      const video = await item.handle.done;
      this.finish(item, "done", t("upload.accepted"));
      this.announce(t("upload.acceptedNamed", { name: item.file.name }));
      this.onAccepted(video);
    } catch (error) {
      if (error instanceof ApiError && error.code === "cancelled") this.finish(item, "cancelled", t("upload.cancelled"));
      else this.finish(item, "failed", problemMessage(error));
    } finally {
      this.active -= 1;
      this.pump();
    }
  }

  progress(item, loaded, total) {
    const now = performance.now();
    item.samples.push([now, loaded]);
    while (item.samples.length > 2 && now - item.samples[0][0] > SPEED_WINDOW_MS) item.samples.shift();
    const [since, from] = item.samples[0];
    const speed = now > since ? ((loaded - from) * 1000) / (now - since) : 0;
    item.bar.value = total ? loaded / total : 0;
    const parts = [t("upload.ofTotal", { done: formatBytes(loaded), total: formatBytes(total) })];
    if (speed > 0) {
      parts.push(formatSpeed(speed));
      parts.push(t("upload.left", { time: formatDuration(Math.ceil((total - loaded) / speed)) }));
    }
    item.element.querySelector(".upload-numbers").textContent = parts.join(" · ");
    item.element.querySelector(".upload-state").textContent = formatPercent(item.bar.value);
  }

  cancel(item) {
    if (item.state === "uploading") {
      item.handle.cancel();
    } else if (item.state === "queued") {
      this.waiting = this.waiting.filter((other) => other !== item);
      this.finish(item, "cancelled", t("upload.cancelled"));
    } else {
      item.element.remove(); // a finished row: the button dismisses it
    }
  }

  setState(item, state, text) {
    item.state = state;
    item.element.dataset.state = state;
    item.element.querySelector(".upload-state").textContent = text;
  }

  finish(item, state, text) {
    const terminalStates = { done: text, cancelled: text };
    this.setState(item, state, terminalStates[state] ?? t(`upload.${state}`));
    const button = item.element.querySelector(".upload-cancel");
    button.textContent = t("dismiss");
    if (state === "done") {
      item.bar.value = 1;
      setTimeout(() => item.element.remove(), FORGET_DONE_MS);
    }
    if (state === "failed" || state === "refused") {
      const error = item.element.querySelector(".upload-error");
      error.textContent = text;
      error.hidden = false;
      this.announce(t("upload.problemNamed", { name: item.file.name, reason: text }));
    }
  }
}
