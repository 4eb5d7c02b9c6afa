package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lintel/lintel/ble-reader/nfc"
	"github.com/lintel/lintel/ble-reader/nfc/nfctest"
	"github.com/lintel/lintel/ble-reader/phone"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/schedule"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{nil, 2, "usage"},
		{[]string{"nope"}, 2, "unknown command"},
		{[]string{"uid", "-bogus"}, 2, "flag provided but not defined"},
		{[]string{"uid", "-uid", "zz"}, 1, "not hexadecimal"},
		{[]string{"uid", "-uid", "0102"}, 1, "4, 7 or 10 bytes"},
		{[]string{"phone", "-state", filepath.Join(t.TempDir(), "none.json")}, 1, "no such file"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		if code := run(t.Context(), tt.args, &out, &errb); code != tt.code || !strings.Contains(errb.String(), tt.msg) {
			t.Errorf("%q: code %d, stderr %q; want %d, %q", tt.args, code, errb.String(), tt.code, tt.msg)
		}
	}
}

// handler decides phones with the real credential check and records card
// numbers.
type handler struct {
	dec   credential.Decider
	cards chan string
}

func (h *handler) Challenge(string) (credential.Challenge, error) {
	return h.dec.Nonces.Issue(rand.Reader, time.Now())
}

func (h *handler) Present(_ context.Context, _ string, ch credential.Challenge, p []byte) []byte {
	if d := h.dec.Decide(ch, p, time.Now()); !d.Granted {
		return append([]byte{1, 1, byte(len(d.Reason))}, d.Reason...)
	}
	return []byte{1, 0, 0}
}

func (h *handler) Card(_ context.Context, _ string, n string) { h.cards <- n }

// TestVirtualCards runs both commands against the reader loop through
// pcscd and vpcd.
func TestVirtualCards(t *testing.T) {
	env := nfctest.Require(t)
	issuer, err := credential.GenerateSigningKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := credential.NewKeySet(issuer.Public())
	p, err := phone.New("http://127.0.0.1:1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok, err := credential.Issue(issuer, credential.Claims{
		Issuer: "https://lintel.test", Subject: "cred_1", Site: "site_1", User: "usr_1", Groups: []string{"grp_1"},
		Device: &p.DeviceKey().PublicKey, IssuedAt: now, NotBefore: now, Expiry: now.Add(time.Hour), ID: "jti_1",
	})
	if err != nil {
		t.Fatal(err)
	}
	p.State.Credential, p.State.CredentialID = tok, "cred_1"
	state := filepath.Join(t.TempDir(), "phone.json")
	if err := p.Save(state); err != nil {
		t.Fatal(err)
	}
	h := &handler{cards: make(chan string, 4), dec: credential.Decider{
		Verifier: credential.Verifier{Keys: keys, Issuer: "https://lintel.test"},
		Policy: &credential.DoorPolicy{Site: "site_1", ReaderID: "rdr_1", DoorID: "door_1", SyncedAt: now,
			Groups: map[string]*schedule.Weekly{"grp_1": nil}},
		Nonces: credential.NewNonceBook("rdr_1", 0, 0),
	}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- nfc.Run(ctx, nfc.Config{Socket: env.Socket}, h) }()
	defer func() { cancel(); <-done }()

	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"phone", "-state", state, "-addr", env.Readers[0].Addr}, &out, &errb); code != 0 {
		t.Fatalf("phone: code %d\n%s%s", code, out.String(), errb.String())
	}
	if !strings.Contains(out.String(), "granted") {
		t.Fatalf("phone output %q", out.String())
	}
	out.Reset()
	if code := run(t.Context(), []string{"uid", "-uid", "04:a2:3b:9c", "-addr", env.Readers[1].Addr, "-hold", "1500ms"}, &out, &errb); code != 0 {
		t.Fatalf("uid: code %d\n%s", code, errb.String())
	}
	select {
	case n := <-h.cards:
		if n != "04A23B9C" {
			t.Fatalf("card number %q", n)
		}
	case <-time.After(time.Second):
		t.Fatal("the reader did not read the card")
	}
}
