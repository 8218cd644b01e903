// The crew page's service worker (served as /crew-sw.js, scope /crew; cloud/api/pages.py): it keeps
// the page and the files it loads, so a crew member on a weak signal can reload /crew without a
// network and still see their orders (kept in IndexedDB by crew.js) and the steps waiting to be
// sent (crew-outbox.js).
//
// Network first, always: a phone with a signal gets the current page and files (and the server's
// login redirect), each good answer refreshes the copy; only when the network fails does the copy
// answer. The API is never answered from here (the page keeps its own copy of the orders).
const CACHE = "watertel-crew-v1";
const FILES = ["/crew", "/static/style.css", "/static/crew.js", "/static/crew-outbox.js", "/static/handling.js",
  "/static/common.js", "/static/i18n.js", "/static/actions.js"];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await Promise.all(FILES.map(async (path) => {
      const response = await fetch(path, {credentials: "same-origin", cache: "no-cache"});
      if (response.ok && !response.redirected) await cache.put(path, response);
    }));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

function kept(url) {
  return url.origin === self.location.origin && (url.pathname === "/crew" || FILES.includes(url.pathname));
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !kept(url)) return;
  const key = url.pathname;  // /crew?x and /crew are one page
  event.respondWith((async () => {
    try {
      const response = await fetch(event.request);
      if (response.ok && !response.redirected) {
        const copy = response.clone();
        event.waitUntil(caches.open(CACHE).then((cache) => cache.put(key, copy)));
      }
      return response;
    } catch (error) {
      const copy = await caches.match(key);
      if (copy) return copy;
      throw error;
    }
  })());
});
