// Copies the browser files listed under "vendor" in package.json from node_modules/ into
// static/vendor/ (git-ignored). Used by scripts/setup and by the Dockerfile's assets stage, so the
// list of vendored files lives in one place: to add a library, `npm install it` and add a line there.
import { copyFileSync, mkdirSync, readFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const outDir = join(root, "static", "vendor");
mkdirSync(outDir, { recursive: true });

let missing = 0;
for (const [source, target] of Object.entries(pkg.vendor ?? {})) {
  const from = join(root, "node_modules", source);
  if (!existsSync(from)) {
    console.error(`vendor: ${from} is missing (run npm ci)`);
    missing += 1;
    continue;
  }
  const to = join(outDir, target);
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}
process.exit(missing ? 1 : 0);
