// Runs the client's unit tests: bundles each web/test/*.test.ts for node
// with esbuild (so the TypeScript modules of web/src and CodeMirror load
// as they do in the browser bundle), then hands them to `node --test`.
import * as esbuild from "esbuild";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const tests = (await readdir(here)).filter((f) => f.endsWith(".test.ts") && (!only.length || only.some((o) => f.includes(o))));
const out = await mkdtemp(join(tmpdir(), "rr-web-test-"));
try {
  await esbuild.build({
    entryPoints: tests.map((f) => join(here, f)),
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node18",
    outdir: out,
    outExtension: { ".js": ".mjs" },
    sourcemap: "inline",
    external: ["node:*"],
    logLevel: "warning",
    loader: { ".css": "empty" },
  });
  const files = (await readdir(out)).filter((f) => f.endsWith(".mjs")).map((f) => join(out, f));
  const r = spawnSync(process.execPath, ["--enable-source-maps", "--test", ...files], {
    stdio: "inherit",
    env: { ...process.env, RR_WEB_ROOT: join(here, "..") },
  });
  process.exitCode = r.status ?? 1;
} finally {
  await rm(out, { recursive: true, force: true });
}
