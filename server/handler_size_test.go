package server

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// maxHandlerLines is how long a handler may be: decode, call a use case,
// render, in one screen (docs/architecture.md).
const maxHandlerLines = 60

// splitElsewhere are handlers another branch is splitting (the reader
// handlers: h-readers, h-fleet). Empty this once they have merged: the
// check then allows nothing.
var splitElsewhere = map[string]bool{}

// TestHandlersFitOnAScreen fails for every handler (a method on *API
// taking a *gin.Context) in the package's non-test files that is longer
// than maxHandlerLines, naming each.
func TestHandlersFitOnAScreen(t *testing.T) {
	offenders, err := longHandlers(".", maxHandlerLines)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range offenders {
		if splitElsewhere[strings.Fields(o)[1]] {
			t.Logf("being split on another branch: %s", o)
			continue
		}
		t.Errorf("handler over %d lines (move the work into a use case): %s", maxHandlerLines, o)
	}
}

// TestLongHandlersFindsOne proves the check can fail: a handler of 61
// lines is reported, one of 60 is not.
func TestLongHandlersFindsOne(t *testing.T) {
	for _, tc := range []struct {
		body  int
		found bool
	}{{58, false}, {59, true}} {
		dir := t.TempDir()
		src := "package server\n\nfunc (a *API) long(c *gin.Context) {\n" + strings.Repeat("\t_ = c\n", tc.body) + "}\n"
		if err := os.WriteFile(filepath.Join(dir, "x.go"), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := longHandlers(dir, maxHandlerLines)
		if err != nil {
			t.Fatal(err)
		}
		if (len(got) == 1) != tc.found {
			t.Errorf("%d body lines: offenders %v, want found=%v", tc.body, got, tc.found)
		}
	}
}

// longHandlers lists file:line name (N lines) for each handler in dir's
// non-test Go files longer than max lines, sorted.
func longHandlers(dir string, max int) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		for _, d := range file.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil || !isAPIHandler(fn) {
				continue
			}
			start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
			if n := end.Line - start.Line + 1; n > max {
				out = append(out, filepath.Base(f)+":"+strconv.Itoa(start.Line)+" "+fn.Name.Name+" ("+strconv.Itoa(n)+" lines)")
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// isAPIHandler: a method on *API with a *gin.Context parameter.
func isAPIHandler(fn *ast.FuncDecl) bool {
	if fn.Recv == nil || len(fn.Recv.List) != 1 {
		return false
	}
	star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
	if !ok {
		return false
	}
	if id, ok := star.X.(*ast.Ident); !ok || id.Name != "API" {
		return false
	}
	for _, p := range fn.Type.Params.List {
		if s, ok := p.Type.(*ast.StarExpr); ok {
			if sel, ok := s.X.(*ast.SelectorExpr); ok && sel.Sel.Name == "Context" {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "gin" {
					return true
				}
			}
		}
	}
	return false
}
