// Fills in this page's own origin in the examples (text only, never markup).
for (const el of document.querySelectorAll('.origin')) el.textContent = location.origin;
for (const el of document.querySelectorAll('.host')) el.textContent = location.host;
