// The React lab's loader: fetches the .tsx files from the in-kernel server, transpiles
// them in the browser with the vendored sucrase (types stripped, JSX compiled for React's
// development runtime), and runs them as ES modules. Nothing is fetched from anywhere but
// this page's own server.
//
// Query string: hook=mine|no-cleanup|no-max-attempts|ping-without-pong|if-else-dispatch|...
// (which useWebSocket.tsx App.tsx gets), speed=N (every timer runs N times faster; the
// page's logical clock is N times its real clock), strict=0 (no StrictMode), mounted=0.
//
// window.wslearn records what the page did, in logical seconds: every WebSocket the
// hook creates, opens, closes, and the frames it sends (tests and the checker read it).
import { transform } from "./vendor/sucrase.js"

const params = new URLSearchParams(location.search)
const speedParam = Number(params.get("speed") || "1")
const speed = Number.isFinite(speedParam) && speedParam >= 0.1 && speedParam <= 100 ? speedParam : 1
const hook = params.get("hook") || "mine"
const started = performance.now()
const lab = (window.wslearn = {
  speed,
  hook,
  events: [],
  errors: [],
  ready: false,
  now: () => Math.round(((performance.now() - started) * speed) / 10) / 100,
})
const MAX_EVENTS = 5000
function record(kind, socket, extra = {}) {
  if (lab.events.length < MAX_EVENTS) lab.events.push({ t: lab.now(), kind, socket, ...extra })
}

// -- sped-up timers: the hook keeps its real constants (1000 ms, 30 000 ms ...) ----------
if (speed !== 1) {
  const [setT, setI] = [window.setTimeout, window.setInterval]
  window.setTimeout = (fn, ms = 0, ...args) => setT(fn, Number(ms) / speed, ...args)
  window.setInterval = (fn, ms = 0, ...args) => setI(fn, Number(ms) / speed, ...args)
}

// -- a recording WebSocket: the real one, observed --------------------------------------
const NativeWebSocket = window.WebSocket
let sockets = 0
window.WebSocket = class extends NativeWebSocket {
  constructor(url, protocols) {
    super(url, protocols)
    const id = ++sockets
    this.wslearnId = id
    record("connect", id, { url: String(url).replace(/^.*\/\/[^/]+/, "") })
    this.addEventListener("open", () => record("open", id))
    this.addEventListener("close", (e) => record("close", id, { code: e.code }))
  }
  send(data) {
    let type = "?"
    try { type = JSON.parse(data).type } catch {}
    record("send", this.wslearnId, { type })
    return super.send(data)
  }
  close(code, reason) {
    if (this.readyState < 2) record("client-close", this.wslearnId, { code: code ?? 1005 })
    return super.close(code, reason)
  }
}

// -- errors on the page, with file and line; the lab stays usable ------------------------
const errorBox = document.getElementById("lab-error")
function showError(file, line, column, message) {
  const where = file ? `${file}${line ? `:${line}` : ""}${column ? `:${column}` : ""}` : "page"
  lab.errors.push({ file, line, column, message })
  const item = document.createElement("div")
  item.className = "lab-error-item"
  item.textContent = `${where}: ${message}`
  errorBox.hidden = false
  if (!errorBox.firstChild) {
    const head = document.createElement("b")
    head.textContent = "Error in the lab's code — fix the file in JupyterLab, save, and reload this page."
    errorBox.append(head)
  }
  errorBox.append(item)
}
function fromStack(error) {
  const m = String(error?.stack || "").match(/\/react\/((?:src|hooks)\/[\w.-]+\.tsx):(\d+):(\d+)/)
  return m ? [m[1], Number(m[2]), Number(m[3])] : [null, 0, 0]
}
window.addEventListener("error", (e) => showError(...fromStack(e.error), e.message))
window.addEventListener("unhandledrejection", (e) => showError(...fromStack(e.reason), String(e.reason?.message || e.reason)))
lab.reportError = (error) => showError(...fromStack(error), String(error?.message || error))

// -- fetch, transpile, link ----------------------------------------------------------------
const IMPORT = /(\bfrom\s*|\bimport\s*\(?\s*)(["'])(\.\/[\w.-]+)\2/g
const loaded = new Map()

function fileFor(spec) {
  const name = spec.replace(/^\.\//, "").replace(/\.tsx?$/, "")
  if (name === "useWebSocket" && hook !== "mine") return `hooks/${hook}.tsx`
  return `src/${name}.tsx`
}

async function load(file, chain = []) {
  if (chain.includes(file)) throw new LabError(file, 0, 0, `circular import: ${[...chain, file].join(" -> ")}`)
  if (loaded.has(file)) return loaded.get(file)
  const response = await fetch(`react/${file}`, { cache: "no-store" })
  if (!response.ok) throw new LabError(file, 0, 0, `could not load it (HTTP ${response.status}): ${(await response.text()).trim()}`)
  const source = await response.text()
  let code
  try {
    code = transform(source, {
      transforms: ["typescript", "jsx"],
      jsxRuntime: "automatic",
      production: false,
      filePath: file,
    }).code
  } catch (error) {
    const message = String(error.message).replace(/^Error transforming [^:]+: /, "").replace(/ \(\d+:\d+\)$/, "")
    throw new LabError(file, error.loc?.line ?? 0, error.loc?.column ?? 0, message)
  }
  const deps = [...new Set([...code.matchAll(IMPORT)].map((m) => m[3]))]
  const urls = {}
  for (const dep of deps) urls[dep] = await load(fileFor(dep), [...chain, file])
  code = code.replace(IMPORT, (all, head, quote, spec) => `${head}${quote}${urls[spec]}${quote}`)
  code += `\n//# sourceURL=${new URL(`react/${file}`, location.href).href}\n`
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }))
  loaded.set(file, url)
  return url
}

class LabError extends Error {
  constructor(file, line, column, message) {
    super(message)
    Object.assign(this, { file, line, column })
  }
}

document.getElementById("hook-name").textContent =
  hook === "mine" ? "src/useWebSocket.tsx (yours)" : `hooks/${hook}.tsx`
document.getElementById("strict").textContent = params.get("strict") === "0" ? "" : "· StrictMode on"
try {
  const main = await load("src/main.tsx")
  document.getElementById("loading")?.remove()
  await import(main)
  lab.ready = true
} catch (error) {
  document.getElementById("loading")?.remove()
  if (error instanceof LabError) showError(error.file, error.line, error.column, error.message)
  else lab.reportError(error)
}
