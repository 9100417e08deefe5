package main

import (
	"fmt"
	"io"

	"github.com/dave/jennifer/jen"
)

// eventIdent is the Go constant for an event name: CHANNEL_CREATE → EventChannelCreate.
func eventIdent(e event) string { return "Event" + goName(e.Name) }

// renderEvents writes events_gen.go: one string constant per event name.
func renderEvents(w io.Writer, events []event) error {
	f := newFile()
	f.Comment("FreeSWITCH's event names (switch_event_types_t), as sent in the Event-Name")
	f.Comment("header; use them with On and Subscribe. Constant names are the event names in")
	f.Comment("CamelCase, with initialisms (API, DTMF, UUID, …) kept upper case.")
	defs := make([]jen.Code, 0, len(events))
	for _, e := range events {
		doc := fmt.Sprintf("%s is the event name %s.", eventIdent(e), e.Name)
		if e.Doc != "" {
			doc = fmt.Sprintf("%s is the event name %s: %s.", eventIdent(e), e.Name, e.Doc)
		}
		defs = append(defs, jen.Comment(doc).Line().Id(eventIdent(e)).Op("=").Lit(e.Name))
	}
	f.Const().Defs(defs...)
	f.Line()
	names := make([]jen.Code, 0, len(events))
	for _, e := range events {
		names = append(names, jen.Id(eventIdent(e)))
	}
	f.Comment("isEventName reports whether name, in upper case, is one of FreeSWITCH's")
	f.Comment("event names (ALL included).")
	f.Func().Id("isEventName").Params(jen.Id("name").String()).Bool().Block(
		jen.Switch(jen.Id("name")).Block(jen.Case(names...).Block(jen.Return(jen.True()))),
		jen.Return(jen.False()),
	)
	return render(w, f)
}
