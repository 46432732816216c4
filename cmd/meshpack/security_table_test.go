package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = "../.."

var (
	tableTestName = regexp.MustCompile("`((?:Test|Fuzz)[A-Za-z0-9_]+(?:/[^`]+)?)`")
	funcDecl      = regexp.MustCompile(`(?m)^func ((?:Test|Fuzz)[A-Za-z0-9_]+)\(`)
	stringLit     = regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"`)
)

// securityTableTests returns the tests SECURITY.md's case table names
// (TestX, TestX/subtest or FuzzX, as `go test -run` spells them), and
// fails for a row that names none.
func securityTableTests(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "SECURITY.md"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	inTable := false
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "| Case |"):
			inTable = true
		case !strings.HasPrefix(line, "|"):
			inTable = false
		case inTable && !strings.HasPrefix(line, "|---"):
			cells := strings.Split(strings.Trim(line, "|"), "|")
			found := tableTestName.FindAllStringSubmatch(cells[len(cells)-1], -1)
			if len(found) == 0 {
				t.Errorf("SECURITY.md row names no test: %s", line)
			}
			for _, m := range found {
				names = append(names, m[1])
			}
		}
	}
	return names
}

// testSources collects, from every _test.go file of the repository, the
// Test and Fuzz functions it declares and its string literals as t.Run
// turns them into subtest names (spaces become underscores).
func testSources(t *testing.T) (funcs, subtests map[string]bool) {
	t.Helper()
	funcs, subtests = map[string]bool{}, map[string]bool{}
	err := filepath.WalkDir(repoRoot, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata"):
			return filepath.SkipDir
		case d.IsDir() || !strings.HasSuffix(p, "_test.go"):
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range funcDecl.FindAllStringSubmatch(string(src), -1) {
			funcs[m[1]] = true
		}
		for _, lit := range stringLit.FindAllString(string(src), -1) {
			subtests[strings.ReplaceAll(strings.Trim(lit, `"`), " ", "_")] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return funcs, subtests
}

// TestSecurityTableNamesRealTests checks that every test SECURITY.md's
// table names exists: the function in some _test.go file and, for a
// subtest, a string literal that t.Run names it by.
func TestSecurityTableNamesRealTests(t *testing.T) {
	names := securityTableTests(t)
	if len(names) < 20 {
		t.Fatalf("SECURITY.md's table names %d tests, want every hostile case", len(names))
	}
	funcs, subtests := testSources(t)
	for _, name := range names {
		fn, sub, _ := strings.Cut(name, "/")
		switch {
		case !funcs[fn]:
			t.Errorf("SECURITY.md names %s, but no _test.go file declares func %s", name, fn)
		case sub != "" && !subtests[sub]:
			t.Errorf("SECURITY.md names %s, but no _test.go file has a subtest called %q", name, strings.ReplaceAll(sub, "_", " "))
		}
	}
}
