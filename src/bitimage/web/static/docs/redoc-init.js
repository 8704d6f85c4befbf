// Redoc on this server's schema; no web font is fetched (the system's fonts are used).
window.Redoc.init("/openapi.json", { hideDownloadButton: false }, document.getElementById("redoc"));
