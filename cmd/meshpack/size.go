package main

import (
	"fmt"
	"strconv"
	"strings"
)

// parseSize reads "4GiB", "700MiB", "4G", "1.5GB" or plain bytes. Decimal
// units (KB, MB, GB, TB) are powers of 1000, binary ones (KiB…, K, M, G, T)
// powers of 1024 — the way dd and split read K/M/G.
func parseSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	i := strings.IndexFunc(in, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := in, ""
	if i >= 0 {
		num, unit = in[:i], strings.TrimSpace(in[i:])
	}
	mult := map[string]float64{
		"": 1, "B": 1,
		"K": 1 << 10, "KI": 1 << 10, "KIB": 1 << 10, "KB": 1e3,
		"M": 1 << 20, "MI": 1 << 20, "MIB": 1 << 20, "MB": 1e6,
		"G": 1 << 30, "GI": 1 << 30, "GIB": 1 << 30, "GB": 1e9,
		"T": 1 << 40, "TI": 1 << 40, "TIB": 1 << 40, "TB": 1e12,
	}[strings.ToUpper(unit)]
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || v <= 0 {
		return 0, fmt.Errorf("size %q: want a number with an optional unit, e.g. 4GiB or 700MiB", s)
	}
	return int64(v * mult), nil
}
