package server

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// Idempotency keys (docs/integrations.md): the same key with the same
// request within idemTTL replays the first answer; another request is 422
// idempotency_mismatch; a duplicate that arrives while the first is still
// running waits for it up to idemWait, then gets 409 idempotency_in_progress.
const (
	idemHeader = "Idempotency-Key"
	idemMaxLen = 255
	idemTTL    = 24 * time.Hour
	// A running request holds its key for Config.WorkLease (2m): a retry
	// takes over the key of a request whose instance died (kill -9) once
	// that runs out, and until then gets 409 idempotency_in_progress.
	idemWait = 10 * time.Second
	// idemPoll is how often a waiting duplicate looks again.
	idemPoll = 20 * time.Millisecond
	// idemPurgeEvery spaces the deletions of expired keys.
	idemPurgeEvery = 10 * time.Minute
)

// idempotency is the middleware of the authenticated /v1 group. Keys belong
// to the principal's API key, so two callers never see each other's answers.
// Every answer is stored sealed (AES-256-GCM, a key derived from the KEK):
// some carry a one-time secret (a minted key, a PIN, an invitation code),
// which a replay must return too.
func (a *API) idempotency() gin.HandlerFunc {
	block, err := aes.NewCipher(a.keys.Derive("idempotency-responses"))
	if err != nil {
		panic("idempotency: " + err.Error()) // Derive always returns 32 bytes
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic("idempotency: " + err.Error())
	}
	var (
		mu        sync.Mutex
		lastPurge time.Time
	)
	purge := func(ctx context.Context) {
		mu.Lock()
		due := a.now().Sub(lastPurge) >= idemPurgeEvery
		if due {
			lastPurge = a.now()
		}
		mu.Unlock()
		if !due {
			return
		}
		if _, err := a.store.PurgeIdempotencyKeys(ctx, a.now().Add(-idemTTL)); err != nil {
			a.log.WarnContext(ctx, "idempotency keys not purged", "error", err)
		}
	}
	return func(c *gin.Context) {
		values := c.Request.Header.Values(idemHeader)
		if c.Request.Method != http.MethodPost || len(values) == 0 {
			c.Next()
			return
		}
		key, err := checkIdempotencyKey(values)
		if err != nil {
			a.fail(c, err)
			return
		}
		body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxImportBytes+1))
		if err != nil {
			a.fail(c, errBadRequest("the body could not be read"))
			return
		}
		if len(body) > maxImportBytes {
			// Too large for any endpoint: the handler refuses it with its
			// own limit; nothing is worth remembering.
			c.Request.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), c.Request.Body))
			c.Next()
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		ctx := context.WithoutCancel(c.Request.Context())
		purge(ctx)
		p := mustPrincipal(c)
		hash := requestHash(c.Request, body)
		aad := []byte(p.KeyID + "\x00" + key)
		deadline := time.Now().Add(idemWait)
		lock, _ := a.cfg.workLease()
		for {
			claimed, rec, err := a.store.ClaimIdempotencyKey(ctx, p.KeyID, key, hash, lock, idemTTL)
			if err != nil {
				a.fail(c, err)
				return
			}
			if claimed {
				break
			}
			if rec.RequestHash != hash {
				a.fail(c, &Error{Status: http.StatusUnprocessableEntity, Code: "idempotency_mismatch",
					Detail: "this Idempotency-Key was used with another request in the last 24 hours; use a new key"})
				return
			}
			if rec.Applied() && rec.LockedUntil.Before(a.now()) {
				// Its request committed, then its instance died before
				// keeping the answer: running it again would apply it twice.
				a.fail(c, &Error{Status: http.StatusConflict, Code: "idempotency_applied",
					Detail: "the request with this Idempotency-Key was applied, but the server stopped before its answer was kept; look the object up instead of retrying"})
				return
			}
			if rec.State == "done" {
				plain, err := openSealed(aead, rec.ResponseBody, aad)
				if err != nil {
					a.fail(c, fmt.Errorf("idempotency: stored answer unreadable (another KEK?): %w", err))
					return
				}
				c.Header("Idempotent-Replayed", "true")
				c.Header("Cache-Control", "no-store")
				c.Data(rec.ResponseStatus, rec.ResponseType, plain)
				c.Abort()
				return
			}
			if time.Now().After(deadline) {
				a.fail(c, &Error{Status: http.StatusConflict, Code: "idempotency_in_progress",
					Detail: "a request with this Idempotency-Key is still being processed; retry later",
					Header: map[string]string{"Retry-After": "1"}})
				return
			}
			select {
			case <-c.Request.Context().Done():
				a.fail(c, c.Request.Context().Err())
				return
			case <-time.After(idemPoll):
			}
		}
		c.Request = c.Request.WithContext(models.WithIdempotencyClaim(c.Request.Context(), p.KeyID, key))
		w := &teeWriter{ResponseWriter: c.Writer}
		c.Writer = w
		defer func() {
			status := c.Writer.Status()
			if status >= 500 || status == http.StatusTooManyRequests {
				// Not an answer: the client may retry with the same key.
				if err := a.store.ReleaseIdempotencyKey(ctx, p.KeyID, key); err != nil {
					a.log.WarnContext(ctx, "idempotency key not released", "request_id", requestID(c), "error", err)
				}
				return
			}
			sealed := seal(aead, w.buf.Bytes(), aad)
			if err := a.store.CompleteIdempotencyKey(ctx, p.KeyID, key, status, c.Writer.Header().Get("Content-Type"), sealed); err != nil {
				a.log.ErrorContext(ctx, "idempotency answer not stored", "request_id", requestID(c), "error", err)
			}
		}()
		c.Next()
	}
}

// checkIdempotencyKey accepts one header value of 1 to 255 visible ASCII
// characters (and spaces).
func checkIdempotencyKey(values []string) (string, error) {
	if len(values) != 1 {
		return "", &Error{Status: http.StatusBadRequest, Code: "idempotency_key_invalid", Detail: "send one Idempotency-Key header"}
	}
	k := values[0]
	if len(k) > idemMaxLen {
		return "", &Error{Status: http.StatusBadRequest, Code: "idempotency_key_too_long",
			Detail: fmt.Sprintf("the Idempotency-Key is longer than %d characters", idemMaxLen)}
	}
	if k == "" {
		return "", &Error{Status: http.StatusBadRequest, Code: "idempotency_key_invalid", Detail: "the Idempotency-Key is empty"}
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x20 || k[i] > 0x7e {
			return "", &Error{Status: http.StatusBadRequest, Code: "idempotency_key_invalid",
				Detail: "the Idempotency-Key may hold only printable ASCII characters"}
		}
	}
	return k, nil
}

// requestHash identifies a request: method, path with query, content type
// and body.
func requestHash(r *http.Request, body []byte) string {
	h := sha256.New()
	for _, s := range []string{r.Method, r.URL.RequestURI(), r.Header.Get("Content-Type")} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func seal(aead cipher.AEAD, plain, aad []byte) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return aead.Seal(nonce, nonce, plain, aad)
}

func openSealed(aead cipher.AEAD, sealed, aad []byte) ([]byte, error) {
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("sealed answer too short")
	}
	return aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
}

// teeWriter keeps a copy of what the handler writes.
type teeWriter struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *teeWriter) WriteString(s string) (int, error) {
	w.buf.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}
