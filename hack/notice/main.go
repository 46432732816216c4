// Command notice writes NOTICE, the third-party license listing for the
// meshpack binary, from the module graph.
//
// It lists every module linked into ./cmd/meshpack (for each release
// platform), finds each module's license file in the module cache, classifies
// it with a small, conservative text matcher and writes NOTICE at the
// repository root. With -check it regenerates NOTICE in memory and exits 1
// with a summary of the differences when the file on disk is stale.
//
//	go run ./hack/notice          # rewrite NOTICE
//	go run ./hack/notice -check   # fail if NOTICE is stale
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// platforms are the GOOS/GOARCH pairs whose linked modules NOTICE covers;
// their union is listed, so a module used on one platform only is included.
var platforms = []string{"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64"}

// licenseNames are the file names, compared case-insensitively, that hold a
// module's license. A module that has none of them but files named
// LICENSE.<x>, LICENSE-<x>, COPYING.<x> or LICENCE.<x> (one per license of a
// multi-license module) has all of those listed instead.
var licenseNames = []string{"LICENSE", "LICENSE.txt", "LICENSE.md", "COPYING", "LICENCE", "UNLICENSE"}

// licensePrefixes are the name prefixes, upper-cased, of the license files of
// a module with one file per license.
var licensePrefixes = []string{"LICENSE.", "LICENSE-", "COPYING.", "LICENCE."}

// overrides are license ids decided by hand for modules the matcher cannot
// classify, each checked against the module's own statement.
var overrides = map[string]string{
	// COPYING.md: "SPDX-License-Identifier: BSD-3-Clause AND MPL-2.0";
	// LICENSE.BSD and LICENSE.MPL-2.0 hold the two texts.
	"github.com/cyphar/filepath-securejoin": "BSD-3-Clause AND MPL-2.0",
}

// noticeNames are the file names, compared case-insensitively, of an
// Apache-2.0 NOTICE file that section 4(d) requires to be passed on.
var noticeNames = []string{"NOTICE", "NOTICE.txt", "NOTICE.md"}

// unknownLicense is the id of a license the matcher does not recognise.
const unknownLicense = "see license file"

// file is one file of a module: base name and contents.
type file struct {
	Name string
	Text []byte
}

// module is one third-party module linked into the binary.
type module struct {
	Path, Version, Dir string
	License            string // SPDX id or unknownLicense
	LicenseFiles       []file // the license files, in the order listed
	NoticeFile         string // base name of the module's NOTICE file, if any
	NoticeText         []byte
}

// main parses -check and runs the generator, exiting 1 on any error.
func main() {
	check := flag.Bool("check", false, "regenerate NOTICE in memory and exit 1 if the file on disk differs")
	flag.Parse()
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, "notice:", err)
		os.Exit(1)
	}
}

// run writes NOTICE at the module root or, if check, compares it with the
// regenerated text.
func run(check bool) error {
	root, err := goOutput(nil, "list", "-m", "-f", "{{.Dir}}")
	if err != nil {
		return err
	}
	root = strings.TrimSpace(root)
	mods, err := linkedModules(root)
	if err != nil {
		return err
	}
	for i := range mods {
		if err := loadLicense(&mods[i]); err != nil {
			return err
		}
	}
	out := render(mods)
	path := filepath.Join(root, "NOTICE")
	if !check {
		return os.WriteFile(path, out, 0o644)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("NOTICE missing, run `make notice`: %w", err)
	}
	if bytes.Equal(old, out) {
		return nil
	}
	return fmt.Errorf("NOTICE is stale, run `make notice`:\n%s", diffSummary(old, out))
}

// goOutput runs the go command with extra environment entries and returns
// its standard output.
func goOutput(env []string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return string(out), nil
}

// linkedModules returns the modules, other than the main module and the
// standard library, linked into ./cmd/meshpack on any release platform,
// sorted by module path.
func linkedModules(root string) ([]module, error) {
	const format = `{{with .Module}}{{if not .Main}}{{with .Replace}}{{.Path}} {{.Version}} {{.Dir}}{{else}}{{.Path}} {{.Version}} {{.Dir}}{{end}}{{end}}{{end}}`
	seen := map[string]module{}
	for _, p := range platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		out, err := goOutput([]string{"GOOS=" + goos, "GOARCH=" + goarch}, "list", "-C", root, "-deps", "-f", format, "./cmd/meshpack")
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			f := strings.SplitN(sc.Text(), " ", 3)
			if len(f) != 3 {
				continue
			}
			seen[f[0]] = module{Path: f[0], Version: f[1], Dir: f[2]}
		}
	}
	mods := make([]module, 0, len(seen))
	for _, m := range seen {
		if m.Dir == "" {
			return nil, fmt.Errorf("module %s %s is not in the module cache (run go mod download)", m.Path, m.Version)
		}
		mods = append(mods, m)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].Path < mods[j].Path })
	return mods, nil
}

// findFile returns the base name of the first file in dir whose name matches
// one of names case-insensitively, or "" if there is none.
func findFile(dir string, names []string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	for _, want := range names {
		for _, e := range entries {
			if !e.IsDir() && strings.EqualFold(e.Name(), want) {
				return e.Name(), nil
			}
		}
	}
	return "", nil
}

// licenseFiles returns the base names of the license files in dir: the first
// of licenseNames present or, failing that, every file named with one of
// licensePrefixes, sorted.
func licenseFiles(dir string) ([]string, error) {
	name, err := findFile(dir, licenseNames)
	if err != nil || name != "" {
		return []string{name}, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		up := strings.ToUpper(e.Name())
		for _, p := range licensePrefixes {
			if !e.IsDir() && strings.HasPrefix(up, p) {
				names = append(names, e.Name())
				break
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// loadLicense fills in m's license and NOTICE texts; a module without a
// license file is an error.
func loadLicense(m *module) error {
	names, err := licenseFiles(m.Dir)
	if err != nil {
		return fmt.Errorf("module %s %s: %w", m.Path, m.Version, err)
	}
	if len(names) == 0 {
		return fmt.Errorf("module %s %s has no license file (%s) in %s", m.Path, m.Version, strings.Join(licenseNames, ", "), m.Dir)
	}
	for _, name := range names {
		text, err := os.ReadFile(filepath.Join(m.Dir, name))
		if err != nil {
			return err
		}
		m.LicenseFiles = append(m.LicenseFiles, file{name, text})
	}
	m.License = unknownLicense
	if len(names) == 1 {
		m.License = classify(string(m.LicenseFiles[0].Text))
	}
	if id, ok := overrides[m.Path]; ok {
		m.License = id
	}
	if m.NoticeFile, err = findFile(m.Dir, noticeNames); err != nil {
		return err
	}
	if m.NoticeFile != "" {
		if m.NoticeText, err = os.ReadFile(filepath.Join(m.Dir, m.NoticeFile)); err != nil {
			return err
		}
	}
	return nil
}

// matchers recognise license texts by phrases every copy of the license
// contains (after normalize). A phrase set must match in full; see classify.
var matchers = []struct {
	id      string
	all     []string // every phrase must occur
	none    []string // no phrase may occur
	markers []string // any of these counts as "this license is present"
	maxLen  int      // if set, the normalized text may be at most this long
}{
	{
		id: "Apache-2.0",
		all: []string{"apache license", "version 2.0 january 2004",
			"terms and conditions for use reproduction and distribution",
			"9. accepting warranty or additional liability"},
		markers: []string{"apache license"},
	},
	{
		// The short notice some modules ship instead of the license text.
		id: "Apache-2.0",
		all: []string{"licensed under the apache license version 2.0 (the \"license\")",
			"you may not use this file except in compliance with the license"},
		markers: []string{"apache license"},
		maxLen:  1000,
	},
	{
		id: "MIT",
		all: []string{"permission is hereby granted free of charge to any person obtaining a copy",
			"the above copyright notice and this permission notice shall be included in all copies or substantial portions of the software",
			"the software is provided \"as is\" without warranty of any kind"},
		markers: []string{"permission is hereby granted free of charge"},
	},
	{
		id: "BSD-3-Clause",
		all: []string{"redistribution and use in source and binary forms with or without modification are permitted",
			"redistributions of source code must retain the above copyright notice",
			"redistributions in binary form must reproduce the above copyright notice",
			"to endorse or promote products derived from this software without specific prior written permission"},
		none:    []string{"all advertising materials"},
		markers: []string{"redistribution and use in source and binary forms"},
	},
	{
		id: "BSD-2-Clause",
		all: []string{"redistribution and use in source and binary forms with or without modification are permitted",
			"redistributions of source code must retain the above copyright notice",
			"redistributions in binary form must reproduce the above copyright notice"},
		none:    []string{"endorse or promote", "all advertising materials"},
		markers: []string{"redistribution and use in source and binary forms"},
	},
	{
		id: "ISC",
		all: []string{"permission to use copy modify and",
			"distribute this software for any purpose with or without fee is hereby granted",
			"the software is provided \"as is\" and the author disclaims all warranties"},
		markers: []string{"distribute this software for any purpose with or without fee"},
	},
	{
		id: "Unlicense",
		all: []string{"this is free and unencumbered software released into the public domain",
			"for more information please refer to <http://unlicense.org"},
		markers: []string{"released into the public domain"},
	},
	{
		id:      "MPL-2.0",
		all:     []string{"mozilla public license", "exhibit a - source code form license notice"},
		markers: []string{"mozilla public license"},
	},
}

// normalize lower-cases text, drops comment and list markup and commas,
// unifies typographic quotes and dashes and collapses white space, so that
// re-wrapped copies of a license compare equal.
func normalize(text string) string {
	text = strings.ToLower(text)
	r := strings.NewReplacer("\u201c", "\"", "\u201d", "\"", "\u2019", "'", "\u2013", "-", "\u2014", "-",
		"*", " ", "#", " ", ",", " ")
	text = r.Replace(text)
	return strings.Join(strings.Fields(text), " ")
}

// classify returns the SPDX id of the single license text recognises, or
// unknownLicense. It is conservative: every phrase of a matcher must occur,
// and a text that also carries the marker of another license (a file holding
// several licenses) is unknownLicense too.
func classify(text string) string {
	t := normalize(text)
	var ids []string
	present := 0
	counted := map[string]bool{}
	for _, m := range matchers {
		for _, mk := range m.markers {
			if strings.Contains(t, mk) && !counted[mk] {
				counted[mk] = true
				present++
			}
		}
		if containsAll(t, m.all) && !containsAny(t, m.none) && (m.maxLen == 0 || len(t) <= m.maxLen) && !slices.Contains(ids, m.id) {
			ids = append(ids, m.id)
		}
	}
	if len(ids) != 1 || present != 1 {
		return unknownLicense
	}
	return ids[0]
}

// containsAll reports whether t contains every one of phrases.
func containsAll(t string, phrases []string) bool {
	for _, p := range phrases {
		if !strings.Contains(t, p) {
			return false
		}
	}
	return true
}

// containsAny reports whether t contains at least one of phrases.
func containsAny(t string, phrases []string) bool {
	for _, p := range phrases {
		if strings.Contains(t, p) {
			return true
		}
	}
	return false
}

// rule separates the entries of NOTICE.
const rule = "================================================================================"

// render returns the NOTICE file for mods, which are sorted by path.
func render(mods []module) []byte {
	var b bytes.Buffer
	counts := map[string]int{}
	for _, m := range mods {
		counts[m.License]++
	}
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	b.WriteString("meshpack\n\n")
	b.WriteString("meshpack is licensed under the Apache License, Version 2.0; see LICENSE.\n\n")
	b.WriteString("The meshpack binary includes the following third-party software, one entry per\n")
	b.WriteString("Go module linked into cmd/meshpack, sorted by module path. Modules under the\n")
	b.WriteString("Apache License, Version 2.0 are licensed under the text in LICENSE; their own\n")
	b.WriteString("NOTICE files are reproduced verbatim. Every other license is reproduced in full.\n")
	b.WriteString("Generated by `go run ./hack/notice` (make notice); do not edit.\n\n")
	fmt.Fprintf(&b, "%d modules:", len(mods))
	for _, id := range ids {
		fmt.Fprintf(&b, " %s %d;", id, counts[id])
	}
	b.Truncate(b.Len() - 1)
	b.WriteString("\n")
	for _, m := range mods {
		var names []string
		for _, f := range m.LicenseFiles {
			names = append(names, f.Name)
		}
		fmt.Fprintf(&b, "\n%s\n%s %s\nLicense: %s (%s)\n%s\n\n", rule, m.Path, m.Version, m.License, strings.Join(names, ", "), rule)
		if m.License == "Apache-2.0" {
			b.WriteString("Licensed under the Apache License, Version 2.0; the license text is in LICENSE.\n")
			if m.NoticeFile != "" {
				fmt.Fprintf(&b, "\nThe module's %s file:\n\n", m.NoticeFile)
				writeText(&b, m.NoticeText)
			}
			continue
		}
		for i, f := range m.LicenseFiles {
			if len(m.LicenseFiles) > 1 {
				if i > 0 {
					b.WriteString("\n")
				}
				fmt.Fprintf(&b, "The module's %s file:\n\n", f.Name)
			}
			writeText(&b, f.Text)
		}
		if m.NoticeFile != "" {
			fmt.Fprintf(&b, "\nThe module's %s file:\n\n", m.NoticeFile)
			writeText(&b, m.NoticeText)
		}
	}
	return b.Bytes()
}

// writeText writes text with Windows line endings converted and exactly one
// trailing newline.
func writeText(b *bytes.Buffer, text []byte) {
	text = bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n"))
	b.Write(bytes.TrimRight(text, "\n \t"))
	b.WriteString("\n")
}

// diffSummary describes how the NOTICE old differs from the regenerated new:
// modules added, removed or changed, or a changed line count otherwise.
func diffSummary(old, new []byte) string {
	o, n := entries(old), entries(new)
	var lines []string
	for k, v := range n {
		ov, ok := o[k]
		switch {
		case !ok:
			lines = append(lines, "+ "+k)
		case ov != v:
			lines = append(lines, "~ "+k+" (entry text changed)")
		}
	}
	for k := range o {
		if _, ok := n[k]; !ok {
			lines = append(lines, "- "+k)
		}
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		lines = append(lines, fmt.Sprintf("header changed (%d lines on disk, %d generated)",
			bytes.Count(old, []byte("\n")), bytes.Count(new, []byte("\n"))))
	}
	return strings.Join(lines, "\n")
}

// entries splits a NOTICE file into its module entries, keyed by the
// "path version" line and "License:" line, valued by the entry's text.
func entries(notice []byte) map[string]string {
	parts := strings.Split(string(notice), "\n"+rule+"\n")
	m := map[string]string{}
	// parts: header, (head, body)*; head is "path version\nLicense: ...".
	for i := 1; i+1 < len(parts); i += 2 {
		m[strings.ReplaceAll(parts[i], "\n", " ")] = parts[i+1]
	}
	return m
}
