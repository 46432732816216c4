package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"oras.land/oras-go/v2/registry/remote/auth"

	"github.com/lattice-mesh/meshpack/mirror/registry"
	"github.com/lattice-mesh/meshpack/mirror/registry/registrytest"
)

// TestLogFlagsUsage checks that a bad --log-format or --log-file is a
// usage error before the command does anything.
func TestLogFlagsUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"unknown format", []string{"versions", "--log-format", "xml"}, `--log-format "xml": want one of text, json`},
		{"missing directory", []string{"versions", "--log-file", "/nonexistent/dir/audit.log"}, "--log-file /nonexistent/dir/audit.log: directory /nonexistent/dir does not exist"},
		{"file is a directory", []string{"versions", "--log-file", dir}, "--log-file " + dir + ": is a directory"},
		{"parent is a file", []string{"versions", "--log-file", filepath.Join(writeTemp(t, dir, "f"), "audit.log")}, "does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := runCLI(t, "", tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.wantErr) || out != "" {
				t.Errorf("meshpack %s: exit %d, stdout %q, stderr %q; want exit 2, no output and %q", strings.Join(tt.args, " "), code, out, errOut, tt.wantErr)
			}
		})
	}
}

// writeTemp writes an empty file dir/name and returns its path.
func writeTemp(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// auditLine is one line of a JSON --log-file, as far as the tests read it.
type auditLine struct {
	Level    string   `json:"level"`
	Msg      string   `json:"msg"`
	Command  string   `json:"command"`
	Args     []string `json:"args"`
	Flags    []string `json:"flags"`
	Outcome  string   `json:"outcome"`
	ExitCode int      `json:"exitCode"`
	Duration string   `json:"duration"`
	Error    string   `json:"error"`
}

// readAuditJSON parses a JSON --log-file, keeping the audit lines.
func readAuditJSON(t *testing.T, path string) []auditLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []auditLine
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l auditLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: not a JSON log line: %v\n%s", path, err, sc.Text())
		}
		if strings.HasPrefix(l.Msg, "command ") {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestLogFileAudit runs commands with --log-file: the file is created 0600
// and appended to, every run leaves a start and an end line, -q does not
// silence it, and stderr is what it is without --log-file.
func TestLogFileAudit(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		code    int
		outcome string
		errText string
	}{
		{"ok", []string{"versions", "-o", "json"}, 0, "ok", ""},
		{"ok, quiet", []string{"versions", "-q"}, 0, "ok", ""},
		{"failure", []string{"resolve", "--istio", "1.19"}, 1, "error", "known minors"},
		{"usage error in the command", []string{"resolve"}, 2, "usage error", "say what to carry"},
	}
	path := filepath.Join(t.TempDir(), "audit.log")
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantOut, wantErr, _ := runCLI(t, "", tt.args...)
			args := append(append([]string{}, tt.args...), "--log-format", "json", "--log-file", path)
			out, errOut, code := runCLI(t, "", args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, errOut)
			}
			if out != wantOut || errOut != wantErr {
				t.Errorf("--log-file changed stdout or stderr:\nstderr %q\nwithout %q", errOut, wantErr)
			}
			lines := readAuditJSON(t, path)
			if len(lines) != 2*(i+1) {
				t.Fatalf("%d audit lines after %d runs, want %d (appended)", len(lines), i+1, 2*(i+1))
			}
			start, end := lines[2*i], lines[2*i+1]
			wantCmd := "meshpack " + tt.args[0]
			if start.Msg != "command started" || start.Command != wantCmd || !contains(start.Flags, "--log-file="+path) {
				t.Errorf("start line %+v, want command %q and its flags", start, wantCmd)
			}
			if end.Msg != "command finished" || end.Command != wantCmd || end.Outcome != tt.outcome || end.ExitCode != tt.code ||
				end.Duration == "" || !strings.Contains(end.Error, tt.errText) {
				t.Errorf("end line %+v, want outcome %q, exit %d, error %q", end, tt.outcome, tt.code, tt.errText)
			}
		})
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("--log-file mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestLogFormatText checks the default format of --log-file: slog text.
func TestLogFormatText(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	if _, errOut, code := runCLI(t, "", "versions", "--log-file", path); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`level=INFO msg="command started" command="meshpack versions"`, `msg="command finished" command="meshpack versions" outcome=ok exitCode=0`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("log file lacks %q:\n%s", want, data)
		}
	}
}

// TestLogRedact checks what the start line records of flag values.
func TestLogRedact(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	fs.String("password", "", "")
	fs.String("registry-token", "", "")
	fs.Bool("password-stdin", false, "")
	fs.StringArray("mirror", nil, "")
	fs.String("registry", "", "")
	tests := []struct {
		name, flag, value, want string
	}{
		{"password flag", "password", "hunter2", redacted},
		{"token flag", "registry-token", "abc.def", redacted},
		{"bool named password", "password-stdin", "true", "true"},
		{"URL with a password", "mirror", "docker.io=https://bob:hunter2@nexus.example.com/docker", "docker.io=https://bob:" + redacted + "@nexus.example.com/docker"},
		{"URL with a user only", "mirror", "docker.io=https://bob@nexus.example.com", "docker.io=https://bob@nexus.example.com"},
		{"plain value", "registry", "registry.enclave:5000/mesh", "registry.enclave:5000/mesh"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactFlagValue(fs.Lookup(tt.flag), tt.value); got != tt.want {
				t.Errorf("redactFlagValue(--%s, %q) = %q, want %q", tt.flag, tt.value, got, tt.want)
			}
		})
	}
	if err := fs.Parse([]string{"--mirror", "a=b", "--mirror", "c=http://u:p@d", "--password", "x"}); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(auditFlags(fs), " ")
	if want := "--mirror=a=b --mirror=c=http://u:" + redacted + "@d --password=" + redacted; got != want {
		t.Errorf("auditFlags = %q, want %q", got, want)
	}
}

// TestLogFileNoPassword runs `bundle load -u USER --password-stdin
// --log-file` as its own process against a registry with basic auth, with
// the right and a wrong password: the log file records the command and its
// outcome and never the password.
func TestLogFileNoPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test (-short)")
	}
	const (
		password = "Log-pw-5f3a9d21c7"
		wrong    = "Log-wrong-8b1e6f04a2"
	)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "no-docker-config.json"), []byte(`{"auths":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	htpasswd := registrytest.Htpasswd(t, "admin", password)
	src := registrytest.NewWithConfig(t, registry.Config{Root: t.TempDir(), Htpasswd: htpasswd})
	dst := registrytest.NewWithConfig(t, registry.Config{Root: t.TempDir(), Htpasswd: htpasswd})
	basic := auth.Credential{Username: "admin", Password: password}
	_, bundlePath := authLockAndBundle(ctx, t, dir, "apps", basic, pushAuthImages(ctx, t, src, basic)...)
	for _, tt := range []struct {
		name, stdin, format, repo, outcome string
		code                               int
	}{
		{"right password, json", password + "\n", "json", "mesh/json", `"outcome":"ok"`, 0},
		{"right password, text", password + "\n", "text", "mesh/text", "outcome=ok", 0},
		{"wrong password, json", wrong + "\n", "json", "mesh/wrong", `"outcome":"error"`, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			logFile := filepath.Join(t.TempDir(), "audit.log")
			args := []string{"bundle", "load", bundlePath, "--registry", dst + "/" + tt.repo,
				"-v", "-u", "admin", "--password-stdin", "--plain-http", "--allow-unsigned", "--state-dir", t.TempDir(),
				"--log-format", tt.format, "--log-file", logFile}
			_, stderr, code := runPiped(t, tt.stdin, args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstderr:\n%s", code, tt.code, lastLinesOf(stderr, 6))
			}
			data, err := os.ReadFile(logFile)
			if err != nil {
				t.Fatalf("%v\nstderr:\n%s", err, lastLinesOf(stderr, 6))
			}
			requireNoPassword(t, map[string]string{"log file": string(data), "stderr": stderr}, password, wrong)
			for _, want := range []string{"command started", "--username=admin", "--password-stdin=true", "command finished", tt.outcome} {
				if !strings.Contains(string(data), want) {
					t.Errorf("log file lacks %q:\n%s", want, lastLinesOf(string(data), 6))
				}
			}
		})
	}
}
