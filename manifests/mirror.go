package manifests

import (
	"fmt"
	"sort"
	"strings"
)

// ParseMirror parses the CLI form "ORIGIN=REPLACEMENT".
func ParseMirror(s string) (Mirror, error) {
	origin, repl, ok := strings.Cut(s, "=")
	origin, repl = strings.TrimSpace(origin), strings.TrimSpace(repl)
	if !ok || origin == "" || repl == "" {
		return Mirror{}, fmt.Errorf("mirror %q: want ORIGIN=REPLACEMENT, e.g. docker.io=nexus.example.com/dockerhub", s)
	}
	return Mirror{Origin: strings.TrimRight(origin, "/"), Replacement: strings.TrimRight(repl, "/")}, nil
}

// Mirrors is an ordered set of redirections; the longest matching origin wins.
type Mirrors []Mirror

// Rewrite returns s with the longest matching origin replaced, and whether any
// origin matched. An origin matches when s equals it or continues with "/",
// ":" (a tag) or "@" (a digest) right after it, so "docker.io" matches
// "docker.io/istio/pilot:1.30.3" but not "docker.io.example.com/x".
func (ms Mirrors) Rewrite(s string) (string, bool) {
	best := -1
	for i, m := range ms {
		if matchesPrefix(s, m.Origin) && (best < 0 || len(m.Origin) > len(ms[best].Origin)) {
			best = i
		}
	}
	if best < 0 {
		return s, false
	}
	return ms[best].Replacement + s[len(ms[best].Origin):], true
}

func matchesPrefix(s, origin string) bool {
	if origin == "" || !strings.HasPrefix(s, origin) {
		return false
	}
	if len(s) == len(origin) {
		return true
	}
	switch s[len(origin)] {
	case '/', ':', '@', '?':
		return true
	}
	return strings.HasSuffix(origin, "/")
}

// Strings renders the mirrors in the CLI form, sorted, for logs and docs.
func (ms Mirrors) Strings() []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.Origin+"="+m.Replacement)
	}
	sort.Strings(out)
	return out
}
