package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/mirror"
)

func TestSanitize(t *testing.T) {
	tests := []struct {
		name, in, want, wantLines string // wantLines "" means the same as want
	}{
		{"plain", "istio/pilot:1.30.3 ✓ café", "istio/pilot:1.30.3 ✓ café", ""},
		{"empty", "", "", ""},
		{"CSI color", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`, ""},
		{"fake verified line", "x\r\x1b[2K\x1b[1Aok  blobs  verified OK", `x\x0d\x1b[2K\x1b[1Aok  blobs  verified OK`, ""},
		{"OSC window title, BEL", "\x1b]0;pwned\x07", `\x1b]0;pwned\x07`, ""},
		{"OSC hyperlink, ST", "\x1b]8;;http://evil\x1b\\x\x1b]8;;\x1b\\", `\x1b]8;;http://evil\x1b\x\x1b]8;;\x1b\`, ""},
		{"C1 CSI rune", "a\u009b31mb", `a\u009b31mb`, ""},
		{"C1 NEL rune", "a\u0085b", `a\u0085b`, ""},
		{"raw 8-bit CSI byte", "a\x9b31mb", `a\x9b31mb`, ""},
		{"DEL", "a\x7fb", `a\x7fb`, ""},
		{"NUL and backspace", "a\x00b\bc", `a\x00b\x08c`, ""},
		{"RLO bidi override", "evil\u202etxt.exe", `evil\u202etxt.exe`, ""},
		{"every bidi control", "\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
			`\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069\u200e\u200f\u061c`, ""},
		{"line separators", "a\u2028b\u2029c", `a\u2028b\u2029c`, ""},
		{"newline and tab", "line 1\n\tline 2", `line 1\x0a\x09line 2`, "line 1\n\tline 2"},
		{"carriage return in a multi-line error", "a\r\nb", `a\x0d\x0ab`, "a\\x0d\nb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sanitize(tt.in); got != tt.want {
				t.Errorf("sanitize(%q) = %q, want %q", tt.in, got, tt.want)
			}
			wantLines := tt.wantLines
			if wantLines == "" {
				wantLines = tt.want
			}
			if got := sanitizeLines(tt.in); got != wantLines {
				t.Errorf("sanitizeLines(%q) = %q, want %q", tt.in, got, wantLines)
			}
		})
	}
}

func TestPrintError(t *testing.T) {
	var b bytes.Buffer
	printError(&b, errors.New("spec: 2 problems:\n\tbad \x1b]0;title\x07 name\n\tother"))
	want := "error: spec: 2 problems:\n\tbad \\x1b]0;title\\x07 name\n\tother\n"
	if b.String() != want {
		t.Errorf("printError wrote %q, want %q", b.String(), want)
	}
}

// TestReportsEscape checks the verify report and the load summary, which
// print entry names, references and errors taken from a bundle.
func TestReportsEscape(t *testing.T) {
	const evil = "x\x1b]0;owned\x07\u202e\r"
	tests := []struct {
		name  string
		print func(s streams)
	}{
		{"verify report", func(s streams) {
			printReport(s, &bundle.Report{Checks: []*bundle.Check{{
				Name: "parts", Summary: "1 part" + evil, Count: 1,
				Problems: []*bundle.Problem{{Check: "parts", Entry: "mesh.000" + evil, Offset: -1, Err: errors.New("bad" + evil)}},
			}}})
		}},
		{"load summary", func(s streams) {
			printLoadSummary(s, "mesh"+evil, &mirror.LoadResult{Target: "reg" + evil, Verified: "signed" + evil,
				Artifacts: []mirror.LoadedArtifact{{Kind: "image" + evil, Reference: "reg/istio/pilot" + evil}}})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			tt.print(streams{out: &out, err: &out})
			if strings.ContainsAny(out.String(), "\x1b\x07\r\u202e") {
				t.Errorf("printed control characters raw:\n%q", out.String())
			}
			if !strings.Contains(out.String(), `x\x1b]0;owned\x07\u202e\x0d`) {
				t.Errorf("output lacks the escaped field:\n%s", out.String())
			}
		})
	}
}

// TestInspectEscapesBOM inspects a bundle whose BOM fields hold terminal
// escape sequences and bidi overrides: the table shows them escaped, and
// JSON keeps the exact values.
func TestInspectEscapesBOM(t *testing.T) {
	const (
		fakeOK = "\r\x1b[2Kok  verified OK, signed by you"
		title  = "\x1b]0;owned\x07"
	)
	bom := bundle.BOM{
		SchemaVersion: bundle.BOMSchemaVersion,
		Tool:          bundle.Tool{Name: "meshpack" + title, Version: "1.0\x1b[8m"},
		Created:       time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Set:           map[string]string{"istio": "1.30.3" + fakeOK},
		Platforms:     []string{"linux/amd64\u202e"},
		Unsigned:      "--allow-unsigned\u009b31m", // a raw 0x9b byte does not survive JSON
		Artifacts: []bundle.Artifact{{
			Kind: bundle.KindImage, Name: "pilot\u009b2J", Source: "docker.io/istio/pilot:1.30.3\x1b[A",
			Digest: "sha256:" + strings.Repeat("a", 64), Checks: []string{"cosign:x\x07"},
			Platforms: []bundle.Platform{{Platform: "linux/arm64\u2066"}},
		}},
	}
	path := writeBOMBundle(t, bom)
	out, errOut, code := runCLI(t, "", "bundle", "inspect", path)
	if code != 0 {
		t.Fatalf("bundle inspect: exit %d\n%s", code, errOut)
	}
	for _, bad := range []string{"\x1b", "\x07", "\r", "\u202e", "\u2066", "\u009b", "\x9b"} {
		if strings.Contains(out, bad) {
			t.Errorf("inspect printed %q raw:\n%q", bad, out)
		}
	}
	for _, want := range []string{`meshpack\x1b]0;owned\x07 1.0\x1b[8m`, `istio=1.30.3\x0d\x1b[2Kok  verified OK`, `linux/amd64\u202e`,
		`(--allow-unsigned\u009b31m)`, `pilot\u009b2J`, `pilot:1.30.3\x1b[A`, `linux/arm64\u2066`, `cosign:x\x07`} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	out, _, code = runCLI(t, "", "bundle", "inspect", "-o", "json", path)
	var res inspectResult
	if err := json.Unmarshal([]byte(out), &res); code != 0 || err != nil {
		t.Fatalf("inspect -o json: exit %d, %v", code, err)
	}
	if res.BOM.Set["istio"] != bom.Set["istio"] || res.BOM.Artifacts[0].Name != bom.Artifacts[0].Name {
		t.Errorf("inspect -o json changed the values: %q, %q", res.BOM.Set["istio"], res.BOM.Artifacts[0].Name)
	}
}

// writeBOMBundle writes a bundle holding only the layout and bom, unsigned.
func writeBOMBundle(t *testing.T, bom bundle.BOM) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "crafted.tar.zst")
	f, err := bundle.Create(path, bundle.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	b, err := json.Marshal(bom)
	if err != nil {
		t.Fatal(err)
	}
	w := f.Writer()
	for _, e := range []struct {
		name string
		data []byte
	}{
		{bundle.OCILayoutName, []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{bundle.IndexName, []byte(`{"schemaVersion":2,"manifests":[]}`)},
		{bundle.BOMName, b},
	} {
		if err := w.AddFile(e.name, e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	return path
}
