package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/dave/jennifer/jen"
)

// stateIdent is the Go constant for a state: CS_SOFT_EXECUTE → StateSoftExecute.
func stateIdent(s state) string {
	return "State" + goName(strings.TrimPrefix(s.Name, "CS_"))
}

// renderStates writes states_gen.go: the ChannelState type, its constants
// and methods.
func renderStates(w io.Writer, states []state) error {
	f := newFile()
	first, last := stateIdent(states[0]), stateIdent(states[len(states)-1])

	f.Comment("ChannelState is the state of a FreeSWITCH channel (switch_channel_state_t),")
	f.Comment("as carried in the Channel-State header. Values and order are FreeSWITCH's, so")
	f.Comment("states compare along a channel's life:")
	f.Comment("")
	f.Comment(fmt.Sprintf("\t%s < %s < … < %s", first, stateIdent(states[1]), stateIdent(states[len(states)-2])))
	f.Comment("")
	f.Comment(fmt.Sprintf("%s (%s) sorts last but is not a stage of that life: it means no state.", last, states[len(states)-1].Name))
	f.Type().Id("ChannelState").Int()
	f.Line()

	f.Comment("The channel states, with FreeSWITCH's values.")
	defs := make([]jen.Code, 0, len(states))
	for _, s := range states {
		defs = append(defs, jen.Comment(fmt.Sprintf("%s is %s (%d): %s.", stateIdent(s), s.Name, s.Value, s.Doc)).Line().
			Id(stateIdent(s)).Id("ChannelState").Op("=").Lit(s.Value))
	}
	f.Const().Defs(defs...)
	f.Line()

	// name: the single value → name table.
	cases := make([]jen.Code, 0, len(states)+1)
	for _, s := range states {
		cases = append(cases, jen.Case(jen.Id(stateIdent(s))).Block(jen.Return(jen.Lit(s.Name), jen.True())))
	}
	f.Comment("name returns FreeSWITCH's name for s, and false if s is not a known state.")
	f.Func().Params(jen.Id("s").Id("ChannelState")).Id("name").Params().Params(jen.String(), jen.Bool()).Block(
		jen.Switch(jen.Id("s")).Block(cases...),
		jen.Return(jen.Lit(""), jen.False()),
	)
	f.Line()

	f.Comment(`String returns FreeSWITCH's name for s, such as "CS_EXECUTE", or`)
	f.Comment(`"ChannelState(99)" for a value that is not a FreeSWITCH state.`)
	f.Func().Params(jen.Id("s").Id("ChannelState")).Id("String").Params().String().Block(
		jen.If(jen.List(jen.Id("n"), jen.Id("ok")).Op(":=").Id("s").Dot("name").Call(), jen.Id("ok")).Block(jen.Return(jen.Id("n"))),
		jen.Return(jen.Lit("ChannelState(").Op("+").Qual("strconv", "Itoa").Call(jen.Int().Call(jen.Id("s"))).Op("+").Lit(")")),
	)
	f.Line()

	// Parse: every name with and without the CS_ prefix.
	pcases := make([]jen.Code, 0, len(states))
	for _, s := range states {
		pcases = append(pcases, jen.Case(jen.Lit(s.Name), jen.Lit(strings.TrimPrefix(s.Name, "CS_"))).Block(jen.Return(jen.Id(stateIdent(s)), jen.Nil())))
	}
	f.Comment(`ParseChannelState returns the state FreeSWITCH names name, such as`)
	f.Comment(`"CS_EXECUTE"; the name without its CS_ prefix ("EXECUTE") is accepted too, and`)
	f.Comment(`case is ignored, as FreeSWITCH ignores it. An unknown name gives an error and`)
	f.Comment(last + ".")
	f.Func().Id("ParseChannelState").Params(jen.Id("name").String()).Params(jen.Id("ChannelState"), jen.Error()).Block(
		jen.Switch(jen.Qual("strings", "ToUpper").Call(jen.Id("name"))).Block(pcases...),
		jen.Return(jen.Id(last), jen.Qual("fmt", "Errorf").Call(jen.Lit("genesis: unknown channel state %q"), jen.Id("name"))),
	)
	f.Line()

	f.Comment("MarshalText encodes s as FreeSWITCH's name. A value that is not a FreeSWITCH")
	f.Comment("state is an error.")
	f.Func().Params(jen.Id("s").Id("ChannelState")).Id("MarshalText").Params().Params(jen.Index().Byte(), jen.Error()).Block(
		jen.If(jen.List(jen.Id("n"), jen.Id("ok")).Op(":=").Id("s").Dot("name").Call(), jen.Id("ok")).Block(jen.Return(jen.Index().Byte().Call(jen.Id("n")), jen.Nil())),
		jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit("genesis: invalid channel state %d"), jen.Int().Call(jen.Id("s")))),
	)
	f.Line()

	f.Comment("UnmarshalText decodes a state name as ParseChannelState does.")
	f.Func().Params(jen.Id("s").Op("*").Id("ChannelState")).Id("UnmarshalText").Params(jen.Id("text").Index().Byte()).Error().Block(
		jen.List(jen.Id("v"), jen.Id("err")).Op(":=").Id("ParseChannelState").Call(jen.String().Call(jen.Id("text"))),
		jen.If(jen.Id("err").Op("!=").Nil()).Block(jen.Return(jen.Id("err"))),
		jen.Op("*").Id("s").Op("=").Id("v"),
		jen.Return(jen.Nil()),
	)
	return render(w, f)
}
