// Package sbomtest checks CycloneDX documents against the official
// CycloneDX 1.6 JSON schema (embedded, see schema/README.md), for tests
// anywhere in meshpack. It is imported only by tests: the JSON-schema
// validator never links into the binary.
package sbomtest

import (
	"bytes"
	"embed"
	"fmt"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schema/*.json
var schemas embed.FS

// schemaBase is where the schemas say they live ($id); their $refs resolve
// against it, so the embedded copies answer and nothing is fetched.
const schemaBase = "http://cyclonedx.org/schema/"

var (
	compileOnce sync.Once
	compiled    *jsonschema.Schema
	compileErr  error
)

// Schema returns the compiled bom-1.6 schema, with format assertions on.
func Schema() (*jsonschema.Schema, error) {
	compileOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		for _, name := range []string{"bom-1.6.schema.json", "spdx.schema.json", "jsf-0.82.schema.json"} {
			raw, err := schemas.ReadFile("schema/" + name)
			if err != nil {
				compileErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			if err != nil {
				compileErr = fmt.Errorf("schema %s: %w", name, err)
				return
			}
			if err := c.AddResource(schemaBase+name, doc); err != nil {
				compileErr = fmt.Errorf("schema %s: %w", name, err)
				return
			}
		}
		compiled, compileErr = c.Compile(schemaBase + "bom-1.6.schema.json")
	})
	return compiled, compileErr
}

// Validate checks doc, a CycloneDX JSON document, against the official
// CycloneDX 1.6 schema and returns every violation in one error.
func Validate(doc []byte) error {
	s, err := Schema()
	if err != nil {
		return fmt.Errorf("compile the CycloneDX schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("SBOM is not JSON: %w", err)
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("SBOM does not validate against CycloneDX bom-1.6.schema.json: %w", err)
	}
	return nil
}
