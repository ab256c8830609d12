// wslearn browser lab: Module 07's useWebSocket hook in plain JavaScript.
// No framework, no build step, no CDN. Chapter 09 shows each part beside the
// Python client (wslearn.Client) and Module 07's React hook.
'use strict'

// ---- settings: from the page's own URL, e.g. lab?topics=analysis&speed=20
const query = new URLSearchParams(location.search)
const setting = (name, fallback) => Number(query.get(name) || fallback)
const problems = [] // settings the page cannot use: noted on its timeline, defaults kept
function choice(name, allowed, fallback) { // one of a few words
  const value = query.get(name)
  if (value === null || value === '' || allowed.includes(value)) return value || fallback
  problems.push(`setting ${name}=${value} ignored: use ${allowed.join(', ')}`)
  return fallback
}
function amount(name, fallback, { whole = false, words = {} } = {}) { // a number >= 0
  const value = query.get(name)
  if (value === null || value === '') return fallback
  if (Object.hasOwn(words, value)) return words[value]
  const number = Number(value)
  if (Number.isFinite(number) && number >= 0 && (!whole || Number.isSafeInteger(number))) return number
  problems.push(`setting ${name}=${value} ignored: use a ${whole ? 'whole ' : ''}number >= 0`)
  return fallback
}
const config = {
  topics: (query.get('topics') ?? 'analysis,proposals').split(',').filter(Boolean),
  base: setting('base', 1), factor: setting('factor', 2), cap: setting('cap', 30),
  maxAttempts: setting('maxAttempts', 5),
  ping: setting('ping', 30), pongTimeout: setting('pongTimeout', 10),
  openTimeout: setting('openTimeout', 10),
  speed: setting('speed', 1), // divides every delay: the 1+2+4+8+16 s schedule in 1.55 s at 20
  // Chapter 11 (each off by default: then the page is Module 07's hook, as in chapter 09)
  closes: choice('closes', ['module-07', 'recommended'], 'module-07'), // the close-code table
  minUptime: amount('minUptime', 0), // s up before attempts reset (0: at open, Module 07)
  jitter: choice('jitter', ['none', 'full', 'equal'], 'none'),
  seed: amount('seed', null, { whole: true }), // jitter from a seeded generator (else Math.random)
  resume: query.get('resume') === '1', // numbered events: reconnect where we stopped
  queue: amount('queue', 0, { whole: true, words: { unbounded: Infinity } }), // sends held offline
  overflow: choice('overflow', ['drop-oldest', 'drop-newest', 'reject'], 'drop-oldest'),
  // Where the credential goes (fetched from api/token before each connect, again after a
  // 4401): the socket's query (auth=1 or query), its first frame (first-message), or an
  // HttpOnly cookie the browser sends with the handshake by itself (cookie).
  auth: authMode(choice('auth', ['1', 'query', 'first-message', 'cookie'], 'off')),
}
function authMode(word) { return word === 'off' ? null : word === '1' ? 'query' : word }
// The reconnect rules -- when to retry, when to give up -- mirror wslearn.backoff
// (BackoffPolicy) and wslearn.close_policy (its two tables, as data: MODULE_07 by default,
// RECOMMENDED with ?closes=recommended); tests/test_page_rules.py compares lab.rules.
const CLOSE_POLICIES = {
  'module-07': { name: 'module-07', rules: { 1008: 'give-up' }, application: 'retry',
    default: 'retry' },
  recommended: { name: 'recommended', rules: {
    1000: 'done', 1001: 'retry', 1002: 'give-up', 1003: 'give-up', 1005: 'retry',
    1006: 'retry', 1007: 'give-up', 1008: 'give-up', 1009: 'give-up', 1010: 'give-up',
    1011: 'retry', 1012: 'retry', 1013: 'retry', 1014: 'retry', 4401: 'refresh',
    4403: 'give-up' }, application: 'give-up', default: 'retry' },
}
const closePolicy = CLOSE_POLICIES[config.closes]
const decide = (code) => Object.hasOwn(closePolicy.rules, code) ? closePolicy.rules[code]
  : code >= 4000 && code <= 4999 ? closePolicy.application : closePolicy.default
const GIVE_UP_CODES = Object.keys(closePolicy.rules).map(Number)
  .filter((code) => closePolicy.rules[code] === 'give-up') // e.g. 1008: the request is refused
// The server's per-server key, if the page was opened with one (lab?key=...): forwarded
// on the WebSocket URL and every fetch, never shown on the page (docs/server.md).
const key = query.get('key')
const withKey = (url) => key ? url + (url.includes('?') ? '&' : '?') + 'key=' + encodeURIComponent(key) : url
const withoutKey = (url) => url.replace(/[?&]key=[^&#]*$/, '') // for display only
const redacted = (url) => withoutKey(url).replace(/([?&]token=)[^&#]*/, '$1***') // auth.redact
// Jitter (wslearn.backoff's formulas): full = uniform(0, d), equal = d/2 + uniform(0, d/2),
// rounded to ms; one generator per page, seeded with ?seed= (mulberry32) or Math.random.
function mulberry32(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let z = Math.imul(a ^ (a >>> 15), 1 | a)
    z = (z + Math.imul(z ^ (z >>> 7), 61 | z)) ^ z
    return ((z ^ (z >>> 14)) >>> 0) / 4294967296
  }
}
const generator = () => config.seed === null ? Math.random : mulberry32(config.seed)
const random = generator()
const ceiling = (attempt) => Math.min(config.base * config.factor ** (attempt - 1), config.cap)
const ms = (seconds) => Math.round(seconds * 1000) / 1000
function backoff(attempt, draw = random) { // the wait before `attempt` (1-based)
  const d = ceiling(attempt)
  if (config.jitter === 'full') return ms(draw() * d)
  if (config.jitter === 'equal') return ms(d / 2 + draw() * (d / 2))
  return d
}
const givesUpAfter = (attempt) => attempt >= config.maxAttempts // that was the last attempt allowed

// The socket URL comes from where the page was loaded, so the same page works at
// http://127.0.0.1:PORT/lab and behind a proxy path such as /user/ada/proxy/PORT/lab.
function socketUrl(topics, token = null) {
  const url = new URL('ws', location.href)
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
  const names = topics.map(encodeURIComponent) // quoted like Python's protocol.topics_query
  const params = names.length ? ['topics=' + names.join(',')] : []
  if (config.resume) params.push('resume=' + cursorValue()) // "" at first: number my events
  if (token && config.auth === 'query') { // auth=1: a browser cannot set headers
    params.push('token=' + encodeURIComponent(token))
  }
  url.search = params.length ? '?' + params.join('&') : ''
  return withKey(url.href)
}

// ---- timers: one place to start them and to clear them all
let t = 0 // logical time: moves only when a timer fires, to its planned deadline
const timers = {} // name -> setTimeout id: 'reconnect', 'open', 'ping', 'pong', 'stable'
function later(name, seconds, fn) {
  cancel(name)
  const due = Math.round((t + seconds) * 1e9) / 1e9 // like the machine's deadlines
  const run = () => { delete timers[name]; t = due; fn() }
  timers[name] = setTimeout(run, (seconds * 1000) / config.speed)
}
function cancel(name) { clearTimeout(timers[name]); delete timers[name] }
function clearTimers() { for (const name in timers) cancel(name) }

// ---- connection: connect, open, lost, reconnect with backoff, cleanup
let ws = null
let state = 'connecting' // connecting | connected | reconnecting | disconnected | closed
let attempt = 0 // reconnect attempts since the last successful open
let wait = 0 // the backoff wait before `attempt` (drawn once: jitter makes it random)
let topics = config.topics
let stopped = false // set by cleanup(): a close we asked for must never reconnect
let offline = false // the browser's `offline` event: retrying waits for `online`
let refreshed = false // a 4401 refreshed the token; a second one before "stable" gives up
let dials = 0 // numbers the connects: a token fetch that answers late opens nothing

function connect() {
  stopped = false
  const dial = ++dials
  if (!config.auth) return open(null)
  fetchToken().then((token) => { if (dial === dials && !stopped) open(token) })
}

function open(token) {
  const socket = new WebSocket(socketUrl(topics, token))
  ws = socket
  const { pathname, search } = new URL(redacted(socket.url))
  setState(attempt ? 'reconnecting' : 'connecting', `open ${pathname}${search}`)
  later('open', config.openTimeout, () => giveUp(socket, 'open timeout'))
  socket.onopen = () => {
    cancel('open')
    if (config.auth === 'first-message' && token) authenticate(socket, token) // before anything else
    if (config.minUptime > 0) { // fix (chapter 11): reset only once the connection proved stable
      later('stable', config.minUptime, stable)
      setState('connected', `open; attempts reset after ${config.minUptime}s up`)
    } else {
      attempt = 0 // fix: a success resets the counter (Module 07's snippet never did)
      if (refreshed) later('stable', REFRESH_PROOF, tokenWorks) // recovery: prove the token
      setState('connected', 'open')
    }
    heartbeat(socket)
    flush() // messages sent while we were away, oldest first
  }
  socket.onmessage = (event) => receive(event.data)
  socket.onclose = (event) => lost(socket, event.code, event.reason)
  socket.onerror = () => note('error event (pages get no cause)')
}

function stable() { // up for minUptime seconds: now a success, the attempt counter resets
  const was = attempt
  attempt = 0
  refreshed = false
  const on = was ? `; attempts reset (connected on attempt ${was}/${config.maxAttempts})` : ''
  note(`up for ${config.minUptime}s: connection stable${on}`)
}

function lost(socket, code, reason) {
  if (socket !== ws) return // an old socket we already gave up on
  ws = null
  const early = 'stable' in timers // lost before minUptime: the count goes on (flapping)
  clearTimers()
  note(`closed ${code} (${reason || CLOSE_NAMES[code] || 'no reason'})`)
  if (stopped) return // fix: closed by cleanup: never reconnect (Module 07's bug)
  const detail = `${code} ${codeName(code)}` + (reason ? `: ${reason}` : '') // the machine's words
  switch (decide(code)) { // the close-code table (wslearn.close_policy)
    case 'give-up': { // fix: the server refused the request: the same request fails again
      attempt = 0
      const why = reason || `${code} ${CLOSE_NAMES[code]}`
      return setState('disconnected', `WebSocket unavailable: ${why}`)
    }
    case 'done': // the server ended the session (1000 under the recommended table)
      attempt = 0
      return setState('disconnected', `closed by the server (${detail}): session ended, not retried`)
    case 'refresh': // 4401: the token expired: a fresh one, then connect at once
      return refresh(detail)
  }
  if (early) note(`connection lost before ${config.minUptime}s up: attempts not reset`)
  retry()
}

function retry() { // after a failure: wait (backoff), or give up after the last attempt
  if (givesUpAfter(attempt)) return setState('disconnected', 'WebSocket unavailable')
  if (offline) return setState('reconnecting', 'offline: waiting for the network')
  attempt += 1
  wait = backoff(attempt)
  setState('reconnecting', `attempt ${attempt}/${config.maxAttempts} in ${wait}s`)
  later('reconnect', wait, connect)
}

// Close a socket that stopped answering and count it as lost now: a frozen peer never
// answers the close handshake. Pages cannot abort a socket, so the close frame says 4000;
// the page counts the loss as what it is, a local 1006 (abnormal closure): an outage,
// retried under every close table (a 4xxx would be the application's refusal).
function giveUp(socket, reason) {
  socket.onclose = socket.onerror = null
  socket.close(4000, reason)
  lost(socket, 1006, reason)
}

function reconnect() { // the Reconnect button: start over with a fresh budget
  clearTimers()
  attempt = 0
  refreshed = false
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

// ---- recovery: chapter 11's rules: token refresh, offline/online, visibility
// A refreshed token must stay up REFRESH_PROOF s when minUptime is 0 (machine.REFRESH_PROOF):
// an open alone does not prove it (a server that refuses every fresh token still opens).
const REFRESH_PROOF = 1
function tokenWorks() { // the refreshed connection stayed up: a later 4401 may refresh again
  refreshed = false
  note(`up for ${REFRESH_PROOF.toFixed(1)}s: the refreshed token works`)
}

let tokens = 0 // tokens fetched (auth=1)

// 4401 under the recommended table (the token expired): not an outage, so no backoff --
// refresh the credential and connect at once; a second 4401 before the connection proved
// stable means the login itself is refused: give up ("log in again"), never loop.
function refresh(detail) {
  if (refreshed) { // a fresh token was refused too: the login itself is refused
    refreshed = false
    attempt = 0
    return setState('disconnected', `WebSocket unavailable: log in again (${detail})`)
  }
  refreshed = true
  setState('reconnecting', `connection lost (${detail}); refreshing the token`)
  note('token refreshed: connecting now (no backoff)')
  connect() // with ?auth=1 it fetches a fresh token first
}

// The browser's own signals feed the same rules as the machine's Offline/Online/Visible.
function wentOffline() { // no network: a pending wait pauses; failures spend no attempts
  if (offline || state === 'closed') return
  offline = true
  if (!('reconnect' in timers)) return note(ws ? 'offline event (the heartbeat will tell if the socket died)' : 'offline event')
  cancel('reconnect')
  note(`offline: attempt ${attempt}/${config.maxAttempts} paused until the network is back`)
}
function wentOnline() { // the network is back: why wait out a 16 s backoff?
  const was = offline
  offline = false
  if (state === 'closed' || ws) return was && note('online event')
  if (state !== 'reconnecting') return // after giving up, Reconnect stays the user's call
  cancel('reconnect')
  attempt = 0
  note('online: the network is back; connecting now (attempts reset)')
  connect()
}
function becameVisible() { // the tab is shown again while a backoff wait is pending: retry now
  if (document.visibilityState !== 'visible' || !('reconnect' in timers) || offline) return
  cancel('reconnect')
  note(`page visible again: attempt ${attempt}/${config.maxAttempts} now instead of waiting out the backoff`)
  connect()
}

// ?auth=...: a fresh token before each connect (api/token, with the key). Browsers cannot
// set headers on a WebSocket, so it goes into the socket's query (auth=1), or its first
// frame (auth=first-message), or -- auth=cookie -- the server sets it as an HttpOnly
// cookie for this page's folder and the browser sends it with the handshake: this script
// never holds it. A failed fetch connects without one: the server's 4401 then says why.
async function fetchToken() {
  const timeout = AbortSignal.timeout((config.openTimeout * 1000) / config.speed)
  const cookie = config.auth === 'cookie'
  const url = cookie
    ? `api/token?cookie=1&path=${encodeURIComponent(new URL('.', location.href).pathname)}`
    : 'api/token'
  try {
    const response = await fetch(withKey(url), { cache: 'no-store', signal: timeout })
    if (!response.ok) throw new Error(`HTTP ${response.status}`)
    const answer = await response.json()
    tokens += 1
    if (cookie) {
      note('token cookie set (api/token; HttpOnly: this page cannot read it)')
      return null // nothing to carry: the browser sends the cookie
    }
    if (typeof answer.token !== 'string' || !answer.token) throw new Error('no token in the answer')
    note('token fetched (api/token)')
    return answer.token
  } catch (err) {
    note(`token fetch failed (${err.message}): connecting without one`)
    return null
  }
}
function authenticate(socket, token) { // auth=first-message: the token in the first frame
  socket.send(JSON.stringify({ type: 'auth', token }))
  logFrame('out', { type: 'auth' }, JSON.stringify({ type: 'auth', token: '***' })) // redacted
}

// ---- messages: one handler per type; a failing handler never kills the socket
const handlers = {
  welcome: (data) => { topics = data.topics; syncQueries(!resumeFrom(data.seq)) },
  subscribed: (data) => { topics = data.topics; resumeFrom(data.seq); syncQueries(false) },
  pong: () => { cancel('pong'); heartbeat(ws) }, // alive: next ping in `ping` s
  error: (data) => note(`server error ${data.error}: ${data.detail}`),
  resync: (data) => resynced(data), // resume=1: the gap is older than the server's buffer
  event: (data, message) => config.resume && Number.isSafeInteger(data.seq) ? numbered(message)
    : invalidate('topics/' + data.topic), // any event of a topic: refetch it
}

function receive(text) {
  let message
  try { message = JSON.parse(text) } catch { return logFrame('in', { type: '(not JSON)' }, text) }
  logFrame('in', message, text)
  const { type, ...data } = message
  const handler = Object.hasOwn(handlers, type) ? handlers[type] : data.topic && handlers.event
  if (!handler) return note(`no handler for "${type}"`)
  try { handler(data, message) } catch (err) { note(`handler "${type}" failed: ${err}`) }
}

// A bounded send queue (?queue=<n>&overflow=...; wslearn.send_queue's rule): what send()
// does while the socket is not open. Default (queue=0): drop it, with a note (Module 07).
const outbox = [] // oldest first; flushed after the next open
let dropped = 0 // messages lost to the bound, counted, never silent
function send(message) {
  if (ws?.readyState !== WebSocket.OPEN) return hold(message)
  const text = JSON.stringify(message)
  ws.send(text)
  logFrame('out', message, text)
  return 'sent'
}
function hold(message) {
  if (config.queue === 0 || message.type === 'ping') { // a late ping is no heartbeat
    note(`not sent while ${state}: ${message.type}`)
    return 'dropped'
  }
  let result = 'queued'
  if (outbox.length >= config.queue) {
    if (config.overflow === 'reject') {
      note(`not sent: ${config.queue} messages are already waiting for the connection (reject)`)
      return 'rejected'
    }
    dropped += 1
    if (config.overflow === 'drop-newest') {
      note(`not queued while ${state}: ${message.type} (queue full, drop-newest)`)
      renderQueue()
      return 'dropped'
    }
    const oldest = outbox.shift()
    result = 'queued, oldest dropped'
    note(`queue full: oldest ${oldest.type} dropped (drop-oldest)`)
  }
  outbox.push(message)
  note(`${message.type} queued while ${state} (${outbox.length} waiting)`)
  renderQueue()
  return result
}
function flush() {
  if (!outbox.length) return
  const waiting = outbox.splice(0)
  note(`sending ${waiting.length} queued message${waiting.length === 1 ? '' : 's'}`)
  for (const message of waiting) send(message)
  renderQueue()
}

const subscribe = (...names) => send({ type: 'subscribe', topics: names })
const unsubscribe = (...names) => send({ type: 'unsubscribe', topics: names })

// Resume (?resume=1; wslearn.resume's ResumeCursor): the last event number per topic. The
// reconnect URL says where we stopped (resume=a:12,b:7); the server replays what we missed,
// or says "resync" when its buffer no longer holds it -- only then is that topic refetched.
const cursor = new Map() // topic -> last seq seen
const resumeStats = { replayed: 0, resynced: 0, gaps: 0, duplicates: 0 }
let heads = {} // the welcome's numbers: events up to these were published while we were away
const cursorValue = () => [...cursor].map(([name, seq]) => `${encodeURIComponent(name)}:${seq}`).join(',')
function resumeFrom(seq) { // welcome/subscribed carry {topic: head}; true if resumable
  if (!config.resume || !seq || typeof seq !== 'object') return false
  for (const name of cursor.keys()) if (!topics.includes(name)) cursor.delete(name)
  for (const name of topics) {
    const head = seq[name]
    if (!Number.isSafeInteger(head) || head < 0) continue
    heads[name] = head
    if (!cursor.has(name)) cursor.set(name, head) // a known topic keeps its place: replays follow
  }
  for (const name of Object.keys(heads)) if (!topics.includes(name)) delete heads[name]
  return true
}
function numbered(data) { // an event with its number: new, first, duplicate or gap
  const { topic, seq } = data
  const last = cursor.get(topic)
  if (last !== undefined && seq <= last) {
    resumeStats.duplicates += 1
    return note(`duplicate ${topic} #${seq} dropped`)
  }
  cursor.set(topic, seq)
  if (seq <= (heads[topic] ?? 0)) resumeStats.replayed += 1 // published while we were away
  if (last !== undefined && seq > last + 1) { // numbers were skipped: events were lost
    resumeStats.gaps += 1
    note(`gap in ${topic}: #${last + 1}..#${seq - 1} missing; refetching it`)
    return invalidate('topics/' + topic)
  }
  apply('topics/' + topic, data) // the event is the update: no refetch
}
function resynced(data) {
  const { topic, seq, missed } = data
  if (typeof topic !== 'string' || !Number.isSafeInteger(seq) || seq < 0) return note('resync without topic and seq: ignored')
  cursor.set(topic, seq)
  heads[topic] = seq
  resumeStats.resynced += 1
  note(`resync ${topic}: ${missed ?? '?'} missed events are no longer kept; refetching it`)
  invalidate('topics/' + topic)
}

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
function apply(key, message) { // resume=1: the next numbered event updates the query in place
  const entry = queries.get(key) // (TanStack Query's setQueryData) when it is the very next version
  if (!entry || entry.status !== 'fresh' || entry.data?.version !== message.seq - 1) return invalidate(key)
  const { seq, ...last } = message // the event as api/topics shows it, without its number
  entry.data = { ...entry.data, version: seq, last }
  render()
}
function syncQueries(reconnected) { // one query per subscribed topic
  for (const key of queries.keys()) {
    if (!topics.includes(key.slice('topics/'.length))) queries.delete(key) // unsubscribed
  }
  if (reconnected) invalidate('topics') // events sent while we were away are lost: refetch
  // (with resume=1 they are not: the server replays them or says resync, per topic)
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
  1008: 'policy violation', 1009: 'message too big', 1011: 'internal error',
  1012: 'service restart', 1013: 'try again later',
  4401: 'unauthorized: token missing or expired', 4403: 'forbidden' } // protocol.CLOSE_CODE_NAMES
const codeName = (code) => CLOSE_NAMES[code] ?? (code >= 3000 && code <= 4999 ? 'application code' : 'other')
function setState(next, text) {
  state = next
  note(text)
  $('state').textContent = state
  $('state').dataset.state = state
  $('attempt').textContent = state !== 'reconnecting' ? ''
    : offline && !('reconnect' in timers) ? 'offline: waiting for the network'
      : attempt ? `attempt ${attempt}/${config.maxAttempts} in ${wait}s` : ''
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
function renderQueue() { // shown only with ?queue=<n>: how many sends wait for the connection
  const box = $('queue')
  box.hidden = config.queue === 0
  const limit = config.queue === Infinity ? '' : `/${config.queue}`
  box.textContent = `queued ${outbox.length}${limit}` + (dropped ? ` · ${dropped} dropped` : '')
}
function describeSettings() { // the config line: Module 07's settings, then what differs
  const ceilings = Array.from({ length: config.maxAttempts }, (_, i) => ceiling(i + 1))
  const jittered = config.jitter === 'none' ? '' : 'up to '
  const parts = [`backoff ${jittered}${ceilings.join(', ')} s`, `ping ${config.ping} s`,
    `pong timeout ${config.pongTimeout} s`, `speed ×${config.speed}`]
  if (config.jitter !== 'none') parts.push(`${config.jitter} jitter` + (config.seed === null ? '' : ` (seed ${config.seed})`))
  if (config.minUptime > 0) parts.push(`reset after ${config.minUptime} s up`)
  if (config.closes !== 'module-07') parts.push(`closes: ${config.closes}`)
  if (config.resume) parts.push('resume')
  if (config.queue !== 0) parts.push(`queue ${config.queue === Infinity ? 'unbounded' : `${config.queue}, ${config.overflow}`}`)
  if (config.auth) parts.push(`auth: ${config.auth === 'query' ? 'token' : config.auth}`)
  return parts.join(' · ')
}

// ---- mount: wire the buttons, connect now, clean up when the page goes away
const topicsFromInput = () => $('topic').value.split(',').map((s) => s.trim()).filter(Boolean)
$('controls').onsubmit = (event) => { event.preventDefault(); subscribe(...topicsFromInput()) }
$('unsubscribe').onclick = () => unsubscribe(...topicsFromInput())
$('reconnect').onclick = reconnect
$('cleanup').onclick = cleanup
const schedule = Array.from({ length: config.maxAttempts }, (_, i) => ceiling(i + 1))
$('config').textContent = describeSettings()
if (config.resume) { // the cache's caption tells what a push does now
  document.querySelector('#cache-title small').textContent =
    '(resume: a numbered push updates its query in place; a gap or a resync refetches it)'
}
addEventListener('pagehide', cleanup)
addEventListener('offline', wentOffline)
addEventListener('online', wentOnline)
document.addEventListener('visibilitychange', becameVisible)
window.lab = { // for DevTools and tests: lab.state, lab.handlers.x = fn, lab.send({...})
  config, handlers, queries, connect, reconnect, cleanup, subscribe, unsubscribe, invalidate, send,
  get state() { return state }, get attempt() { return attempt }, get topics() { return topics },
  get armed() { return Object.keys(timers).sort() }, // the timers that are armed now
  get queued() { return outbox.length }, get dropped() { return dropped },
  get offline() { return offline }, get tokens() { return tokens },
  get cursor() { return Object.fromEntries(cursor) }, resumeStats,
  rules: { // the rules as data, compared with the Python ones by tests/test_page_rules.py
    schedule, maxAttempts: config.maxAttempts, giveUpCodes: GIVE_UP_CODES, givesUpAfter,
    closes: CLOSE_POLICIES, closePolicy: config.closes, decide, minUptime: config.minUptime,
    refreshProof: REFRESH_PROOF,
    jitter: config.jitter, seed: config.seed, ceiling,
    delays: () => { const draw = generator(); return schedule.map((_, i) => backoff(i + 1, draw)) },
  },
}
for (const problem of problems) note(problem)
render()
renderQueue()
connect()
