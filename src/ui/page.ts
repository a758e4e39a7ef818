/** The HTML documents of the web page: static shells, the data comes from the API through fetch. */

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Escapes a configured value (prefix, trace URL template) for an HTML attribute. */
const attr = (text: string): string => text.replace(/[&<>"']/g, (c) => escapes[c]);

function shell(base: string, meta: Record<string, string>, styles: string[], scripts: string, title: string): string {
  const metas = Object.entries(meta)
    .map(([name, content]) => `<meta name="${name}" content="${attr(content)}">`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="referrer" content="no-referrer">
${metas}
<title>${title}</title>
<link rel="icon" href="data:,">
${styles.map((s) => `<link rel="stylesheet" href="${attr(base)}/assets/${s}">`).join('\n')}
${scripts}
</head>
<body>
<noscript>The apimeter page needs JavaScript.</noscript>
</body>
</html>
`;
}

export function loginPage(base: string, prefix: string): string {
  return shell(
    base,
    { 'apimeter-api': prefix },
    ['style.css'],
    `<script type="module" src="${attr(base)}/assets/login.js"></script>`,
    'apimeter — sign in',
  );
}

export function appPage(base: string, prefix: string, traceUrl: string): string {
  return shell(
    base,
    { 'apimeter-api': prefix, 'apimeter-trace-url': traceUrl },
    ['uplot.css', 'style.css'],
    `<script src="${attr(base)}/assets/uplot.js" defer></script>\n<script type="module" src="${attr(base)}/assets/app.js"></script>`,
    'apimeter',
  );
}
