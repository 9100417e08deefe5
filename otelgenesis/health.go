package otelgenesis

import (
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/genesis-esl/genesis"
	"go.opentelemetry.io/otel/trace"
)

// linkKey names one connection: the Hooks value it reports through (see
// Instrumentation.Hooks), its kind and address.
type linkKey struct {
	scope      uint64
	kind, addr string
}

// link is what the hooks told of one connection.
type link struct {
	up          int       // links up (more than 1 only when Dials share a Hooks value)
	connectedAt time.Time // by the health clock
	heartbeat   time.Time // the last HEARTBEAT, by the health clock
	restored    bool      // false from a loss until Reconnect
	lost        bool      // down after a loss: it may come back
	lostAt      time.Time // by the real clock, for the reconnect span
	lostErr     error
}

func (i *Instrumentation) connect(scope uint64, c genesis.ConnInfo) {
	key := linkKey{scope, c.Kind, c.Addr}
	now := i.now()
	i.mu.Lock()
	l := i.links[key]
	if l == nil {
		l = &link{}
		i.links[key] = l
	}
	back := l.lost && l.up == 0
	lostAt, lostErr := l.lostAt, l.lostErr
	l.up++
	l.connectedAt = now
	l.restored = !back
	l.lost, l.lostErr = false, nil
	if c.Kind == "inbound" {
		// Another connection to this address is up: connections to it
		// that died before are superseded.
		for k, o := range i.links {
			if k != key && k.kind == c.Kind && k.addr == c.Addr && o.up == 0 {
				delete(i.links, k)
			}
		}
	}
	i.mu.Unlock()

	if c.Kind == "outbound" {
		i.m.sessions.Add(context.Background(), 1)
	} else {
		i.m.connections.Add(context.Background(), 1)
	}
	kind := trace.SpanKindClient
	if c.Kind == "outbound" {
		kind = trace.SpanKindServer
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(kind)}
	if back {
		// The span of a reconnect covers the outage: from the loss to the
		// new link's subscriptions being restored.
		opts = append(opts, trace.WithTimestamp(lostAt))
	}
	_, span := i.tracer.Start(context.Background(), "genesis.connect", opts...)
	if span.IsRecording() {
		span.SetAttributes(attrKind.String(c.Kind), attrReconnect.Bool(back))
		span.SetAttributes(peerAttrs(c.Addr)...)
		if back && lostErr != nil {
			span.AddEvent("genesis.link_lost", trace.WithTimestamp(lostAt),
				trace.WithAttributes(attrErrorMessage.String(lostErr.Error())))
		}
	}
	span.End()
}

func (i *Instrumentation) disconnect(scope uint64, c genesis.ConnInfo, err error) {
	key := linkKey{scope, c.Kind, c.Addr}
	i.mu.Lock()
	l := i.links[key]
	// A reconnecting connection that ends for good while it redials says
	// Disconnect a second time: only the first counts.
	wasUp := l != nil && l.up > 0
	if wasUp {
		l.up--
	}
	if l != nil && l.up == 0 {
		switch {
		case err == nil || c.Kind != "inbound":
			delete(i.links, key) // closed: no longer watched
		case wasUp:
			l.lost, l.lostAt, l.lostErr, l.restored = true, time.Now(), err, false
		}
	}
	i.mu.Unlock()
	if !wasUp {
		return
	}
	if c.Kind == "outbound" {
		i.m.sessions.Add(context.Background(), -1)
	} else {
		i.m.connections.Add(context.Background(), -1)
	}
}

func (i *Instrumentation) reconnect(scope uint64, c genesis.ConnInfo) {
	i.m.reconnects.Add(context.Background(), 1, i.kinds.get(c.Kind).add...)
	i.mu.Lock()
	if l := i.links[linkKey{scope, c.Kind, c.Addr}]; l != nil && l.up > 0 {
		l.restored = true
	}
	i.mu.Unlock()
}

// Health is the state of the inbound connections, as HealthHandler and
// ReadyHandler serve it (as JSON).
type Health struct {
	// Healthy: at least one inbound connection is watched, and every
	// address is connected and has seen a HEARTBEAT within the window (a
	// link that came up less than a window ago has time for its first).
	Healthy bool `json:"healthy"`
	// Ready: at least one inbound connection is watched, and every address
	// is connected with its subscriptions in place (after a loss: restored
	// by the reconnect).
	Ready bool `json:"ready"`
	// Connections has one entry per address, sorted by address.
	Connections []ConnectionHealth `json:"connections"`
}

// ConnectionHealth is the state of the inbound connections to one address.
type ConnectionHealth struct {
	Addr      string `json:"addr"`      // the switch's address, as given to Dial
	Connected bool   `json:"connected"` // a connection to it is up
	Healthy   bool   `json:"healthy"`   // connected, with a HEARTBEAT within the window
	Ready     bool   `json:"ready"`     // connected, with its subscriptions in place
	// LastHeartbeat is when the last HEARTBEAT arrived (zero: none yet).
	LastHeartbeat time.Time `json:"last_heartbeat,omitzero"`
	// Error is why the link was lost, while it is down.
	Error string `json:"error,omitempty"`
}

// Health reports the state of the inbound connections that use the
// Instrumentation's hooks. Outbound sessions are calls, not links to the
// switch, and do not count. A connection counts from its Connect until it
// is closed (Close); one that was lost counts, as down, until it is back
// or another connection to its address is up.
func (i *Instrumentation) Health() Health {
	now := i.now()
	byAddr := map[string]*ConnectionHealth{}
	base := map[string]time.Time{} // the newest of heartbeats and connects of links up
	i.mu.Lock()
	for k, l := range i.links {
		if k.kind != "inbound" {
			continue
		}
		ch := byAddr[k.addr]
		if ch == nil {
			ch = &ConnectionHealth{Addr: k.addr}
			byAddr[k.addr] = ch
		}
		if l.heartbeat.After(ch.LastHeartbeat) {
			ch.LastHeartbeat = l.heartbeat
		}
		if l.up == 0 {
			if l.lostErr != nil {
				ch.Error = l.lostErr.Error()
			}
			continue
		}
		ch.Connected = true
		ch.Ready = ch.Ready || l.restored
		for _, t := range []time.Time{l.heartbeat, l.connectedAt} {
			if t.After(base[k.addr]) {
				base[k.addr] = t
			}
		}
	}
	i.mu.Unlock()
	h := Health{Healthy: len(byAddr) > 0, Ready: len(byAddr) > 0, Connections: make([]ConnectionHealth, 0, len(byAddr))}
	for addr, ch := range byAddr {
		if ch.Connected {
			ch.Error = ""
			ch.Healthy = now.Sub(base[addr]) <= i.window
		}
		h.Healthy = h.Healthy && ch.Healthy
		h.Ready = h.Ready && ch.Ready
		h.Connections = append(h.Connections, *ch)
	}
	slices.SortFunc(h.Connections, func(a, b ConnectionHealth) int { return cmp.Compare(a.Addr, b.Addr) })
	return h
}

// HealthHandler serves liveness: 200 when Health says Healthy, 503
// otherwise, with Health as JSON. It answers any method and path, so mount
// it where the probe looks (mux.Handle("GET /healthz", h)).
//
// A connection is healthy only if HEARTBEAT events reach it: subscribe to
// them (client.Subscribe(ctx, genesis.EventHeartbeat)); FreeSWITCH sends one
// every 20 s, and WithHeartbeatWindow sets how old the last may be.
func (i *Instrumentation) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := i.Health()
		serveHealth(w, h, h.Healthy)
	})
}

// ReadyHandler serves readiness: 200 when Health says Ready, 503 otherwise,
// with Health as JSON. It answers any method and path, so mount it where
// the probe looks (mux.Handle("GET /readyz", h)).
func (i *Instrumentation) ReadyHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := i.Health()
		serveHealth(w, h, h.Ready)
	})
}

func serveHealth(w http.ResponseWriter, h Health, ok bool) {
	body, err := json.Marshal(h)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if ok {
		w.WriteHeader(http.StatusOK)
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	w.Write(append(body, '\n'))
}
