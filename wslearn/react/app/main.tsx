// Entry point: StrictMode (development) mounts every effect twice -- a missing cleanup
// shows up as a second open connection on the server.
import { StrictMode } from "react"
import { createRoot } from "react-dom/client"
import { QueryClient, QueryClientProvider } from "@tanstack/react-query"
import { App } from "./App"

const params = new URLSearchParams(location.search)
const strict = params.get("strict") !== "0"
const queryClient = new QueryClient({
  // Pushes drive the refetches (staleTime 0: a remounted list refetches what it missed);
  // no retries, so a failed fetch shows at once; no refetch on window focus, so every
  // GET the server counts comes from a push, a reconnect or a mount.
  defaultOptions: { queries: { retry: false, refetchOnWindowFocus: false } },
})

const app = (
  <QueryClientProvider client={queryClient}>
    <App initiallyMounted={params.get("mounted") !== "0"} />
  </QueryClientProvider>
)
createRoot(document.getElementById("root")!).render(strict ? <StrictMode>{app}</StrictMode> : app)
