package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"time"

	"github.com/lintel/lintel/credential"
	"github.com/lintel/lintel/models"
)

// The phone's own use cases. They carry no API key: the invitation code
// or the device key's signature in the body is the proof, so they take
// the route's code or credential id instead of a Principal. Each answer
// holds a secret or a single-use value; its route is shownOnce.

// AcceptInvitation redeems an invitation code for the phone's device key:
// the credential becomes active and its first token is signed.
func (a *API) AcceptInvitation(ctx context.Context, code string, req acceptRequest) (tokenResponse, error) {
	var v validator
	var device *ecdsa.PublicKey
	if len(req.DevicePublicKey) == 0 || string(req.DevicePublicKey) == "null" {
		v.add("device_public_key", "is required: the phone's P-256 public key as a JWK")
	} else if k, err := credential.ParseDeviceJWK(req.DevicePublicKey); err != nil {
		v.add("device_public_key", deviceKeyMessage(err))
	} else {
		device = k
	}
	v.check(req.Platform == "ios" || req.Platform == "android", "platform", "must be ios or android")
	v.check(len(req.PushToken) <= 4096, "push_token", "is too long")
	if err := v.err(); err != nil {
		return tokenResponse{}, err
	}
	jwk, _ := credential.DeviceJWK(device)
	now, exp := a.tokenTimes()
	acc, err := a.store.AcceptInvitation(ctx, code,
		models.Device{PublicJWK: string(jwk), Platform: req.Platform, PushToken: req.PushToken}, exp)
	if errors.Is(err, models.ErrInvitation) {
		return tokenResponse{}, errNotFound("invitation (unknown, already used or expired)")
	}
	if err != nil {
		return tokenResponse{}, err
	}
	// Signed after the commit: the claims are all known by then, and
	// signing with a loaded key cannot fail for a valid device key.
	token, err := a.mint(device, acc.Credential, acc.Groups, now, exp)
	if err != nil {
		return tokenResponse{}, err
	}
	return tokenResponse{CredentialID: acc.Credential.ID, Credential: token, ExpiresAt: rfc3339(exp), MemberKey: acc.MemberKey}, nil
}

// RefreshChallenge hands the phone a fresh, single-use challenge to sign
// with its device key, replacing its outstanding one. Only the phone may
// ask: the request is signed by the device key at a time within a minute of
// the server's clock and newer than the last one accepted. It reveals
// nothing about the credential.
func (a *API) RefreshChallenge(ctx context.Context, id string, req challengeRequest) (challengeResponse, error) {
	var v validator
	at, err := time.Parse(time.RFC3339Nano, req.Timestamp)
	v.check(err == nil && len(req.Timestamp) <= 40, "timestamp", "must be the phone's current time, RFC 3339 with milliseconds")
	sig := v.deviceSignature(req.Signature)
	if err := v.err(); err != nil {
		return challengeResponse{}, err
	}
	ch, err := credential.NewRefreshChallenge(rand.Reader)
	if err != nil {
		return challengeResponse{}, err
	}
	enc := base64.RawURLEncoding.EncodeToString(ch)
	now := a.now()
	exp := now.Add(challengeTTL)
	verify := func(d *models.Device) error {
		k, err := credential.ParseDeviceJWK([]byte(d.PublicJWK))
		if err != nil {
			return err
		}
		err = credential.VerifyChallengeRequest(k, id, at.UnixMilli(), sig, now)
		var den *credential.Denial
		if errors.As(err, &den) && den.Reason == credential.ReasonExpired {
			return &Error{Status: http.StatusUnauthorized, Code: "stale_request", Detail: "the timestamp is more than a minute from the server's clock"}
		}
		if err != nil {
			return errBadProof
		}
		return nil
	}
	err = a.store.SaveChallenge(ctx, id, enc, exp, at.UnixMilli(), verify)
	if errors.Is(err, models.ErrChallengeReplayed) {
		return challengeResponse{}, &Error{Status: http.StatusUnauthorized, Code: "stale_request", Detail: "the timestamp is not newer than the last challenge request's"}
	}
	if err != nil {
		return challengeResponse{}, notFoundAs(err, "credential")
	}
	return challengeResponse{Challenge: enc, ExpiresAt: rfc3339(exp)}, nil
}

// RefreshCredential signs a new token for a credential whose phone signed
// its outstanding challenge with the device key.
func (a *API) RefreshCredential(ctx context.Context, id string, req refreshRequest) (tokenResponse, error) {
	var v validator
	v.check(req.Challenge != "" && len(req.Challenge) < 100, "challenge", "is required: the value from the challenge endpoint")
	sig := v.deviceSignature(req.Signature)
	ch, err := base64.RawURLEncoding.DecodeString(req.Challenge)
	v.check(err == nil, "challenge", "must be base64url")
	if err := v.err(); err != nil {
		return tokenResponse{}, err
	}
	var token string
	var devKey *ecdsa.PublicKey
	verify := func(d *models.Device) error {
		k, err := credential.ParseDeviceJWK([]byte(d.PublicJWK))
		if err != nil {
			return err
		}
		devKey = k
		if err := credential.VerifyRefresh(k, ch, id, sig); err != nil {
			return errBadProof
		}
		return nil
	}
	sign := func(cred *models.Credential, u *models.User) (time.Time, error) {
		now, exp := a.tokenTimes()
		var err error
		token, err = a.mint(devKey, cred, u.Groups(), now, exp)
		return exp, err
	}
	cred, err := a.store.Refresh(ctx, id, req.Challenge, verify, sign)
	switch {
	case errors.Is(err, models.ErrChallenge):
		return tokenResponse{}, &Error{Status: http.StatusUnauthorized, Code: "challenge_invalid", Detail: "the challenge is unknown, used or expired: ask for a new one"}
	case errors.Is(err, models.ErrNotRevocable):
		return tokenResponse{}, errConflict("credential_revoked", "the credential is no longer active")
	case err != nil:
		return tokenResponse{}, notFoundAs(err, "credential")
	}
	return tokenResponse{CredentialID: cred.ID, Credential: token, ExpiresAt: rfc3339(*cred.TokenExpiresAt)}, nil
}

// errBadProof is the answer to a device-key signature that does not verify.
var errBadProof = &Error{Status: http.StatusUnauthorized, Code: "bad_proof", Detail: "the signature does not prove the credential's device key"}
