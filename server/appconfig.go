package server

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"
)

// AppConfig is the phone app as the invitee's page and the universal-link
// files know it. Everything is optional: without store URLs the page shows
// no store buttons; without an app id the matching /.well-known file is 404
// and links open in the browser.
type AppConfig struct {
	IOSURL     string // LINTEL_APP_IOS_URL: the App Store page
	AndroidURL string // LINTEL_APP_ANDROID_URL: the Play Store page
	// AppleAppID is "TEAMID.bundle.id" (LINTEL_APP_APPLE_APP_ID): served in
	// /.well-known/apple-app-site-association for the /invite/* paths.
	AppleAppID string
	// AndroidPackage (LINTEL_APP_ANDROID_PACKAGE) and AndroidCertSHA256
	// (LINTEL_APP_ANDROID_CERT_SHA256, comma-separated AA:BB:… SHA-256
	// fingerprints of the signing certificates): served in
	// /.well-known/assetlinks.json, and used for the page's Android App
	// Link button.
	AndroidPackage    string
	AndroidCertSHA256 []string
}

var (
	appleAppIDRe  = regexp.MustCompile(`^[A-Z0-9]{10}\.[A-Za-z0-9][A-Za-z0-9.-]*$`)
	androidPkgRe  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)+$`)
	fingerprintRe = regexp.MustCompile(`^[0-9A-F]{2}(:[0-9A-F]{2}){31}$`)
)

func loadAppConfig(getenv func(string) string) (AppConfig, []string) {
	var c AppConfig
	var problems []string
	for _, u := range []struct {
		name string
		dst  *string
	}{{"LINTEL_APP_IOS_URL", &c.IOSURL}, {"LINTEL_APP_ANDROID_URL", &c.AndroidURL}} {
		v := getenv(u.name)
		if v == "" {
			continue
		}
		if p, err := url.Parse(v); err != nil || p.Scheme != "https" || p.Host == "" {
			problems = append(problems, u.name+" must be an https URL")
			continue
		}
		*u.dst = v
	}
	if v := getenv("LINTEL_APP_APPLE_APP_ID"); v != "" {
		if !appleAppIDRe.MatchString(v) {
			problems = append(problems, "LINTEL_APP_APPLE_APP_ID must be TEAMID.bundle.id (a 10-character team id)")
		} else {
			c.AppleAppID = v
		}
	}
	pkg, certs := getenv("LINTEL_APP_ANDROID_PACKAGE"), getenv("LINTEL_APP_ANDROID_CERT_SHA256")
	switch {
	case pkg == "" && certs == "":
	case pkg == "" || certs == "":
		problems = append(problems, "LINTEL_APP_ANDROID_PACKAGE and LINTEL_APP_ANDROID_CERT_SHA256 go together")
	case !androidPkgRe.MatchString(pkg):
		problems = append(problems, "LINTEL_APP_ANDROID_PACKAGE must be an application id such as com.example.lintel")
	default:
		for _, f := range strings.Split(certs, ",") {
			f = strings.ToUpper(strings.TrimSpace(f))
			if !fingerprintRe.MatchString(f) {
				problems = append(problems, "LINTEL_APP_ANDROID_CERT_SHA256 must be SHA-256 fingerprints (32 hex bytes separated by colons), comma-separated")
				c.AndroidCertSHA256 = nil
				break
			}
			c.AndroidCertSHA256 = append(c.AndroidCertSHA256, f)
		}
		if c.AndroidCertSHA256 != nil {
			c.AndroidPackage = pkg
		}
	}
	return c, problems
}

// invitePaths are the paths an installed app claims: the invitation links.
const invitePaths = "/invite/*"

// appleAppSiteAssociation (GET /.well-known/apple-app-site-association)
// lets iOS open /invite/* links in the app (universal links); 404 without
// LINTEL_APP_APPLE_APP_ID.
func (a *API) appleAppSiteAssociation(c *gin.Context) {
	if a.cfg.App.AppleAppID == "" {
		render(c, a.log, errNotFound("no app is configured"))
		return
	}
	type detail struct {
		AppIDs     []string            `json:"appIDs"`
		Components []map[string]string `json:"components"`
	}
	doc := map[string]any{"applinks": map[string]any{"details": []detail{{
		AppIDs: []string{a.cfg.App.AppleAppID}, Components: []map[string]string{{"/": invitePaths}},
	}}}}
	b, _ := json.Marshal(doc)
	c.Data(http.StatusOK, "application/json", b)
}

// assetLinks (GET /.well-known/assetlinks.json) verifies the Android app's
// App Links for this host; 404 without LINTEL_APP_ANDROID_PACKAGE.
func (a *API) assetLinks(c *gin.Context) {
	if a.cfg.App.AndroidPackage == "" {
		render(c, a.log, errNotFound("no app is configured"))
		return
	}
	type target struct {
		Namespace    string   `json:"namespace"`
		PackageName  string   `json:"package_name"`
		Fingerprints []string `json:"sha256_cert_fingerprints"`
	}
	type statement struct {
		Relation []string `json:"relation"`
		Target   target   `json:"target"`
	}
	b, _ := json.Marshal([]statement{{
		Relation: []string{"delegate_permission/common.handle_all_urls"},
		Target:   target{Namespace: "android_app", PackageName: a.cfg.App.AndroidPackage, Fingerprints: a.cfg.App.AndroidCertSHA256},
	}})
	c.Data(http.StatusOK, "application/json", b)
}
