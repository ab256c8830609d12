// The proposals app around the hook: a list and a detail view (useQuery against the
// in-kernel server's REST API), a connection banner, a "WebSocket unavailable" toast
// with Reconnect, and a toggle that mounts and unmounts the component owning the socket.
import { useState } from "react"
import { useQuery } from "@tanstack/react-query"
import { useWebSocket, type ConnectionState } from "./useWebSocket"

type Proposal = { id: number; title: string; status: string; votes: number }

// The page derives every URL from its own location (works behind a proxy path too).
const WS_URL = new URL("ws", location.href).href.replace(/^http/, "ws")
const API = new URL("api/proposals", location.href).href

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url)
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`)
  return response.json()
}

function Banner({ state, attempt, maxAttempts }: { state: ConnectionState; attempt: number; maxAttempts: number }) {
  const text = state === "reconnecting" && attempt > 0 ? `reconnecting (attempt ${attempt}/${maxAttempts})` : state
  return <div id="banner" className={`banner ${state}`} data-state={state}>WebSocket: {text}</div>
}

function Toast({ onReconnect }: { onReconnect: () => void }) {
  return (
    <div id="toast" className="toast" role="alert">
      WebSocket unavailable: live updates stopped.{" "}
      <button id="reconnect" onClick={onReconnect}>Reconnect</button>
    </div>
  )
}

function ProposalList({ selected, onSelect }: { selected: number | null; onSelect: (id: number) => void }) {
  const list = useQuery({ queryKey: ["proposals"], queryFn: () => getJson<Proposal[]>(API) })
  if (list.isPending) return <p>Loading proposals…</p>
  if (list.isError) return <p className="error">Could not load proposals: {String(list.error)}</p>
  return (
    <ul id="proposals">
      {list.data.map((p) => (
        <li key={p.id} className={p.id === selected ? "selected" : ""}>
          <button onClick={() => onSelect(p.id)}>{p.title}</button> <span className="votes">{p.votes} votes</span>
        </li>
      ))}
    </ul>
  )
}

function ProposalDetail({ id }: { id: number }) {
  const detail = useQuery({ queryKey: ["proposals", id], queryFn: () => getJson<Proposal>(`${API}/${id}`) })
  if (detail.isPending) return <p>Loading…</p>
  if (detail.isError) return <p className="error">Proposal {id} is gone.</p>
  const p = detail.data
  return (
    <div id="detail">
      <h3>{p.title}</h3>
      <p>status: <b>{p.status}</b> · votes: <b>{p.votes}</b></p>
    </div>
  )
}

/** The component that owns the socket: unmounting it must close the socket. */
function LiveProposals() {
  const { state, attempt, maxAttempts, reconnect } = useWebSocket(WS_URL, ["proposals"])
  const [selected, setSelected] = useState<number | null>(null)
  return (
    <section>
      <Banner state={state} attempt={attempt} maxAttempts={maxAttempts} />
      {state === "disconnected" && <Toast onReconnect={reconnect} />}
      <div className="columns">
        <ProposalList selected={selected} onSelect={setSelected} />
        {selected !== null && <ProposalDetail id={selected} />}
      </div>
    </section>
  )
}

export function App({ initiallyMounted = true }: { initiallyMounted?: boolean }) {
  const [mounted, setMounted] = useState(initiallyMounted)
  return (
    <main>
      <button id="toggle" onClick={() => setMounted((m) => !m)}>
        {mounted ? "Unmount" : "Mount"} the live component
      </button>
      {mounted ? <LiveProposals /> : <p id="unmounted">Unmounted: no socket should be open.</p>}
    </main>
  )
}
