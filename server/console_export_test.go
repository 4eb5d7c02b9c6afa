package server

import "time"

// SetConsoleTail shortens a live tail's poll and heartbeat for a test.
func SetConsoleTail(a *API, poll, heartbeat time.Duration) {
	a.console.tail.poll, a.console.tail.heartbeat = poll, heartbeat
}

// OpenConsoleTails is how many live tails are being served.
func OpenConsoleTails(a *API) int64 { return a.console.tail.open.Load() }
