// Command ble-reader is Lintel's door daemon. It only parses its
// configuration and runs package reader (github.com/lintel/lintel/ble-reader);
// docs/reader.md describes the configuration and how to run it.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	reader "github.com/lintel/lintel/ble-reader"
	"github.com/lintel/lintel/internal/cli"
)

func main() {
	cli.Main(run)
}

func run(ctx context.Context, args []string, _, stderr io.Writer) int {
	cfg, err := reader.ParseArgs("ble-reader", args)
	if err != nil {
		fmt.Fprintln(stderr, "ble-reader:", err)
		return 2
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	d, err := reader.New(cfg, reader.Options{Log: log})
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	if err := d.Run(ctx); err != nil {
		log.Error("stopped", "err", err)
		return 1
	}
	return 0
}
