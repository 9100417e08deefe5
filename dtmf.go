package genesis

import (
	"context"
	"fmt"
	"slices"
)

// A DTMFHandler is called with a digit the caller pressed. Handlers of one
// channel run one at a time, in the order the digits arrived; a handler may
// call any method of the channel (Say, Playback, Hangup) and they complete.
type DTMFHandler func(ctx context.Context, digit string)

type dtmfReg struct{ fn DTMFHandler }

// dtmfHandlers are a channel's DTMF handlers: by digit, and the wildcard
// for digits no specific handler claims. Guarded by the Channel's mu.
type dtmfHandlers struct {
	byDigit  map[string][]*dtmfReg
	any      []*dtmfReg
	unlisten func() // the channel's registration for its DTMF events
}

// OnDTMF calls h whenever the caller presses digit ("0"-"9", "*", "#",
// "A"-"D"). Only this channel's digits count. remove unregisters h; every
// handler is dropped when the channel is gone.
func (ch *Channel) OnDTMF(digit string, h DTMFHandler) (remove func()) {
	if len(digit) != 1 || h == nil {
		panic(fmt.Sprintf("genesis: OnDTMF(%q): want one digit and a handler", digit))
	}
	r := &dtmfReg{fn: h}
	ch.mu.Lock()
	if ch.dtmf.byDigit == nil {
		ch.dtmf.byDigit = make(map[string][]*dtmfReg)
	}
	ch.dtmf.byDigit[digit] = append(ch.dtmf.byDigit[digit], r)
	ch.listenDTMFLocked()
	ch.mu.Unlock()
	return func() {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		list := ch.dtmf.byDigit[digit]
		if i := slices.Index(list, r); i >= 0 {
			ch.dtmf.byDigit[digit] = slices.Delete(slices.Clone(list), i, i+1)
		}
	}
}

// OnAnyDTMF calls h for every digit that has no handler of its own
// registered with OnDTMF.
func (ch *Channel) OnAnyDTMF(h DTMFHandler) (remove func()) {
	if h == nil {
		panic("genesis: OnAnyDTMF: nil handler")
	}
	r := &dtmfReg{fn: h}
	ch.mu.Lock()
	ch.dtmf.any = append(ch.dtmf.any, r)
	ch.listenDTMFLocked()
	ch.mu.Unlock()
	return func() {
		ch.mu.Lock()
		defer ch.mu.Unlock()
		if i := slices.Index(ch.dtmf.any, r); i >= 0 {
			ch.dtmf.any = slices.Delete(slices.Clone(ch.dtmf.any), i, i+1)
		}
	}
}

// listenDTMFLocked registers, once, the channel's handler for its DTMF
// events. It runs on the channel's dispatch lane, so digits are handled one
// at a time and in order, off the reader.
func (ch *Channel) listenDTMFLocked() {
	if ch.dtmf.unlisten != nil || isClosed(ch.done) {
		return
	}
	ch.dtmf.unlisten = ch.c.reg.add(&registration{key: EventDTMF, uuid: ch.uuid, fn: ch.onDTMFEvent})
}

func (ch *Channel) onDTMFEvent(ctx context.Context, ev *Event) {
	digit := ev.Get("DTMF-Digit")
	ch.mu.Lock()
	hs := ch.dtmf.byDigit[digit]
	if len(hs) == 0 {
		hs = ch.dtmf.any
	}
	ch.mu.Unlock()
	for _, r := range hs {
		r.fn(ctx, digit)
	}
}
