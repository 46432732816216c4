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

// TestRenderLoadTargets checks the issue-5 verdicts the report derives
// from load, interrupt and writes records.
func TestRenderLoadTargets(t *testing.T) {
	base := `meta	runs=1	compare_size=1GiB	sizes=1GiB	sections=load	raw_conc=4
workload	size=1GiB	images=2
loadset	size=1GiB	bundle=1100	upload=1000	blobs=10	images=2
load	size=1GiB	tool=oras	run=1	wall=10	rss_kb=20000	extra=1100	written=1100
load	size=1GiB	tool=raw	run=1	wall=4	rss_kb=30000
writes	size=1GiB	files=1	paths=$LW/cache/j.journal
interrupt	size=1GiB	mode=none	run=1	upload=1000	killed=1	settled=500	pushed2=700
`
	tests := []struct {
		name string
		recs string
		want []string
	}{
		{
			name: "all met",
			recs: "load\tsize=1GiB\ttool=meshpack\trun=1\twall=4.4\trss_kb=80000\textra=4096\twritten=8192\n" +
				"interrupt\tsize=1GiB\tmode=auto\trun=1\tupload=1000\tkilled=1\tsettled=500\tpushed2=530\n",
			want: []string{
				"| load at least 1.25× faster than unpack + `oras copy --from-oci-layout` (1GiB) | meshpack 4.40 s; unpack + oras 10.00 s: 2.27× faster | **met** |",
				"raw POST + PUT, 4 at a time, 4.00 s: 1.10× | **met** |",
				"| `bundle load` peak RSS ≤ 128 MiB at every size | 78.1 MiB at 1GiB | **met** |",
				"files opened for writing (strace): `$LW/cache/j.journal` | **met** |",
				"median 3.00% (max 3.00%) of 1000 B | **met** |",
				"| (comparison, no target) the same with `--state-dir none` | median 20.00% (max 20.00%) | — |",
			},
		},
		{
			name: "slow, fat, copying, resending",
			recs: "load\tsize=1GiB\ttool=meshpack\trun=1\twall=9\trss_kb=200000\textra=1100\twritten=1100000000\n" +
				"interrupt\tsize=1GiB\tmode=auto\trun=1\tupload=1000\tkilled=1\tsettled=500\tpushed2=650\n",
			want: []string{
				"unpack + oras 10.00 s: 1.11× faster | **MISSED** |",
				"4.00 s: 2.25× | **MISSED** |",
				"195.3 MiB at 1GiB | **MISSED** |",
				"the load's processes wrote at most 1100000000 (1.024 GiB) to storage",
				"median 15.00% (max 15.00%) of 1000 B | **MISSED** |",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			recs, err := parseRecords(strings.NewReader(base + tt.recs))
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
			if strings.Contains(buf.String(), "## Targets (issue 3)") {
				t.Errorf("got the create targets without create records")
			}
		})
	}
}

func TestWriteOpen(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		want   string
		wantOK bool
	}{
		{"write", `12  openat(AT_FDCWD, "/x/j.journal", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0600) = 7`, "/x/j.journal", true},
		{"append", `12  openat(AT_FDCWD, "/x/j.journal", O_WRONLY|O_APPEND|O_CLOEXEC) = 8`, "/x/j.journal", true},
		{"read only", `12  openat(AT_FDCWD, "/x/b.tar.zst", O_RDONLY|O_CLOEXEC) = 3`, "", false},
		{"failed", `12  openat(AT_FDCWD, "/x/y", O_RDWR|O_CREAT, 0600) = -1 EACCES (Permission denied)`, "", false},
		{"creat", `12  creat("/x/z", 0644) = 4`, "/x/z", true},
		{"other call", `12  +++ exited with 0 +++`, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := writeOpen(tt.line)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %q, %v, want %q, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
