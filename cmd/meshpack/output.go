package main

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/spf13/pflag"
	"sigs.k8s.io/yaml"
)

// Output formats of -o/--output. Every command that prints a result takes
// -o: text for people, or JSON or YAML for programs. Files a command writes
// are never named by -o (see README "CLI conventions").
const (
	formatText = "text"
	formatJSON = "json"
	formatYAML = "yaml"
)

// outputFlag registers -o/--output, the format of what the command prints.
func outputFlag(fs *pflag.FlagSet, p *string, def string, formats ...string) {
	fs.StringVarP(p, "output", "o", def, "output format: "+strings.Join(formats, "|"))
}

// checkOutput validates an --output value in place; "table", the older
// name of text, is read as text.
func checkOutput(format *string, allowed ...string) error {
	if *format == "table" && slices.Contains(allowed, formatText) {
		*format = formatText
	}
	if slices.Contains(allowed, *format) {
		return nil
	}
	return usagef("--output %q: want one of %s", *format, strings.Join(allowed, ", "))
}

// writeStructured renders v as JSON or YAML, the one place structured
// output is made: field names are the json tags, camelCase everywhere
// (YAML uses them too). ok is false for other formats (text).
func writeStructured(w io.Writer, format string, v any) (ok bool, err error) {
	switch format {
	case formatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return true, enc.Encode(v)
	case formatYAML:
		b, err := yaml.Marshal(v)
		if err != nil {
			return true, err
		}
		_, err = w.Write(b)
		return true, err
	}
	return false, nil
}

// sanitize makes a string that came from a bundle, a registry or an error
// safe to print on a terminal: C0 control characters (tab and newline
// included), DEL, C1 controls, bytes that are not UTF-8, Unicode
// bidirectional controls (U+061C, U+200E, U+200F, U+202A–U+202E,
// U+2066–U+2069) and line separators (U+2028, U+2029) become visible escapes
// such as \x1b or \u202e. A crafted BOM field can then neither move the
// cursor, retitle the terminal or fake a line of output, nor reorder what is
// shown. JSON output needs none of this: encoding/json escapes it.
func sanitize(s string) string { return escapeControls(s, false) }

// sanitizeLines is sanitize for multi-line messages (an error listing
// several problems): newlines and tabs are kept.
func sanitizeLines(s string) string { return escapeControls(s, true) }

func escapeControls(s string, lines bool) string {
	var b strings.Builder
	clean := 0 // s[clean:i] is yet to be copied
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		esc := ""
		switch {
		case r == utf8.RuneError && size == 1:
			esc = fmt.Sprintf(`\x%02x`, s[i])
		case lines && (r == '\n' || r == '\t'):
		case r < 0x20 || r == 0x7f:
			esc = fmt.Sprintf(`\x%02x`, r)
		case unsafeRune(r):
			esc = fmt.Sprintf(`\u%04x`, r)
		}
		if esc != "" {
			b.WriteString(s[clean:i])
			b.WriteString(esc)
			clean = i + size
		}
		i += size
	}
	if clean == 0 {
		return s
	}
	b.WriteString(s[clean:])
	return b.String()
}

// unsafeRune reports whether r is a C1 control, a bidirectional control or
// a line or paragraph separator.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f,
		r == 0x061c, r == 0x200e, r == 0x200f,
		r >= 0x202a && r <= 0x202e,
		r >= 0x2066 && r <= 0x2069,
		r == 0x2028, r == 0x2029:
		return true
	}
	return false
}
