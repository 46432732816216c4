package main

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestPlatformFlagEmptyElements checks that --platform with empty elements
// is a usage error rather than "all platforms".
func TestPlatformFlagEmptyElements(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		wantErr string // "" means accepted
	}{
		{"two platforms", "linux/amd64,linux/arm64", ""},
		{"only commas", ",,", `--platform ",,": element 1 is empty`},
		{"trailing comma", "linux/amd64,", `--platform "linux/amd64,": element 2 is empty`},
		{"blank element", "linux/amd64, ,linux/arm64", "element 2 is empty"},
		{"empty value", "", "--platform: empty list"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sf specFlags
			cmd := &cobra.Command{Use: "x"}
			sf.register(cmd.Flags())
			if err := cmd.Flags().Parse([]string{"--istio", "1.30", "--platform=" + tt.value}); err != nil {
				t.Fatal(err)
			}
			s, err := sf.spec(cmd, nil)
			if tt.wantErr == "" {
				if err != nil || len(s.Platforms) != 2 {
					t.Errorf("spec = %v, %v; want two platforms", s.Platforms, err)
				}
				return
			}
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("spec = %v, %v; want a usage error containing %q", s.Platforms, err, tt.wantErr)
			}
		})
	}
}
