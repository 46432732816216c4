package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	mitText = `MIT License

Copyright (c) 2020 Someone

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY.
`
	bsdHead = `Copyright (c) 2009 The Go Authors. All rights reserved.

Redistribution and use in source and binary forms, with or without
modification, are permitted provided that the following conditions are
met:

   * Redistributions of source code must retain the above copyright
notice, this list of conditions and the following disclaimer.
   * Redistributions in binary form must reproduce the above
copyright notice, this list of conditions and the following disclaimer
in the documentation and/or other materials provided with the
distribution.
`
	bsdThird = `   * Neither the name of Google Inc. nor the names of its
contributors may be used to endorse or promote products derived from
this software without specific prior written permission.
`
	bsdTail = `
THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS
"AS IS" AND ANY EXPRESS OR IMPLIED WARRANTIES ARE DISCLAIMED.
`
	iscText = `ISC License

Copyright (c) 2013 Someone

Permission to use, copy, modify, and/or distribute this software for any
purpose with or without fee is hereby granted, provided that the above
copyright notice and this permission notice appear in all copies.

THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
WITH REGARD TO THIS SOFTWARE.
`
	apacheNotice = `Copyright 2021 Someone

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0
`
	mplText = `Mozilla Public License, version 2.0

1. Definitions
...
Exhibit A - Source Code Form License Notice
`
)

// TestClassifySynthetic checks the matcher on hand-written texts, including
// ones it must refuse.
func TestClassifySynthetic(t *testing.T) {
	apache, err := os.ReadFile("../../LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, text, want string
	}{
		{"apache full text", string(apache), "Apache-2.0"},
		{"apache short notice", apacheNotice, "Apache-2.0"},
		{"apache short notice with extra text", apacheNotice + strings.Repeat("other terms apply. ", 60), unknownLicense},
		{"mit", mitText, "MIT"},
		{"mit in comment markup", "# " + strings.ReplaceAll(mitText, "\n", "\n# "), "MIT"},
		{"bsd-3-clause", bsdHead + bsdThird + bsdTail, "BSD-3-Clause"},
		{"bsd-2-clause", bsdHead + bsdTail, "BSD-2-Clause"},
		{"bsd-4-clause", bsdHead + "   * All advertising materials mentioning features must display ...\n" + bsdThird + bsdTail, unknownLicense},
		{"isc", iscText, "ISC"},
		{"mpl-2.0", mplText, "MPL-2.0"},
		{"unlicense", "This is free and unencumbered software released into the public domain.\n\nFor more information, please refer to <http://unlicense.org/>\n", "Unlicense"},
		{"apache and mit in one file", string(apache) + "\n" + mitText, unknownLicense},
		{"mit and bsd in one file", mitText + bsdHead + bsdThird + bsdTail, unknownLicense},
		{"mit missing its notice condition", strings.Replace(mitText, "The above copyright notice", "The copyright notice", 1), unknownLicense},
		{"gpl", "GNU GENERAL PUBLIC LICENSE\nVersion 3, 29 June 2007\n", unknownLicense},
		{"empty", "", unknownLicense},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(tc.text); got != tc.want {
				t.Errorf("classify = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestClassifyModuleCache checks the matcher on real license files from the
// module cache; files not present are skipped.
func TestClassifyModuleCache(t *testing.T) {
	out, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skip("go env GOMODCACHE:", err)
	}
	cache := strings.TrimSpace(string(out))
	for _, tc := range []struct {
		file, want string
	}{
		{"oras.land/oras-go/v2@v2.7.0/LICENSE", "Apache-2.0"},
		{"github.com/spf13/cobra@v1.10.2/LICENSE.txt", "Apache-2.0"},    // no END OF TERMS line
		{"github.com/in-toto/attestation@v1.1.2/LICENSE", "Apache-2.0"}, // short notice
		{"golang.org/x/sync@v0.25.0/LICENSE", "BSD-3-Clause"},
		{"github.com/pkg/errors@v0.9.1/LICENSE", "BSD-2-Clause"},
		{"github.com/hashicorp/go-cleanhttp@v0.5.2/LICENSE", "MPL-2.0"},
		{"github.com/vbauerster/mpb/v8@v8.16.2/UNLICENSE", "Unlicense"},
		{"go.yaml.in/yaml/v3@v3.0.5/LICENSE", unknownLicense},        // MIT and Apache-2.0
		{"go.opentelemetry.io/otel@v1.45.0/LICENSE", unknownLicense}, // Apache-2.0 and BSD-3-Clause
	} {
		t.Run(tc.file, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join(cache, filepath.FromSlash(tc.file)))
			if err != nil {
				t.Skip("not in the module cache:", err)
			}
			if got := classify(string(text)); got != tc.want {
				t.Errorf("classify = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestLicenseFiles checks which files count as a module's license files.
func TestLicenseFiles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files []string
		want  string
	}{
		{"plain", []string{"LICENSE", "README.md"}, "LICENSE"},
		{"case-insensitive", []string{"license.txt"}, "license.txt"},
		{"preference order", []string{"COPYING", "LICENSE.md"}, "LICENSE.md"},
		{"one file per license", []string{"COPYING.md", "LICENSE.BSD", "LICENSE.MPL-2.0"}, "COPYING.md,LICENSE.BSD,LICENSE.MPL-2.0"},
		{"none", []string{"README.md", "NOTICE"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range tc.files {
				if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := licenseFiles(dir)
			if err != nil {
				t.Fatal(err)
			}
			if s := strings.Join(got, ","); s != tc.want {
				t.Errorf("licenseFiles = %q, want %q", s, tc.want)
			}
		})
	}
}

// TestDiffSummary checks the -check report for added, removed and changed
// modules.
func TestDiffSummary(t *testing.T) {
	a := module{Path: "a", Version: "v1", License: "MIT", LicenseFiles: []file{{"LICENSE", []byte(mitText)}}}
	b := module{Path: "b", Version: "v1", License: "ISC", LicenseFiles: []file{{"LICENSE", []byte(iscText)}}}
	b2 := b
	b2.Version = "v2"
	a2 := a
	a2.LicenseFiles = []file{{"LICENSE", []byte(mitText + "extra\n")}}
	for _, tc := range []struct {
		name     string
		old, new []module
		want     string
	}{
		{"added", []module{a}, []module{a, b}, "+ b v1 License: ISC (LICENSE)"},
		{"upgraded", []module{a, b}, []module{a, b2}, "+ b v2 License: ISC (LICENSE)\n- b v1 License: ISC (LICENSE)"},
		{"text changed", []module{a}, []module{a2}, "~ a v1 License: MIT (LICENSE) (entry text changed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := diffSummary(render(tc.old), render(tc.new)); got != tc.want {
				t.Errorf("diffSummary =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
