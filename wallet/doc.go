// Package wallet puts Lintel visitor passes into the phone wallets: it builds
// and signs Apple Wallet .pkpass files, holds the pure helpers of Apple's
// PassKit web service (registrations, update tags, the ApplePass
// authorization, Last-Modified), makes Google Wallet "Save to Google Wallet"
// links and marks saved Google passes expired or inactive through Google's
// REST API, and writes a pass's validity in plain words.
//
// It is a library: the server wires it to its routes, store and outbox.
// Expensive set-up (parsing certificates and keys, hashing the image
// template) happens once, in NewSigner, LoadImages and NewGoogle, so that
// building a pass costs little more than its one RSA signature.
//
// Nothing here keeps global mutable state; clocks and HTTP clients are
// injected. Errors are typed (*ConfigError, *PassError, *ImageError,
// *RequestError, *GoogleError, each wrapping a sentinel for errors.Is) so the
// HTTP layer can map them to stable codes without reading messages, and no
// error text ever holds a key, a password or an authentication token.
// docs/wallet.md describes the configuration, the passes and the web
// service.
package wallet

//go:generate go run gen_images.go
