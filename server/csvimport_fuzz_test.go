package server

import (
	"errors"
	"io"
	"testing"
)

// FuzzImportReader: any bytes either are refused with a problem, or read
// into rows that name only the import columns, with a line number past the
// header; countImportRows agrees with reading row by row.
func FuzzImportReader(f *testing.F) {
	for _, s := range []string{
		"name,email,phone,group,card_number,card_kind,card_label\nA,a@example.com,,,,,\n",
		"\ufeffname,email,phone,group,card_number,card_kind,card_label\r\n\"B\r\nC\",,,,,,\r\n",
		"name,email\nA\n",
		"name,email,phone,group,card_number,card_kind,card_label\nA\"b,,,,,,\n",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, cerr := countImportRows(body)
		ir, err := newImportReader(body)
		if err != nil {
			if cerr == nil {
				t.Fatalf("countImportRows accepted what newImportReader refused: %v", err)
			}
			return
		}
		rows := 0
		for {
			row, err := ir.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if cerr == nil {
					t.Fatalf("row %d refused after the count accepted the file: %v", rows+1, err)
				}
				return
			}
			rows++
			if row.line < 2 {
				t.Fatalf("row on line %d", row.line)
			}
			for k := range row.fields {
				if !isImportColumn(k) {
					t.Fatalf("column %q", k)
				}
			}
		}
		if cerr == nil && rows != n {
			t.Fatalf("count %d, read %d", n, rows)
		}
	})
}
