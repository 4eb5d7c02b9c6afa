// Command vcard puts a virtual contactless card in the field of a vpcd
// reader (vsmartcard's virtual reader driver for pcscd): a phone tapping
// with the Lintel HCE service, or a plain card or fob that only has a UID.
// The reader daemon's NFC mode, reading pcscd, sees it as a real tap. The
// logic is in package hce (github.com/lintel/lintel/ble-reader/hce).
//
//	vcard phone -state phone.json [-addr 127.0.0.1:35963] [-extended] [-stay] [-timeout 10s]
//	vcard uid   -uid 04A23B9C     [-addr 127.0.0.1:35963] [-hold 2s]
//
// phone uses the state file of phonesim (its device key and credential)
// and leaves the field once the reader has sent its result: exit status 0
// granted, 3 denied or busy, 1 no result in time. With -stay it answers
// every tap until interrupted. uid leaves the field after -hold (0: stay
// until interrupted).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lintel/lintel/ble-reader/hce"
	"github.com/lintel/lintel/ble-reader/phone"
	"github.com/lintel/lintel/credential/wire"
	"github.com/lintel/lintel/internal/cli"
)

func main() {
	cli.Main(run)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd, fs, args, ok := cli.Subcommand("vcard", "usage: vcard phone|uid [flags]", args, stderr)
	if !ok {
		return 2
	}
	addr := fs.String("addr", hce.DefaultAddr, "vpcd's address for the reader (35963: first reader, 35964: second)")
	state := fs.String("state", "phone.json", "phonesim state file: device key and credential (phone)")
	extended := fs.Bool("extended", false, "offer the extended-length AUTHENTICATE (phone)")
	stay := fs.Bool("stay", false, "answer every tap until interrupted (phone)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up waiting for the reader's result (phone)")
	uidHex := fs.String("uid", "", "the card's UID in hexadecimal, 4, 7 or 10 bytes (uid)")
	hold := fs.Duration("hold", 2*time.Second, "how long the card stays in the field; 0: until interrupted (uid)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fail := cli.Fail("vcard", stderr)
	switch cmd {
	case "phone":
		p, err := phone.Load(*state, nil, nil)
		if err != nil {
			return fail(err)
		}
		return tapPhone(ctx, p, *addr, *extended, *stay, *timeout, stdout, stderr)
	case "uid":
		uid, err := hce.ParseUID(*uidHex)
		if err != nil {
			return fail(err)
		}
		card, err := hce.NewUIDCard(uid)
		if err != nil {
			return fail(err)
		}
		if *hold > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, *hold)
			defer cancel()
		}
		fmt.Fprintf(stdout, "card %X in the field of %s\n", uid, *addr)
		if err := hce.Run(ctx, *addr, card); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			return fail(err)
		}
		return 0
	}
	fmt.Fprintf(stderr, "vcard: unknown command %q\n", cmd)
	return 2
}

func tapPhone(ctx context.Context, p *phone.Phone, addr string, extended, stay bool, timeout time.Duration, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if !stay {
		var c context.CancelFunc
		ctx, c = context.WithTimeout(ctx, timeout)
		defer c()
	}
	results := make(chan wire.Result, 16)
	present := func(challenge []byte) ([]byte, error) {
		if p.State.Credential == "" {
			return nil, hce.ErrNoCredential
		}
		return p.Build(challenge)
	}
	card := hce.NewPhone(present, hce.PhoneOptions{Extended: extended, OnResult: func(b []byte) {
		r, err := wire.ParseResult(b)
		if err != nil {
			fmt.Fprintf(stderr, "vcard: unreadable result % X\n", b)
			return
		}
		select {
		case results <- r:
		default:
		}
	}})
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- hce.Run(ctx, addr, card) }()
	fmt.Fprintf(stdout, "phone (credential %s) in the field of %s\n", p.State.CredentialID, addr)
	for {
		select {
		case r := <-results:
			fmt.Fprintf(stdout, "%s (%s)\n", r, time.Since(start).Round(time.Millisecond))
			if stay {
				continue
			}
			cancel()
			<-done
			if r.Status != wire.StatusGranted {
				return 3
			}
			return 0
		case err := <-done:
			switch {
			case stay && (err == nil || errors.Is(err, context.Canceled)):
				return 0
			case errors.Is(err, context.DeadlineExceeded):
				fmt.Fprintln(stderr, "vcard: no result from the reader in time")
			case err == nil:
				fmt.Fprintln(stderr, "vcard: vpcd hung up")
			default:
				fmt.Fprintln(stderr, "vcard:", err)
			}
			return 1
		}
	}
}
