// Fails the build when dist/ would break under the page's CSP
// (script-src 'self'; style-src 'self'): no inline <script>, no <style>,
// no style= or on*= attributes in the HTML, and assets hashed under /assets/;
// also that the installable app's manifest, icons and service worker are there.
import { existsSync, readFileSync, readdirSync } from "node:fs";

const html = readFileSync(new URL("../dist/index.html", import.meta.url), "utf8");
const problems = [];
for (const m of html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/gi)) {
  if (!/\bsrc=/.test(m[1]) || m[2].trim() !== "") problems.push("inline <script>: " + m[0].slice(0, 80));
}
if (/<style\b/i.test(html)) problems.push("inline <style>");
if (/\sstyle\s*=/i.test(html)) problems.push("style= attribute");
if (/\son[a-z]+\s*=/i.test(html)) problems.push("on*= event handler attribute");
for (const m of html.matchAll(/\b(?:src|href)="([^"]+)"/g)) {
  const url = m[1];
  if (/^(https?:)?\/\//.test(url) || url.startsWith("data:")) problems.push("external or data: URL: " + url);
}
const assets = readdirSync(new URL("../dist/assets/", import.meta.url));
for (const a of assets) {
  if (!/-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/.test(a)) problems.push("asset without a content hash: " + a);
}
// The installable app: the manifest parses, names files that exist, and
// the service worker is at the root (its scope is the whole app).
const dist = new URL("../dist/", import.meta.url);
if (!existsSync(new URL("sw.js", dist))) problems.push("no sw.js at the root of dist/");
try {
  const manifest = JSON.parse(readFileSync(new URL("manifest.webmanifest", dist), "utf8"));
  for (const icon of manifest.icons ?? []) {
    if (!existsSync(new URL("." + icon.src, dist))) problems.push("manifest icon missing: " + icon.src);
  }
  if (!(manifest.icons ?? []).some((i) => i.purpose === "maskable")) problems.push("manifest: no maskable icon");
} catch (e) {
  problems.push("manifest.webmanifest: " + e.message);
}
if (!html.includes('rel="manifest"')) problems.push("index.html links no manifest");
if (problems.length) {
  console.error("dist/ would break the CSP:\n  " + problems.join("\n  "));
  process.exit(1);
}
console.log(`dist/ ok: ${assets.length} hashed assets, no inline script or style, manifest and service worker`);
