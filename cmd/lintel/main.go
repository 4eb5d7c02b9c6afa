// Command lintel is the Lintel server: `lintel serve`, `lintel migrate
// up|status`, `lintel admin create-key --operator | --site ID`, `lintel keys
// rotate`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/lintel/lintel/internal/cli"
	"github.com/lintel/lintel/models"
	"github.com/lintel/lintel/server"
)

const usage = `usage:
  lintel serve                               run the API server
  lintel migrate up                          apply pending database migrations
  lintel migrate status                      list migrations and their state
  lintel admin create-key --operator         mint an operator key (all sites)
  lintel admin create-key --site SITE_ID     mint an admin key for one site
  lintel admin invite --operator|--site SITE --name NAME [--user USER]
                                             print a one-time console set-up link (24 h)
  lintel keys rotate                         new signing key (old ones stay published while needed)
Configuration comes from LINTEL_* environment variables (see README).
`

func main() {
	cli.MainErr("lintel", func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		return run(ctx, args, os.Getenv, stdout, stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("a command is required")
	}
	cfg, err := server.LoadConfig(getenv)
	if err != nil {
		return err
	}
	log := server.NewLogger(stderr, cfg.LogLevel)
	switch args[0] {
	case "serve":
		return server.Serve(ctx, cfg, log, stdout)
	case "migrate":
		return migrate(ctx, cfg, args[1:], stdout)
	case "admin":
		return admin(ctx, cfg, args[1:], stdout)
	case "keys":
		if len(args) != 2 || args[1] != "rotate" {
			return errors.New("usage: lintel keys rotate")
		}
		kid, err := server.RotateKeys(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new signing key %s\n", kid)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func migrate(ctx context.Context, cfg server.Config, args []string, stdout io.Writer) error {
	if len(args) != 1 || (args[0] != "up" && args[0] != "status") {
		return errors.New("usage: lintel migrate up|status")
	}
	st, err := models.Open(ctx, cfg.DatabaseURL, models.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if args[0] == "up" {
		n, err := st.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
		return nil
	}
	list, err := st.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	for _, m := range list {
		state := "pending"
		if m.Applied {
			state = "applied"
		}
		fmt.Fprintf(stdout, "%05d  %-8s %s\n", m.Version, state, m.Name)
	}
	return nil
}

func admin(ctx context.Context, cfg server.Config, args []string, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "invite" {
		return invite(ctx, cfg, args[1:], stdout)
	}
	if len(args) == 0 || args[0] != "create-key" {
		return errors.New("usage: lintel admin create-key --operator | --site SITE_ID, or lintel admin invite --operator|--site SITE --name NAME [--user USER]")
	}
	fs := flag.NewFlagSet("create-key", flag.ContinueOnError)
	operator := fs.Bool("operator", false, "an operator key (all sites)")
	site := fs.String("site", "", "an admin key for this site")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *operator == (*site != "") {
		return errors.New("give exactly one of --operator or --site SITE_ID")
	}
	st, err := openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	var key string
	if *operator {
		key, err = st.CreateOperatorKey(ctx)
	} else {
		key, err = st.CreateAdminKey(ctx, *site)
		if errors.Is(err, models.ErrNotFound) {
			return fmt.Errorf("no site with id %q", *site)
		}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	return nil
}

// invite prints a console set-up link (server.InvitePerson).
func invite(ctx context.Context, cfg server.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("invite", flag.ContinueOnError)
	var in server.Invite
	fs.BoolVar(&in.Operator, "operator", false, "an operator (all sites)")
	fs.StringVar(&in.SiteID, "site", "", "a person of this site")
	fs.StringVar(&in.Name, "name", "", "the person's name")
	fs.StringVar(&in.UserID, "user", "", "the site's user this person is (their group decides their role)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	st, err := openCurrent(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	link, err := server.InvitePerson(ctx, st, cfg.PublicURL, in)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, link)
	return nil
}

// openCurrent opens the configured store for an admin command, refusing a
// schema that is behind this binary.
func openCurrent(ctx context.Context, cfg server.Config) (*models.Store, error) {
	st, err := models.Open(ctx, cfg.DatabaseURL, models.Options{})
	if err != nil {
		return nil, err
	}
	if pending, err := st.MigrationsPending(ctx); err != nil || pending {
		st.Close()
		return nil, errors.New("the database schema is not current: run `lintel migrate up` first")
	}
	return st, nil
}
