// Removes the previous build from dist/ but keeps dist/.gitkeep, the one
// committed file that lets go:embed compile before any npm build.
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";

const dir = new URL("../dist/", import.meta.url);
mkdirSync(dir, { recursive: true });
for (const name of readdirSync(dir)) {
  if (name !== ".gitkeep") rmSync(new URL(name, dir), { recursive: true, force: true });
}
writeFileSync(new URL(".gitkeep", dir), "");
