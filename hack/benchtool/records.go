package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// record is one line of the results file hack/bench.sh writes: a kind,
// then tab-separated key=value fields, e.g.
//
//	create	size=1GiB	tool=crane	run=2	wall=13.04	rss_kb=61234	out=1103407135
type record struct {
	kind   string
	fields map[string]string
}

// get returns the field key, or "" when absent.
func (r record) get(key string) string { return r.fields[key] }

// num returns the field key as a number, or NaN when absent or malformed.
func (r record) num(key string) float64 {
	v, err := strconv.ParseFloat(r.fields[key], 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// parseRecords reads a results file. Blank lines and lines starting with #
// are skipped; a field without "=" is an error naming its line.
func parseRecords(r io.Reader) ([]record, error) {
	var out []record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" || strings.HasPrefix(text, "#") {
			continue
		}
		parts := strings.Split(text, "\t")
		rec := record{kind: parts[0], fields: map[string]string{}}
		for _, p := range parts[1:] {
			k, v, ok := strings.Cut(p, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("line %d: field %q: want key=value", line, p)
			}
			rec.fields[k] = v
		}
		out = append(out, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// results are the parsed records of one bench run.
type results []record

// find returns the records of kind whose fields match the key, value pairs.
func (rs results) find(kind string, match ...string) results {
	var out results
	for _, r := range rs {
		if r.kind != kind {
			continue
		}
		ok := true
		for i := 0; i+1 < len(match); i += 2 {
			if r.get(match[i]) != match[i+1] {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, r)
		}
	}
	return out
}

// first returns the first record, or an empty one.
func (rs results) first() record {
	if len(rs) == 0 {
		return record{fields: map[string]string{}}
	}
	return rs[0]
}

// nums returns the field key of every record that has it as a number.
func (rs results) nums(key string) []float64 {
	var out []float64
	for _, r := range rs {
		if v := r.num(key); !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

// values returns the distinct values of field key, in order of appearance.
func (rs results) values(key string) []string {
	var out []string
	for _, r := range rs {
		if v := r.get(key); v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// median returns the median of xs, or NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// maxOf returns the largest of xs, or NaN for none.
func maxOf(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return slices.Max(xs)
}
