package main

import (
	"fmt"
	"strings"
)

// legacyPath reports whether an -o value is clearly a file path, the way
// resolve and bundle create named their output file before -o became the
// output format: it contains "/" or ends in .yaml, .yml or .tar.zst.
func legacyPath(v string) bool {
	return strings.Contains(v, "/") || strings.HasSuffix(v, ".yaml") || strings.HasSuffix(v, ".yml") || strings.HasSuffix(v, ".tar.zst")
}

// outputFile settles the file a command writes: the positional argument
// file or, for one release, a legacy "-o PATH" (with a deprecation
// warning; format then falls back to def). use is the command line that
// shows where the file goes now.
func outputFile(s streams, use, file string, format *string, def string) (string, error) {
	if !legacyPath(*format) {
		return file, nil
	}
	path := *format
	if file != "" {
		return "", usagef("-o %s and the argument %s both name the output file; give it once, as the argument (-o is the output format: %s|%s|%s)", path, file, formatText, formatJSON, formatYAML)
	}
	fmt.Fprintf(s.err, "WARNING: -o FILE is deprecated and will be removed: -o is the output format on every command; name the file as the argument: %s %s …\n", use, path)
	*format = def
	return path, nil
}
