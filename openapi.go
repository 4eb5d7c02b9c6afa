// Package lintel holds repository-level assets that the binaries embed:
// the OpenAPI document of the HTTP API.
package lintel

import _ "embed"

// OpenAPI is openapi.yaml, the API's OpenAPI 3 document. A test in package
// server checks that it lists exactly the router's operations.
//
//go:embed openapi.yaml
var OpenAPI []byte
