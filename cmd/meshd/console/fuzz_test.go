package console

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzPreferredLang(f *testing.F) {
	for _, s := range []string{"ja,en-US;q=0.9", "en;q=0.5, ja-JP;q=0.9", "", ";;;,,q=", "ja;q=abc", "*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		if got := preferredLang(accept); got != "ja" && got != "en" {
			t.Fatalf("preferredLang(%q) = %q", accept, got)
		}
	})
}

func FuzzKana(f *testing.F) {
	for _, s := range []string{"0123456789abcdef", "ノード001", "", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if n, want := utf8.RuneCountInString(Kana(s)), min(6, utf8.RuneCountInString(s)); n != want {
			t.Fatalf("Kana(%q) has %d characters, want %d", s, n, want)
		}
	})
}

// FuzzSessionCookie: no cookie value opens a session unless it is the one newSession signed.
func FuzzSessionCookie(f *testing.F) {
	a := newAuth("secret", []string{"admin-key-0123456789"}, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	// A fixed nonce and expiry keep the signed id the same in every fuzzing worker.
	a.now = func() time.Time { return time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC) }
	nonce, exp := "00112233445566778899aabbccddeeff", "1772395200"
	signed := nonce + "." + exp + "." + a.mac("session", nonce, exp)
	req := httptest.NewRequest("GET", "/console/api/session", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: signed})
	if _, ok := a.session(req); !ok {
		f.Fatal("the signed session is refused")
	}
	for _, s := range []string{signed, signed + "0", "", ".", "..", "a.b.c", "0.99999999999999999999.x", signed[:40]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		req := httptest.NewRequest("GET", "/console/api/session", nil)
		req.Header.Set("Cookie", cookieName+"="+url.QueryEscape(v))
		c, err := req.Cookie(cookieName)
		if err != nil {
			return
		}
		if _, ok := a.session(req); ok && c.Value != signed {
			t.Fatalf("cookie %q opened a session", c.Value)
		}
	})
}
