package main

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRecords(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []record
		wantErr bool
	}{
		{
			name: "fields",
			in:   "# comment\n\ncreate\tsize=1GiB\ttool=crane\twall=3.5\n",
			want: []record{{kind: "create", fields: map[string]string{"size": "1GiB", "tool": "crane", "wall": "3.5"}}},
		},
		{
			name: "value with spaces and equals",
			in:   "cmd\tname=dd\ttext=dd if=/dev/zero bs=4M\n",
			want: []record{{kind: "cmd", fields: map[string]string{"name": "dd", "text": "dd if=/dev/zero bs=4M"}}},
		},
		{name: "field without equals", in: "create\twall\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRecords(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(record{})); diff != "" {
				t.Errorf("records (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want float64
	}{
		{"odd", []float64{3, 1, 2}, 2},
		{"even", []float64{4, 1, 3, 2}, 2.5},
		{"one", []float64{7}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := median(tt.in); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		if got := median(nil); !math.IsNaN(got) {
			t.Errorf("got %v, want NaN", got)
		}
	})
}

// TestRenderTargets checks the verdicts the report derives from records.
func TestRenderTargets(t *testing.T) {
	base := `meta	runs=1	compare_size=1GiB	sizes=1GiB
workload	size=1GiB	images=2
blobs	size=1GiB	source=meshpack	count=10	bytes=1000
dd	size=1GiB	run=1	bytes=1001	wall=2.0
verify	size=1GiB	run=1	wall=1	rss_kb=40000
create	size=1GiB	tool=crane	run=1	wall=9	rss_kb=50000	out=990
`
	tests := []struct {
		name     string
		meshpack string
		want     []string
	}{
		{
			name:     "all met",
			meshpack: "create\tsize=1GiB\ttool=meshpack\trun=1\twall=2.1\trss_kb=90000\tout=1001\n",
			want: []string{
				"| create faster than every tool + `tar --zstd` (1GiB) | meshpack 2.10 s; fastest other: crane 9.00 s (4.29× meshpack's time) | **met** |",
				"| create within 1.1× of the disk-write time (1GiB) | meshpack 2.10 s vs dd 2.00 s: 1.05× | **met** |",
				"= 1.00100× | **met** |",
				"| `bundle create` peak RSS ≤ 128 MiB at every size | 87.9 MiB at 1GiB | **met** |",
			},
		},
		{
			name:     "slow, big and fat",
			meshpack: "create\tsize=1GiB\ttool=meshpack\trun=1\twall=10\trss_kb=200000\tout=1100\n",
			want: []string{
				"fastest other: crane 9.00 s (0.90× meshpack's time) | **MISSED** |",
				"meshpack 10.00 s vs dd 2.00 s: 5.00× | **MISSED** |",
				"= 1.10000× | **MISSED** |",
				"| `bundle create` peak RSS ≤ 128 MiB at every size | 195.3 MiB at 1GiB | **MISSED** |",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := parseRecords(strings.NewReader(base + tt.meshpack))
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			render(&buf, results(recs))
			for _, w := range tt.want {
				if !strings.Contains(buf.String(), w) {
					t.Errorf("got report without %q:\n%s", w, buf.String())
				}
			}
		})
	}
}
