package manifests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
)

// maxDocumentBytes caps what LoadSpec, LoadLock and LoadCatalog read.
const maxDocumentBytes = 4 << 20

// maxNodes caps the YAML nodes one document decodes to, counting every use of
// an alias, so that an alias bomb fails fast instead of expanding.
const maxNodes = 1 << 20

// decodeStrict reads one YAML document from r into out (a pointer to a struct
// with json tags). It rejects unknown fields, duplicate fields and values of
// the wrong kind, reporting every problem with its field path and line. A
// scalar read into a string keeps its text, so `version: 1.30` is "1.30".
func decodeStrict(r io.Reader, subject string, out any) error {
	data, err := io.ReadAll(io.LimitReader(r, maxDocumentBytes+1))
	if err != nil {
		return fmt.Errorf("%s: read: %w", subject, err)
	}
	if len(data) > maxDocumentBytes {
		return fmt.Errorf("%s: larger than %d bytes; is this the right file?", subject, maxDocumentBytes)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return &ValidationError{Subject: subject, Problems: []*FieldError{{Msg: "empty document"}}}
		}
		return &ValidationError{Subject: subject, Problems: []*FieldError{{Msg: "not valid YAML: " + err.Error()}}}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil && !isEmptyDocument(&extra) {
		return &ValidationError{Subject: subject, Problems: []*FieldError{{Line: extra.Line, Msg: "more than one YAML document; put one " + subject + " per file"}}}
	}
	d := &nodeDecoder{}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	d.decode(root, reflect.ValueOf(out).Elem(), "")
	return d.p.err(subject)
}

func isEmptyDocument(n *yaml.Node) bool {
	return n.Kind == yaml.DocumentNode && (len(n.Content) == 0 || n.Content[0].Tag == "!!null")
}

type nodeDecoder struct {
	p     problems
	nodes int
}

func (d *nodeDecoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.nodes++; d.nodes > maxNodes {
		if d.nodes == maxNodes+1 {
			d.p.add(path, n.Line, "document expands to more than %d values (aliases?); refusing to decode it", maxNodes)
		}
		return
	}
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if !d.want(n, yaml.SequenceNode, path, "a list") {
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decode(item, s.Index(i), indexPath(path, i))
		}
		v.Set(s)
	case reflect.Map:
		d.decodeMap(n, v, path)
	case reflect.String:
		if d.want(n, yaml.ScalarNode, path, "a string") {
			v.SetString(n.Value)
		}
	case reflect.Bool:
		if !d.want(n, yaml.ScalarNode, path, "true or false") {
			return
		}
		b, err := strconv.ParseBool(n.Value)
		if n.Tag != "!!bool" || err != nil {
			d.p.add(path, n.Line, "want true or false, got %q", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int32, reflect.Int64:
		if !d.want(n, yaml.ScalarNode, path, "an integer") {
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if n.Tag != "!!int" || err != nil {
			d.p.add(path, n.Line, "want an integer, got %q", n.Value)
			return
		}
		v.SetInt(i)
	default:
		d.p.add(path, n.Line, "cannot decode into %s", v.Type())
	}
}

func (d *nodeDecoder) want(n *yaml.Node, kind yaml.Kind, path, what string) bool {
	if n.Kind == kind {
		return true
	}
	d.p.add(path, n.Line, "want %s, got %s", what, kindName(n))
	return false
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func (d *nodeDecoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if !d.want(n, yaml.MappingNode, path, "a mapping") {
		return
	}
	fields := jsonFields(v.Type())
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fp := joinPath(path, k.Value)
		if seen[k.Value] {
			d.p.add(fp, k.Line, "duplicate field")
			continue
		}
		seen[k.Value] = true
		idx, ok := fields[k.Value]
		if !ok {
			d.p.add(fp, k.Line, "unknown field")
			continue
		}
		d.decode(val, v.Field(idx), fp)
	}
}

func (d *nodeDecoder) decodeMap(n *yaml.Node, v reflect.Value, path string) {
	if !d.want(n, yaml.MappingNode, path, "a mapping") {
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.p.add(path, n.Line, "cannot decode into %s", v.Type())
		return
	}
	m := reflect.MakeMap(v.Type())
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		fp := joinPath(path, k.Value)
		key := reflect.ValueOf(k.Value).Convert(v.Type().Key())
		if m.MapIndex(key).IsValid() {
			d.p.add(fp, k.Line, "duplicate key")
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.decode(val, elem, fp)
		m.SetMapIndex(key, elem)
	}
	v.Set(m)
}

// jsonFields maps the json names of a struct's exported fields to their index.
func jsonFields(t reflect.Type) map[string]int {
	out := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _ := jsonTag(f)
		if name == "-" {
			continue
		}
		out[name] = i
	}
	return out
}

func jsonTag(f reflect.StructField) (name string, omitempty bool) {
	tag := f.Tag.Get("json")
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, strings.Contains(","+opts+",", ",omitempty,")
}

// encodeYAML renders v (a struct with json tags) as YAML with fields in
// declaration order, omitting omitempty fields that are zero. Map keys are
// sorted, so the output is deterministic.
func encodeYAML(v any) ([]byte, error) {
	n := encodeNode(reflect.ValueOf(v))
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func encodeNode(v reflect.Value) *yaml.Node {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
		}
		return encodeNode(v.Elem())
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			name, omit := jsonTag(f)
			if !f.IsExported() || name == "-" {
				continue
			}
			fv := v.Field(i)
			if omit && isEmptyValue(fv) {
				continue
			}
			n.Content = append(n.Content, strNode(name), encodeNode(fv))
		}
		return n
	case reflect.Slice, reflect.Array:
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
		if v.Len() == 0 {
			n.Style = yaml.FlowStyle
		}
		for i := range v.Len() {
			n.Content = append(n.Content, encodeNode(v.Index(i)))
		}
		return n
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			n.Content = append(n.Content, strNode(k.String()), encodeNode(v.MapIndex(k)))
		}
		return n
	case reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v.Bool())}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v.Int(), 10)}
	default:
		return strNode(v.String())
	}
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	}
	return v.IsZero()
}
