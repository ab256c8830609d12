// Bundle the lab's libraries once into ES modules shipped inside the Python package.
//
//   cd web && npm ci && node build.mjs      (or: make web)
//
// Output: wslearn/react/vendor/ -- one module per import specifier the lab's .tsx files
// may use (react, react/jsx-dev-runtime, react-dom/client, @tanstack/react-query) plus
// sucrase (the in-browser transpiler), @babel/parser (exact error lines), shared code in chunk-*.js, the licences of every
// package that ends up in a bundle, and versions.json. Development builds on purpose:
// StrictMode double-invokes effects and React prints its warnings only in development.
// The output is byte-identical from run to run (tests/test_react_bundle.py checks it).
import { build } from "esbuild";
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

process.env.NODE_ENV = "development";
const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] || path.join(here, "..", "wslearn", "react", "vendor"));
const require = createRequire(path.join(here, "package.json"));
const lock = JSON.parse(fs.readFileSync(path.join(here, "package-lock.json"), "utf8"));
const version = (name) => lock.packages[`node_modules/${name}`].version;

// specifier -> [output name, kind]; CommonJS packages get a wrapper that re-exports
// every name they export (esbuild cannot see CommonJS names statically).
const ENTRIES = {
  "react": ["react", "cjs"],
  "react/jsx-runtime": ["react-jsx-runtime", "cjs"],
  "react/jsx-dev-runtime": ["react-jsx-dev-runtime", "cjs"],
  "react-dom": ["react-dom", "cjs"],
  "react-dom/client": ["react-dom-client", "cjs"],
  "@tanstack/react-query": ["react-query", "esm"],
  "sucrase": ["sucrase", "sucrase"],
  // Loaded only when sucrase rejects a file: Babel's parser points at the exact line
  // (sucrase reports some errors at the start of the enclosing arrow function).
  "@babel/parser": ["babel-parser", "babel"],
};

const work = path.join(here, "node_modules", ".wslearn-entries");
fs.rmSync(work, { recursive: true, force: true });
fs.mkdirSync(work, { recursive: true });
const entryPoints = {};
for (const [spec, [name, kind]] of Object.entries(ENTRIES)) {
  let text;
  if (kind === "cjs") {
    const names = Object.keys(require(spec)).filter((k) => /^[A-Za-z_$][\w$]*$/.test(k)).sort();
    text = `import M from ${JSON.stringify(spec)};\nexport default M;\n` +
      `export const { ${names.join(", ")} } = M;\n`;
  } else if (kind === "sucrase") {
    text = `export { transform, getVersion } from "sucrase";\n`;
  } else if (kind === "babel") {
    text = `export { parse } from "@babel/parser";\n`;
  } else {
    text = `export * from ${JSON.stringify(spec)};\n`;
  }
  const file = path.join(work, `${name}.js`);
  fs.writeFileSync(file, text);
  entryPoints[name] = file;
}

const PACKAGES = ["react", "react-dom", "scheduler", "@tanstack/react-query", "@tanstack/query-core",
  "sucrase", "@babel/parser"];
const banner = "/* wslearn vendor bundle (development builds), made by web/build.mjs from " +
  "web/package-lock.json: " + PACKAGES.map((p) => `${p}@${version(p)}`).join(", ") +
  ". Licences: LICENSES/. */";

fs.rmSync(out, { recursive: true, force: true });
const result = await build({
  entryPoints,
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "browser",
  target: "es2022",
  define: { "process.env.NODE_ENV": '"development"' },
  minify: false,
  legalComments: "none", // the licence texts are shipped whole in LICENSES/
  chunkNames: "chunk-[hash]",
  banner: { js: banner },
  metafile: true,
  absWorkingDir: here,
  logLevel: "warning",
});

// Licences of every package with code in the output.
const used = new Set();
for (const input of Object.keys(result.metafile.inputs)) {
  const m = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//g);
  if (!m) continue;
  const last = m[m.length - 1].replace(/^node_modules\//, "").replace(/\/$/, "");
  if (last !== ".wslearn-entries") used.add(last);
}
const licences = path.join(out, "LICENSES");
fs.mkdirSync(licences, { recursive: true });
const versions = {};
for (const pkg of [...used].sort()) {
  const dir = path.join(here, "node_modules", pkg);
  const file = fs.readdirSync(dir).find((f) => /^(licen[cs]e|copying)(\.|$)/i.test(f));
  if (!file) throw new Error(`no licence file in ${dir}`);
  fs.copyFileSync(path.join(dir, file), path.join(licences, `${pkg.replace("/", "__")}.txt`));
  versions[pkg] = version(pkg);
}
const modules = Object.fromEntries(Object.entries(ENTRIES).map(([s, [n]]) => [s, `${n}.js`]));
fs.writeFileSync(path.join(out, "versions.json"),
  JSON.stringify({ packages: versions, modules }, null, 2) + "\n");
fs.rmSync(work, { recursive: true, force: true });
console.log(`wrote ${out}: ${Object.keys(modules).length} modules, ${used.size} packages`);
