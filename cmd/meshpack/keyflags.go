package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/lattice-mesh/meshpack/mirror"
	"github.com/lattice-mesh/meshpack/signing"
)

// signFlags select the bundle signing key and the upstream verification.
type signFlags struct {
	key            string
	allowUnsigned  bool
	verifyUpstream string
	upstreamKeys   []string
}

func (f *signFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.key, "key", "", "cosign private key that signs every image and the BOM (meshpack keys generate makes one); password from COSIGN_PASSWORD or a prompt")
	fs.StringVar(&f.key, "sign-key", "", "alias of --key")
	fs.BoolVar(&f.allowUnsigned, "allow-unsigned", false, "write an unsigned bundle (marked unsigned in the BOM)")
	fs.StringVar(&f.verifyUpstream, "verify-upstream", "required", "upstream signature policy for images the catalog says upstream signs: required|if-signed|off")
	fs.StringArrayVar(&f.upstreamKeys, "upstream-key", nil, "public key for a catalog signing key: NAME=FILE (repeatable), e.g. istio-release=istio-key.pub")
}

// signer loads --key, asking for the password when needed. stdinTaken
// says stdin carries the registry password (--password-stdin), so the key's
// password must come from COSIGN_PASSWORD.
func (f *signFlags) signer(s streams, stdinTaken bool) (signing.Signer, error) {
	if f.key == "" {
		if !f.allowUnsigned {
			return nil, usagef("no signing key: pass --key cosign.key (meshpack keys generate makes one) or --allow-unsigned")
		}
		return nil, nil
	}
	if f.allowUnsigned {
		return nil, usagef("--key and --allow-unsigned exclude each other")
	}
	pem, err := os.ReadFile(f.key)
	if err != nil {
		return nil, usagef("--key: %v", err)
	}
	if _, ok := os.LookupEnv("COSIGN_PASSWORD"); !ok && stdinTaken {
		return nil, usagef("--password-stdin reads the registry password from stdin, so the password of --key %s must come from COSIGN_PASSWORD", f.key)
	}
	pw, err := password(s, "Enter password for private key "+f.key+": ", false)
	if err != nil {
		return nil, err
	}
	sg, err := signing.LoadSigner(pem, pw)
	if err != nil {
		return nil, fmt.Errorf("--key %s: %w", f.key, err)
	}
	return sg, nil
}

// checkPolicy validates --verify-upstream.
func (f *signFlags) checkPolicy() error {
	switch f.verifyUpstream {
	case mirror.VerifyRequired, mirror.VerifyIfSigned, mirror.VerifyOff:
		return nil
	}
	return usagef("--verify-upstream %q: want %s, %s or %s", f.verifyUpstream, mirror.VerifyRequired, mirror.VerifyIfSigned, mirror.VerifyOff)
}

// upstreamVerifiers reads the --upstream-key NAME=FILE public keys; the
// library checks the names against the catalog.
func (f *signFlags) upstreamVerifiers() (map[string]signing.Verifier, error) {
	out := map[string]signing.Verifier{}
	for _, kv := range f.upstreamKeys {
		name, file, ok := strings.Cut(kv, "=")
		if !ok || name == "" || file == "" {
			return nil, usagef("--upstream-key %q: want NAME=FILE, e.g. istio-release=istio-key.pub", kv)
		}
		pem, err := os.ReadFile(file)
		if err != nil {
			return nil, usagef("--upstream-key %s: %v", name, err)
		}
		v, err := signing.LoadVerifier(pem)
		if err != nil {
			return nil, usagef("--upstream-key %s=%s: %v (pass the PEM public key cosign verifies with)", name, file, err)
		}
		out[name] = v
	}
	return out, nil
}

// password reads COSIGN_PASSWORD, else prompts on the terminal (twice when
// confirm is set). Without a terminal and without the variable it fails.
func password(s streams, prompt string, confirm bool) ([]byte, error) {
	if pw, ok := os.LookupEnv("COSIGN_PASSWORD"); ok {
		return []byte(pw), nil
	}
	f, ok := s.in.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return readLine(s.in)
	}
	fmt.Fprint(s.err, prompt)
	pw, err := term.ReadPassword(int(f.Fd()))
	fmt.Fprintln(s.err)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if confirm {
		fmt.Fprint(s.err, "Enter password again: ")
		again, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(s.err)
		if err != nil {
			return nil, fmt.Errorf("read password: %w", err)
		}
		if string(again) != string(pw) {
			return nil, fmt.Errorf("passwords do not match")
		}
	}
	return pw, nil
}

// readLine reads one line (the password piped on stdin).
func readLine(in io.Reader) ([]byte, error) {
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read password from stdin: %w", err)
	}
	if err == io.EOF && line == "" {
		return nil, fmt.Errorf("no password: set COSIGN_PASSWORD or run on a terminal")
	}
	return []byte(strings.TrimRight(line, "\r\n")), nil
}
