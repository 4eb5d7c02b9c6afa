package server

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"
)

// The limits of one CSV import (docs/integrations.md).
const (
	maxImportRows  = 100_000
	maxImportBytes = 32 << 20
)

// importColumns are the columns of an import file, all required in the
// header, in any order.
var importColumns = []string{"name", "email", "phone", "group", "card_number", "card_kind", "card_label"}

// importRow is one data row of an import file, by column name.
type importRow struct {
	line   int
	fields map[string]string
	// bad is set when the row has the wrong number of fields.
	bad string
}

// importReader reads an import file: UTF-8 (a BOM is dropped), RFC 4180 (CRLF
// or LF line ends), a header row naming the columns.
type importReader struct {
	r    *csv.Reader
	cols []string // column name of each field
}

func newImportReader(body []byte) (*importReader, error) {
	body = bytes.TrimPrefix(body, []byte("\ufeff"))
	if !utf8.Valid(body) {
		return nil, &Error{Status: http.StatusUnprocessableEntity, Code: "csv_not_utf8", Detail: "the CSV must be UTF-8 text"}
	}
	r := csv.NewReader(bytes.NewReader(body))
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, &Error{Status: http.StatusUnprocessableEntity, Code: "import_header_invalid", Detail: "the CSV is empty: a header row is required"}
	}
	if err != nil {
		return nil, csvError(err)
	}
	ir := &importReader{r: r, cols: make([]string, len(header))}
	seen := map[string]bool{}
	var v validator
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		ir.cols[i] = h
		switch {
		case !isImportColumn(h):
			v.add(h, "is not a column of the import format")
		case seen[h]:
			v.add(h, "appears twice in the header")
		}
		seen[h] = true
	}
	for _, c := range importColumns {
		if !seen[c] {
			v.add(c, "column missing from the header")
		}
	}
	if len(v.errs) > 0 {
		return nil, &Error{Status: http.StatusUnprocessableEntity, Code: "import_header_invalid",
			Detail: "the header row must name the columns " + strings.Join(importColumns, ","), Errors: v.errs}
	}
	return ir, nil
}

func isImportColumn(h string) bool {
	for _, c := range importColumns {
		if c == h {
			return true
		}
	}
	return false
}

// next returns the next data row, or io.EOF.
func (ir *importReader) next() (importRow, error) {
	rec, err := ir.r.Read()
	if err != nil && !errors.Is(err, csv.ErrFieldCount) {
		if errors.Is(err, io.EOF) {
			return importRow{}, io.EOF
		}
		return importRow{}, csvError(err)
	}
	line, _ := ir.r.FieldPos(0)
	row := importRow{line: line, fields: make(map[string]string, len(ir.cols))}
	if len(rec) != len(ir.cols) {
		row.bad = fmt.Sprintf("has %d fields, the header %d", len(rec), len(ir.cols))
		return row, nil
	}
	for i, v := range rec {
		row.fields[ir.cols[i]] = v
	}
	return row, nil
}

// countImportRows checks the whole file before it is accepted: well-formed
// CSV, at most maxImportRows data rows, at least one.
func countImportRows(body []byte) (int, error) {
	ir, err := newImportReader(body)
	if err != nil {
		return 0, err
	}
	n := 0
	for {
		_, err := ir.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, err
		}
		n++
		if n > maxImportRows {
			return 0, &Error{Status: http.StatusUnprocessableEntity, Code: "import_too_many_rows",
				Detail: fmt.Sprintf("the CSV has more than %d rows, the limit of one import: split it", maxImportRows)}
		}
	}
	if n == 0 {
		return 0, &Error{Status: http.StatusUnprocessableEntity, Code: "import_empty", Detail: "the CSV has a header but no rows"}
	}
	return n, nil
}

func csvError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &Error{Status: http.StatusUnprocessableEntity, Code: "csv_malformed",
			Detail: fmt.Sprintf("the CSV is malformed at line %d: %v", pe.Line, pe.Err)}
	}
	return &Error{Status: http.StatusUnprocessableEntity, Code: "csv_malformed", Detail: "the CSV could not be read"}
}
