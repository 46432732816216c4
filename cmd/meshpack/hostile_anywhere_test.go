//go:build linux

package main

import (
	"path"
	"slices"
	"strconv"
	"testing"

	"github.com/lattice-mesh/meshpack/bundle"
	"github.com/lattice-mesh/meshpack/bundle/bundletest"
)

// hidingPlace is an offset of the real bundle's tar stream where an entry
// can hide, named for the entry that follows it.
type hidingPlace struct {
	name string
	off  int64
}

// hidingPlaces are the boundaries before every metadata entry and
// directory, before the first, a middle and the last blob, and before the
// trailer.
func hidingPlaces(b *bundletest.Bundle) []hidingPlace {
	var places, blobs []hidingPlace
	for _, e := range b.TOC.Entries {
		p := hidingPlace{"before " + e.Name, e.Header}
		if path.Dir(e.Name) == "blobs/sha256" && !e.Dir {
			p.name = "before blob " + path.Base(e.Name)[:12]
			blobs = append(blobs, p)
			continue
		}
		places = append(places, p)
	}
	if n := len(blobs); n > 0 {
		places = append(places, blobs[0], blobs[n/2], blobs[n-1])
	}
	return append(places, hidingPlace{"before the trailer", b.End()})
}

// TestHostileHiddenEntryAnywhere hides one extra index.json at each kind of
// entry boundary of the real signed bundle, with a TOC that stays
// consistent (the following entry claims the bytes as header blocks), and
// checks that verify --key refuses every one, naming the offset where it
// hides.
func TestHostileHiddenEntryAnywhere(t *testing.T) {
	_, real := realBundle(t)
	pub := env(t).pub()
	hidden := bundletest.TarFile(bundle.IndexName, []byte(`{"schemaVersion":2,"manifests":[]}`))
	places := hidingPlaces(real)
	if !slices.ContainsFunc(places, func(p hidingPlace) bool { return p.off > 0 && p.off < real.End() }) {
		t.Fatal("the real bundle has no entry boundaries to hide at")
	}
	for _, at := range places {
		t.Run(at.name, func(t *testing.T) {
			d := newCaseDirs(t)
			b := real.Clone()
			must(t, b.Insert(at.off, hidden, bundletest.TOCHide))
			bundlePath := writeBundle(t, b, d, bundletest.EncodeOptions{})
			before := d.outsideListing(t)
			c := hostileCmd{args: verifyKey, wantExit: exitFail,
				want: expect{{"header", "tar type", "trailer"}, {"offset " + strconv.FormatInt(at.off, 10)}}}
			checkRun(t, c, runMeshpack(t, d.work, d.work, defaultTimeout, expandArgs(c.args, bundlePath, pub, "")...))
			d.checkOutside(t, before)
		})
	}
}
