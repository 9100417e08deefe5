package main

import "strings"

// initialisms are the words goName writes in upper case, as Go names
// usually do (UUID, not Uuid).
var initialisms = map[string]bool{
	"API":  true,
	"DTMF": true,
	"IE":   true,
	"NAT":  true,
	"RTCP": true,
	"SIP":  true,
	"SRTP": true,
	"URL":  true,
	"UUID": true,
}

// goName turns a FreeSWITCH name into the CamelCase part of a Go
// identifier, mechanically: split at underscores, keep initialisms upper
// case, capitalise the first letter of every other word and lower-case the
// rest. NO_ROUTE_TRANSIT_NET → NoRouteTransitNet, CHANNEL_UUID →
// ChannelUUID, BEARERCAPABILITY_NOTAUTH → BearercapabilityNotauth (words
// FreeSWITCH runs together stay together).
func goName(wire string) string {
	var b strings.Builder
	for w := range strings.SplitSeq(wire, "_") {
		if w == "" {
			continue
		}
		if initialisms[w] {
			b.WriteString(w)
			continue
		}
		b.WriteString(w[:1])
		b.WriteString(strings.ToLower(w[1:]))
	}
	return b.String()
}
