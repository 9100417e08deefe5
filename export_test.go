package genesis

// Exported for the external tests (package genesis_test), which cannot be
// internal because fakeswitch imports genesis.
var (
	Goroutines     = goroutines
	WaitGoroutines = waitGoroutines
)

// TestContext is the context tests wait under: the test's own, with a
// deadline.
var TestContext = testContext

// LogMessages is a slog.Handler whose Wait waits for a message.
type LogMessages = logMessages

// headerList returns e's headers as name-value pairs, for comparisons.
func (e *Event) headerList() []header {
	hs := make([]header, 0, e.numHeaders())
	for n, v := range e.Headers() {
		hs = append(hs, header{n, v})
	}
	return hs
}
