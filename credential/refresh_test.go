package credential

import (
	"bytes"
	"github.com/lintel/lintel/internal/testkit"
	"testing"
)

func TestRefreshProof(t *testing.T) {
	dev := testkit.Key(t, "device")
	ch, err := NewRefreshChallenge(testRand(3))
	if err != nil || len(ch) != RefreshChallengeSize {
		t.Fatalf("challenge %x, %v", ch, err)
	}
	sig, err := SignRefresh(dev, nil, ch, testCred)
	if err != nil || len(sig) != 64 {
		t.Fatalf("SignRefresh = %x, %v", sig, err)
	}
	if err := VerifyRefresh(&dev.PublicKey, ch, testCred, sig); err != nil {
		t.Fatal(err)
	}
	msg, _ := refreshMessage(ch, testCred)
	want := append(append([]byte("lintel-refresh-v1\x00"), ch...), testCred...)
	if !bytes.Equal(msg, want) {
		t.Fatalf("message %x, want %x", msg, want)
	}

	other, _ := NewRefreshChallenge(testRand(4))
	tests := []struct {
		name string
		ch   []byte
		id   string
		sig  []byte
	}{
		{"other challenge", other, testCred, sig},
		{"other credential", ch, "cred-43", sig},
		{"short challenge", ch[:16], testCred, sig},
		{"empty credential id", ch, "", sig},
		{"flipped signature", ch, testCred, flip(sig, 3)},
		{"short signature", ch, testCred, sig[:63]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := VerifyRefresh(&dev.PublicKey, tt.ch, tt.id, tt.sig); ReasonOf(err) != ReasonBadProof {
				t.Fatalf("err = %v, want bad_proof", err)
			}
		})
	}
	if err := VerifyRefresh(&testkit.Key(t, "other").PublicKey, ch, testCred, sig); ReasonOf(err) != ReasonBadProof {
		t.Fatalf("other device key: %v", err)
	}
	if _, err := SignRefresh(dev, nil, ch[:31], testCred); err == nil {
		t.Fatal("SignRefresh accepted a short challenge")
	}
	if _, err := NewRefreshChallenge(bytes.NewReader(nil)); err == nil {
		t.Fatal("NewRefreshChallenge with an empty source succeeded")
	}
}
