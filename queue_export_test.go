package genesis

// NewMemoryQueueBackend is the backend of NewQueue(nil), for tests that
// wrap it to see when an item has joined.
var NewMemoryQueueBackend = func() QueueBackend { return newMemoryQueue() }
