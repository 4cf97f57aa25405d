// Steward's service worker: serves the app shell when the server is unreachable, so an
// installed Steward opens offline and shows its last data as stale ("offline — last data from
// …") instead of a browser error page. Network first, always: online, every page and asset
// comes fresh from the server (no stale code after an upgrade); each good answer refreshes the
// copy kept for offline use. APIs and the live stream are never cached. Signing out sends
// Clear-Site-Data, which drops these copies from the device.
const CACHE = "steward-shell-v1";
// Pages are kept as they are visited (a page may need a sign-in, so none is fetched ahead).
const SHELL = ["/pkg/steward.css", "/favicon.svg", "/manifest.webmanifest"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function cacheable(request) {
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return false;
  if (url.pathname.startsWith("/api/") || url.pathname === "/metrics") return false;
  return request.mode === "navigate" || url.pathname.startsWith("/pkg/") ||
    /\.(svg|png|webmanifest)$/.test(url.pathname);
}

async function networkFirst(request) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(CACHE);
      await cache.put(request, response.clone());
    }
    return response;
  } catch (offline) {
    // Only the page that was asked for: another page's HTML would not hydrate on this URL.
    const hit = await caches.match(request);
    return hit || new Response("Steward is offline, and this was never opened here.", {
      status: 503,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
}

self.addEventListener("fetch", (event) => {
  if (cacheable(event.request)) event.respondWith(networkFirst(event.request));
});
