// The crew's outbox: what a crew user does on the phone (accept, a photo, a report) is first kept
// in the phone's IndexedDB, then sent; it leaves the outbox only when the server has answered 2xx,
// so a step taken without a network, or sent into a connection that dropped, is never lost.
// Each step carries an Idempotency-Key made when it was taken: a step sent again (its answer was
// lost, two tabs flushed at once) is done once on the server, which answers the repeat with its
// first answer. Steps go one at a time, oldest first.
//
// Waiting steps are sent when the page loads, when the browser says it is online again, after each
// new step and every 15 s while any wait. A step the server refuses for good (4xx: the order was
// reassigned, a photo too large) is kept as failed, with why, until the user discards it; a 401
// (the session ended) stops sending until the user logs in again; no answer, 408, 429 or 5xx:
// tried again later. The last list of orders is kept too, so the page shows it without a network.
import {send} from "./handling.js";

const DB_NAME = "watertel-crew";
let opened = null;

function db() {
  opened = opened || new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore("outbox", {keyPath: "seq", autoIncrement: true});
      request.result.createObjectStore("orders", {keyPath: "user"});
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return opened;
}

async function tx(store, mode, work) {
  const handle = (await db()).transaction(store, mode);
  const result = work(handle.objectStore(store));
  await new Promise((resolve, reject) => {
    handle.oncomplete = resolve;
    handle.onerror = () => reject(handle.error);
    handle.onabort = () => reject(handle.error);
  });
  return result && "result" in result ? result.result : result;
}

export const steps = async (user) => (await tx("outbox", "readonly", (s) => s.getAll())).filter((i) => i.user === user);
export const keepOrders = (user, orders) => tx("orders", "readwrite", (s) => s.put({user, orders, t_ms: Date.now()}));
export const keptOrders = (user) => tx("orders", "readonly", (s) => s.get(user));
export const discard = (seq) => tx("outbox", "readwrite", (s) => s.delete(seq));

const RETRY = new Set([408, 425, 429]);

export class Outbox {
  // user: whose steps; onChange(sent): redraw (reload when sent > 0); the page calls flush() whenever it may help.
  constructor(user, onChange) {
    this.user = user;
    this.onChange = onChange;
    this.flushing = null;
    this.needsLogin = false;
    this.offline = false;
    setInterval(() => { this.flush(); }, 15_000);
    window.addEventListener("online", () => { this.needsLogin = false; this.flush(); });
  }

  // Keep a step (kind: accept | photo | report) and try to send it at once.
  async add(kind, orderId, data = {}) {
    await tx("outbox", "readwrite", (s) => s.add({user: this.user, kind, order_id: orderId, key: data.key,
      notes: data.notes ?? null, blob: data.blob ?? null, t_ms: Date.now(), state: "waiting"}));
    this.onChange();
    return this.flush();
  }

  async retry(seq) {
    await tx("outbox", "readwrite", (s) => {
      const got = s.get(seq);
      got.onsuccess = () => { if (got.result) s.put({...got.result, state: "waiting", error: null}); };
    });
    this.onChange();
    return this.flush();
  }

  async sendOne(step) {
    const base = `/api/workorders/${step.order_id}`;
    if (step.kind === "accept") return send("POST", `${base}/accept`, undefined, {key: step.key});
    if (step.kind === "photo") return send("POST", `${base}/photos`, undefined, {key: step.key, blob: step.blob});
    return send("POST", `${base}/report`, {notes: step.notes}, {key: step.key});
  }

  // Send what waits, oldest first; one run at a time. A call during a run (a step added while
  // another was being sent) runs again right after it, instead of leaving the new step for the
  // 15 s timer. Resolves to how many were sent; onChange(sent) runs after each run.
  flush() {
    if (this.flushing) { this.again = true; return this.flushing; }
    this.again = false;
    this.flushing = this.run().catch((error) => { console.warn("outbox", error); return 0; })
      .then((sent) => {
        this.flushing = null;
        this.onChange(sent);
        return this.again ? this.flush().then((more) => sent + more) : sent;
      });
    return this.flushing;
  }

  async run() {
    let sent = 0;
    for (const step of await steps(this.user)) {
      if (step.state !== "waiting" || this.needsLogin) continue;
      try {
        await this.sendOne(step);
        await discard(step.seq);
        sent += 1;
        this.offline = false;
      } catch (error) {
        if (error instanceof TypeError || RETRY.has(error.status) || error.status >= 500) {
          this.offline = error instanceof TypeError;
          break;  // no answer, or not now: the rest waits its turn
        }
        if (error.status === 401) { this.needsLogin = true; break; }
        await tx("outbox", "readwrite", (s) => s.put({...step, state: "failed",
          error: {status: error.status, code: error.code, params: error.params, message: error.message}}));
      }
    }
    return sent;
  }
}
