package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/lintel/lintel/models"
)

// Error is the one error type handlers return. Status, Code, Detail and
// Errors go to the client; Err is the internal cause, only ever logged.
type Error struct {
	Status int
	Code   string
	Detail string
	Errors []FieldError
	Err    error
	// Header holds extra response headers (Retry-After, WWW-Authenticate).
	Header map[string]string
}

// FieldError names one bad input field.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Detail, e.Err)
	}
	return e.Code + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

func errValidation(errs ...FieldError) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "validation_failed", Detail: "the request has invalid fields", Errors: errs}
}

func errNotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Detail: what + " not found"}
}

func errForbidden(detail string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "forbidden", Detail: detail}
}

func errUnauthorized(detail string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Detail: detail,
		Header: map[string]string{"WWW-Authenticate": `Bearer realm="lintel"`}}
}

func errConflict(code, detail string) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Detail: detail}
}

func errBadRequest(detail string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: "bad_request", Detail: detail}
}

// unavailableRetry is the Retry-After of a 503: the database is away.
const unavailableRetry = "5"

func errUnavailable(err error) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Detail: "the service is temporarily unavailable: try again shortly",
		Err: err, Header: map[string]string{"Retry-After": unavailableRetry}}
}

// problem is the RFC 9457 document.
type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Code      string       `json:"code"`
	Detail    string       `json:"detail"`
	Errors    []FieldError `json:"errors,omitempty"`
	RequestID string       `json:"request_id,omitempty"`
}

// toError maps any error to the client-facing Error. Store errors have
// fixed meanings; anything unknown is an internal error whose cause is kept
// for the log only.
func toError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ce *models.ConflictError
	var ud *models.UnknownDoorsError
	switch {
	case errors.Is(err, models.ErrNotFound):
		return errNotFound("resource")
	case errors.As(err, &ud):
		fes := make([]FieldError, len(ud.IDs))
		for i, id := range ud.IDs {
			fes[i] = FieldError{Field: "door_ids", Message: fmt.Sprintf("%q is not a door of this site", id)}
		}
		return errValidation(fes...)
	case errors.As(err, &ce):
		if ce.Code == "unknown_group" {
			return errValidation(FieldError{Field: "group_id", Message: ce.Message})
		}
		return &Error{Status: http.StatusConflict, Code: ce.Code, Detail: ce.Message, Err: err}
	case models.IsUnavailable(err):
		return errUnavailable(err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Detail: "the request could not be completed in time", Err: err,
			Header: map[string]string{"Retry-After": unavailableRetry}}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Detail: "an internal error occurred; the request id identifies it in the server log", Err: err}
}

// render writes err as a problem document. It is the only place that turns
// errors into responses.
func render(c *gin.Context, log *slog.Logger, err error) {
	e := toError(err)
	rid := requestID(c)
	if e.Status >= 500 {
		log.ErrorContext(c.Request.Context(), "request failed", "request_id", rid, "code", e.Code, "error", e.Err)
	} else if e.Err != nil {
		log.DebugContext(c.Request.Context(), "request refused", "request_id", rid, "code", e.Code, "error", e.Err)
	}
	for k, v := range e.Header {
		c.Header(k, v)
	}
	c.Header("Content-Type", "application/problem+json")
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(e.Status, problem{
		Type:      "https://lintel.dev/problems/" + e.Code,
		Title:     http.StatusText(e.Status),
		Status:    e.Status,
		Code:      e.Code,
		Detail:    e.Detail,
		Errors:    e.Errors,
		RequestID: rid,
	})
}
