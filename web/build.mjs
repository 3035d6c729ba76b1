// Bundles the browser client into web/dist (embedded by the Go server):
//   index.html, app.js, app.css; with --dev (or --watch) also source maps,
//   unminified. `make run` and the Docker image build the production bundle,
//   so the binary never serves source maps (docs/operations.md).
// Usage: node web/build.mjs [--watch] [--dev]
import * as esbuild from "esbuild";
import { copyFile, mkdir, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist");
const watch = process.argv.includes("--watch");
const dev = process.argv.includes("--dev") || watch;

async function clean() {
  await mkdir(out, { recursive: true });
  for (const name of await readdir(out)) {
    if (name !== ".gitkeep") await rm(join(out, name), { recursive: true, force: true });
  }
}

const options = {
  entryPoints: { app: join(here, "src/main.ts") },
  bundle: true,
  outdir: out,
  format: "esm",
  target: ["es2020", "chrome90", "firefox90", "safari15"],
  minify: !dev,
  sourcemap: dev,
  legalComments: "none",
  logLevel: "info",
  define: { "process.env.NODE_ENV": dev ? '"development"' : '"production"' },
};

await clean();
await copyFile(join(here, "static/index.html"), join(out, "index.html"));
if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log("watching web/src …");
} else {
  await esbuild.build(options);
}
