// Command gen writes the generated enum files of package genesis
// (states_gen.go, hangupcauses_gen.go, events_gen.go) into the current
// directory from the data files in gen/data. Run it from the module root,
// which go generate does:
//
//	go generate ./...
package main

import (
	"bytes"
	"fmt"
	"io"
	"log"
	"os"
)

// output is one generated file: its name and how to render it.
type output struct {
	name   string
	render func(io.Writer) error
}

// outputs loads the data and returns every file to write, in a fixed order.
func outputs() ([]output, error) {
	states, err := loadStates()
	if err != nil {
		return nil, err
	}
	causes, err := loadCauses()
	if err != nil {
		return nil, err
	}
	events, err := loadEvents()
	if err != nil {
		return nil, err
	}
	return []output{
		{"states_gen.go", func(w io.Writer) error { return renderStates(w, states) }},
		{"hangupcauses_gen.go", func(w io.Writer) error { return renderHangupCauses(w, causes) }},
		{"events_gen.go", func(w io.Writer) error { return renderEvents(w, events) }},
	}, nil
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("gen: ")
	outs, err := outputs()
	if err != nil {
		log.Fatal(err)
	}
	for _, o := range outs {
		var buf bytes.Buffer
		if err := o.render(&buf); err != nil {
			log.Fatal(fmt.Errorf("%s: %w", o.name, err))
		}
		if err := os.WriteFile(o.name, buf.Bytes(), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}
