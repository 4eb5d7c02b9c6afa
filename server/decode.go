package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// maxBody caps every request body.
const maxBody = 1 << 20

// decodeJSON reads exactly one JSON object into dst, rejecting unknown
// fields, trailing data and bodies over maxBody.
func decodeJSON(c *gin.Context, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &Error{Status: http.StatusRequestEntityTooLarge, Code: "payload_too_large", Detail: fmt.Sprintf("the body is larger than %d bytes", maxBody)}
		}
		return errBadRequest("the body could not be read")
	}
	if len(bytes.TrimSpace(body)) > 0 && !isJSONType(c.ContentType()) {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Detail: "the body must be JSON, sent as Content-Type: application/json"}
	}
	return decodeBytes(body, dst)
}

// isJSONType accepts application/json and the +json types (a charset
// parameter is already stripped by gin).
func isJSONType(ct string) bool {
	ct = strings.ToLower(ct)
	return ct == "application/json" || strings.HasPrefix(ct, "application/") && strings.HasSuffix(ct, "+json")
}

// duplicateKey finds the first object key that appears twice in the same
// object of a JSON document, as a dotted path ("visitor.name"):
// encoding/json would silently keep the last, so two parsers could read
// one body differently. Invalid JSON is left to the decoder.
func duplicateKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	path, dup, _ := dupIn(dec, "", 0)
	return path, dup
}

func dupIn(dec *json.Decoder, path string, depth int) (string, bool, error) {
	tok, err := dec.Token()
	if err != nil || depth > 200 {
		return "", false, errors.New("stop")
	}
	switch tok {
	case json.Delim('{'):
		keys := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return "", false, err
			}
			k, _ := kt.(string)
			p := k
			if path != "" {
				p = path + "." + k
			}
			if keys[k] {
				return p, true, nil
			}
			keys[k] = true
			if p, dup, err := dupIn(dec, p, depth+1); dup || err != nil {
				return p, dup, err
			}
		}
		_, err = dec.Token()
		return "", false, err
	case json.Delim('['):
		for dec.More() {
			if p, dup, err := dupIn(dec, path, depth+1); dup || err != nil {
				return p, dup, err
			}
		}
		_, err = dec.Token()
		return "", false, err
	}
	return "", false, nil
}

func decodeBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return errBadRequest("a JSON body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if path, dup := duplicateKey(body); dup {
		return &Error{Status: http.StatusBadRequest, Code: "duplicate_key", Detail: "the body names a field twice",
			Errors: []FieldError{{Field: path, Message: "appears more than once"}}}
	}
	if dec.More() {
		return errBadRequest("the body must hold a single JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errBadRequest("the body must hold a single JSON object")
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var fe *fieldDecodeError
	switch {
	case errors.As(err, &fe):
		return errValidation(FieldError{Field: fe.field, Message: fe.msg})
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return errBadRequest("the body must be a JSON object")
		}
		return errValidation(FieldError{Field: field, Message: "must be a JSON " + jsonKind(te.Type.Kind().String())})
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errBadRequest("the body is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return errValidation(FieldError{Field: name, Message: "unknown field"})
	}
	return errBadRequest("the body is not valid JSON")
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "number"
	case k == "slice", k == "array":
		return "array"
	case k == "struct", k == "map", k == "ptr":
		return "object"
	case k == "bool":
		return "boolean"
	}
	return k
}

// fieldDecodeError lets custom UnmarshalJSON methods name their field.
type fieldDecodeError struct{ field, msg string }

func (e *fieldDecodeError) Error() string { return e.field + ": " + e.msg }

// Opt is a PATCH field: Set tells whether it was present, Null whether it
// was null.
type Opt[T any] struct {
	Set   bool
	Null  bool
	Value T
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *Opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.Value)
}

// page reads ?limit= and ?cursor= (bounded; 50 by default, 200 at most).
// bind decodes the request's JSON body into a T for a handler; when it
// cannot, it has answered with the problem and ok is false.
func bind[T any](a *API, c *gin.Context) (req T, ok bool) {
	if err := decodeJSON(c, &req); err != nil {
		a.fail(c, err)
		return req, false
	}
	return req, true
}

// passed tells a handler whether v found nothing wrong; when it found
// something, it has answered with the field errors.
func (a *API) passed(c *gin.Context, v *validator) bool {
	if err := v.err(); err != nil {
		a.fail(c, err)
		return false
	}
	return true
}

// pageOf is page for a handler: when the paging is bad, it has answered
// with the problem and ok is false.
func pageOf(a *API, c *gin.Context) (models.Page, bool) {
	p, err := page(c)
	if err != nil {
		a.fail(c, err)
		return p, false
	}
	return p, true
}

func page(c *gin.Context) (models.Page, error) {
	p := models.Page{Limit: 50, After: c.Query("cursor")}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 200 {
			return p, errValidation(FieldError{Field: "limit", Message: "must be a whole number from 1 to 200"})
		}
		p.Limit = n
	}
	if len(p.After) > 100 {
		return p, errValidation(FieldError{Field: "cursor", Message: "is not a cursor from this API"})
	}
	return p, nil
}

// listResponse is the contract's list shape.
type listResponse[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func list[M any, T any](rows []M, next string, conv func(*M) T) listResponse[T] {
	out := listResponse[T]{Items: make([]T, len(rows)), NextCursor: next}
	for i := range rows {
		out.Items[i] = conv(&rows[i])
	}
	return out
}
