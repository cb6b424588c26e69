// The list's live feed: server-sent events from video_svc. The browser reconnects by itself and sends the last
// event id, so the server replays what changed meanwhile; when the server refuses the stream (the session ended,
// too many pages open) the owner decides whether to open it again, from the last event seen.
const REOPEN_MS = [1000, 2000, 5000, 10000, 30000];

export class LiveFeed {
  constructor({ onReady, onVideo, onDeleted, onResync, onState, onRefused }) {
    Object.assign(this, { onReady, onVideo, onDeleted, onResync, onState, onRefused });
    this.source = null;
    this.lastId = null;
    this.failures = 0;
    this.timer = null;
  }

  open() {
    this.close();
    const url = this.lastId ? `/video/events?since=${encodeURIComponent(this.lastId)}` : "/video/events";
    const source = new EventSource(url);
    this.source = source;
    this.onState("connecting");
    const remember = (event) => {
      if (event.lastEventId) this.lastId = event.lastEventId;
    };
    source.addEventListener("ready", (event) => {
      remember(event);
      this.failures = 0;
      this.onState("live");
      this.onReady();
    });
    source.addEventListener("video", (event) => {
      remember(event);
      this.onVideo(JSON.parse(event.data));
    });
    source.addEventListener("deleted", (event) => {
      remember(event);
      this.onDeleted(JSON.parse(event.data).id);
    });
    source.addEventListener("resync", () => this.onResync());
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        this.onState("reconnecting");
        this.onRefused();
      } else {
        this.onState("reconnecting");
      }
    });
  }

  reopenLater() {
    const delay = REOPEN_MS[Math.min(this.failures, REOPEN_MS.length - 1)];
    this.failures += 1;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.open(), delay);
  }

  close() {
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
  }
}
