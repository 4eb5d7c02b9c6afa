package migrations

// Provider is the goose provider Up uses, for tests that go down.
var Provider = provider
