package notifytest

import (
	"net/http"
	"strings"
	"testing"
)

func TestScriptOrder(t *testing.T) {
	var s script
	s.push("", []Reply{{Status: 500}, {Status: 503}})
	s.push("tok", []Reply{{Status: 410}})
	got := []int{s.next("other").Status, s.next("tok").Status, s.next("tok").Status, s.next("tok").Status}
	want := []int{500, 410, 503, 0}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
}

func TestAPNsServerRefusesHTTP1AndAnonymous(t *testing.T) {
	s := NewAPNs(t)
	// The httptest client speaks HTTP/1.1 unless told otherwise.
	c := s.srv.Client()
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = false
	c.Transport.(*http.Transport).TLSClientConfig.NextProtos = []string{"http/1.1"}
	resp, err := c.Post(s.URL+"/3/device/abcd", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusHTTPVersionNotSupported {
		t.Fatalf("HTTP/1.1 got %d", resp.StatusCode)
	}
	resp, err = s.Client().Post(s.URL+"/3/device/abcd", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || s.Requests()[1].Reason != "InvalidProviderToken" {
		t.Fatalf("no provider token got %d", resp.StatusCode)
	}
}

func TestTwilioServerChecksAuth(t *testing.T) {
	s := NewTwilio(t)
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/2010-04-01/Accounts/"+s.AccountSID+"/Messages.json",
		strings.NewReader("To=%2B14155550123&From=%2B14155550100&Body=hi"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(s.AccountSID, "wrong")
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || s.Requests()[0].Code != 20003 {
		t.Fatalf("wrong password got %d", resp.StatusCode)
	}
}
