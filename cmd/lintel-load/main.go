// Command lintel-load is the fleet load tool (issue 16, docs/benchmarks.md
// "Fleet sync"): it starts `lintel serve` on 127.0.0.1 with a private
// SQLite data directory (or a fresh database with --pg), or uses a running
// server on this machine (--url, --key), seeds a site, runs simulated
// readers and admins through the scenarios and prints a table per run.
//
//	lintel-load -users 10000 -doors 50 -readers 200 -scenarios change,lostcard
//	lintel-load -users 1000 -readers 1000 -hold 9000 -scenarios hold,revoke,storm
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lintel/lintel/internal/cli"
	"github.com/lintel/lintel/loadgen"
)

func main() {
	cli.MainErr("lintel-load", run)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("lintel-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg loadgen.Config
	var so loadgen.SpawnOptions
	url := fs.String("url", "", "a running server on this machine (default: start one)")
	key := fs.String("key", "", "operator key of --url")
	pid := fs.Int("server-pid", 0, "process id of --url's server, for its memory")
	fs.StringVar(&so.PG, "pg", "", "PostgreSQL server URL for a fresh database (e.g. postgres://postgres@127.0.0.1:5432/test); default SQLite")
	fs.StringVar(&so.Lintel, "lintel", "", "lintel binary (default: go build ./cmd/lintel)")
	fs.IntVar(&cfg.Users, "users", 10000, "users with a card each")
	fs.IntVar(&cfg.Doors, "doors", 50, "doors (one group opens all)")
	fs.IntVar(&cfg.Readers, "readers", 200, "readers with bundles, spread over the doors")
	fs.IntVar(&cfg.Hold, "hold", 0, "extra stream-only readers for the hold scenario")
	fs.IntVar(&cfg.HoldRate, "hold-rate", 1000, "streams opened per second by the hold scenario")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "changes per change/lostcard/revoke scenario")
	fs.IntVar(&cfg.Admins, "admins", 4, "concurrent admins (admins scenario)")
	fs.IntVar(&cfg.AdminOps, "admin-ops", 50, "calls per admin")
	fs.DurationVar(&cfg.UploadEvery, "upload-every", 2*time.Second, "each reader uploads 5 events this often during admins (0: never)")
	fs.DurationVar(&cfg.Within, "within", 60*time.Second, "how long to wait for the fleet to catch up")
	scen := fs.String("scenarios", strings.Join(loadgen.Scenarios, ","), "scenarios to run")
	limit := fs.Duration("timeout", 15*time.Minute, "bound on the whole run")
	keep := fs.Bool("keep", false, "keep the data directory (server.log) after the run")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if (*url == "") != (*key == "") {
		return errors.New("give --url and --key together")
	}
	cfg.Scenarios = strings.Split(*scen, ",")
	cfg.Log = stderr
	ctx, cancel := context.WithTimeout(ctx, *limit)
	defer cancel()
	target := &loadgen.Target{URL: strings.TrimRight(*url, "/"), Key: *key, PID: *pid}
	if *url == "" {
		dir, err := os.MkdirTemp("", "lintel-load-")
		if err != nil {
			return err
		}
		if *keep {
			fmt.Fprintln(stderr, "data directory:", dir)
		} else {
			defer os.RemoveAll(dir)
		}
		so.Dir = dir
		if target, err = loadgen.Spawn(ctx, so); err != nil {
			return err
		}
		defer target.Close()
	}
	rows, err := loadgen.Run(ctx, target, cfg)
	fmt.Fprintf(stdout, "lintel-load: %d users, %d doors, %d readers (+%d held), %s\n", cfg.Users, cfg.Doors, cfg.Readers, cfg.Hold, dbName(so.PG, *url))
	loadgen.Print(stdout, rows)
	return err
}

func dbName(pg, url string) string {
	switch {
	case url != "":
		return "server " + url
	case pg != "":
		return "PostgreSQL"
	}
	return "SQLite"
}
