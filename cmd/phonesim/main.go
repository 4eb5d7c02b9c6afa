// Command phonesim simulates the Lintel phone app for the demo and tests:
// it accepts an invitation with a fresh device key, refreshes its
// credential, taps a reader over the local BLE link, and issues visitor
// passes (printing the QR token and PIN to type). The logic is in package
// phone (github.com/lintel/lintel/ble-reader/phone).
//
//	phonesim accept  -state phone.json -server URL -code CODE
//	phonesim refresh -state phone.json
//	phonesim tap     -state phone.json -reader 127.0.0.1:7001 [-mtu 185]
//	phonesim pass    -state phone.json -door DOOR [-type single_use] [-methods qr,pin] [-key ADMIN_KEY -site SITE]
//	phonesim show    -state phone.json
//
// For the demo it also plays the admin, with an operator key:
//
//	phonesim setup  -server URL -key OPERATOR_KEY -setup demo.json -token-out reader.token
//	phonesim enroll -setup demo.json -state phone.json
//	phonesim revoke -setup demo.json -state phone.json
//	phonesim events -setup demo.json
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/lintel/lintel/ble-reader/phone"
	"github.com/lintel/lintel/internal/cli"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd, fs, args, ok := cli.Subcommand("phonesim", "usage: phonesim accept|refresh|tap|pass|show|setup|enroll|revoke|events [flags]", args, stderr)
	if !ok {
		return 2
	}
	state := fs.String("state", "phone.json", "state file (device key and credential)")
	server := fs.String("server", "http://127.0.0.1:8080", "server URL (accept)")
	code := fs.String("code", "", "invitation code (accept)")
	platform := fs.String("platform", "android", "ios or android (accept)")
	push := fs.String("push-token", "phonesim", "push token (accept)")
	addr := fs.String("reader", "127.0.0.1:7001", "local BLE link of the reader (tap)")
	mtu := fs.Int("mtu", 185, "ATT MTU the phone offers (tap)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up after")
	door := fs.String("door", "", "door id (pass)")
	typ := fs.String("type", "single_use", "recurring, temporary or single_use (pass)")
	methods := fs.String("methods", "qr,pin", "qr, pin or both (pass)")
	hours := fs.Int("hours", 24, "validity from now, hours (pass)")
	key := fs.String("key", "", "admin key instead of the member key (pass)")
	site := fs.String("site", "", "site id (pass; default the credential's)")
	setupPath := fs.String("setup", "demo.json", "demo setup file (setup, enroll, revoke, events)")
	tokenOut := fs.String("token-out", "", "write the reader token to this file, mode 0600 (setup)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	fail := cli.Fail("phonesim", stderr)
	switch cmd {
	case "accept":
		if *code == "" {
			return fail(errors.New("-code is required"))
		}
		p, err := phone.New(*server, nil, nil)
		if err != nil {
			return fail(err)
		}
		if err := p.Accept(ctx, *code, *platform, *push); err != nil {
			return fail(err)
		}
		if err := p.Save(*state); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "credential %s for user %s, expires %s\n", p.State.CredentialID, p.State.UserID, p.State.ExpiresAt.Format(time.RFC3339))
	case "refresh":
		p, err := phone.Load(*state, nil, nil)
		if err != nil {
			return fail(err)
		}
		if err := p.Refresh(ctx); err != nil {
			return fail(err)
		}
		if err := p.Save(*state); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "refreshed %s, expires %s\n", p.State.CredentialID, p.State.ExpiresAt.Format(time.RFC3339))
	case "tap":
		p, err := phone.Load(*state, nil, nil)
		if err != nil {
			return fail(err)
		}
		start := time.Now()
		res, err := p.Tap(ctx, *addr, *mtu)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "%s (%s)\n", res, time.Since(start).Round(time.Millisecond))
		if res.Status != 0 {
			return 3
		}
	case "pass":
		if *door == "" {
			return fail(errors.New("-door is required"))
		}
		p, err := phone.Load(*state, nil, nil)
		if err != nil {
			return fail(err)
		}
		now := time.Now().Truncate(time.Hour)
		pass, err := p.IssuePass(ctx, *site, *key, phone.PassRequest{
			Type: *typ, Visitor: map[string]any{"name": "Visitor"}, DoorIDs: []string{*door},
			StartsAt: now, EndsAt: now.Add(time.Duration(*hours) * time.Hour), Methods: strings.Split(*methods, ","), Deliver: "none",
		})
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "pass %s\n", pass.ID)
		if pass.QR != "" {
			fmt.Fprintf(stdout, "QR token (scan or pipe to the reader's qr input):\n%s\n", pass.QR)
		}
		if pass.PIN != "" {
			fmt.Fprintf(stdout, "PIN to type: %s\n", pass.PIN)
		}
	case "show":
		p, err := phone.Load(*state, nil, nil)
		if err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "server %s\ncredential %s (site %s, user %s) expires %s\n", p.State.ServerURL, p.State.CredentialID, p.State.SiteID, p.State.UserID, p.State.ExpiresAt.Format(time.RFC3339))
	case "setup":
		if *key == "" {
			return fail(errors.New("-key (an operator key) is required"))
		}
		st, err := phone.NewAdmin(*server, *key, nil).SetUp(ctx)
		if err != nil {
			return fail(err)
		}
		if err := st.Save(*setupPath); err != nil {
			return fail(err)
		}
		if *tokenOut != "" {
			if err := os.WriteFile(*tokenOut, []byte(st.ReaderToken+"\n"), 0o600); err != nil {
				return fail(err)
			}
		}
		fmt.Fprintf(stdout, "site %s, door %s, group %s, user %s, reader %s\n", st.Site, st.Door, st.Group, st.User, st.Reader)
	case "enroll":
		st, err := phone.LoadSetup(*setupPath)
		if err != nil {
			return fail(err)
		}
		c, err := phone.NewAdmin(st.Server, st.Key, nil).IssueMobile(ctx, st.Site, st.User)
		if err != nil {
			return fail(err)
		}
		p, err := phone.New(st.Server, nil, nil)
		if err != nil {
			return fail(err)
		}
		if err := p.Accept(ctx, c, *platform, *push); err != nil {
			return fail(err)
		}
		if err := p.Save(*state); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "credential %s issued and accepted, expires %s\n", p.State.CredentialID, p.State.ExpiresAt.Format(time.RFC3339))
	case "revoke":
		st, err := phone.LoadSetup(*setupPath)
		if err != nil {
			return fail(err)
		}
		p, err := phone.Load(*state, nil, nil)
		if err != nil {
			return fail(err)
		}
		if err := phone.NewAdmin(st.Server, st.Key, nil).Revoke(ctx, st.Site, p.State.CredentialID, "demo"); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "credential %s revoked\n", p.State.CredentialID)
	case "events":
		st, err := phone.LoadSetup(*setupPath)
		if err != nil {
			return fail(err)
		}
		evs, err := phone.NewAdmin(st.Server, st.Key, nil).Events(ctx, st.Site)
		if err != nil {
			return fail(err)
		}
		for i := len(evs) - 1; i >= 0; i-- {
			e := evs[i]
			what := e.Action
			if e.Granted != nil {
				what = "denied " + e.Reason
				if *e.Granted {
					what = "granted"
				}
				what = e.Method + " " + what
			}
			fmt.Fprintf(stdout, "%s  %-6s %-28s credential=%s user=%s\n", e.OccurredAt, e.Type, what, e.CredentialID, e.UserID)
		}
	default:
		fmt.Fprintf(stderr, "phonesim: unknown command %q\n", cmd)
		return 2
	}
	return 0
}
