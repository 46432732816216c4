//go:build linux

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/lattice-mesh/meshpack/bundle/bundletest"
)

// expect is the text a refusal must contain, case-insensitive: every group
// must match one of its alternatives.
type expect [][]string

// What each kind of refusal must name. Kept here, in one place, so that
// they are easy to adjust to the checks' final wording.
var (
	wantHeaderOffset = expect{{"header", "tar type"}, {"offset"}}
	wantTarType      = expect{{"tar type", "header"}, {"offset"}}
	wantIndexBOM     = expect{{"index.json"}, {"BOM"}}
	wantLockBOM      = expect{{"meshpack/lock.yaml"}, {"BOM"}}
	wantExtraBOM     = expect{{"meshpack/x"}, {"BOM"}}
	wantTrailer      = expect{{"trailer"}}
	wantTOC          = expect{{"TOC"}}
	// A seek table that passes the open checks but lies about a frame is
	// found when the frame decodes; --allow-rescan could not help there.
	wantSeekTable   = expect{{"seek table"}, {"offset"}}
	wantRescan      = expect{{"TOC", "seek table"}, {"--allow-rescan"}}
	wantDuplicate   = expect{{"index.json"}, {"offset"}}
	wantZeroBomb    = expect{{"expand", "max-blob-size"}}
	wantSums        = expect{{".sha256"}}
	wantRegularFile = expect{{"regular file"}}
	wantUnsigned    = expect{{"--allow-unsigned"}}
	wantAnything    = expect{}
)

// missing returns the first group none of whose alternatives is in s, or "".
func (e expect) missing(s string) string {
	s = strings.ToLower(s)
	for _, group := range e {
		found := false
		for _, alt := range group {
			if strings.Contains(s, strings.ToLower(alt)) {
				found = true
				break
			}
		}
		if !found {
			return strings.Join(group, " or ")
		}
	}
	return ""
}

// withName returns e plus a group requiring name.
func (e expect) withName(name string) expect { return append(append(expect{}, e...), []string{name}) }

// Exit expectations.
const (
	exitFail = iota // refused: non-zero exit
	exitOK          // accepted: exit 0
	exitAny         // bounded: either, within the limits
)

// hostileCase is one row of the suite: how the bundle is built from the
// real one, and the commands run on it.
type hostileCase struct {
	name string
	// build edits b (a clone of the real bundle), writes the case's files
	// under d.set and returns the BUNDLE argument.
	build func(t *testing.T, b *bundletest.Bundle, d caseDirs) string
	cmds  []hostileCmd
}

// hostileCmd is one meshpack run. In args, {bundle}, {pub} and {registry}
// stand for the bundle path, the real bundle's public key and a fresh
// embedded registry on 127.0.0.1 (with a /mesh prefix).
type hostileCmd struct {
	args     []string
	wantExit int
	want     expect
	timeout  time.Duration // 0: defaultTimeout
	maxCPU   time.Duration // 0: not checked
	noEscape bool          // stdout and stderr must not hold an ESC byte
}

func (c hostileCmd) label() string {
	if len(c.args) > 1 {
		return strings.Join(c.args[:2], " ")
	}
	return strings.Join(c.args, " ")
}

// Command lines the cases share.
var (
	verifyKey      = []string{"bundle", "verify", "{bundle}", "--key", "{pub}"}
	verifyUnsigned = []string{"bundle", "verify", "{bundle}", "--allow-unsigned"}
	verifyBare     = []string{"bundle", "verify", "{bundle}"}
	loadKey        = []string{"bundle", "load", "{bundle}", "--registry", "{registry}", "--plain-http", "--state-dir", "none", "--key", "{pub}"}
	loadUnsigned   = []string{"bundle", "load", "{bundle}", "--registry", "{registry}", "--plain-http", "--state-dir", "none", "--allow-unsigned"}
	loadBare       = []string{"bundle", "load", "{bundle}", "--registry", "{registry}", "--plain-http", "--state-dir", "none"}
	inspect        = []string{"bundle", "inspect", "{bundle}"}
)

// refused is verify --key and load --key, both refusing with want.
func refused(want expect) []hostileCmd {
	return []hostileCmd{
		{args: verifyKey, wantExit: exitFail, want: want},
		{args: loadKey, wantExit: exitFail, want: want},
	}
}

// with returns args followed by extra, in a new slice.
func with(args []string, extra ...string) []string {
	return append(append([]string(nil), args...), extra...)
}
