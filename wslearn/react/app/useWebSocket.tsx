// The module's useWebSocket(url, topics) hook, fixed: one socket per mounted component,
// backoff 1-16 s (at most 5 attempts, reset on success), heartbeat with a pong timeout,
// handlers by message type, topics in the URL, invalidateQueries on a push and after a
// reconnect, and a cleanup that closes the socket and clears every timer.
import { useEffect, useRef, useState } from "react"
import { useQueryClient, type QueryClient } from "@tanstack/react-query"

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "disconnected"
export type Message = { type: string; topic?: string; id?: number; [field: string]: unknown }

export const MAX_ATTEMPTS = 5
export const PING_EVERY_MS = 30_000
export const PONG_TIMEOUT_MS = 10_000

/** Attempt 1 waits 1 s, then 2, 4, 8, 16 s (capped at 30 s). */
export function backoffDelay(attempt: number): number {
  return Math.min(1000 * 2 ** (attempt - 1), 30_000)
}

/** One handler per message type (the module's mistake 5: not a chain of ifs). */
function makeHandlers(queryClient: QueryClient, onPong: () => void) {
  const handlers: Record<string, (message: Message) => void> = {
    welcome: () => {},
    pong: () => onPong(),
    "proposal.updated": () => {
      // v5 takes the object form; the key is a prefix: the list and every detail.
      queryClient.invalidateQueries({ queryKey: ["proposals"] })
    },
    "proposal.deleted": (message) => {
      queryClient.removeQueries({ queryKey: ["proposals", message.id] })
      queryClient.invalidateQueries({ queryKey: ["proposals"], exact: true })
    },
  }
  return handlers
}

export function useWebSocket(url: string, topics: string[]) {
  const queryClient = useQueryClient()
  const [state, setState] = useState<ConnectionState>("connecting")
  const [attempt, setAttempt] = useState(0) // for the banner only
  const [session, setSession] = useState(0) // bumped by reconnect(): a fresh effect
  // The counter lives in a ref: resetting it must not re-run the effect (an `attempt`
  // state in the dependencies would close the fresh socket on every recovery).
  const attempts = useRef(0)
  const everOpen = useRef(false) // opened before: a later open is a *re*connect
  const topicsKey = topics.join(",")

  useEffect(() => {
    let socket: WebSocket | null = null
    let unmounted = false
    let startTimer: ReturnType<typeof setTimeout> | undefined
    let retryTimer: ReturnType<typeof setTimeout> | undefined
    let pongTimer: ReturnType<typeof setTimeout> | undefined
    let pingTimer: ReturnType<typeof setInterval> | undefined
    const handlers = makeHandlers(queryClient, () => {
      clearTimeout(pongTimer)
      pongTimer = undefined
    })

    function connect() {
      setState(attempts.current === 0 ? "connecting" : "reconnecting")
      const ws = new WebSocket(`${url}?topics=${encodeURIComponent(topicsKey)}`)
      socket = ws
      ws.onopen = () => {
        attempts.current = 0 // a success resets the schedule
        setAttempt(0)
        setState("connected")
        // Events published while we were away were missed: refetch what we show.
        if (everOpen.current) queryClient.invalidateQueries({ queryKey: ["proposals"] })
        everOpen.current = true
        pingTimer = setInterval(ping, PING_EVERY_MS)
      }
      ws.onmessage = (event) => {
        let message: Message
        try {
          message = JSON.parse(event.data)
        } catch {
          return // not JSON: ignore it, keep the connection
        }
        handlers[message.type]?.(message)
      }
      ws.onclose = () => lost(ws)
    }

    function ping() {
      if (socket?.readyState !== WebSocket.OPEN) return
      socket.send(JSON.stringify({ type: "ping" }))
      if (pongTimer === undefined) {
        const ws = socket
        pongTimer = setTimeout(() => lost(ws), PONG_TIMEOUT_MS) // silent server: give up on it
      }
    }

    function lost(ws: WebSocket) {
      if (ws !== socket || unmounted) return // an old socket, or closed by the cleanup
      detach(ws)
      socket = null
      if (attempts.current >= MAX_ATTEMPTS) {
        setState("disconnected") // the toast offers Reconnect
        return
      }
      attempts.current += 1
      setAttempt(attempts.current)
      setState("reconnecting")
      retryTimer = setTimeout(connect, backoffDelay(attempts.current))
    }

    function detach(ws: WebSocket) {
      clearInterval(pingTimer)
      clearTimeout(pongTimer)
      pingTimer = pongTimer = undefined
      ws.onopen = ws.onmessage = ws.onclose = null
      ws.close(1000, "client closed")
    }

    // Connect on the next tick: StrictMode's mount-unmount-mount opens no extra socket.
    startTimer = setTimeout(connect, 0)
    return () => {
      unmounted = true
      clearTimeout(startTimer)
      clearTimeout(retryTimer)
      if (socket) detach(socket)
    }
  }, [url, topicsKey, session, queryClient])

  function reconnect() {
    attempts.current = 0
    setAttempt(0)
    setSession((n) => n + 1)
  }

  return { state, attempt, maxAttempts: MAX_ATTEMPTS, reconnect }
}
