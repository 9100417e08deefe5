package genesis

// Exported for the external tests (package genesis_test), which cannot be
// internal because fakeswitch imports genesis.
var WaitGoroutines = waitGoroutines
