package bundletest

import (
	"bytes"
	"encoding/json"
)

// IndexJSON returns an OCI image index (index.json) whose manifest list is
// first, then n copies of repeat: each a descriptor as JSON. It is how the
// wide and amplifying indexes of hostile bundles are written, without
// holding n decoded descriptors.
func IndexJSON(first []json.RawMessage, repeat json.RawMessage, n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`)
	sep := ""
	for _, d := range first {
		b.WriteString(sep)
		b.Write(d)
		sep = ","
	}
	for range n {
		b.WriteString(sep)
		b.Write(repeat)
		sep = ","
	}
	b.WriteString("]}")
	return b.Bytes()
}
