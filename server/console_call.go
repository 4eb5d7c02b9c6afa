package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"

	"github.com/gin-gonic/gin"
)

// callAPI runs one JSON API list or read handler for a console page (every
// action calls its use case, usecase*.go, directly), as the signed-in
// person (the Principal and site decide put in c), with body as its JSON
// request (query its URL query), and decodes its answer into out. A problem answer comes back as
// the *Error it was, field errors included, so the page can show them next
// to their fields. The console thereby runs exactly the API's action, its
// checks, audit and outbox, with no second copy of them.
func (a *API) callAPI(c *gin.Context, h gin.HandlerFunc, method string, params gin.Params, query string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	rec := httptest.NewRecorder()
	ic, _ := gin.CreateTestContext(rec)
	ic.Request = httptest.NewRequestWithContext(c.Request.Context(), method, c.Request.URL.Path+"?"+query, rd)
	ic.Request.Header.Set("Content-Type", "application/json")
	ic.Params = append(append(gin.Params{}, c.Params...), params...)
	for _, k := range []string{ctxPrincipal, ctxSite, ctxRequestID} {
		if v, ok := c.Get(k); ok {
			ic.Set(k, v)
		}
	}
	h(ic)
	if rec.Code >= 400 {
		var p problem
		if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" {
			return &Error{Status: rec.Code, Code: "internal", Detail: http.StatusText(rec.Code)}
		}
		return &Error{Status: p.Status, Code: p.Code, Detail: p.Detail, Errors: p.Errors}
	}
	if out != nil && rec.Body.Len() > 0 {
		return json.Unmarshal(rec.Body.Bytes(), out)
	}
	return nil
}
