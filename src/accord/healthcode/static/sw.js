// Service worker of the health-code verifier: keeps the page and its script for offline use.
// Network first (so an online verifier always gets the newest page), the cached copy when offline.
"use strict";
const CACHE = "accord-healthcode-v1";
const SHELL = ["/public/healthcode/verify", "/public/healthcode/verifier.js", "/public/_static/disclosure.css"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => { event.waitUntil(self.clients.claim()); });
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!SHELL.includes(url.pathname)) return;
  event.respondWith(
    fetch(event.request)
      .then((r) => { const copy = r.clone(); caches.open(CACHE).then((c) => c.put(url.pathname, copy)); return r; })
      .catch(() => caches.match(url.pathname)),
  );
});
