// Command gen writes genesis's generated enums (states_gen.go,
// hangupcauses_gen.go, events_gen.go) from the FreeSWITCH facts in data/.
// Run it with "go generate ./..." from the module root.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
)

// outputs maps each generated file to its renderer.
func outputs() (map[string]func(io.Writer) error, error) {
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
	return map[string]func(io.Writer) error{
		"states_gen.go":       func(w io.Writer) error { return renderStates(w, states) },
		"hangupcauses_gen.go": func(w io.Writer) error { return renderCauses(w, causes) },
		"events_gen.go":       func(w io.Writer) error { return renderEvents(w, events) },
	}, nil
}

func main() {
	if err := run("."); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	outs, err := outputs()
	if err != nil {
		return err
	}
	for name, render := range outs {
		var buf bytes.Buffer
		if err := render(&buf); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := os.WriteFile(dir+"/"+name, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
