package fakeswitch

import "strings"

// eventNames are FreeSWITCH's event names in enum order, SWITCH_EVENT_CUSTOM
// to SWITCH_EVENT_ALL (src/include/switch_types.h, 1.10.12; the list in
// ../shared/freeswitch-facts.md). "event plain <name>" accepts these.
var eventNames = [...]string{
	"CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY", "CHANNEL_STATE", "CHANNEL_CALLSTATE",
	"CHANNEL_ANSWER", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE",
	"CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD", "CHANNEL_UNHOLD", "CHANNEL_BRIDGE",
	"CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING",
	"CHANNEL_PARK", "CHANNEL_UNPARK", "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID",
	"API", "LOG", "INBOUND_CHAN", "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH",
	"TALK", "NOTALK", "SESSION_CRASH", "MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE",
	"PRESENCE_IN", "NOTIFY_IN", "PRESENCE_OUT", "PRESENCE_PROBE", "MESSAGE_WAITING", "MESSAGE_QUERY",
	"ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH", "DETECTED_TONE", "PRIVATE_COMMAND",
	"HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE", "RE_SCHEDULE", "RELOADXML",
	"NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE", "RECV_MESSAGE",
	"REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND", "SESSION_HEARTBEAT",
	"CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO", "RECV_INFO", "RECV_RTCP_MESSAGE",
	"SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT", "RECORD_START", "RECORD_STOP", "PLAYBACK_START",
	"PLAYBACK_STOP", "CALL_UPDATE", "FAILURE", "SOCKET_DATA", "MEDIA_BUG_START", "MEDIA_BUG_STOP",
	"CONFERENCE_DATA_QUERY", "CONFERENCE_DATA", "CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL",
	"DEVICE_STATE", "TEXT", "SHUTDOWN_REQUESTED", "ALL",
}

// eventAll is the index of ALL, the last name.
const eventAll = len(eventNames) - 1

// eventIndex finds an event name as switch_name_event does: without regard
// to case, and also after any 13-character prefix ("SWITCH_EVENT_DTMF" is
// DTMF). ok is false for a name FreeSWITCH does not know.
func eventIndex(name string) (int, bool) {
	for i, n := range eventNames {
		if strings.EqualFold(name, n) || len(name) > 13 && strings.EqualFold(name[13:], n) {
			return i, true
		}
	}
	return 0, false
}

// eventIndexByName maps an exact Event-Name to its place in eventNames.
var eventIndexByName = func() map[string]int {
	m := make(map[string]int, len(eventNames))
	for i, n := range eventNames {
		m[n] = i
	}
	return m
}()
