package main

import (
	"encoding/json"
	"io"

	"sigs.k8s.io/yaml"
)

// writeStructured renders v as json or yaml; ok is false for other formats.
func writeStructured(w io.Writer, format string, v any) (ok bool, err error) {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return true, enc.Encode(v)
	case "yaml":
		b, err := yaml.Marshal(v)
		if err != nil {
			return true, err
		}
		_, err = w.Write(b)
		return true, err
	}
	return false, nil
}

// checkOutput validates an --output value.
func checkOutput(format string, allowed ...string) error {
	for _, a := range allowed {
		if format == a {
			return nil
		}
	}
	return usagef("--output %q: want one of %v", format, allowed)
}
