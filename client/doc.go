// Package client is a Go client of the Lintel HTTP API, generated from
// openapi.yaml by oapi-codegen so that integrators (and our own tests) call
// the API through the document rather than through hand-written requests:
// a document that drifts from the server breaks the client's tests.
package client

//go:generate go -C ../tools tool oapi-codegen -config ../client/oapi-codegen.yaml -o ../client/client.gen.go ../openapi.yaml
