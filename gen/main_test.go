package main

import (
	"bytes"
	"os"
	"testing"

	"github.com/matryer/is"
)

// The committed files must be what the generator writes now.
func TestGeneratedFilesAreFresh(t *testing.T) {
	is := is.New(t)
	outs, err := outputs()
	is.NoErr(err)
	for name, render := range outs {
		var buf bytes.Buffer
		is.NoErr(render(&buf))
		got, err := os.ReadFile("../" + name)
		is.NoErr(err)
		if !bytes.Equal(got, buf.Bytes()) {
			t.Errorf("%s is stale: run go generate ./... and commit the result", name)
		}
	}
}

func TestDataIsComplete(t *testing.T) {
	is := is.New(t)
	states, err := loadStates()
	is.NoErr(err)
	is.Equal(len(states), 14) // CS_NEW … CS_NONE
	for i, s := range states {
		is.Equal(s.Value, i) // states are numbered by position
	}
	causes, err := loadCauses()
	is.NoErr(err)
	is.Equal(len(causes), 82) // CAUSE_CHART has 82 names
	events, err := loadEvents()
	is.NoErr(err)
	is.Equal(len(events), 93) // switch_event_types_t, ALL included

	names, values := map[string]bool{}, map[int]bool{}
	for _, c := range causes {
		is.True(!names[c.Name])   // no duplicate cause name
		is.True(!values[c.Value]) // no duplicate cause value
		names[c.Name], values[c.Value] = true, true
	}
	ids := map[string]bool{}
	for _, e := range events {
		is.True(!ids[goName(e)]) // Go names stay distinct
		ids[goName(e)] = true
	}
}

func TestGoName(t *testing.T) {
	is := is.New(t)
	is.Equal(goName("CHANNEL_EXECUTE_COMPLETE"), "ChannelExecuteComplete")
	is.Equal(goName("CHANNEL_UUID"), "ChannelUUID")
	is.Equal(goName("SRTP_READ_ERROR"), "SRTPReadError")
	is.Equal(goName("DTMF"), "DTMF")
}
