// Copies the browser files listed under "vendor" in package.json from node_modules/ into
// static/vendor/ (git-ignored). Used by scripts/setup and by the Dockerfile's assets stage, so the
// list of vendored files lives in one place: to add a library, `npm install it` and add a line there.
//
// A copied file's own references come along: the production static storage (ManifestStaticFilesStorage)
// rewrites every `sourceMappingURL` it finds to a hashed name and fails collectstatic when the named
// file is missing. So a source map a file names is copied next to it; if the package does not ship
// it, the comment is removed (a browser would only fetch a 404 for it).
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const outDir = join(root, "static", "vendor");
mkdirSync(outDir, { recursive: true });

// The comments Django's ManifestStaticFilesStorage rewrites, matched as it does (a whole line):
// `//# sourceMappingURL=x.map` in JS, `/*# sourceMappingURL=x.map */` in CSS.
const SOURCE_MAP = {
  ".js": /^\/\/# sourceMappingURL=(.*)$\n?/gm,
  ".mjs": /^\/\/# sourceMappingURL=(.*)$\n?/gm,
  ".css": /^\/\*#[ \t]sourceMappingURL=(.*?)[ \t]*\*\/$\n?/gm,
};
const isRelative = (url) => !/^(?:[a-z][a-z0-9+.-]*:|\/)/i.test(url); // not data:, https:, /absolute

let problems = 0;

function copyWithReferences(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  const pattern = SOURCE_MAP[extname(from)];
  const text = pattern ? readFileSync(from, "utf8") : "";
  if (!pattern || !pattern.test(text)) {
    copyFileSync(from, to); // byte for byte
    return;
  }
  pattern.lastIndex = 0;
  const kept = text.replace(pattern, (comment, url) => {
    const map = url.trim().split(/[?#]/)[0];
    if (isRelative(map) && existsSync(join(dirname(from), map))) {
      const mapTo = resolve(dirname(to), map);
      if (!mapTo.startsWith(outDir + sep)) {
        console.error(`vendor: ${from} names a source map outside static/vendor/ (${url})`);
        problems += 1;
        return comment;
      }
      mkdirSync(dirname(mapTo), { recursive: true });
      copyFileSync(join(dirname(from), map), mapTo);
      return comment;
    }
    console.warn(`vendor: ${from} names ${url}, which the package does not ship: comment removed`);
    return "";
  });
  writeFileSync(to, kept);
}

for (const [source, target] of Object.entries(pkg.vendor ?? {})) {
  const from = join(root, "node_modules", source);
  if (!existsSync(from)) {
    console.error(`vendor: ${from} is missing (run npm ci)`);
    problems += 1;
    continue;
  }
  copyWithReferences(from, join(outDir, target));
}
process.exit(problems ? 1 : 0);
