package main

import (
	"fmt"
	"io"

	"github.com/dave/jennifer/jen"
)

// causeIdent is the Go constant for a cause: USER_BUSY → CauseUserBusy.
func causeIdent(c cause) string { return "Cause" + goName(c.Name) }

// maxQ850 is the highest value that is a Q.850 cause code (INTERWORKING);
// FreeSWITCH's switch_channel_cause_q850 reports every value above it as
// NORMAL_CLEARING (16).
const (
	maxQ850         = 127
	q850Replacement = 16
)

// causeDoc is the doc comment of one cause constant.
func causeDoc(c cause) string {
	var value string
	switch {
	case c.Value == 0:
		value = "value 0 (no cause set)"
	case c.Value <= maxQ850:
		value = fmt.Sprintf("value %d (a Q.850 code)", c.Value)
	default:
		value = fmt.Sprintf("value %d (FreeSWITCH's own, no Q.850 code)", c.Value)
	}
	sip := fmt.Sprintf("mod_sofia sends SIP %d for it", c.SIP)
	if c.SIPDefault {
		sip = fmt.Sprintf("mod_sofia sends its default, SIP %d, for it", c.SIP)
	}
	return fmt.Sprintf("%s is %s, %s; %s.", causeIdent(c), c.Name, value, sip)
}

// renderHangupCauses writes hangupcauses_gen.go: the HangupCause type, its
// constants and methods.
func renderHangupCauses(w io.Writer, causes []cause) error {
	f := newFile()

	f.Comment("HangupCause is why a FreeSWITCH call ended (switch_call_cause_t), as carried in")
	f.Comment("the Hangup-Cause header and in -ERR replies to originate. The value is")
	f.Comment(fmt.Sprintf("FreeSWITCH's number: the ITU-T Q.850 cause code up to %d, a FreeSWITCH-specific", maxQ850))
	f.Comment("number (such as 487 or the 8xx causes) above it.")
	f.Comment("")
	f.Comment("Constant names are FreeSWITCH's names in CamelCase, mechanically: words split")
	f.Comment("at underscores, initialisms (IE, SRTP, URL) kept upper case, words FreeSWITCH")
	f.Comment("runs together kept together (BEARERCAPABILITY_NOTAUTH is")
	f.Comment("CauseBearercapabilityNotauth).")
	f.Type().Id("HangupCause").Int()
	f.Line()

	f.Comment("The hangup causes FreeSWITCH knows, with FreeSWITCH's values.")
	defs := make([]jen.Code, 0, len(causes))
	for _, c := range causes {
		defs = append(defs, jen.Comment(causeDoc(c)).Line().
			Id(causeIdent(c)).Id("HangupCause").Op("=").Lit(c.Value))
	}
	f.Const().Defs(defs...)
	f.Line()

	cases := make([]jen.Code, 0, len(causes))
	pcases := make([]jen.Code, 0, len(causes))
	for _, c := range causes {
		cases = append(cases, jen.Case(jen.Id(causeIdent(c))).Block(jen.Return(jen.Lit(c.Name), jen.True())))
		pcases = append(pcases, jen.Case(jen.Lit(c.Name)).Block(jen.Return(jen.Id(causeIdent(c)), jen.Nil())))
	}
	f.Comment("name returns FreeSWITCH's name for c, and false if c is not a known cause.")
	f.Func().Params(jen.Id("c").Id("HangupCause")).Id("name").Params().Params(jen.String(), jen.Bool()).Block(
		jen.Switch(jen.Id("c")).Block(cases...),
		jen.Return(jen.Lit(""), jen.False()),
	)
	f.Line()

	f.Comment(`String returns FreeSWITCH's name for c, such as "USER_BUSY", or`)
	f.Comment(`"HangupCause(999)" for a value that is not a FreeSWITCH cause.`)
	f.Func().Params(jen.Id("c").Id("HangupCause")).Id("String").Params().String().Block(
		jen.If(jen.List(jen.Id("n"), jen.Id("ok")).Op(":=").Id("c").Dot("name").Call(), jen.Id("ok")).Block(jen.Return(jen.Id("n"))),
		jen.Return(jen.Lit("HangupCause(").Op("+").Qual("strconv", "Itoa").Call(jen.Int().Call(jen.Id("c"))).Op("+").Lit(")")),
	)
	f.Line()

	f.Comment(`ParseHangupCause returns the cause FreeSWITCH names name, such as "USER_BUSY";`)
	f.Comment(`case is ignored, as FreeSWITCH ignores it. An unknown name gives an error and`)
	f.Comment(causeIdent(causes[0]) + ".")
	f.Func().Id("ParseHangupCause").Params(jen.Id("name").String()).Params(jen.Id("HangupCause"), jen.Error()).Block(
		jen.Switch(jen.Qual("strings", "ToUpper").Call(jen.Id("name"))).Block(pcases...),
		jen.Return(jen.Id(causeIdent(causes[0])), jen.Qual("fmt", "Errorf").Call(jen.Lit("genesis: unknown hangup cause %q"), jen.Id("name"))),
	)
	f.Line()

	f.Comment("MarshalText encodes c as FreeSWITCH's name. A value that is not a FreeSWITCH")
	f.Comment("cause is an error.")
	f.Func().Params(jen.Id("c").Id("HangupCause")).Id("MarshalText").Params().Params(jen.Index().Byte(), jen.Error()).Block(
		jen.If(jen.List(jen.Id("n"), jen.Id("ok")).Op(":=").Id("c").Dot("name").Call(), jen.Id("ok")).Block(jen.Return(jen.Index().Byte().Call(jen.Id("n")), jen.Nil())),
		jen.Return(jen.Nil(), jen.Qual("fmt", "Errorf").Call(jen.Lit("genesis: invalid hangup cause %d"), jen.Int().Call(jen.Id("c")))),
	)
	f.Line()

	f.Comment("UnmarshalText decodes a cause name as ParseHangupCause does.")
	f.Func().Params(jen.Id("c").Op("*").Id("HangupCause")).Id("UnmarshalText").Params(jen.Id("text").Index().Byte()).Error().Block(
		jen.List(jen.Id("v"), jen.Id("err")).Op(":=").Id("ParseHangupCause").Call(jen.String().Call(jen.Id("text"))),
		jen.If(jen.Id("err").Op("!=").Nil()).Block(jen.Return(jen.Id("err"))),
		jen.Op("*").Id("c").Op("=").Id("v"),
		jen.Return(jen.Nil()),
	)
	f.Line()

	f.Comment("Q850 returns the ITU-T Q.850 cause code FreeSWITCH reports for c, as in the")
	f.Comment(fmt.Sprintf("hangup_cause_q850 variable: c's own value up to %d (INTERWORKING), and %d", maxQ850, q850Replacement))
	f.Comment("(NORMAL_CLEARING) for the FreeSWITCH-specific causes above it, which have no")
	f.Comment("Q.850 code (FreeSWITCH's switch_channel_cause_q850 does the same).")
	f.Comment("CauseNone gives 0.")
	f.Func().Params(jen.Id("c").Id("HangupCause")).Id("Q850").Params().Int().Block(
		jen.If(jen.Id("c").Op(">=").Lit(0).Op("&&").Id("c").Op("<=").Lit(maxQ850)).Block(jen.Return(jen.Int().Call(jen.Id("c")))),
		jen.Return(jen.Lit(q850Replacement)),
	)
	f.Line()

	// SIPStatus: one case per status, statuses in order of first appearance,
	// causes in data order; mod_sofia's default rows fall to default.
	var order []int
	byStatus := map[int][]jen.Code{}
	for _, c := range causes {
		if c.SIPDefault {
			continue
		}
		if _, ok := byStatus[c.SIP]; !ok {
			order = append(order, c.SIP)
		}
		byStatus[c.SIP] = append(byStatus[c.SIP], jen.Id(causeIdent(c)))
	}
	scases := make([]jen.Code, 0, len(order)+1)
	for _, st := range order {
		scases = append(scases, jen.Case(byStatus[st]...).Block(jen.Return(jen.Lit(st))))
	}
	scases = append(scases, jen.Default().Block(jen.Return(jen.Lit(480))))
	f.Comment("SIPStatus returns the SIP response status FreeSWITCH's SIP endpoint (mod_sofia)")
	f.Comment("sends when a call ends with c, such as 486 for CauseUserBusy. Causes mod_sofia")
	f.Comment("does not map, and values that are not FreeSWITCH causes, give its default,")
	f.Comment("480 (Temporarily Unavailable).")
	f.Func().Params(jen.Id("c").Id("HangupCause")).Id("SIPStatus").Params().Int().Block(
		jen.Switch(jen.Id("c")).Block(scases...),
	)
	return render(w, f)
}
