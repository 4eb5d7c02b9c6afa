// Package phone is a phone simulator: what the Lintel app does, in Go, for
// the demo and end-to-end tests. It keeps a P-256 device key, accepts an
// invitation, refreshes its credential with the device-key proof, taps a
// reader over the local BLE link with go-ble's real GATT client, and can
// issue a visitor pass with the member key it got.
//
// A real phone keeps its device key in secure hardware; the simulator
// keeps it in its state file (mode 0600).
package phone

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-ble/ble"

	"github.com/lintel/lintel/ble-reader/blelink"
	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/credential/wire"
)

// State is what the simulated phone remembers between runs.
type State struct {
	ServerURL    string    `json:"server_url"`
	DeviceKey    string    `json:"device_key"` // base64 PKCS#8 DER
	CredentialID string    `json:"credential_id,omitempty"`
	SiteID       string    `json:"site_id,omitempty"`
	UserID       string    `json:"user_id,omitempty"`
	Credential   string    `json:"credential,omitempty"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	MemberKey    string    `json:"member_key,omitempty"`
}

// Phone is a simulated phone.
type Phone struct {
	State State
	key   *ecdsa.PrivateKey
	http  *http.Client
	rand  io.Reader
	// Clock is the phone's clock for signed challenge requests (nil:
	// time.Now).
	Clock     func() time.Time
	lastReqMs int64
}

// New makes a phone with a fresh device key from rand (nil: crypto/rand).
func New(serverURL string, rand io.Reader, hc *http.Client) (*Phone, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), orCrypto(rand))
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return &Phone{State: State{ServerURL: strings.TrimRight(serverURL, "/"), DeviceKey: base64.StdEncoding.EncodeToString(der)}, key: key, http: orClient(hc), rand: rand}, nil
}

func orClient(hc *http.Client) *http.Client {
	if hc == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	return hc
}

// Load reads a phone's state file.
func Load(path string, rand io.Reader, hc *http.Client) (*Phone, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		return nil, fmt.Errorf("phone: state %s: %w", path, err)
	}
	der, err := base64.StdEncoding.DecodeString(st.DeviceKey)
	if err != nil {
		return nil, fmt.Errorf("phone: device key: %w", err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("phone: device key: %w", err)
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok || key.Curve != elliptic.P256() {
		return nil, errors.New("phone: device key is not P-256")
	}
	return &Phone{State: st, key: key, http: orClient(hc), rand: rand}, nil
}

// Save writes the state file with mode 0600.
func (p *Phone) Save(path string) error {
	raw, err := json.MarshalIndent(p.State, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// DeviceKey is the phone's signing key.
func (p *Phone) DeviceKey() *ecdsa.PrivateKey { return p.key }

// APIError is a problem document from the server.
type APIError struct {
	Status int
	Code   string
	Detail string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("phone: server answered %d %s: %s", e.Status, e.Code, e.Detail)
}

func (p *Phone) call(ctx context.Context, method, path, bearer string, in, out any) error {
	var body io.Reader
	if in != nil {
		raw, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, p.State.ServerURL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		var pd struct{ Code, Detail string }
		_ = json.Unmarshal(raw, &pd)
		return &APIError{Status: resp.StatusCode, Code: pd.Code, Detail: pd.Detail}
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

type credentialAnswer struct {
	Credential string    `json:"credential"`
	ExpiresAt  time.Time `json:"expires_at"`
	MemberKey  string    `json:"member_key"`
}

// Accept redeems an invitation code with this phone's device key.
func (p *Phone) Accept(ctx context.Context, code, platform, pushToken string) error {
	jwk, err := credential.DeviceJWK(&p.key.PublicKey)
	if err != nil {
		return err
	}
	var out credentialAnswer
	err = p.call(ctx, http.MethodPost, "/v1/invitations/"+url.PathEscape(code)+"/accept", "", map[string]any{
		"device_public_key": json.RawMessage(jwk), "platform": platform, "push_token": pushToken,
	}, &out)
	if err != nil {
		return err
	}
	if out.MemberKey != "" {
		p.State.MemberKey = out.MemberKey
	}
	return p.take(out)
}

// take stores a credential after reading its claims (unverified: the
// phone got it from its server over TLS; the reader is who verifies).
func (p *Phone) take(out credentialAnswer) error {
	parts := strings.Split(out.Credential, ".")
	if len(parts) != 3 {
		return errors.New("phone: server sent no credential")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("phone: credential payload: %w", err)
	}
	var c struct {
		Sub, Site, UID string
	}
	if err := json.Unmarshal(payload, &c); err != nil || c.Sub == "" {
		return errors.New("phone: credential without sub")
	}
	p.State.Credential, p.State.ExpiresAt = out.Credential, out.ExpiresAt
	p.State.CredentialID, p.State.SiteID, p.State.UserID = c.Sub, c.Site, c.UID
	return nil
}

// Refresh gets a fresh credential: a challenge from the server, signed
// with the device key (credential.SignRefresh).
func (p *Phone) Refresh(ctx context.Context) error {
	if p.State.CredentialID == "" {
		return errors.New("phone: no credential to refresh")
	}
	path := "/v1/credentials/" + url.PathEscape(p.State.CredentialID)
	var ch struct {
		Challenge string `json:"challenge"`
	}
	// The challenge request proves the device key too, so that nobody
	// else can replace the phone's challenge; its time only ever grows.
	now := time.Now
	if p.Clock != nil {
		now = p.Clock
	}
	at := now().UnixMilli()
	if at <= p.lastReqMs {
		at = p.lastReqMs + 1
	}
	p.lastReqMs = at
	reqSig, err := credential.SignChallengeRequest(p.key, orCrypto(p.rand), p.State.CredentialID, at)
	if err != nil {
		return err
	}
	if err := p.call(ctx, http.MethodPost, path+"/challenge", "", map[string]string{
		"timestamp": time.UnixMilli(at).UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"signature": base64.RawURLEncoding.EncodeToString(reqSig),
	}, &ch); err != nil {
		return err
	}
	raw, err := base64.RawURLEncoding.DecodeString(ch.Challenge)
	if err != nil {
		return fmt.Errorf("phone: refresh challenge: %w", err)
	}
	sig, err := credential.SignRefresh(p.key, orCrypto(p.rand), raw, p.State.CredentialID)
	if err != nil {
		return err
	}
	var out credentialAnswer
	if err := p.call(ctx, http.MethodPost, path+"/refresh", "", map[string]string{
		"challenge": ch.Challenge, "signature": base64.RawURLEncoding.EncodeToString(sig),
	}, &out); err != nil {
		return err
	}
	return p.take(out)
}

// Tap connects to a reader's local BLE link at addr and presents the
// credential; mtu is the ATT_MTU the phone offers (0: 185).
func (p *Phone) Tap(ctx context.Context, addr string, mtu int) (wire.Result, error) {
	if p.State.Credential == "" {
		return wire.Result{}, errors.New("phone: no credential")
	}
	conn, err := blelink.DialContext(ctx, addr)
	if err != nil {
		return wire.Result{}, err
	}
	defer conn.Close()
	return p.TapConn(ctx, conn, mtu)
}

// TapConn taps over an established link.
func (p *Phone) TapConn(ctx context.Context, conn ble.Conn, mtu int) (wire.Result, error) {
	var opts []blelink.PhoneOption
	if mtu != 0 {
		opts = append(opts, blelink.WithMTU(mtu))
	}
	res, err := blelink.Tap(ctx, conn, p.Build, opts...)
	if err != nil {
		return wire.Result{}, err
	}
	return wire.ParseResult(res)
}

// Build answers a challenge with a presentation (the phone's half of the
// protocol): packed (version 2) whenever the credential packs, which
// credential.Present decides.
func (p *Phone) Build(challenge []byte) ([]byte, error) {
	ch, err := credential.ParseChallenge(challenge)
	if err != nil {
		return nil, err
	}
	return credential.Present(p.key, p.rand, ch, p.State.Credential)
}

// PassRequest is a visitor pass to issue.
type PassRequest struct {
	Type     string         `json:"type"`
	Visitor  map[string]any `json:"visitor"`
	DoorIDs  []string       `json:"door_ids"`
	StartsAt time.Time      `json:"starts_at"`
	EndsAt   time.Time      `json:"ends_at"`
	Methods  []string       `json:"methods"`
	Deliver  string         `json:"deliver_via,omitempty"`
}

// Pass is what the server returns for an issued pass.
type Pass struct {
	ID   string `json:"id"`
	QR   string `json:"qr"`
	PIN  string `json:"pin"`
	Link string `json:"link"`
}

// IssuePass issues a visitor pass with the phone's member key (or bearer,
// when given: an admin key).
func (p *Phone) IssuePass(ctx context.Context, siteID, bearer string, req PassRequest) (*Pass, error) {
	if bearer == "" {
		bearer = p.State.MemberKey
	}
	if siteID == "" {
		siteID = p.State.SiteID
	}
	var out Pass
	if err := p.call(ctx, http.MethodPost, "/v1/sites/"+url.PathEscape(siteID)+"/visitor-passes", bearer, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func orCrypto(r io.Reader) io.Reader {
	if r == nil {
		return rand.Reader
	}
	return r
}
