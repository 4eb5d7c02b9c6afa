// Package cli is what the module's commands share around their run
// function: for the long-running ones a context that SIGINT or SIGTERM
// cancels, so that run can shut down gracefully, and the exit status;
// for the phone simulators the subcommand usage and failure exits.
package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Run is a command's body: the arguments after the command's name, its
// standard output and error, and the exit status it ends with.
type Run func(ctx context.Context, args []string, stdout, stderr io.Writer) int

// Main runs run with the process's arguments and standard streams and a
// context that SIGINT or SIGTERM cancels, then exits with run's status.
func Main(run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// MainErr is Main for a run that returns an error: status 0 for none,
// else 1 after "name: error" on standard error.
func MainErr(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	Main(func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		return status(name, stderr, run(ctx, args, stdout, stderr))
	})
}

// Subcommand splits the arguments of a command with subcommands (name
// sub -flag …): the subcommand, a FlagSet named "name sub" that reports to
// stderr, and the arguments for it. With no subcommand it prints usage to
// stderr and returns ok false, for exit status 2.
func Subcommand(name, usage string, args []string, stderr io.Writer) (sub string, fs *flag.FlagSet, rest []string, ok bool) {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return "", nil, nil, false
	}
	fs = flag.NewFlagSet(name+" "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	return args[0], fs, args[1:], true
}

// Fail is what a run of the command name returns on an error: it prints
// "name: err" on stderr and returns exit status 1.
func Fail(name string, stderr io.Writer) func(err error) int {
	return func(err error) int { return status(name, stderr, err) }
}

// status is the exit status of a command named name that ended with err:
// 0 for nil, else 1 after "name: err" on stderr.
func status(name string, stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	fmt.Fprintln(stderr, name+":", err)
	return 1
}
