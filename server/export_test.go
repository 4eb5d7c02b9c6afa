package server

import (
	"context"
	"encoding/json"
)

// FullBundleOneRead is a reader's full bundle built the way it was before
// doors shared the site-wide members: one BundleFor, one marshal. Tests
// compare the served bundle with it.
func (a *API) FullBundleOneRead(ctx context.Context, readerID string) ([]byte, error) {
	d, err := a.store.BundleFor(ctx, readerID)
	if err != nil {
		return nil, err
	}
	b, err := a.buildBundle(d)
	if err != nil {
		return nil, err
	}
	return json.Marshal(b)
}
