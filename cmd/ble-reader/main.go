// Command ble-reader is Lintel's door daemon. It only parses its
// configuration and runs package reader (github.com/lintel/lintel/ble-reader);
// docs/reader.md describes the configuration and how to run it.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	reader "github.com/lintel/lintel/ble-reader"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cfg, err := reader.ParseArgs("ble-reader", args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ble-reader:", err)
		return 2
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
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
