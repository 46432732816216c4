package sbom

import (
	"sort"
	"strings"
)

// purl builds a package URL (github.com/package-url/purl-spec):
// pkg:TYPE/NAME[@VERSION][?QUALIFIERS], qualifiers sorted by key and empty
// ones left out, as the spec's canonical form asks.
func purl(typ, name, version string, qualifiers map[string]string) string {
	var b strings.Builder
	b.WriteString("pkg:" + typ + "/" + escape(name, false))
	if version != "" {
		b.WriteString("@" + escape(version, false))
	}
	keys := make([]string, 0, len(qualifiers))
	for k, v := range qualifiers {
		if v != "" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for i, k := range keys {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + escape(qualifiers[k], true))
	}
	return b.String()
}

// escape percent-encodes s for a purl segment. Unreserved characters stay;
// in qualifier values ':' and '/' stay too, as the spec's examples write
// repository_url=docker.io/library/debian and download_url=https://….
func escape(s string, value bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case value && (c == ':' || c == '/'):
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
