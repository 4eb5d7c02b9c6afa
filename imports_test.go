package lintel_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/lintel/lintel"

// pkg is what `go list -json` says of a package that the rules need.
type pkg struct {
	ImportPath string
	Standard   bool
	Imports    []string
}

// importGraph lists the module's packages and everything they link
// (`go list -deps`), as import path → direct imports.
func importGraph(t *testing.T) map[string][]string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Standard,Imports", "./...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	graph := map[string][]string{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		graph[p.ImportPath] = p.Imports
	}
	if len(graph[module+"/credential"]) == 0 || len(graph[module+"/server"]) == 0 {
		t.Fatalf("go list did not list the module (%d packages)", len(graph))
	}
	return graph
}

// path returns the shortest import chain from → … → a package matching
// bad, or nil when from does not link one.
func path(graph map[string][]string, from string, bad func(string) bool) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, q := range graph[p] {
			if _, seen := prev[q]; seen {
				continue
			}
			prev[q] = p
			if bad(q) {
				chain := []string{q}
				for at := p; at != ""; at = prev[at] {
					chain = append(chain, at)
				}
				slices.Reverse(chain)
				return chain
			}
			queue = append(queue, q)
		}
	}
	return nil
}

// under matches the packages rel names inside the module: "server" is
// that package, "credential/..." the package and everything below it.
func under(rel string) func(string) bool {
	if base, ok := strings.CutSuffix(rel, "/..."); ok {
		base = module + "/" + base
		return func(p string) bool { return p == base || strings.HasPrefix(p, base+"/") }
	}
	return func(p string) bool { return p == module+"/"+rel }
}

// extern matches an outside module's packages by their path prefix.
func extern(prefix string) func(string) bool {
	return func(p string) bool { return p == prefix || strings.HasPrefix(p, prefix+"/") }
}

func anyOf(fs ...func(string) bool) func(string) bool {
	return func(p string) bool {
		for _, f := range fs {
			if f(p) {
				return true
			}
		}
		return false
	}
}

func inModule(p string) bool { return p == module || strings.HasPrefix(p, module+"/") }

// importRules are the arrows that must never exist, directly or through
// another package; docs/architecture.md draws the arrows that may.
var importRules = []struct {
	name      string
	from      func(string) bool
	forbidden func(string) bool
}{
	{"the core imports nothing of the module outside credential/",
		under("credential/..."), func(p string) bool { return inModule(p) && !under("credential/...")(p) }},
	{"the core links no HTTP stack (the door daemon runs it offline)",
		under("credential/..."), extern("net/http")},
	{"the door daemon imports neither models nor server",
		under("ble-reader/..."), anyOf(under("models/..."), under("server/..."))},
	{"models, notifications and wallet do not import server",
		anyOf(under("models/..."), under("notifications/..."), under("wallet/...")), under("server/...")},
	{"the phone simulators link neither the daemon, its store, bbolt, GPIO nor PC/SC",
		anyOf(under("cmd/phonesim"), under("cmd/vcard"), under("ble-reader/phone")),
		anyOf(under("ble-reader"), under("ble-reader/store"), extern("go.etcd.io/bbolt"),
			extern("github.com/warthog618/go-gpiocdev"), extern("github.com/gballet/go-libpcsclite"))},
	{"the load tool measures the server over HTTP: it imports neither server nor models",
		anyOf(under("loadgen/..."), under("cmd/lintel-load")), anyOf(under("server/..."), under("models/..."))},
}

// TestImportGraph holds the package arrows of docs/architecture.md: it
// fails on any import, direct or transitive, that a rule forbids, naming
// the chain that makes it.
func TestImportGraph(t *testing.T) {
	graph := importGraph(t)
	var pkgs []string
	for p := range graph {
		if inModule(p) {
			pkgs = append(pkgs, p)
		}
	}
	slices.Sort(pkgs)
	for _, r := range importRules {
		t.Run(r.name, func(t *testing.T) {
			checked := 0
			for _, p := range pkgs {
				if !r.from(p) {
					continue
				}
				checked++
				if chain := path(graph, p, r.forbidden); chain != nil {
					t.Errorf("forbidden arrow: %s", strings.Join(chain, " → "))
				}
			}
			if checked == 0 {
				t.Fatal("the rule matches no package of the module")
			}
		})
	}
}
