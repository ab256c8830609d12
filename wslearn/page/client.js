// wslearn browser lab: Module 07's useWebSocket hook in plain JavaScript.
// No framework, no build step, no CDN. Chapter 09 shows each part beside the
// Python client (wslearn.Client) and Module 07's React hook.
'use strict'

// ---- settings: from the page's own URL, e.g. lab?topics=analysis&speed=20
const query = new URLSearchParams(location.search)
const setting = (name, fallback) => Number(query.get(name) || fallback)
const config = {
  topics: (query.get('topics') ?? 'analysis,proposals').split(',').filter(Boolean),
  base: setting('base', 1), factor: setting('factor', 2), cap: setting('cap', 30),
  maxAttempts: setting('maxAttempts', 5),
  ping: setting('ping', 30), pongTimeout: setting('pongTimeout', 10),
  openTimeout: setting('openTimeout', 10),
  speed: setting('speed', 1), // divides every delay: the 1+2+4+8+16 s schedule in 1.55 s at 20
}
// The reconnect rules -- when to retry, when to give up -- mirror wslearn.backoff
// (BackoffPolicy without jitter; close_policy.MODULE_07); tests/test_page_rules.py compares lab.rules.
const GIVE_UP_CODES = [1008] // policy violation: the request is refused; retrying cannot help
// The server's per-server key, if the page was opened with one (lab?key=...): forwarded
// on the WebSocket URL and every fetch, never shown on the page (docs/server.md).
const key = query.get('key')
const withKey = (url) => key ? url + (url.includes('?') ? '&' : '?') + 'key=' + encodeURIComponent(key) : url
const withoutKey = (url) => url.replace(/[?&]key=[^&#]*$/, '') // for display only
const backoff = (attempt) => Math.min(config.base * config.factor ** (attempt - 1), config.cap)
const givesUpAfter = (attempt) => attempt >= config.maxAttempts // that was the last attempt allowed
const givesUpOnClose = (code) => GIVE_UP_CODES.includes(code)

// The socket URL comes from where the page was loaded, so the same page works at
// http://127.0.0.1:PORT/lab and behind a proxy path such as /user/ada/proxy/PORT/lab.
function socketUrl(topics) {
  const url = new URL('ws', location.href)
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const names = topics.map(encodeURIComponent) // quoted like Python's protocol.topics_query
  url.search = names.length ? '?topics=' + names.join(',') : ''
  return withKey(url.href)
}

// ---- timers: one place to start them and to clear them all
let t = 0 // logical time: moves only when a timer fires, to its planned deadline
const timers = {} // name -> setTimeout id: 'reconnect', 'open', 'ping', 'pong'
function later(name, seconds, fn) {
  cancel(name)
  const due = t + seconds
  const run = () => { delete timers[name]; t = due; fn() }
  timers[name] = setTimeout(run, (seconds * 1000) / config.speed)
}
function cancel(name) { clearTimeout(timers[name]); delete timers[name] }
function clearTimers() { for (const name in timers) cancel(name) }

// ---- connection: connect, open, lost, reconnect with backoff, cleanup
let ws = null
let state = 'connecting' // connecting | connected | reconnecting | disconnected | closed
let attempt = 0 // reconnect attempts since the last successful open
let topics = config.topics
let stopped = false // set by cleanup(): a close we asked for must never reconnect

function connect() {
  stopped = false
  const socket = new WebSocket(socketUrl(topics))
  ws = socket
  const { pathname, search } = new URL(withoutKey(socket.url))
  setState(attempt ? 'reconnecting' : 'connecting', `open ${pathname}${search}`)
  later('open', config.openTimeout, () => giveUp(socket, 'open timeout'))
  socket.onopen = () => {
    cancel('open')
    attempt = 0 // fix: a success resets the counter (Module 07's snippet never did)
    setState('connected', 'open')
    heartbeat(socket)
  }
  socket.onmessage = (event) => receive(event.data)
  socket.onclose = (event) => lost(socket, event.code, event.reason)
  socket.onerror = () => note('error event (pages get no cause)')
}

function lost(socket, code, reason) {
  if (socket !== ws) return // an old socket we already gave up on
  ws = null
  clearTimers()
  note(`closed ${code} (${reason || CLOSE_NAMES[code] || 'no reason'})`)
  if (stopped) return // fix: closed by cleanup: never reconnect (Module 07's bug)
  if (givesUpOnClose(code)) { // fix: the server refused the request: the same request fails again
    attempt = 0
    const why = reason || `${code} ${CLOSE_NAMES[code]}`
    return setState('disconnected', `WebSocket unavailable: ${why}`)
  }
  if (givesUpAfter(attempt)) return setState('disconnected', 'WebSocket unavailable')
  attempt += 1
  setState('reconnecting', `attempt ${attempt}/${config.maxAttempts} in ${backoff(attempt)}s`)
  later('reconnect', backoff(attempt), connect)
}

// Close a socket that stopped answering and count it as lost now: a frozen peer never
// answers the close handshake. (Pages cannot send 1006, so we close with our own 4000.)
function giveUp(socket, reason) {
  socket.onclose = socket.onerror = null
  socket.close(4000, reason)
  lost(socket, 4000, reason)
}

function reconnect() { // the Reconnect button: start over with a fresh budget
  clearTimers()
  attempt = 0
  note('Reconnect clicked: attempts reset')
  connect()
}

function cleanup() { // the useEffect return: clear ALL timers, then close
  stopped = true
  clearTimers()
  ws?.close(1000, 'cleanup') // its onclose sees `stopped` and does not reconnect
  setState('closed', 'cleanup: timers cleared, socket closed')
}

// ---- heartbeat: browsers have no ping API, so the application pings
// A ping goes out `ping` s after the last pong (not a free-running setInterval), and
// its pong must arrive within `pongTimeout` s: Module 07's heartbeat never checked that.
function heartbeat(socket) {
  later('ping', config.ping, () => {
    send({ type: 'ping' })
    later('pong', config.pongTimeout, () => giveUp(socket, 'pong timeout'))
  })
}

// ---- messages: one handler per type; a failing handler never kills the socket
const handlers = {
  welcome: (data) => { topics = data.topics; syncQueries(true) },
  subscribed: (data) => { topics = data.topics; syncQueries(false) },
  pong: () => { cancel('pong'); heartbeat(ws) }, // alive: next ping in `ping` s
  error: (data) => note(`server error ${data.error}: ${data.detail}`),
  event: (data) => invalidate('topics/' + data.topic), // any event of a topic: refetch it
}

function receive(text) {
  let message
  try { message = JSON.parse(text) } catch { return logFrame('in', { type: '(not JSON)' }, text) }
  logFrame('in', message, text)
  const { type, ...data } = message
  const handler = Object.hasOwn(handlers, type) ? handlers[type] : data.topic && handlers.event
  if (!handler) return note(`no handler for "${type}"`)
  try { handler(data) } catch (err) { note(`handler "${type}" failed: ${err}`) }
}

function send(message) {
  if (ws?.readyState !== WebSocket.OPEN) return note(`not sent while ${state}: ${message.type}`)
  const text = JSON.stringify(message)
  ws.send(text)
  logFrame('out', message, text)
}

const subscribe = (...names) => send({ type: 'subscribe', topics: names })
const unsubscribe = (...names) => send({ type: 'unsubscribe', topics: names })

// ---- cache: a tiny TanStack-Query-like cache, key -> {url, data, stale, fetches}
const queries = new Map()
async function fetchQuery(key) {
  const entry = queries.get(key)
  const run = ++entry.fetches
  entry.status = 'fetching'
  render()
  let result
  try {
    const response = await fetch(withKey(entry.url), { cache: 'no-store' }) // relative: same server
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    result = { data: await response.json(), stale: false, status: 'fresh' }
  } catch (err) {
    result = { status: `error: ${err.message}` }
  }
  if (run === entry.fetches) Object.assign(entry, result) // else a newer fetch is on its way
  render()
}
function invalidate(prefix) { // queryClient.invalidateQueries({ queryKey: prefix })
  for (const [key, entry] of queries) {
    if (key === prefix || key.startsWith(prefix + '/')) { entry.stale = true; fetchQuery(key) }
  }
}
function syncQueries(reconnected) { // one query per subscribed topic
  for (const key of queries.keys()) {
    if (!topics.includes(key.slice('topics/'.length))) queries.delete(key) // unsubscribed
  }
  if (reconnected) invalidate('topics') // events sent while we were away are lost: refetch
  for (const topic of topics) {
    const key = 'topics/' + topic
    if (queries.has(key)) continue
    queries.set(key, { url: 'api/topics/' + topic, data: null, stale: true, fetches: 0 })
    fetchQuery(key)
  }
  render()
}

// ---- page: the state badge, the timeline, the frame log, the cache table
const $ = (id) => document.getElementById(id)
const CLOSE_NAMES = { 1000: 'normal closure', 1001: 'going away', 1006: 'abnormal closure',
  1008: 'policy violation', 1011: 'internal error', 1012: 'service restart' }
function setState(next, text) {
  state = next
  note(text)
  $('state').textContent = state
  $('state').dataset.state = state
  $('attempt').textContent = state === 'reconnecting'
    ? `attempt ${attempt}/${config.maxAttempts} in ${backoff(attempt)}s` : ''
  $('notice').hidden = !['disconnected', 'closed'].includes(state)
  $('notice-text').textContent = state === 'closed' ? 'Closed by cleanup.' : `${text}.`
}
function append(list, row, limit = 200) { // keep the newest rows, follow the end
  const box = list.closest('.scroll')
  const atEnd = box.scrollTop + box.clientHeight >= box.scrollHeight - 8
  list.append(row)
  if (list.children.length > limit) list.firstElementChild.remove()
  if (atEnd) box.scrollTop = box.scrollHeight
}
function cells(values) {
  const row = document.createElement('tr')
  for (const value of values) row.insertCell().textContent = value
  return row
}
function note(text) {
  const item = document.createElement('li')
  item.textContent = `t=${t}s ${state}: ${text}`
  append($('timeline'), item)
}
function logFrame(direction, message, text) {
  const arrow = direction === 'in' ? '↓ in' : '↑ out'
  const row = cells([arrow, message.type, message.topic ?? '', text])
  row.dataset.direction = direction
  append($('log').tBodies[0], row)
}
function render() {
  const body = $('cache').tBodies[0]
  body.replaceChildren(...[...queries].map(([key, entry]) => {
    const version = entry.data?.version ?? ''
    return cells([key, version, entry.data?.last?.type ?? '', entry.fetches, entry.status])
  }))
  $('topics').textContent = topics.join(', ') || '(none)'
}

// ---- mount: wire the buttons, connect now, clean up when the page goes away
const topicsFromInput = () => $('topic').value.split(',').map((s) => s.trim()).filter(Boolean)
$('controls').onsubmit = (event) => { event.preventDefault(); subscribe(...topicsFromInput()) }
$('unsubscribe').onclick = () => unsubscribe(...topicsFromInput())
$('reconnect').onclick = reconnect
$('cleanup').onclick = cleanup
const schedule = Array.from({ length: config.maxAttempts }, (_, i) => backoff(i + 1))
$('config').textContent = `backoff ${schedule.join(', ')} s · ping ${config.ping} s · ` +
  `pong timeout ${config.pongTimeout} s · speed ×${config.speed}`
addEventListener('pagehide', cleanup)
window.lab = { // for DevTools and tests: lab.state, lab.handlers.x = fn, lab.send({...})
  config, handlers, queries, connect, reconnect, cleanup, subscribe, unsubscribe, invalidate, send,
  get state() { return state }, get attempt() { return attempt }, get topics() { return topics },
  get armed() { return Object.keys(timers).sort() }, // the timers that are armed now
  rules: { schedule, maxAttempts: config.maxAttempts, giveUpCodes: GIVE_UP_CODES, givesUpAfter },
}
render()
connect()
