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
const virtual = params.get("clock") === "virtual"
const hook = params.get("hook") || "mine"
const started = performance.now()

// -- virtual time (clock=virtual): the hook's timers run only when the driver steps -----
// The hook file (and only it) gets these timers instead of the browser's, so React and
// TanStack Query keep their own real timers while the checker plays the hook's 1, 2, 4,
// 8, 16 s schedule in logical time, exactly, whatever the machine's load.
const clock = {
  now: 0, // logical milliseconds
  timers: new Map(),
  seq: 0,
  setTimeout(fn, ms = 0, ...args) {
    const id = ++clock.seq
    clock.timers.set(id, { due: clock.now + Math.max(0, Number(ms) || 0), fn, args, every: 0, id })
    return id
  },
  setInterval(fn, ms = 0, ...args) {
    const id = clock.setTimeout(fn, ms, ...args)
    clock.timers.get(id).every = Math.max(1, Number(ms) || 0)
    return id
  },
  clearTimeout(id) { clock.timers.delete(id) },
  clearInterval(id) { clock.timers.delete(id) },
  next() {
    let first = null
    for (const t of clock.timers.values())
      if (!first || t.due < first.due || (t.due === first.due && t.id < first.id)) first = t
    return first
  },
  /** Fire the next due timer (moving time to it); false when none is due by `limit` ms. */
  step(limit = Infinity) {
    const t = clock.next()
    if (!t || t.due > limit) {
      if (Number.isFinite(limit)) clock.now = Math.max(clock.now, limit)
      return false
    }
    clock.now = t.due
    if (t.every) t.due += t.every
    else clock.timers.delete(t.id)
    try { t.fn(...t.args) } catch (error) { lab.reportError(error) }
    return true
  },
}

const lab = (window.wslearn = {
  speed,
  hook,
  virtual,
  clock,
  events: [],
  errors: [],
  ready: false,
  pending: 0, // fetches in flight
  now: () => virtual ? clock.now / 1000
    : Math.round(((performance.now() - started) * speed) / 10) / 100,
})
const MAX_EVENTS = 5000
function record(kind, socket, extra = {}) {
  if (lab.events.length < MAX_EVENTS) lab.events.push({ t: lab.now(), kind, socket, ...extra })
}

// -- sped-up timers: the hook keeps its real constants (1000 ms, 30 000 ms ...) ----------
if (speed !== 1 && !virtual) {
  const [setT, setI] = [window.setTimeout, window.setInterval]
  window.setTimeout = (fn, ms = 0, ...args) => setT(fn, Number(ms) / speed, ...args)
  window.setInterval = (fn, ms = 0, ...args) => setI(fn, Number(ms) / speed, ...args)
}

// -- a per-server secret in the page URL (?key=...) goes on every same-origin request ----
// (the server's rule, see docs/server.md); the learner's code never has to know about it.
const key = params.get("key")
function withKey(target) {
  if (!key) return target
  const url = new URL(String(target), location.href)
  if (url.host !== location.host || url.searchParams.has("key")) return target
  url.searchParams.set("key", key)
  return url.href
}

// -- a recording WebSocket: the real one, observed --------------------------------------
const NativeWebSocket = window.WebSocket
let sockets = 0
window.WebSocket = class extends NativeWebSocket {
  constructor(url, protocols) {
    super(withKey(url), protocols)
    const id = ++sockets
    this.wslearnId = id
    live.add(this)
    record("connect", id, { url: String(url).replace(/^.*\/\/[^/]+/, "") })
    this.addEventListener("open", () => record("open", id))
    this.addEventListener("close", (e) => { live.delete(this); record("close", id, { code: e.code }) })
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

// -- fetches counted, so the driver knows when the page is quiet ------------------------
const nativeFetch = window.fetch.bind(window)
window.fetch = async (input, init) => {
  lab.pending++
  try {
    return await nativeFetch(typeof input === "string" || input instanceof URL ? withKey(input) : input, init)
  } finally { lab.pending-- }
}
/** Resolves once no socket is connecting, no fetch is in flight and nothing new was
 *  recorded for `quietMs`; gives up waiting after `maxMs` (a frozen server). */
lab.settle = (quietMs = 40, maxMs = 1500) => new Promise((resolve) => {
  const end = performance.now() + maxMs
  let seen = -1, since = performance.now()
  const poll = () => {
    const busy = lab.pending > 0 || lab.connecting() > 0
    const marker = lab.events.length * 1000 + document.body.innerHTML.length
    if (busy || marker !== seen) { seen = marker; since = performance.now() }
    if (performance.now() - since >= quietMs || performance.now() > end) resolve(!busy)
    else requestAnimationFrame(poll)
  }
  poll()
})
const live = new Set()
lab.connecting = () => [...live].filter((ws) => ws.readyState === 0).length
lab.open = () => [...live].filter((ws) => ws.readyState === 1).length

// -- errors on the page, with file and line; the lab stays usable ------------------------
const errorBox = document.getElementById("lab-error")
function showError(file, line, column, message, source = null) {
  const where = file ? `${file}${line ? `:${line}` : ""}${column ? `:${column}` : ""}` : "page"
  lab.errors.push({ file, line, column, message })
  const item = document.createElement("div")
  item.className = "lab-error-item"
  item.textContent = `${where}: ${message}`
  if (source && line) {
    // The lines around the error, with a caret under the column (like a compiler).
    const lines = source.split("\n")
    const shown = []
    for (let n = Math.max(1, line - 2); n <= Math.min(lines.length, line + 1); n++) {
      shown.push(`${String(n).padStart(4)} | ${lines[n - 1]}`)
      if (n === line && column) shown.push(`     | ${" ".repeat(column - 1)}^`)
    }
    const frame = document.createElement("pre")
    frame.className = "lab-error-frame"
    frame.textContent = shown.join("\n")
    item.append(frame)
  }
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

const isHook = (file) => file.startsWith("hooks/") || file === "src/useWebSocket.tsx"

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
    throw await syntaxError(file, source, error)
  }
  const deps = [...new Set([...code.matchAll(IMPORT)].map((m) => m[3]))]
  const urls = {}
  for (const dep of deps) urls[dep] = await load(fileFor(dep), [...chain, file])
  code = code.replace(IMPORT, (all, head, quote, spec) => `${head}${quote}${urls[spec]}${quote}`)
  if (virtual && isHook(file)) {
    // Same line numbers: the bindings go on the first line, before the file's own code.
    code = "const { setTimeout, setInterval, clearTimeout, clearInterval } = window.wslearn.clock;" + code
  }
  code += `\n//# sourceURL=${new URL(`react/${file}`, location.href).href}\n`
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }))
  loaded.set(file, url)
  return url
}

/** Sucrase reports some errors at the start of the enclosing arrow function; Babel's
 *  parser (loaded only now) finds the exact line. Columns are shown 1-based. */
async function syntaxError(file, source, error) {
  try {
    const { parse } = await import("./vendor/babel-parser.js")
    parse(source, { sourceType: "module", plugins: ["typescript", "jsx"] })
  } catch (exact) {
    if (exact?.loc) {
      const message = String(exact.message).replace(/ \(\d+:\d+\)$/, "")
      return new LabError(file, exact.loc.line, exact.loc.column + 1, message, source)
    }
  }
  const message = String(error.message).replace(/^Error transforming [^:]+: /, "").replace(/ \(\d+:\d+\)$/, "")
  return new LabError(file, error.loc?.line ?? 0, error.loc?.column ?? 0, message, source)
}

class LabError extends Error {
  constructor(file, line, column, message, source = null) {
    super(message)
    Object.assign(this, { file, line, column, source })
  }
}

document.getElementById("hook-name").textContent =
  hook === "mine" ? "src/useWebSocket.tsx (yours)" : `hooks/${hook}.tsx`
document.getElementById("strict").textContent = params.get("strict") === "0" ? "" : "· StrictMode on"
try {
  const main = await load("src/main.tsx")
  document.getElementById("loading")?.remove()
  await import(main)
  lab.loadedMs = Math.round(performance.now()) // navigation start -> app imported
  lab.ready = true
} catch (error) {
  document.getElementById("loading")?.remove()
  if (error instanceof LabError) showError(error.file, error.line, error.column, error.message, error.source)
  else lab.reportError(error)
}
