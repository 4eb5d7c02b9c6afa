package server

import (
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	_ "time/tzdata" // IANA zones even on machines without /usr/share/zoneinfo
)

// validator collects field errors so a client learns every problem at once.
type validator struct{ errs []FieldError }

func (v *validator) add(field, msg string) {
	v.errs = append(v.errs, FieldError{Field: field, Message: msg})
}

func (v *validator) check(ok bool, field, msg string) {
	if !ok {
		v.add(field, msg)
	}
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	return errValidation(v.errs...)
}

// name checks a required human-readable name and returns it trimmed.
func (v *validator) name(field, s string, max int) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		v.add(field, "is required")
	case utf8.RuneCountInString(s) > max:
		v.add(field, "is too long")
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		v.add(field, "must not contain control characters")
	}
	return s
}

// timezone checks an IANA time zone name.
func (v *validator) timezone(field, s string) string {
	if s == "" {
		v.add(field, "is required (an IANA time zone such as Europe/Paris)")
		return s
	}
	if s == "Local" || len(s) > 64 {
		v.add(field, "is not an IANA time zone")
		return s
	}
	if _, err := time.LoadLocation(s); err != nil {
		v.add(field, "is not an IANA time zone")
	}
	return s
}

// phone normalizes an optional phone number to E.164 (+ and 8 to 15 digits;
// spaces, dots, dashes and parentheses are dropped).
func (v *validator) phone(field, s string) string {
	if s == "" {
		return ""
	}
	p, ok := normalizePhone(s)
	if !ok {
		v.add(field, "must be an international number in E.164 form, such as +14155550123")
	}
	return p
}

func normalizePhone(s string) (string, bool) {
	var b strings.Builder
	for i, r := range strings.TrimSpace(s) {
		switch {
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", false
		}
	}
	p := b.String()
	if len(p) < 9 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
		return "", false
	}
	return p, true
}

// email checks an optional plain address and lower-cases its domain.
func (v *validator) email(field, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || len(s) > 254 || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		v.add(field, "must be an email address such as ada@example.com")
		return s
	}
	at := strings.LastIndexByte(s, '@')
	return s[:at] + strings.ToLower(s[at:])
}

// id checks a required opaque identifier.
func (v *validator) id(field, s string) {
	if s == "" {
		v.add(field, "is required")
	} else if len(s) > 64 {
		v.add(field, "is not an id from this API")
	}
}
